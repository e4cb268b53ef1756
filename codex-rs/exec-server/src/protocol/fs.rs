//! The `fs/*` methods: their params and results.

use codex_file_system::DirectoryEntry;
use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;
use serde::Deserialize;
use serde::Serialize;

use super::ByteChunk;

/// `fs/readFile` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadFileParams {
    /// Absolute path of the file.
    pub path: AbsolutePathBuf,
    /// Check the access against this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
}

/// `fs/readFile` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadFileResponse {
    /// The whole file.
    pub data_base64: ByteChunk,
}

/// `fs/writeFile` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteFileParams {
    /// Absolute path of the file; its parent must exist.
    pub path: AbsolutePathBuf,
    /// The new contents (the file is created or truncated).
    pub data_base64: ByteChunk,
    /// Check the access against this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
}

/// `fs/createDirectory` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateDirectoryParams {
    /// Absolute path of the directory.
    pub path: AbsolutePathBuf,
    /// Also create missing parents, and succeed when the directory exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive: Option<bool>,
    /// Check the access against this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
}

/// `fs/checkWrite` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckWriteParams {
    /// Absolute path that would be written, replaced or removed.
    pub path: AbsolutePathBuf,
    /// Check the access against this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
}

/// `fs/getMetadata` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetMetadataParams {
    /// Absolute path.
    pub path: AbsolutePathBuf,
    /// Check the access against this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
}

/// `fs/readDirectory` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadDirectoryParams {
    /// Absolute path of the directory.
    pub path: AbsolutePathBuf,
    /// Check the access against this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
}

/// `fs/readDirectory` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadDirectoryResponse {
    /// The entries, sorted by name, without `.` and `..`.
    pub entries: Vec<DirectoryEntry>,
}

/// `fs/remove` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoveParams {
    /// Absolute path (a final symlink is removed, not its target).
    pub path: AbsolutePathBuf,
    /// Remove a directory with everything in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive: Option<bool>,
    /// A missing path is not an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Check the access against this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
}

/// `fs/copy` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CopyParams {
    /// Absolute path of the file or directory to copy.
    pub source_path: AbsolutePathBuf,
    /// Absolute path of the copy.
    pub destination_path: AbsolutePathBuf,
    /// Copy a directory tree (the destination must not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive: Option<bool>,
    /// Check the access against this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
}

/// The empty result of `fs/writeFile`, `fs/createDirectory`, `fs/remove` and `fs/copy`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyResponse {}
