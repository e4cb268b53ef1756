//! `process/start`'s `limits` on the wire (part of [`crate::protocol`]).

use serde::Deserialize;
use serde::Serialize;

/// `process/start`'s `limits`: each one optional, each an integer within its bounds
/// ([`ProcessLimits::BOUNDS`]); a value out of bounds, of another type, or an unknown
/// field is refused (`-32602`) naming the field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProcessLimits {
    /// Processes and threads (`RLIMIT_NPROC`); `fork` fails with `EAGAIN`. Counted per
    /// user, not per sandbox; refused by a server running as root.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "limit::max_processes"
    )]
    pub max_processes: Option<u64>,
    /// Data memory of each process (`RLIMIT_DATA`: heap and private writable mappings);
    /// allocations past it fail with `ENOMEM`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "limit::max_memory_bytes"
    )]
    pub max_memory_bytes: Option<u64>,
    /// Size each process may make a file (`RLIMIT_FSIZE`); writing past it raises
    /// `SIGXFSZ` (or fails with `EFBIG`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "limit::max_file_size_bytes"
    )]
    pub max_file_size_bytes: Option<u64>,
    /// Open descriptors of each process (`RLIMIT_NOFILE`); `open` fails with `EMFILE`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "limit::max_open_files"
    )]
    pub max_open_files: Option<u64>,
}

impl ProcessLimits {
    /// `(wire name, smallest, largest)` of each limit, in field order. Values: the
    /// kernel's `PID_MAX_LIMIT`; 1 MiB (nothing starts with less) to 128 TiB (all a
    /// process can address); the largest file offset; 16 (bubblewrap needs about 8) to
    /// the kernel's default `fs.nr_open`.
    pub const BOUNDS: [(&'static str, u64, u64); 4] = [
        ("maxProcesses", 1, 4 * 1024 * 1024),
        ("maxMemoryBytes", 1024 * 1024, 1 << 47),
        ("maxFileSizeBytes", 1, i64::MAX as u64),
        ("maxOpenFiles", 16, 1 << 20),
    ];

    /// The limits in field order (as in [`ProcessLimits::BOUNDS`]).
    pub fn values(&self) -> [Option<u64>; 4] {
        [
            self.max_processes,
            self.max_memory_bytes,
            self.max_file_size_bytes,
            self.max_open_files,
        ]
    }

    /// Checks every limit against [`ProcessLimits::BOUNDS`] (for limits that did not come
    /// through deserialization, which checks the same): the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        for ((name, min, max), value) in Self::BOUNDS.into_iter().zip(self.values()) {
            if let Some(value) = value {
                bounded(name, min, max, serde_json::Value::from(value))?;
            }
        }
        Ok(())
    }
}

/// `value` as an integer within `min..=max`, or the message that says what is wrong.
fn bounded(name: &str, min: u64, max: u64, value: serde_json::Value) -> Result<u64, String> {
    match value.as_u64() {
        Some(number) if (min..=max).contains(&number) => Ok(number),
        _ => Err(format!(
            "`limits.{name}` must be an integer from {min} to {max}, got {value}"
        )),
    }
}

/// `deserialize_with` functions of [`ProcessLimits`]: the value is read whatever its
/// type, so a string, a negative number or a fraction gets a message naming the field
/// (serde's own would not); `null` is the same as leaving the field out.
mod limit {
    use serde::Deserialize;
    use serde::Deserializer;
    use serde::de::Error;

    use super::ProcessLimits;

    fn field<'de, D: Deserializer<'de>>(
        deserializer: D,
        index: usize,
    ) -> Result<Option<u64>, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        if value.is_null() {
            return Ok(None);
        }
        let (name, min, max) = ProcessLimits::BOUNDS[index];
        super::bounded(name, min, max, value)
            .map(Some)
            .map_err(D::Error::custom)
    }

    pub(super) fn max_processes<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        field(deserializer, /*index*/ 0)
    }

    pub(super) fn max_memory_bytes<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        field(deserializer, /*index*/ 1)
    }

    pub(super) fn max_file_size_bytes<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        field(deserializer, /*index*/ 2)
    }

    pub(super) fn max_open_files<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        field(deserializer, /*index*/ 3)
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
