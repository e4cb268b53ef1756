use std::path::PathBuf;

use pretty_assertions::assert_eq;

use super::Comment;
use super::SourceFile;

fn file(text: &str) -> SourceFile {
    SourceFile::new(PathBuf::from("x.rs"), text.to_string())
}

fn comment_before(text: &str, needle: &str) -> Option<Comment> {
    let offset = text.find(needle).unwrap();
    file(text).comment_before(offset)
}

#[test]
fn comment_forms() {
    assert_eq!(
        [
            comment_before("f(/*recursive*/ true)", "true"),
            comment_before("f(/* recursive */true)", "true"),
            comment_before("f(/*recursive*/\n    true)", "true"),
            comment_before("f(/*recursive=*/ true)", "true"),
            comment_before("f(/* the flag */ true)", "true"),
            comment_before("f(/**/ true)", "true"),
            comment_before("f(true)", "true"),
            comment_before("f(x /*a*/, true)", "true"),
            comment_before("f(// recursive\n    true)", "true"),
        ],
        [
            Some(Comment::Name("recursive".to_string())),
            Some(Comment::Name("recursive".to_string())),
            Some(Comment::Name("recursive".to_string())),
            Some(Comment::Other("/*recursive=*/".to_string())),
            Some(Comment::Other("/* the flag */".to_string())),
            Some(Comment::Other("/**/".to_string())),
            None,
            None,
            None,
        ]
    );
}

#[test]
fn line_and_column_count_characters() {
    let source = file("fn a() {}\n// é\nfn b() { é(1) }\n");
    let offset = "fn a() {}\n// é\nfn b() { é(".len();
    assert_eq!(source.line_column(offset), (3, 12));
    assert_eq!(source.line_column(0), (1, 1));
}

#[test]
fn byte_order_mark_and_shebang_keep_offsets() {
    let text = "\u{feff}#!/usr/bin/env run-cargo-script\nfn main() { f(/*x*/ 1); }\n";
    let source = file(text);
    let ast = source.parse().unwrap();
    assert_eq!(ast.items.len(), 1);
    let offset = text.find('1').unwrap();
    assert_eq!(
        source.comment_before(offset),
        Some(Comment::Name("x".to_string()))
    );
    assert_eq!(source.line_column(offset).0, 2);
}

#[test]
fn inner_attribute_is_not_a_shebang() {
    let source = file("#![allow(dead_code)]\nfn main() {}\n");
    assert_eq!(source.parse().unwrap().attrs.len(), 1);
}

#[test]
fn parse_error_names_the_position() {
    assert_eq!(
        file("fn main() {\n    f(1 2);\n}\n").parse().err(),
        Some("cannot parse: expected `,` (line 2, column 9)".to_string())
    );
}
