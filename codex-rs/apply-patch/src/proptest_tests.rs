//! Property tests across the parser and the update engine.

use crate::parser::Hunk;
use crate::parser::UpdateFileChunk;
use crate::parser::parse_patch;
use crate::update::apply_chunks;
use pretty_assertions::assert_eq;
use proptest::prelude::*;

const VALID_PATCH: &str = "*** Begin Patch
*** Add File: a/new.txt
+one
+
*** Delete File: old.txt
*** Update File: src/lib.rs
*** Move to: src/main.rs
@@ fn main() {
 context
-old
+new

@@
+tail
*** End of File
*** End Patch
";

/// Line texts for generated files: few, so that lines repeat, and without
/// whitespace, so that every matching pass agrees with exact matching.
fn line_text() -> impl Strategy<Value = String> {
    prop_oneof![Just("a"), Just("b"), Just("c"), Just("")].prop_map(str::to_string)
}

/// What happens at one position of the original file.
#[derive(Debug, Clone)]
struct Edit {
    /// Lines inserted before the original line at this position.
    insert: Vec<String>,
    /// Whether the original line at this position is deleted.
    delete: bool,
}

fn edit() -> impl Strategy<Value = Edit> {
    let insert = prop_oneof![
        3 => Just(Vec::new()),
        1 => prop::collection::vec(line_text(), 1..3),
    ];
    (insert, prop::bool::weighted(/*probability*/ 0.25))
        .prop_map(|(insert, delete)| Edit { insert, delete })
}

/// A run of changes: original lines `start..end` become `new_lines`.
struct Change {
    start: usize,
    end: usize,
    new_lines: Vec<String>,
}

/// Groups `edits` (one per line of `old`, plus one for the end of the file)
/// into maximal changes, separated by at least one kept line; changes that
/// change nothing are dropped.
fn changes(old: &[String], edits: &[Edit]) -> Vec<Change> {
    let len = old.len();
    let mut changes = Vec::new();
    let mut index = 0;
    while index <= len {
        let start = index;
        let mut new_lines = Vec::new();
        loop {
            new_lines.extend(edits[index].insert.iter().cloned());
            if index < len && edits[index].delete {
                index += 1;
            } else {
                break;
            }
        }
        // Deleting lines and inserting the same lines back changes nothing.
        if old[start..index] != new_lines[..] {
            changes.push(Change {
                start,
                end: index,
                new_lines,
            });
        }
        index += 1;
    }
    changes
}

/// First index at or after `from` where `pattern` occurs exactly.
fn first_match(lines: &[String], pattern: &[String], from: usize) -> Option<usize> {
    (from..=lines.len().checked_sub(pattern.len())?)
        .find(|&i| lines[i..i + pattern.len()] == *pattern)
}

/// Builds the chunks turning `old` into `new` (the result of `changes`): each
/// chunk gets just enough leading context for its old lines, and its new
/// lines in `new`, to be the first match after the previous chunk. Chunks
/// reaching the end of the file are marked `*** End of File`.
fn build_chunks(old: &[String], new: &[String], changes: &[Change]) -> Vec<UpdateFileChunk> {
    let mut chunks = Vec::new();
    let (mut cursor, mut new_cursor) = (0usize, 0usize);
    let mut shift: isize = 0; // new index minus old index, before the change
    for change in changes {
        let pure = change.start == change.end || change.new_lines.is_empty();
        let at_end = change.end == old.len();
        // A pure insertion or deletion needs a context line to be placed,
        // unless it happens at the end of the file.
        let after = usize::from(pure && !at_end && change.start == cursor);
        let min_before = usize::from(pure && !at_end && after == 0);
        let new_start = change.start.saturating_add_signed(shift);
        for before in min_before..=change.start - cursor {
            let from = change.start - before;
            let old_lines = old[from..change.end + after].to_vec();
            let mut new_lines = old[from..change.start].to_vec();
            new_lines.extend(change.new_lines.iter().cloned());
            new_lines.extend(old[change.end..change.end + after].iter().cloned());
            // Both blocks must end their files (a later chunk may still
            // append to the new file).
            let at_end = change.end + after == old.len()
                && new_start - before + new_lines.len() == new.len();
            let unique_old = old_lines.is_empty()
                || at_end
                || first_match(old, &old_lines, cursor) == Some(from);
            let unique_new = new_lines.is_empty()
                || at_end
                || first_match(new, &new_lines, new_cursor) == Some(new_start - before);
            if unique_old && unique_new {
                chunks.push(UpdateFileChunk {
                    change_context: None,
                    old_lines,
                    new_lines,
                    is_end_of_file: at_end,
                });
                break;
            }
        }
        shift += change.new_lines.len() as isize - (change.end - change.start) as isize;
        cursor = change.end + after;
        new_cursor = cursor.saturating_add_signed(shift);
    }
    chunks
}

fn to_text(lines: &[String], crlf: bool, final_newline: bool) -> String {
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut text = lines.join(eol);
    if final_newline && !lines.is_empty() {
        text.push_str(eol);
    }
    text
}

/// Renders chunks as the body of an `*** Update File:` operation.
fn render(chunks: &[UpdateFileChunk]) -> String {
    let mut body = String::new();
    for chunk in chunks {
        body.push_str("@@\n");
        let (old, new) = (&chunk.old_lines, &chunk.new_lines);
        // Leading context, then removals, additions and trailing context.
        let head = old.iter().zip(new).take_while(|(a, b)| a == b).count();
        let tail = old[head..]
            .iter()
            .rev()
            .zip(new[head..].iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        for line in &old[..head] {
            body.push_str(&format!(" {line}\n"));
        }
        for line in &old[head..old.len() - tail] {
            body.push_str(&format!("-{line}\n"));
        }
        for line in &new[head..new.len() - tail] {
            body.push_str(&format!("+{line}\n"));
        }
        for line in &old[old.len() - tail..] {
            body.push_str(&format!(" {line}\n"));
        }
        if chunk.is_end_of_file {
            body.push_str("*** End of File\n");
        }
    }
    body
}

fn reversed(chunks: &[UpdateFileChunk]) -> Vec<UpdateFileChunk> {
    chunks
        .iter()
        .map(|chunk| UpdateFileChunk {
            change_context: chunk.change_context.clone(),
            old_lines: chunk.new_lines.clone(),
            new_lines: chunk.old_lines.clone(),
            is_end_of_file: chunk.is_end_of_file,
        })
        .collect()
}

/// A random editing operation on a patch text.
#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, char),
    Remove(usize, usize),
    DuplicateLine(usize),
    DropLine(usize),
    SwapLines(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        Just('\n'),
        Just('\r'),
        Just(' '),
        Just('+'),
        Just('-'),
        Just('@'),
        Just('*'),
        Just('\0'),
        Just('é'),
        any::<char>(),
    ];
    prop_oneof![
        (any::<usize>(), interesting).prop_map(|(at, c)| Mutation::Insert(at, c)),
        (any::<usize>(), 1..8usize).prop_map(|(at, n)| Mutation::Remove(at, n)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        any::<usize>().prop_map(Mutation::DropLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for mutation in mutations {
        let mut lines: Vec<String> = chars
            .iter()
            .collect::<String>()
            .split('\n')
            .map(str::to_string)
            .collect();
        let n = lines.len();
        match *mutation {
            Mutation::Insert(at, c) => {
                chars.insert(at % (chars.len() + 1), c);
                continue;
            }
            Mutation::Remove(at, count) => {
                let at = at % (chars.len() + 1);
                let end = (at + count).min(chars.len());
                chars.drain(at..end);
                continue;
            }
            Mutation::DuplicateLine(i) => {
                let line = lines[i % n].clone();
                lines.insert(i % n, line);
            }
            Mutation::DropLine(i) => {
                lines.remove(i % n);
            }
            Mutation::SwapLines(a, b) => lines.swap(a % n, b % n),
        }
        chars = lines.join("\n").chars().collect();
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = parse_patch(&text);
    }

    #[test]
    fn parse_never_panics_on_patch_like_text(
        lines in prop::collection::vec(
            prop_oneof![
                Just("*** Begin Patch".to_string()),
                Just("*** End Patch".to_string()),
                Just("*** Add File: a".to_string()),
                Just("*** Update File: a".to_string()),
                Just("*** Delete File: a".to_string()),
                Just("*** Move to: b".to_string()),
                Just("*** End of File".to_string()),
                Just("@@".to_string()),
                Just("@@ -1,2 +1 @@".to_string()),
                "[ +@*-]{0,3}[a-z\r\t]{0,3}",
            ],
            0..24,
        )
    ) {
        let _ = parse_patch(&lines.join("\n"));
    }

    #[test]
    fn parse_never_panics_on_mutated_patches(mutations in prop::collection::vec(mutation(), 1..6)) {
        let text = mutate(VALID_PATCH, &mutations);
        if let Ok(patch) = parse_patch(&text) {
            prop_assert!(!patch.hunks.is_empty());
        }
    }

    #[test]
    fn applying_then_reverting_restores_the_original(
        (old, edits) in prop::collection::vec(line_text(), 0..20).prop_flat_map(|old| {
            let len = old.len();
            (Just(old), prop::collection::vec(edit(), len + 1))
        }),
        crlf in any::<bool>(),
        final_newline in any::<bool>(),
    ) {
        let changes = changes(&old, &edits);
        prop_assume!(!changes.is_empty());
        let mut new = Vec::new();
        let mut pos = 0;
        for change in &changes {
            new.extend(old[pos..change.start].iter().cloned());
            new.extend(change.new_lines.iter().cloned());
            pos = change.end;
        }
        new.extend(old[pos..].iter().cloned());

        // Texts whose last line is empty need a final newline to keep that
        // line, and emptying a file loses whether it had a final newline.
        // A text without any line ending cannot tell CRLF from LF.
        let final_newline = final_newline
            || old.is_empty()
            || new.is_empty()
            || old.last().is_some_and(String::is_empty)
            || new.last().is_some_and(String::is_empty);
        let has_line_ending = |lines: &[String]| lines.len() > 1 || (lines.len() == 1 && final_newline);
        let crlf = crlf && has_line_ending(&old) && has_line_ending(&new);
        let old_text = to_text(&old, crlf, final_newline);
        let new_text = to_text(&new, crlf, final_newline);

        let chunks = build_chunks(&old, &new, &changes);
        prop_assert_eq!(chunks.len(), changes.len());

        // The chunks survive a trip through the patch text.
        let patch = format!("*** Begin Patch\n*** Update File: f\n{}*** End Patch\n", render(&chunks));
        let parsed = parse_patch(&patch).map_err(|e| TestCaseError::fail(e.to_string()))?;
        assert_eq!(
            parsed.hunks,
            vec![Hunk::UpdateFile { path: "f".to_string(), move_path: None, chunks: chunks.clone() }]
        );

        assert_eq!(apply_chunks("f", &old_text, &chunks), Ok(new_text.clone()));
        assert_eq!(apply_chunks("f", &new_text, &reversed(&chunks)), Ok(old_text));
    }
}
