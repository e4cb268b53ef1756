//! One source file: its text, parsing, positions, and the comment before a position.

use std::path::PathBuf;

use proc_macro2::Span;

/// A file's text, prepared so that byte offsets in `syn`'s spans are offsets in
/// `text` (see [`SourceFile::new`]).
pub(crate) struct SourceFile {
    pub(crate) path: PathBuf,
    text: String,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
}

/// A comment found right before an argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Comment {
    /// `/*name*/` or `/* name */`: the name.
    Name(String),
    /// A block comment whose text is not a single identifier, such as `/*name=*/`
    /// or `/* the flag */`: the whole comment.
    Other(String),
}

impl SourceFile {
    /// `syn::parse_file` drops a leading byte-order mark and a `#!` line before
    /// parsing, which would shift every offset; this blanks them with spaces of the
    /// same byte length instead, so offsets stay those of the file on disk.
    pub(crate) fn new(path: PathBuf, text: String) -> Self {
        let mut bytes = text.into_bytes();
        let mut start = 0;
        if bytes.starts_with("\u{feff}".as_bytes()) {
            bytes[..3].fill(b' ');
            start = 3;
        }
        let rest = String::from_utf8_lossy(&bytes[start..]);
        if rest.starts_with("#!") && !rest[2..].trim_start().starts_with('[') {
            let end = start + rest.find('\n').unwrap_or(rest.len());
            bytes[start..end].fill(b' ');
        }
        // Only ASCII ranges and whole lines were overwritten, so this cannot fail;
        // fall back to a lossy copy rather than panicking.
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned());
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(index, _)| index + 1));
        Self {
            path,
            text,
            line_starts,
        }
    }

    /// The syntax tree, or the parse error with its position.
    pub(crate) fn parse(&self) -> Result<syn::File, String> {
        syn::parse_file(&self.text).map_err(|err| {
            let start = err.span().start();
            format!(
                "cannot parse: {err} (line {}, column {})",
                start.line,
                start.column + 1
            )
        })
    }

    /// The source text a span covers.
    pub(crate) fn text_of(&self, span: Span) -> &str {
        self.text.get(span.byte_range()).unwrap_or_default()
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(crate) fn line_column(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|start| *start <= offset);
        let line_start = self
            .line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        let column = self
            .text
            .get(line_start..offset)
            .map_or(/*default*/ 0, |prefix| prefix.chars().count());
        (line, column + 1)
    }

    /// The block comment that ends right before `offset`, with only whitespace
    /// between them.
    pub(crate) fn comment_before(&self, offset: usize) -> Option<Comment> {
        let before = self.text.get(..offset)?.trim_end();
        let inner_end = before.strip_suffix("*/")?;
        let start = inner_end.rfind("/*")?;
        let inner = &inner_end[start + 2..];
        let name = inner.trim();
        if is_identifier(name) {
            Some(Comment::Name(name.to_string()))
        } else {
            Some(Comment::Other(before[start..].to_string()))
        }
    }
}

/// `name` is a (non-raw) Rust identifier: a letter or `_` and then letters, digits
/// and `_`.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_alphabetic() || first == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
#[path = "source_tests.rs"]
mod tests;
