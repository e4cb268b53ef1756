//! Builders the unit tests of several modules share.

use crate::parser::UpdateFileChunk;

/// `lines` as owned strings.
pub(crate) fn strings(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|line| line.to_string()).collect()
}

/// A chunk with `old` and `new` lines, an optional `@@ context` and `*** End of File`.
pub(crate) fn chunk(
    context: Option<&str>,
    old: &[&str],
    new: &[&str],
    eof: bool,
) -> UpdateFileChunk {
    UpdateFileChunk {
        change_context: context.map(str::to_string),
        old_lines: strings(old),
        new_lines: strings(new),
        is_end_of_file: eof,
    }
}
