//! Terminal sizes on the wire (part of [`crate::protocol`]): `process/start`'s `ptySize`
//! and the `process/resize` method.

use serde::Deserialize;
use serde::Serialize;

/// The window size of a process's pseudo-terminal, in character cells: `process/start`'s
/// `ptySize` (only with `tty: true`). Each dimension is an integer from 1 to
/// [`PtySize::MAX_DIMENSION`]; anything else (0, a larger number, another type) is refused
/// (`-32602`) naming the field and the bounds.
///
/// Deserialization refuses what is not a 16-bit unsigned integer; the backend checks the
/// bounds ([`PtySize::validate`]) when it uses the size, so that a client gets the same
/// error (with `data.reason`) from a server as from a local backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PtySize {
    /// Lines.
    #[serde(deserialize_with = "dimension::pty_size_rows")]
    pub rows: u16,
    /// Columns.
    #[serde(deserialize_with = "dimension::pty_size_cols")]
    pub cols: u16,
}

impl PtySize {
    /// The largest accepted `rows` or `cols`: far beyond any real screen, and small enough
    /// that a program sizing a buffer by the window (`rows * cols` cells) cannot be made to
    /// allocate without bound.
    pub const MAX_DIMENSION: u16 = 4096;

    /// The size of a terminal started without `ptySize`: 24 lines of 80 columns.
    pub const DEFAULT: PtySize = PtySize { rows: 24, cols: 80 };

    /// Checks both dimensions against 1..=[`PtySize::MAX_DIMENSION`]; the message names
    /// the field (`ptySize.rows`, `ptySize.cols`).
    pub fn validate(&self) -> Result<(), String> {
        self.validate_as("ptySize.rows", "ptySize.cols")
    }

    fn validate_as(&self, rows: &str, cols: &str) -> Result<(), String> {
        let accepted = 1..=PtySize::MAX_DIMENSION;
        dimension::check(rows, serde_json::Value::from(self.rows), accepted.clone())?;
        dimension::check(cols, serde_json::Value::from(self.cols), accepted)?;
        Ok(())
    }
}

impl Default for PtySize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// `process/resize` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResizeParams {
    /// The process (started with `tty: true`).
    pub process_id: String,
    /// Lines, 1 to [`PtySize::MAX_DIMENSION`] (checked as for [`PtySize`]).
    #[serde(deserialize_with = "dimension::rows")]
    pub rows: u16,
    /// Columns, 1 to [`PtySize::MAX_DIMENSION`].
    #[serde(deserialize_with = "dimension::cols")]
    pub cols: u16,
}

impl ResizeParams {
    /// The size this request sets.
    pub fn size(&self) -> PtySize {
        PtySize {
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// Checks both dimensions against 1..=[`PtySize::MAX_DIMENSION`]; the message names
    /// the field (`rows`, `cols`).
    pub fn validate(&self) -> Result<(), String> {
        self.size().validate_as("rows", "cols")
    }
}

/// `process/resize` result (empty object).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResizeResponse {}

/// `deserialize_with` functions of the dimensions: the value is read whatever its type, so
/// a string, a negative number, a fraction or a number beyond 16 bits gets a message
/// naming the field and the bounds (serde's own would name neither). 0 and numbers up to
/// `u16::MAX` pass here and are refused by the `validate` of the backend.
mod dimension {
    use serde::Deserialize;
    use serde::Deserializer;
    use serde::de::Error;

    use super::PtySize;

    /// `value` as an integer in `accepted`, or the message that says what is wrong
    /// (naming the bounds of the protocol, 1 to [`PtySize::MAX_DIMENSION`]).
    pub(super) fn check(
        name: &str,
        value: serde_json::Value,
        accepted: std::ops::RangeInclusive<u16>,
    ) -> Result<u16, String> {
        match value.as_u64().map(u16::try_from) {
            Some(Ok(number)) if accepted.contains(&number) => Ok(number),
            _ => Err(format!(
                "`{name}` must be an integer from 1 to {}, got {value}",
                PtySize::MAX_DIMENSION
            )),
        }
    }

    fn field<'de, D: Deserializer<'de>>(deserializer: D, name: &str) -> Result<u16, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        check(name, value, /*accepted*/ 0..=u16::MAX).map_err(D::Error::custom)
    }

    pub(super) fn rows<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u16, D::Error> {
        field(deserializer, "rows")
    }

    pub(super) fn cols<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u16, D::Error> {
        field(deserializer, "cols")
    }

    pub(super) fn pty_size_rows<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<u16, D::Error> {
        field(deserializer, "ptySize.rows")
    }

    pub(super) fn pty_size_cols<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<u16, D::Error> {
        field(deserializer, "ptySize.cols")
    }
}

#[cfg(test)]
#[path = "terminal_tests.rs"]
mod tests;
