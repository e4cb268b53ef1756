#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::test_support::chunk;
use pretty_assertions::assert_eq;

fn s(text: &str) -> String {
    text.to_string()
}

fn update(path: &str, chunks: Vec<UpdateFileChunk>) -> Hunk {
    Hunk::UpdateFile {
        path: s(path),
        move_path: None,
        chunks,
    }
}

fn err(line: usize, message: &str) -> Result<Patch, ParseError> {
    Err(ParseError {
        line,
        message: s(message),
    })
}

/// The example from the crate documentation, with every kind of operation.
const FULL: &str = "*** Begin Patch
*** Add File: path/new.txt
+line one
+line two
*** Delete File: path/old.txt
*** Update File: path/src.py
*** Move to: path/dst.py
@@ def f():
-    return 1
+    return 2
@@
 context
-old
+new
*** End of File
*** End Patch
";

fn full_patch() -> Patch {
    Patch {
        hunks: vec![
            Hunk::AddFile {
                path: s("path/new.txt"),
                contents: s("line one\nline two\n"),
            },
            Hunk::DeleteFile {
                path: s("path/old.txt"),
            },
            Hunk::UpdateFile {
                path: s("path/src.py"),
                move_path: Some(s("path/dst.py")),
                chunks: vec![
                    chunk(
                        Some("def f():"),
                        &["    return 1"],
                        &["    return 2"],
                        false,
                    ),
                    chunk(None, &["context", "old"], &["context", "new"], true),
                ],
            },
        ],
    }
}

#[test]
fn parses_every_operation() {
    assert_eq!(parse_patch(FULL), Ok(full_patch()));
}

#[test]
fn crlf_patch_parses_like_lf() {
    assert_eq!(parse_patch(&FULL.replace('\n', "\r\n")), Ok(full_patch()));
}

#[test]
fn missing_final_newline_is_accepted() {
    assert_eq!(parse_patch(FULL.trim_end_matches('\n')), Ok(full_patch()));
}

#[test]
fn whitespace_around_markers_and_headers_is_ignored() {
    let patch = " \t*** Begin Patch \t
  *** Add File:   path/new.txt  
+line one
+line two
\t*** Delete File: path/old.txt\t
 *** Update File: path/src.py 
  *** Move to: path/dst.py\t
  @@ def f():   
-    return 1
+    return 2
\t@@ \t
 context
-old
+new
  *** End of File  
   *** End Patch   
";
    assert_eq!(parse_patch(patch), Ok(full_patch()));
}

#[test]
fn blank_lines_around_operations_are_ignored() {
    let patch = "\n\n*** Begin Patch\n\n*** Delete File: a\n\n*** Add File: b\n+x\n\n\n*** End Patch\n\n  \n";
    assert_eq!(
        parse_patch(patch),
        Ok(Patch {
            hunks: vec![
                Hunk::DeleteFile { path: s("a") },
                Hunk::AddFile {
                    path: s("b"),
                    contents: s("x\n"),
                },
            ],
        })
    );
}

#[test]
fn heredoc_wrappers_are_stripped() {
    for opener in [
        "apply_patch <<'EOF'",
        "apply_patch <<\"EOF\"",
        "apply_patch <<EOF",
        "applypatch <<'EOF'",
        "<<'EOF'",
        "<<EOF",
        "  apply_patch   <<-'EOF'  ",
    ] {
        let patch = format!("{opener}\n{FULL}EOF\n");
        assert_eq!(parse_patch(&patch), Ok(full_patch()), "opener {opener:?}");
    }
    let custom = format!("apply_patch <<'PATCH'\n{FULL}PATCH");
    assert_eq!(parse_patch(&custom), Ok(full_patch()));
}

#[test]
fn heredoc_error_lines_count_the_wrapper() {
    let patch = "apply_patch <<'EOF'\n*** Begin Patch\n*** Frob\n*** End Patch\nEOF\n";
    assert_eq!(
        parse_patch(patch),
        err(
            3,
            "expected a file operation (`*** Add File:`, `*** Delete File:`, `*** Update File:`) or `*** End Patch`, found `*** Frob`"
        )
    );
    let unterminated = "apply_patch <<'EOF'\n*** Begin Patch\n*** Delete File: a\n";
    assert_eq!(
        parse_patch(unterminated),
        err(
            3,
            "heredoc opened at line 1 is not closed: expected `EOF` as the last line, found `*** Delete File: a`"
        )
    );
    let missing_end = "apply_patch <<'EOF'\n*** Begin Patch\n*** Delete File: a\nEOF\n";
    assert_eq!(
        parse_patch(missing_end),
        err(4, "missing `*** End Patch`: the patch ended before it")
    );
    assert_eq!(
        parse_patch("apply_patch <<'EOF'\n\nEOF"),
        err(
            3,
            "expected `*** Begin Patch` as the first line, found an empty patch"
        )
    );
}

#[test]
fn first_chunk_may_omit_its_header() {
    let patch = "*** Begin Patch\n*** Update File: a.py\n import foo\n+bar\n*** End Patch";
    assert_eq!(
        parse_patch(patch),
        Ok(Patch {
            hunks: vec![update(
                "a.py",
                vec![chunk(None, &["import foo"], &["import foo", "bar"], false)]
            )],
        })
    );
}

#[test]
fn empty_and_whitespace_lines_in_a_chunk_are_empty_context() {
    let patch = "*** Begin Patch\n*** Update File: a\n@@\n a\n\n\t\n-b\n+c\n*** End Patch\n";
    assert_eq!(
        parse_patch(patch),
        Ok(Patch {
            hunks: vec![update(
                "a",
                vec![chunk(None, &["a", "", "", "b"], &["a", "", "", "c"], false)]
            )],
        })
    );
}

#[test]
fn several_chunks_and_updates_in_sequence() {
    let patch = "*** Begin Patch
*** Update File: a
@@ class A:
-x
+y
@@
+appended
*** End of File
@@ fn tail()
 keep
-drop
*** Update File: b
+only added
*** Add File: c
*** End Patch";
    assert_eq!(
        parse_patch(patch),
        Ok(Patch {
            hunks: vec![
                update(
                    "a",
                    vec![
                        chunk(Some("class A:"), &["x"], &["y"], false),
                        chunk(None, &[], &["appended"], true),
                        chunk(Some("fn tail()"), &["keep", "drop"], &["keep"], false),
                    ]
                ),
                update("b", vec![chunk(None, &[], &["only added"], false)]),
                Hunk::AddFile {
                    path: s("c"),
                    contents: String::new(),
                },
            ],
        })
    );
}

#[test]
fn chunk_context_keeps_indentation_after_one_separator() {
    let patch = "*** Begin Patch\n*** Update File: a\n@@     def f():  \n-x\n+y\n@@\tg\n-p\n+q\n*** End Patch";
    assert_eq!(
        parse_patch(patch),
        Ok(Patch {
            hunks: vec![update(
                "a",
                vec![
                    chunk(Some("    def f():"), &["x"], &["y"], false),
                    chunk(Some("g"), &["p"], &["q"], false),
                ]
            )],
        })
    );
}

#[test]
fn unified_diff_ranges_in_headers_are_dropped() {
    let patch = "*** Begin Patch\n*** Update File: a\n@@ -3,7 +3,8 @@ fn main() {\n-x\n+y\n@@ -10 +11 @@\n-p\n+q\n@@ -1,x +1 @@\n-m\n+n\n*** End Patch";
    assert_eq!(
        parse_patch(patch),
        Ok(Patch {
            hunks: vec![update(
                "a",
                vec![
                    chunk(Some("fn main() {"), &["x"], &["y"], false),
                    chunk(None, &["p"], &["q"], false),
                    chunk(Some("-1,x +1 @@"), &["m"], &["n"], false),
                ]
            )],
        })
    );
}

#[test]
fn lines_that_only_resemble_markers_are_content() {
    let patch = "*** Begin Patch\n*** Update File: a.rb\n   @@count = 1\n-+x\n+-y\n+***not a marker\n*** End Patch";
    assert_eq!(
        parse_patch(patch),
        Ok(Patch {
            hunks: vec![update(
                "a.rb",
                vec![chunk(
                    None,
                    &["  @@count = 1", "+x"],
                    &["  @@count = 1", "-y", "***not a marker"],
                    false
                )]
            )],
        })
    );
}

#[test]
fn move_without_chunks_is_a_rename() {
    let patch = "*** Begin Patch\n*** Update File: a\n*** Move to: b/c\n*** End Patch\n";
    assert_eq!(
        parse_patch(patch),
        Ok(Patch {
            hunks: vec![Hunk::UpdateFile {
                path: s("a"),
                move_path: Some(s("b/c")),
                chunks: vec![],
            }],
        })
    );
}

#[test]
fn add_file_keeps_line_text_verbatim() {
    let patch =
        "*** Begin Patch\n*** Add File: a\n+\n+  indented \n++plus\n+tab\there\n*** End Patch";
    assert_eq!(
        parse_patch(patch),
        Ok(Patch {
            hunks: vec![Hunk::AddFile {
                path: s("a"),
                contents: s("\n  indented \n+plus\ntab\there\n"),
            }],
        })
    );
}

#[test]
fn unicode_paths_and_lines() {
    let patch = "*** Begin Patch\n*** Update File: données/é.txt\n-naïve — “x”\n+naïve – ‘y’ 😀\n*** End Patch";
    assert_eq!(
        parse_patch(patch),
        Ok(Patch {
            hunks: vec![update(
                "données/é.txt",
                vec![chunk(None, &["naïve — “x”"], &["naïve – ‘y’ 😀"], false)]
            )],
        })
    );
}

#[test]
fn first_line_must_begin_the_patch() {
    assert_eq!(
        parse_patch("hello\n*** End Patch"),
        err(
            1,
            "expected `*** Begin Patch` as the first line, found `hello`"
        )
    );
    assert_eq!(
        parse_patch("\n\n  *** Add File: a\n"),
        err(
            3,
            "expected `*** Begin Patch` as the first line, found `  *** Add File: a`"
        )
    );
    for blank in ["", "\n", "  \n\t\n"] {
        assert_eq!(
            parse_patch(blank),
            err(
                1,
                "expected `*** Begin Patch` as the first line, found an empty patch"
            )
        );
    }
}

#[test]
fn empty_patch_is_rejected() {
    assert_eq!(
        parse_patch("*** Begin Patch\n\n*** End Patch\n"),
        err(
            3,
            "empty patch: no file operations between `*** Begin Patch` and `*** End Patch`"
        )
    );
}

#[test]
fn missing_end_patch_is_rejected() {
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Add File: a\n+x\n"),
        err(4, "missing `*** End Patch`: the patch ended before it")
    );
    assert_eq!(
        parse_patch("*** Begin Patch"),
        err(2, "missing `*** End Patch`: the patch ended before it")
    );
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Update File: a\n-x\n+y"),
        err(5, "missing `*** End Patch`: the patch ended before it")
    );
}

#[test]
fn text_after_end_patch_is_rejected() {
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Delete File: a\n*** End Patch\n\nmore\n"),
        err(5, "unexpected text after `*** End Patch`: `more`")
    );
}

#[test]
fn unknown_operation_is_rejected() {
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Frobnicate File: foo\n*** End Patch\n"),
        err(
            2,
            "expected a file operation (`*** Add File:`, `*** Delete File:`, `*** Update File:`) or `*** End Patch`, found `*** Frobnicate File: foo`"
        )
    );
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Delete File: a\n+stray\n*** End Patch\n"),
        err(
            3,
            "expected a file operation (`*** Add File:`, `*** Delete File:`, `*** Update File:`) or `*** End Patch`, found `+stray`"
        )
    );
}

#[test]
fn invalid_hunk_line_is_rejected() {
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Update File: a\n@@\n-x\nfoo bar\n*** End Patch"),
        err(
            5,
            "invalid hunk line `foo bar`: expected a line starting with ' ', '+' or '-'"
        )
    );
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Update File: a\n@@foo\n-x\n*** End Patch"),
        err(
            3,
            "invalid hunk line `@@foo`: expected a line starting with ' ', '+' or '-'"
        )
    );
}

#[test]
fn update_without_changes_is_rejected() {
    let expected = err(/*line*/ 2, "update of `p` has no changes");
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Update File: p\n*** End Patch"),
        expected
    );
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Update File: p\n*** Delete File: q\n*** End Patch"),
        expected
    );
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Update File: p\n@@ f\n a\n\n*** End Patch"),
        expected
    );
}

#[test]
fn chunk_header_without_lines_is_rejected() {
    let message = "chunk header `@@` is not followed by any ' ', '+' or '-' line";
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Update File: a\n@@ one\n@@ two\n-x\n*** End Patch"),
        err(3, message)
    );
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Update File: a\n-x\n@@\n*** End Patch"),
        err(4, message)
    );
}

#[test]
fn misplaced_end_of_file_and_move_are_rejected() {
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Update File: a\n@@\n*** End of File\n*** End Patch"),
        err(4, "`*** End of File` must follow the lines of a chunk")
    );
    assert_eq!(
        parse_patch(
            "*** Begin Patch\n*** Update File: a\n-x\n*** End of File\n*** End of File\n*** End Patch"
        ),
        err(5, "`*** End of File` must follow the lines of a chunk")
    );
    assert_eq!(
        parse_patch(
            "*** Begin Patch\n*** Update File: a\n-x\n*** End of File\n\n-y\n*** End Patch"
        ),
        err(
            6,
            "expected `@@` to start a new chunk after `*** End of File`, found `-y`"
        )
    );
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Update File: a\n-x\n*** Move to: b\n*** End Patch"),
        err(4, "`*** Move to:` must come right after `*** Update File:`")
    );
    assert_eq!(
        parse_patch("*** Begin Patch\n*** End of File\n*** End Patch"),
        err(
            2,
            "expected a file operation (`*** Add File:`, `*** Delete File:`, `*** Update File:`) or `*** End Patch`, found `*** End of File`"
        )
    );
}

#[test]
fn empty_paths_are_rejected() {
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Add File:   \n+x\n*** End Patch"),
        err(2, "missing path after `*** Add File:`")
    );
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Delete File:\n*** End Patch"),
        err(2, "missing path after `*** Delete File:`")
    );
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Update File: \t\n-x\n*** End Patch"),
        err(2, "missing path after `*** Update File:`")
    );
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Update File: a\n*** Move to:\n-x\n*** End Patch"),
        err(3, "missing path after `*** Move to:`")
    );
}

#[test]
fn nul_bytes_are_rejected() {
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Add File: a\0b\n+x\n*** End Patch"),
        err(2, "path `a\\u{0}b` contains a NUL byte")
    );
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Update File: a\n*** Move to: \0\n-x\n*** End Patch"),
        err(3, "path `\\u{0}` contains a NUL byte")
    );
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Add File: a\n+ok\n+bin\0ary\n*** End Patch"),
        err(4, "contains a NUL byte: binary data cannot be patched")
    );
    // Even after `*** End Patch`, where the text would otherwise be ignored.
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Delete File: a\n*** End Patch\n\0"),
        err(4, "contains a NUL byte: binary data cannot be patched")
    );
}

#[test]
fn add_file_lines_must_start_with_plus() {
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Add File: a\n+x\n y\n*** End Patch"),
        err(
            4,
            "invalid line ` y` in an added file: every line must start with '+' (a lone '+' for an empty line)"
        )
    );
    assert_eq!(
        parse_patch("*** Begin Patch\n*** Add File: a\n+x\n\n+y\n*** End Patch"),
        err(
            4,
            "invalid line `` in an added file: every line must start with '+' (a lone '+' for an empty line)"
        )
    );
}

#[test]
fn oversized_patch_is_rejected() {
    let text = "x".repeat(MAX_PATCH_BYTES + 1);
    assert_eq!(
        parse_patch(&text),
        err(
            1,
            "patch is 33554433 bytes, larger than the limit of 33554432 bytes"
        )
    );
}

#[test]
fn long_lines_are_shortened_in_errors() {
    let line = "é".repeat(200);
    let result = parse_patch(&line).unwrap_err();
    let expected = format!(
        "expected `*** Begin Patch` as the first line, found `{}…`",
        "é".repeat(MAX_QUOTED_CHARS)
    );
    assert_eq!(
        result,
        ParseError {
            line: 1,
            message: expected
        }
    );
    assert_eq!(
        parse_patch("\u{7}bell").unwrap_err().to_string(),
        "line 1: expected `*** Begin Patch` as the first line, found `\\u{7}bell`"
    );
}

#[test]
fn large_patch_parses_in_linear_time() {
    // About 30 MiB: one add of many lines, plus an update with many chunks.
    let mut text = String::from("*** Begin Patch\n*** Add File: big\n");
    let add_line = format!("+{}\n", "a".repeat(60));
    let mut update_part = String::from("*** Update File: u\n");
    while text.len() + update_part.len() < 30 * 1024 * 1024 {
        text.push_str(&add_line);
        update_part.push_str("@@ ctx\n-x\n+y\n");
    }
    text.push_str(&update_part);
    text.push_str("*** End Patch\n");
    let started = std::time::Instant::now();
    let patch = parse_patch(&text).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(patch.hunks.len(), 2);
    // Generous even for unoptimised builds; a quadratic parser needs hours.
    assert!(elapsed.as_secs() < 20, "parsing took {elapsed:?}");
}
