//! Computing a file's new text from the chunks of an `*** Update File:`
//! operation. Pure: the caller reads and writes the file.
//!
//! How chunks are placed:
//! - Chunks are located in order; each search starts after the lines matched
//!   by the previous chunk (or after its `@@` context line).
//! - A chunk's `change_context` is searched first (as one line, from the
//!   current position); its old lines are then searched after it.
//! - Old lines are found with [`seek_sequence`], i.e. exactly if possible,
//!   else ignoring whitespace at the ends of lines, else with typographic
//!   punctuation normalised. With `is_end_of_file`, a match at the very end
//!   of the file is preferred.
//! - If the old lines end with an empty line and are not found, the search is
//!   retried without it (and without a trailing empty new line): that empty
//!   line is usually an artefact of a blank line before the next marker.
//! - The matched lines are replaced by the chunk's new lines, except that
//!   the context lines at the start and end of the chunk (the longest common
//!   prefix and suffix of its old and new lines) keep the file's own text:
//!   a fuzzy match does not rewrite untouched lines in the patch's spelling.
//!   Context lines between two changes of one chunk are written as the patch
//!   spells them.
//! - A pure addition (no old lines) is inserted right after its `@@` context
//!   line when it has one and is not marked `*** End of File`; otherwise it
//!   is appended at the end of the file.
//!
//! Line endings: a file whose first line ends with `\r\n` is a CRLF file.
//! Its lines are matched without their `\r`, and every line of the result,
//! old or new, is written with `\r\n`. Any other file is an LF file and is
//! written with `\n` (a stray `\r` there is part of the line's text).
//!
//! Final newline: the result ends with a line ending exactly when the
//! original did, so a file without a final newline still has none after the
//! update. An empty original counts as ending with one, so lines added to an
//! empty file are each terminated. A result with no lines is empty.

use crate::parser::UpdateFileChunk;
use crate::seek_sequence::seek_sequence;

/// Why the chunks of an update could not be applied to a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// A chunk's `@@ context` line was not found.
    #[error("failed to find context `{context}` in {path}")]
    ContextNotFound {
        /// The file being updated.
        path: String,
        /// The context line that was searched for.
        context: String,
    },
    /// A chunk's old lines were not found.
    #[error("failed to find the expected lines in {path}:\n{lines}")]
    LinesNotFound {
        /// The file being updated.
        path: String,
        /// The chunk's old lines, joined with `\n`.
        lines: String,
    },
}

/// Applies `chunks` to `original`, the current text of the file at `path`,
/// and returns the new text. `path` only appears in errors. See the module
/// documentation for placement, line-ending and final-newline rules.
pub fn apply_chunks(
    path: &str,
    original: &str,
    chunks: &[UpdateFileChunk],
) -> Result<String, UpdateError> {
    let crlf = original
        .find('\n')
        .is_some_and(|index| original[..index].ends_with('\r'));
    let final_newline = original.is_empty() || original.ends_with('\n');
    let lines = split_lines(original, crlf);
    let replacements = locate(path, &lines, chunks)?;

    let mut result: Vec<&str> = Vec::with_capacity(lines.len());
    let mut pos = 0;
    for replacement in &replacements {
        // Replacements are sorted and never overlap; clamping only guards
        // against slicing out of range.
        let start = replacement.start.clamp(pos, lines.len());
        let end = start.saturating_add(replacement.old_len).min(lines.len());
        result.extend(lines[pos..start].iter().map(String::as_str));
        let matched = &lines[start..end];
        let tail_start = matched.len().saturating_sub(replacement.keep_tail);
        result.extend(
            matched[..replacement.keep_head.min(tail_start)]
                .iter()
                .map(String::as_str),
        );
        result.extend(replacement.middle.iter().map(String::as_str));
        result.extend(matched[tail_start..].iter().map(String::as_str));
        pos = end;
    }
    result.extend(lines[pos..].iter().map(String::as_str));

    let eol = if crlf { "\r\n" } else { "\n" };
    let mut text = result.join(eol);
    if final_newline && !result.is_empty() {
        text.push_str(eol);
    }
    Ok(text)
}

/// Lines of `text` without terminators (and without `\r` in a CRLF file).
/// The empty piece after a final newline is not a line; an empty text has
/// no lines.
fn split_lines(text: &str, crlf: bool) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    body.split('\n')
        .map(|line| {
            let line = if crlf {
                line.strip_suffix('\r').unwrap_or(line)
            } else {
                line
            };
            line.to_string()
        })
        .collect()
}

/// Replace `old_len` lines starting at `start`: keep the first `keep_head`
/// and the last `keep_tail` of them (context lines shared by the chunk's old
/// and new lines, kept as the file spells them) and put `middle` between.
#[derive(Debug)]
struct Replacement<'c> {
    start: usize,
    old_len: usize,
    keep_head: usize,
    middle: &'c [String],
    keep_tail: usize,
}

impl<'c> Replacement<'c> {
    fn new(start: usize, old: &[String], new: &'c [String]) -> Self {
        let keep_head = old.iter().zip(new).take_while(|(a, b)| a == b).count();
        let keep_tail = old[keep_head..]
            .iter()
            .rev()
            .zip(new[keep_head..].iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        Replacement {
            start,
            old_len: old.len(),
            keep_head,
            middle: &new[keep_head..new.len() - keep_tail],
            keep_tail,
        }
    }
}

/// Finds where each chunk applies; the result is sorted by position.
fn locate<'c>(
    path: &str,
    lines: &[String],
    chunks: &'c [UpdateFileChunk],
) -> Result<Vec<Replacement<'c>>, UpdateError> {
    let mut replacements = Vec::with_capacity(chunks.len());
    let mut cursor = 0;
    for chunk in chunks {
        if let Some(context) = &chunk.change_context {
            let found = seek_sequence(
                lines,
                std::slice::from_ref(context),
                cursor,
                /*eof*/ false,
            );
            let Some(index) = found else {
                return Err(UpdateError::ContextNotFound {
                    path: path.to_string(),
                    context: context.clone(),
                });
            };
            cursor = index + 1;
        }

        let mut old: &[String] = &chunk.old_lines;
        let mut new: &[String] = &chunk.new_lines;
        let mut found = seek_sequence(lines, old, cursor, chunk.is_end_of_file);
        if found.is_none()
            && let Some(shorter) = old.strip_suffix(&[String::new()])
        {
            old = shorter;
            new = new.strip_suffix(&[String::new()]).unwrap_or(new);
            found = seek_sequence(lines, old, cursor, chunk.is_end_of_file);
        }

        if old.is_empty() {
            // Pure addition.
            let after_context = chunk.change_context.is_some() && !chunk.is_end_of_file;
            let start = if after_context { cursor } else { lines.len() };
            replacements.push(Replacement::new(start, &[], new));
            continue;
        }
        let Some(start) = found else {
            return Err(UpdateError::LinesNotFound {
                path: path.to_string(),
                lines: chunk.old_lines.join("\n"),
            });
        };
        replacements.push(Replacement::new(start, old, new));
        cursor = start + old.len();
    }
    // Stable: insertions at the same position keep the order of their chunks.
    replacements.sort_by_key(|replacement| replacement.start);
    Ok(replacements)
}

#[cfg(test)]
#[path = "update_tests.rs"]
mod tests;
