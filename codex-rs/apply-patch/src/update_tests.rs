use super::*;
use crate::parser::Hunk;
use crate::parser::parse_patch;
use crate::test_support::chunk;
use pretty_assertions::assert_eq;

/// Chunks of the single update in `body` (the lines between the update
/// header and `*** End Patch`).
fn chunks_of(body: &str) -> Vec<UpdateFileChunk> {
    let text = format!("*** Begin Patch\n*** Update File: f\n{body}*** End Patch\n");
    match parse_patch(&text) {
        Ok(patch) => match patch.hunks.as_slice() {
            [Hunk::UpdateFile { chunks, .. }] => chunks.clone(),
            other => panic!("unexpected hunks {other:?}"),
        },
        Err(error) => panic!("{error}"),
    }
}

fn apply(original: &str, body: &str) -> Result<String, UpdateError> {
    apply_chunks("f", original, &chunks_of(body))
}

#[test]
fn several_chunks_apply_in_order() {
    let original = "a\nb\nc\nd\ne\nf\ng\n";
    let body = "@@\n a\n-b\n+B\n@@\n d\n-e\n+E1\n+E2\n@@\n-g\n+G\n";
    assert_eq!(
        apply(original, body),
        Ok("a\nB\nc\nd\nE1\nE2\nf\nG\n".to_string())
    );
}

#[test]
fn later_chunks_search_after_earlier_ones() {
    let original = "x\ny\nx\ny\n";
    let body = "@@\n-x\n+1\n@@\n-x\n+2\n";
    assert_eq!(apply(original, body), Ok("1\ny\n2\ny\n".to_string()));
    // A chunk whose lines only occur before the previous chunk fails.
    let body = "@@\n-y\n+1\n@@\n-x\n+2\n@@\n-x\n+3\n";
    assert_eq!(
        apply(original, body),
        Err(UpdateError::LinesNotFound {
            path: "f".to_string(),
            lines: "x".to_string(),
        })
    );
}

#[test]
fn context_narrows_the_search() {
    let original = "def a():\n    return 1\ndef b():\n    return 1\n";
    let body = "@@ def b():\n-    return 1\n+    return 2\n";
    assert_eq!(
        apply(original, body),
        Ok("def a():\n    return 1\ndef b():\n    return 2\n".to_string())
    );
}

#[test]
fn pure_addition_without_context_appends() {
    let original = "a\nb\n";
    assert_eq!(
        apply(original, "@@\n+c\n+d\n"),
        Ok("a\nb\nc\nd\n".to_string())
    );
    assert_eq!(apply("", "@@\n+c\n"), Ok("c\n".to_string()));
}

#[test]
fn pure_addition_with_context_goes_after_the_context_line() {
    let original = "class A:\n    x = 1\nclass B:\n    y = 2\n";
    let body = "@@ class B:\n+    \"\"\"Doc.\"\"\"\n";
    assert_eq!(
        apply(original, body),
        Ok("class A:\n    x = 1\nclass B:\n    \"\"\"Doc.\"\"\"\n    y = 2\n".to_string())
    );
}

#[test]
fn pure_addition_with_context_at_end_of_file_appends() {
    let original = "class A:\n    x = 1\nclass B:\n    y = 2\n";
    let body = "@@ class A:\n+# tail\n*** End of File\n";
    assert_eq!(
        apply(original, body),
        Ok("class A:\n    x = 1\nclass B:\n    y = 2\n# tail\n".to_string())
    );
}

#[test]
fn deletion_only() {
    let original = "keep\ndrop 1\ndrop 2\nkeep too\n";
    assert_eq!(
        apply(original, "@@\n keep\n-drop 1\n-drop 2\n"),
        Ok("keep\nkeep too\n".to_string())
    );
    assert_eq!(apply("only\n", "@@\n-only\n"), Ok(String::new()));
}

#[test]
fn end_of_file_anchors_at_the_end() {
    let original = "x\nend\nx\nend\n";
    assert_eq!(
        apply(original, "@@\n x\n-end\n+END\n*** End of File\n"),
        Ok("x\nend\nx\nEND\n".to_string())
    );
    assert_eq!(
        apply(original, "@@\n x\n-end\n+END\n"),
        Ok("x\nEND\nx\nend\n".to_string())
    );
}

#[test]
fn end_of_file_falls_back_to_an_earlier_match() {
    let original = "x\nend\ny\n";
    assert_eq!(
        apply(original, "@@\n-end\n+END\n*** End of File\n"),
        Ok("x\nEND\ny\n".to_string())
    );
}

#[test]
fn trailing_empty_old_line_is_retried_without_it() {
    let original = "a\nb\n";
    let chunks = vec![chunk(None, &["b", ""], &["c", ""], false)];
    assert_eq!(
        apply_chunks("f", original, &chunks),
        Ok("a\nc\n".to_string())
    );
    // Found as given when the file really has the blank line.
    let original = "a\nb\n\nz\n";
    assert_eq!(
        apply_chunks("f", original, &chunks),
        Ok("a\nc\n\nz\n".to_string())
    );
}

#[test]
fn crlf_file_stays_crlf() {
    let original = "one\r\ntwo\r\nthree\r\n";
    assert_eq!(
        apply(original, "@@\n one\n-two\n+2\n+2b\n"),
        Ok("one\r\n2\r\n2b\r\nthree\r\n".to_string())
    );
    assert_eq!(
        apply("one\r\ntwo", "@@\n-two\n+2\n"),
        Ok("one\r\n2".to_string())
    );
}

#[test]
fn lf_file_stays_lf_and_keeps_stray_carriage_returns() {
    let original = "one\ntwo\r\nthree\n";
    assert_eq!(
        apply(original, "@@\n-one\n+1\n"),
        Ok("1\ntwo\r\nthree\n".to_string())
    );
    // A stray '\r' is trailing whitespace to the search.
    assert_eq!(
        apply(original, "@@\n-two\n+2\n"),
        Ok("one\n2\nthree\n".to_string())
    );
}

#[test]
fn missing_final_newline_is_preserved() {
    assert_eq!(apply("a\nb", "@@\n-b\n+c\n"), Ok("a\nc".to_string()));
    assert_eq!(apply("a\nb", "@@\n+c\n"), Ok("a\nb\nc".to_string()));
    assert_eq!(apply("a\nb\n", "@@\n-b\n+c\n"), Ok("a\nc\n".to_string()));
    assert_eq!(apply("a", "@@\n-a\n"), Ok(String::new()));
}

#[test]
fn blank_lines_survive() {
    assert_eq!(
        apply("a\n\n\nb\n\n", "@@\n-a\n+A\n"),
        Ok("A\n\n\nb\n\n".to_string())
    );
}

#[test]
fn fuzzy_matches_replace_the_file_lines() {
    let original = "  let s = \u{201C}hi\u{201D};  \n";
    assert_eq!(
        apply(original, "@@\n-let s = \"hi\";\n+let s = \"bye\";\n"),
        Ok("let s = \"bye\";\n".to_string())
    );
}

#[test]
fn fuzzily_matched_context_keeps_the_file_spelling() {
    let original = "intro\n\u{2018}a\u{2019} \u{2013} 1  \nmid\nlast\u{00A0}line\n";
    let body = "@@\n intro\n 'a' - 1\n-mid\n+MID\n last line\n";
    assert_eq!(
        apply(original, body),
        Ok("intro\n\u{2018}a\u{2019} \u{2013} 1  \nMID\nlast\u{00A0}line\n".to_string())
    );
    // Context between two changes of one chunk is written as the patch has it.
    let original = "a\nb \nc\n";
    assert_eq!(
        apply(original, "@@\n-a\n+A\n b\n-c\n+C\n"),
        Ok("A\nb\nC\n".to_string())
    );
}

#[test]
fn no_chunks_returns_the_original() {
    assert_eq!(apply_chunks("f", "a\r\nb", &[]), Ok("a\r\nb".to_string()));
}

#[test]
fn missing_context_is_an_error() {
    let error = apply("a\nb\n", "@@ fn missing()\n-a\n+b\n").unwrap_err();
    assert_eq!(
        error,
        UpdateError::ContextNotFound {
            path: "f".to_string(),
            context: "fn missing()".to_string(),
        }
    );
    assert_eq!(
        error.to_string(),
        "failed to find context `fn missing()` in f"
    );
}

#[test]
fn missing_lines_are_an_error() {
    let chunks = vec![chunk(None, &["x", "y"], &["z"], false)];
    let error = apply_chunks("dir/file.txt", "a\nb\n", &chunks).unwrap_err();
    assert_eq!(
        error,
        UpdateError::LinesNotFound {
            path: "dir/file.txt".to_string(),
            lines: "x\ny".to_string(),
        }
    );
    assert_eq!(
        error.to_string(),
        "failed to find the expected lines in dir/file.txt:\nx\ny"
    );
}
