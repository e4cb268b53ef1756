//! Turns the text of a patch into a [`Patch`]: a list of file operations.
//!
//! Parsing only checks the shape of the patch; whether it fits the files on
//! disk is decided later (see [`crate::update`]).
//!
//! Grammar (one item per line):
//!
//! ```text
//! patch      := "*** Begin Patch" operation+ "*** End Patch"
//! operation  := add | delete | update
//! add        := "*** Add File:" path ("+" text)*
//! delete     := "*** Delete File:" path
//! update     := "*** Update File:" path ["*** Move to:" path] chunk*
//! chunk      := ["@@" [context]] change+ ["*** End of File"]
//! change     := (" " | "-" | "+") text | ""          (an empty line is empty context)
//! ```
//!
//! Only the first chunk of an update may leave out its `@@` header. An update
//! must change something: it renames the file or has a `+` or `-` line.
//!
//! Leniency, on top of the grammar:
//! - leading/trailing spaces and tabs around every `***` marker and around
//!   `@@` headers are ignored (so a context line whose text is `@@`, starts
//!   with `@@ `, or is a `***` marker cannot be expressed);
//! - CRLF line endings and a missing final newline are accepted;
//! - the patch may be wrapped in a shell heredoc (`apply_patch <<'EOF'` …
//!   `EOF`), which is stripped;
//! - blank lines before `*** Begin Patch`, between operations, at the end of
//!   an added file (before the next marker) and after `*** End Patch` are
//!   ignored; inside an update they are empty context lines;
//! - a unified-diff style header (`@@ -3,7 +3,8 @@ fn main()`) keeps only the
//!   text after the closing `@@` as its context;
//! - an update consisting only of `*** Move to:` is a plain rename.
//!
//! Parsing is a single forward pass over the lines, so its cost is linear in
//! the size of the patch, and it never panics.

/// Largest patch, in bytes, that [`parse_patch`] accepts.
pub const MAX_PATCH_BYTES: usize = 32 * 1024 * 1024;

const BEGIN_PATCH: &str = "*** Begin Patch";
const END_PATCH: &str = "*** End Patch";
const ADD_FILE: &str = "*** Add File:";
const DELETE_FILE: &str = "*** Delete File:";
const UPDATE_FILE: &str = "*** Update File:";
const MOVE_TO: &str = "*** Move to:";
const END_OF_FILE: &str = "*** End of File";
const FILE_OPERATION_EXPECTED: &str = "expected a file operation (`*** Add File:`, `*** Delete File:`, `*** Update File:`) or `*** End Patch`";
/// Longest excerpt of an offending line quoted in an error message.
const MAX_QUOTED_CHARS: usize = 120;

/// A parsed patch: the file operations in the order they appear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// The file operations, in patch order.
    pub hunks: Vec<Hunk>,
}

/// One file operation of a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hunk {
    /// Create a file (`*** Add File:`).
    AddFile {
        /// Path of the file to create, as written in the patch.
        path: String,
        /// The `+` lines without their `+`, each followed by `'\n'`.
        contents: String,
    },
    /// Remove a file (`*** Delete File:`).
    DeleteFile {
        /// Path of the file to remove, as written in the patch.
        path: String,
    },
    /// Edit a file (`*** Update File:`), optionally renaming it.
    UpdateFile {
        /// Path of the file to edit, as written in the patch.
        path: String,
        /// New path of the file (`*** Move to:`), if it is renamed.
        move_path: Option<String>,
        /// The edits, in the order they must be found in the file.
        chunks: Vec<UpdateFileChunk>,
    },
}

/// One block of changes within an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateFileChunk {
    /// The text of an `@@ <context>` header: a line (usually a function or
    /// class signature) that precedes the chunk's lines in the file.
    pub change_context: Option<String>,
    /// Context and removed lines: what the file holds before the change.
    pub old_lines: Vec<String>,
    /// Context and added lines: what the file holds after the change.
    pub new_lines: Vec<String>,
    /// Set by `*** End of File`: `old_lines` sit at the end of the file.
    pub is_end_of_file: bool,
}

/// Why a patch could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number, counted in the text given to [`parse_patch`].
    pub line: usize,
    /// What was wrong and what was expected instead.
    pub message: String,
}

/// Parses the text of a patch (see the module documentation for the format).
pub fn parse_patch(text: &str) -> Result<Patch, ParseError> {
    if text.len() > MAX_PATCH_BYTES {
        return Err(error(
            /*line*/ 1,
            format!(
                "patch is {} bytes, larger than the limit of {MAX_PATCH_BYTES} bytes",
                text.len()
            ),
        ));
    }
    let lines = split_lines(text);
    reject_nul_bytes(&lines)?;
    let (start, end) = strip_heredoc(&lines)?;
    Parser {
        lines: &lines,
        pos: start,
        end,
    }
    .parse()
}

fn error(line: usize, message: String) -> ParseError {
    ParseError { line, message }
}

/// Splits `text` into lines without their `\n` or `\r\n` terminators.
fn split_lines(text: &str) -> Vec<&str> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    body.split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect()
}

/// A line as quoted in error messages: control characters escaped, long
/// lines shortened.
fn quote(line: &str) -> String {
    let mut out = String::new();
    for (i, c) in line.chars().enumerate() {
        if i == MAX_QUOTED_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn reject_nul_bytes(lines: &[&str]) -> Result<(), ParseError> {
    let Some(index) = lines.iter().position(|line| line.contains('\0')) else {
        return Ok(());
    };
    let line = lines[index];
    let message = match Marker::classify(line) {
        Some(
            Marker::Add(path) | Marker::Delete(path) | Marker::Update(path) | Marker::MoveTo(path),
        ) => {
            format!("path `{}` contains a NUL byte", quote(path))
        }
        _ => "contains a NUL byte: binary data cannot be patched".to_string(),
    };
    Err(error(index + 1, message))
}

/// If the first non-blank line opens a shell heredoc (`apply_patch <<'EOF'`,
/// `<<"EOF"`, `<<EOF`, `<<-EOF`, also `applypatch`), checks that the last
/// non-blank line is its delimiter and returns the range of lines between the
/// two. Otherwise returns the range of all lines.
fn strip_heredoc(lines: &[&str]) -> Result<(usize, usize), ParseError> {
    let Some(first) = lines.iter().position(|line| !is_blank(line)) else {
        return Ok((0, lines.len()));
    };
    let Some(delimiter) = heredoc_delimiter(lines[first]) else {
        return Ok((0, lines.len()));
    };
    let last = lines
        .iter()
        .rposition(|line| !is_blank(line))
        .unwrap_or(first);
    if last == first || lines[last].trim() != delimiter {
        return Err(error(
            last + 1,
            format!(
                "heredoc opened at line {} is not closed: expected `{delimiter}` as the last line, found `{}`",
                first + 1,
                quote(lines[last].trim())
            ),
        ));
    }
    Ok((first + 1, last))
}

fn heredoc_delimiter(line: &str) -> Option<&str> {
    let line = line.trim();
    let line = ["apply_patch", "applypatch"]
        .iter()
        .find_map(|command| line.strip_prefix(command))
        .unwrap_or(line)
        .trim_start();
    let word = line.strip_prefix("<<")?;
    let word = word.strip_prefix('-').unwrap_or(word).trim_start();
    let word = ['\'', '"']
        .iter()
        .find_map(|quote| word.strip_prefix(*quote)?.strip_suffix(*quote))
        .unwrap_or(word);
    let valid = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    valid.then_some(word)
}

/// A line with a structural meaning, recognised after trimming whitespace.
#[derive(Debug, PartialEq)]
enum Marker<'a> {
    BeginPatch,
    EndPatch,
    Add(&'a str),
    Delete(&'a str),
    Update(&'a str),
    MoveTo(&'a str),
    EndOfFile,
    /// `@@` header, with its context if it has one.
    Chunk(Option<&'a str>),
}

impl<'a> Marker<'a> {
    fn classify(line: &'a str) -> Option<Self> {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("@@") {
            return match rest.chars().next() {
                None => Some(Marker::Chunk(None)),
                Some(' ' | '\t') => Some(Marker::Chunk(chunk_context(line.trim_start()))),
                Some(_) => None,
            };
        }
        if !trimmed.starts_with("***") {
            return None;
        }
        let marker = match trimmed {
            BEGIN_PATCH => Marker::BeginPatch,
            END_PATCH => Marker::EndPatch,
            END_OF_FILE => Marker::EndOfFile,
            _ => {
                if let Some(path) = trimmed.strip_prefix(ADD_FILE) {
                    Marker::Add(path.trim())
                } else if let Some(path) = trimmed.strip_prefix(DELETE_FILE) {
                    Marker::Delete(path.trim())
                } else if let Some(path) = trimmed.strip_prefix(UPDATE_FILE) {
                    Marker::Update(path.trim())
                } else if let Some(path) = trimmed.strip_prefix(MOVE_TO) {
                    Marker::MoveTo(path.trim())
                } else {
                    return None;
                }
            }
        };
        Some(marker)
    }
}

/// The context of an `@@` header line (already stripped of leading
/// whitespace). One separating space or tab after `@@` is dropped; further
/// indentation is kept, trailing whitespace is not.
fn chunk_context(header: &str) -> Option<&str> {
    let rest = header.strip_prefix("@@")?.trim_end();
    let rest = rest
        .strip_prefix(' ')
        .or_else(|| rest.strip_prefix('\t'))
        .unwrap_or(rest);
    let rest = strip_unified_range(rest).unwrap_or(rest);
    (!rest.trim().is_empty()).then_some(rest)
}

/// For `-3,7 +3,8 @@ tail` (a unified-diff range), returns `tail` trimmed.
fn strip_unified_range(text: &str) -> Option<&str> {
    fn range(text: &str, sign: char) -> Option<&str> {
        let text = text.strip_prefix(sign)?;
        let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let n = digits(text);
        if n == 0 {
            return None;
        }
        let rest = &text[n..];
        match rest.strip_prefix(',') {
            Some(after) if digits(after) > 0 => Some(&after[digits(after)..]),
            Some(_) => None,
            None => Some(rest),
        }
    }
    let rest = range(text, '-')?.strip_prefix(' ')?;
    let rest = range(rest, '+')?.strip_prefix(' ')?;
    Some(rest.strip_prefix("@@")?.trim())
}

fn validate_path<'a>(path: &'a str, marker: &str, line: usize) -> Result<&'a str, ParseError> {
    if path.is_empty() {
        return Err(error(line, format!("missing path after `{marker}`")));
    }
    if path.contains('\0') {
        return Err(error(
            line,
            format!("path `{}` contains a NUL byte", quote(path)),
        ));
    }
    Ok(path)
}

/// Cursor over the lines between the heredoc wrapper (if any).
struct Parser<'t, 'l> {
    lines: &'l [&'t str],
    /// Index of the next line to read.
    pos: usize,
    /// One past the last line that belongs to the patch.
    end: usize,
}

impl<'t> Parser<'t, '_> {
    fn peek(&self) -> Option<&'t str> {
        (self.pos < self.end).then(|| self.lines[self.pos])
    }

    /// 1-based number of the line at `pos`.
    fn line_number(&self) -> usize {
        self.pos + 1
    }

    fn skip_blank_lines(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
    }

    fn parse(mut self) -> Result<Patch, ParseError> {
        self.skip_blank_lines();
        match self.peek() {
            Some(line) if Marker::classify(line) == Some(Marker::BeginPatch) => self.pos += 1,
            Some(line) => {
                return Err(error(
                    self.line_number(),
                    format!(
                        "expected `{BEGIN_PATCH}` as the first line, found `{}`",
                        quote(line)
                    ),
                ));
            }
            None => {
                // Point at the heredoc delimiter if there is one, else line 1.
                let line = if self.end < self.lines.len() {
                    self.end + 1
                } else {
                    1
                };
                return Err(error(
                    line,
                    format!("expected `{BEGIN_PATCH}` as the first line, found an empty patch"),
                ));
            }
        }

        let mut hunks = Vec::new();
        loop {
            self.skip_blank_lines();
            let Some(line) = self.peek() else {
                return Err(error(
                    self.line_number(),
                    format!("missing `{END_PATCH}`: the patch ended before it"),
                ));
            };
            let number = self.line_number();
            self.pos += 1;
            match Marker::classify(line) {
                Some(Marker::EndPatch) => {
                    if hunks.is_empty() {
                        return Err(error(
                            number,
                            format!(
                                "empty patch: no file operations between `{BEGIN_PATCH}` and `{END_PATCH}`"
                            ),
                        ));
                    }
                    self.expect_nothing_after_end()?;
                    return Ok(Patch { hunks });
                }
                Some(Marker::Add(path)) => {
                    let path = validate_path(path, ADD_FILE, number)?.to_string();
                    let contents = self.parse_added_lines()?;
                    hunks.push(Hunk::AddFile { path, contents });
                }
                Some(Marker::Delete(path)) => {
                    let path = validate_path(path, DELETE_FILE, number)?.to_string();
                    hunks.push(Hunk::DeleteFile { path });
                }
                Some(Marker::Update(path)) => {
                    let path = validate_path(path, UPDATE_FILE, number)?;
                    hunks.push(self.parse_update(path, number)?);
                }
                _ => {
                    return Err(error(
                        number,
                        format!("{FILE_OPERATION_EXPECTED}, found `{}`", quote(line)),
                    ));
                }
            }
        }
    }

    fn expect_nothing_after_end(&mut self) -> Result<(), ParseError> {
        self.skip_blank_lines();
        match self.peek() {
            Some(line) => Err(error(
                self.line_number(),
                format!("unexpected text after `{END_PATCH}`: `{}`", quote(line)),
            )),
            None => Ok(()),
        }
    }

    /// True when the line at `pos` starts a new operation or ends the patch.
    fn at_operation_boundary(&self) -> bool {
        self.peek().is_none_or(|line| {
            matches!(
                Marker::classify(line),
                Some(Marker::EndPatch | Marker::Add(_) | Marker::Delete(_) | Marker::Update(_))
            )
        })
    }

    /// Reads the `+` lines of an added file.
    fn parse_added_lines(&mut self) -> Result<String, ParseError> {
        let mut contents = String::new();
        while !self.at_operation_boundary() {
            let Some(line) = self.peek() else { break };
            if let Some(text) = line.strip_prefix('+') {
                contents.push_str(text);
                contents.push('\n');
                self.pos += 1;
                continue;
            }
            if is_blank(line) {
                // Blank lines are tolerated only as separators before the
                // next marker.
                let blank_at = self.pos;
                self.skip_blank_lines();
                if self.at_operation_boundary() {
                    break;
                }
                self.pos = blank_at;
            }
            return Err(error(
                self.line_number(),
                format!(
                    "invalid line `{}` in an added file: every line must start with '+' (a lone '+' for an empty line)",
                    quote(line)
                ),
            ));
        }
        Ok(contents)
    }

    /// Reads the optional `*** Move to:` and the chunks of an update whose
    /// `*** Update File:` header was at line `header_line`.
    fn parse_update(&mut self, path: &str, header_line: usize) -> Result<Hunk, ParseError> {
        let mut move_path = None;
        if let Some(Marker::MoveTo(target)) = self.peek().and_then(Marker::classify) {
            move_path = Some(validate_path(target, MOVE_TO, self.line_number())?.to_string());
            self.pos += 1;
        }

        let mut chunks: Vec<UpdateFileChunk> = Vec::new();
        // Line of the `@@` header of the last chunk while it has no lines yet.
        let mut empty_header: Option<usize> = None;
        while !self.at_operation_boundary() {
            let Some(line) = self.peek() else { break };
            let number = self.line_number();
            self.pos += 1;
            let closed = chunks.last().is_some_and(|chunk| chunk.is_end_of_file);
            match Marker::classify(line) {
                Some(Marker::Chunk(context)) => {
                    if let Some(header) = empty_header {
                        return Err(chunk_without_lines(header));
                    }
                    chunks.push(new_chunk(context.map(str::to_string)));
                    empty_header = Some(number);
                    continue;
                }
                Some(Marker::EndOfFile) => match chunks.last_mut() {
                    Some(chunk) if empty_header.is_none() && !chunk.is_end_of_file => {
                        chunk.is_end_of_file = true;
                        continue;
                    }
                    _ => {
                        return Err(error(
                            number,
                            format!("`{END_OF_FILE}` must follow the lines of a chunk"),
                        ));
                    }
                },
                Some(Marker::MoveTo(_)) => {
                    return Err(error(
                        number,
                        format!("`{MOVE_TO}` must come right after `{UPDATE_FILE}`"),
                    ));
                }
                _ => {}
            }
            if closed {
                if is_blank(line) {
                    continue;
                }
                return Err(error(
                    number,
                    format!(
                        "expected `@@` to start a new chunk after `{END_OF_FILE}`, found `{}`",
                        quote(line)
                    ),
                ));
            }
            let (old, new) = match line.chars().next() {
                Some(' ') => (Some(&line[1..]), Some(&line[1..])),
                Some('-') => (Some(&line[1..]), None),
                Some('+') => (None, Some(&line[1..])),
                _ if is_blank(line) => (Some(""), Some("")),
                _ => {
                    return Err(error(
                        number,
                        format!(
                            "invalid hunk line `{}`: expected a line starting with ' ', '+' or '-'",
                            quote(line)
                        ),
                    ));
                }
            };
            if chunks.is_empty() {
                chunks.push(new_chunk(/*change_context*/ None));
            }
            if let Some(chunk) = chunks.last_mut() {
                chunk.old_lines.extend(old.map(str::to_string));
                chunk.new_lines.extend(new.map(str::to_string));
            }
            empty_header = None;
        }

        if let Some(header) = empty_header {
            return Err(chunk_without_lines(header));
        }
        let changes_nothing = chunks
            .iter()
            .all(|chunk| chunk.old_lines == chunk.new_lines);
        if move_path.is_none() && changes_nothing {
            return Err(error(
                header_line,
                format!("update of `{}` has no changes", quote(path)),
            ));
        }
        Ok(Hunk::UpdateFile {
            path: path.to_string(),
            move_path,
            chunks,
        })
    }
}

fn new_chunk(change_context: Option<String>) -> UpdateFileChunk {
    UpdateFileChunk {
        change_context,
        old_lines: Vec::new(),
        new_lines: Vec::new(),
        is_end_of_file: false,
    }
}

fn chunk_without_lines(header: usize) -> ParseError {
    error(
        header,
        "chunk header `@@` is not followed by any ' ', '+' or '-' line".to_string(),
    )
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
