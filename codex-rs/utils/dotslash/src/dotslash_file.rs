//! The parts of a DotSlash file that [`dotslash_fetch`](crate::dotslash_fetch) checks.
//!
//! DotSlash itself parses the file again when it fetches; this module only reads what
//! is needed to give precise errors up front and to verify the fetched artifact.
//! Parsing is strict JSON: DotSlash also accepts comments and trailing commas, which
//! the pinned files in this repository do not use.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The header every DotSlash file starts with.
pub(crate) const HEADER: &str = "#!/usr/bin/env dotslash";

/// The DotSlash platform name of the running machine, e.g. `linux-x86_64`.
pub(crate) fn current_platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

/// The JSON body of a DotSlash file.
#[derive(Debug, Deserialize)]
pub(crate) struct DotslashFile {
    /// One artifact per platform name.
    pub(crate) platforms: BTreeMap<String, ArtifactEntry>,
}

/// One platform's artifact.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct ArtifactEntry {
    /// Size in bytes of the downloaded artifact.
    pub(crate) size: u64,
    /// Hash algorithm of `digest`: `sha256` or `blake3`.
    pub(crate) hash: String,
    /// Lower-case hex digest of the downloaded artifact.
    pub(crate) digest: String,
    /// Archive format; absent for a plain file.
    #[serde(default)]
    pub(crate) format: Option<String>,
    /// Path of the executable inside the artifact directory.
    pub(crate) path: String,
}

/// Why the text is not a DotSlash file.
pub(crate) fn parse(text: &str) -> Result<DotslashFile, String> {
    let (header, body) = text.split_once('\n').unwrap_or((text, ""));
    if header.trim_end() != HEADER {
        return Err(format!("the first line is `{header}`, not `{HEADER}`"));
    }
    serde_json::from_str(body).map_err(|err| format!("the JSON body is invalid: {err}"))
}
