//! Binary output frames: the `process/output` notification and the `process/read` reply
//! as WebSocket binary frames, with the output bytes raw instead of base64 (negotiated at
//! `initialize` with `binaryOutput: true`; see `docs/exec-server-protocol.md`, "Binary
//! output frames").
//!
//! A frame is
//!
//! ```text
//! offset  size  field
//! 0       1     version, 1 (BINARY_FRAME_VERSION)
//! 1       4     H: length of the header, unsigned big-endian, at most the bytes that follow
//! 5       H     header: UTF-8 JSON, the JSON-RPC message with each chunk's bytes left out
//!               and their length given instead (`chunkLength`)
//! 5 + H   rest  payload: the chunks' bytes, in the order of the header, back to back
//! ```
//!
//! The header is the message as it would be in a text frame, with each `chunk` (base64)
//! replaced by `chunkLength` (the byte count):
//!
//! - `{"jsonrpc":"2.0","method":"process/output","params":{"processId":…,"seq":…,
//!   "stream":…,"chunkLength":N}}`
//! - `{"jsonrpc":"2.0","id":…,"result":{"chunks":[{"seq":…,"stream":…,"chunkLength":N},
//!   …],"nextSeq":…,"exited":…,"exitCode":…,"closed":…,"failure":…,"gap"?:…,
//!   "notificationsResumed"?:…}}`
//!
//! The chunk lengths must add up to exactly the payload's length. Decoding never allocates
//! by a length it was told: every length is checked against the frame it arrived in (whose
//! size the WebSocket already bounds), and the chunks are slices of that frame.

use bytes::Bytes;
use serde::Deserialize;
use serde::Serialize;
use serde_json::Value;

use super::ByteChunk;
use super::Gap;
use super::JSONRPC_VERSION;
use super::OutputChunk;
use super::OutputNotification;
use super::OutputStream;
use super::ReadResponse;
use super::method;

/// The version this crate writes and reads (the first byte of every binary frame).
pub const BINARY_FRAME_VERSION: u8 = 1;

/// The version byte and the header length: what comes before the header.
pub const BINARY_FRAME_PREFIX_BYTES: usize = 5;

/// Why a binary frame could not be read. Every malformed frame is one of these; none is a
/// panic, and none makes the reader allocate more than the frame it has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinaryFrameError {
    /// The frame is shorter than the version byte and the header length.
    #[error(
        "binary frame of {length} bytes is shorter than its {BINARY_FRAME_PREFIX_BYTES}-byte \
         prefix (version, header length)"
    )]
    TruncatedPrefix {
        /// The frame's length.
        length: usize,
    },
    /// The version byte is not [`BINARY_FRAME_VERSION`].
    #[error(
        "binary frame version {version} is not supported (this side reads version \
         {BINARY_FRAME_VERSION})"
    )]
    UnsupportedVersion {
        /// The version byte received.
        version: u8,
    },
    /// The header length says more than the frame holds.
    #[error(
        "binary frame header length {declared} is more than the {available} bytes that \
         follow the prefix"
    )]
    HeaderTooLong {
        /// The header length the frame gives.
        declared: u32,
        /// The bytes after the prefix.
        available: usize,
    },
    /// The header is not one of the two messages, as JSON.
    #[error(
        "binary frame header is not a process/output notification or a process/read reply: {reason}"
    )]
    InvalidHeader {
        /// What serde (or the check after it) said.
        reason: String,
    },
    /// The chunk lengths of the header do not add up to the payload's length.
    #[error(
        "binary frame chunk lengths add up to {declared} bytes, but {available} bytes follow \
         the header"
    )]
    PayloadLength {
        /// The sum of the header's `chunkLength`s (saturated at `u64::MAX`).
        declared: u64,
        /// The bytes after the header.
        available: usize,
    },
}

/// What a binary frame carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BinaryMessage {
    /// A `process/output` notification.
    Output(OutputNotification),
    /// The reply to a `process/read` request.
    ReadReply {
        /// The request's id, as the client sent it.
        id: Value,
        /// The reply's result.
        result: ReadResponse,
    },
}

/// One chunk in a header: its bytes are in the payload.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChunkHeader<'a> {
    /// Only in `process/output`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    process_id: Option<std::borrow::Cow<'a, str>>,
    seq: u64,
    stream: OutputStream,
    chunk_length: u64,
}

/// A `process/read` result with its chunks' bytes left out.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReadResultHeader<'a> {
    chunks: Vec<ChunkHeader<'a>>,
    next_seq: u64,
    exited: bool,
    exit_code: Option<i32>,
    closed: bool,
    failure: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gap: Option<Gap>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    notifications_resumed: bool,
}

/// The header of either message, as written (members in this order) and as read (every
/// member optional; which are present decides the message).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header<'a> {
    jsonrpc: std::borrow::Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    method: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    params: Option<ChunkHeader<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    result: Option<ReadResultHeader<'a>>,
}

/// Write the frame of `header` followed by `chunks`, back to back.
fn encode<'a>(
    header: &Header<'_>,
    chunks: impl Iterator<Item = &'a [u8]> + Clone,
) -> serde_json::Result<Vec<u8>> {
    let payload: usize = chunks.clone().map(<[u8]>::len).sum();
    // Headers are a few dozen bytes per chunk.
    let mut out = Vec::with_capacity(BINARY_FRAME_PREFIX_BYTES + 256 + payload);
    out.push(BINARY_FRAME_VERSION);
    out.extend_from_slice(&[0; 4]);
    serde_json::to_writer(&mut out, header)?;
    let header_length = u32::try_from(out.len() - BINARY_FRAME_PREFIX_BYTES).map_err(|_| {
        serde::ser::Error::custom("a binary frame header is over 4 GiB".to_string())
    })?;
    out[1..BINARY_FRAME_PREFIX_BYTES].copy_from_slice(&header_length.to_be_bytes());
    for chunk in chunks {
        out.extend_from_slice(chunk);
    }
    Ok(out)
}

impl OutputNotification {
    /// This notification as a binary frame (see the module documentation).
    pub fn to_binary_frame(&self) -> serde_json::Result<Vec<u8>> {
        let header = Header {
            jsonrpc: JSONRPC_VERSION.into(),
            id: None,
            method: Some(method::PROCESS_OUTPUT.into()),
            params: Some(ChunkHeader {
                process_id: Some(self.process_id.as_str().into()),
                seq: self.seq,
                stream: self.stream,
                chunk_length: self.chunk.0.len() as u64,
            }),
            result: None,
        };
        encode(&header, std::iter::once(self.chunk.as_bytes()))
    }
}

impl ReadResponse {
    /// The reply to `process/read` request `id` with this result, as a binary frame (see
    /// the module documentation).
    pub fn to_binary_frame(&self, id: &Value) -> serde_json::Result<Vec<u8>> {
        let header = Header {
            jsonrpc: JSONRPC_VERSION.into(),
            id: Some(id.clone()),
            method: None,
            params: None,
            result: Some(ReadResultHeader {
                chunks: self
                    .chunks
                    .iter()
                    .map(|chunk| ChunkHeader {
                        process_id: None,
                        seq: chunk.seq,
                        stream: chunk.stream,
                        chunk_length: chunk.chunk.0.len() as u64,
                    })
                    .collect(),
                next_seq: self.next_seq,
                exited: self.exited,
                exit_code: self.exit_code,
                closed: self.closed,
                failure: self.failure.clone(),
                gap: self.gap,
                notifications_resumed: self.notifications_resumed,
            }),
        };
        encode(
            &header,
            self.chunks.iter().map(|chunk| chunk.chunk.as_bytes()),
        )
    }
}

/// Read a binary frame. The chunks of the message are slices of `frame` (no copy).
pub fn decode_binary_frame(frame: &Bytes) -> Result<BinaryMessage, BinaryFrameError> {
    let Some((&version, rest)) = frame.split_first() else {
        return Err(BinaryFrameError::TruncatedPrefix { length: 0 });
    };
    if version != BINARY_FRAME_VERSION {
        return Err(BinaryFrameError::UnsupportedVersion { version });
    }
    let Some((length, rest)) = rest.split_first_chunk::<4>() else {
        return Err(BinaryFrameError::TruncatedPrefix {
            length: frame.len(),
        });
    };
    let declared = u32::from_be_bytes(*length);
    let header_end = usize::try_from(declared)
        .ok()
        .filter(|length| *length <= rest.len())
        .ok_or(BinaryFrameError::HeaderTooLong {
            declared,
            available: rest.len(),
        })?;
    let payload_start = BINARY_FRAME_PREFIX_BYTES + header_end;
    let invalid = |reason: String| BinaryFrameError::InvalidHeader { reason };
    let header: Header<'_> =
        serde_json::from_slice(&rest[..header_end]).map_err(|err| invalid(err.to_string()))?;
    if header.jsonrpc != JSONRPC_VERSION {
        return Err(invalid(format!(
            "`jsonrpc` is {:?}, not {JSONRPC_VERSION:?}",
            header.jsonrpc
        )));
    }
    let available = frame.len() - payload_start;
    // Each chunk's range in `frame`, once the lengths add up to the payload.
    let ranges = |lengths: &mut dyn Iterator<Item = u64>| {
        let mut ranges = Vec::new();
        let mut at = payload_start;
        let mut declared = 0u64;
        for length in lengths {
            declared = declared.saturating_add(length);
            if declared > available as u64 {
                continue;
            }
            // `declared <= available`, so both fit in `usize`.
            let end = at + length as usize;
            ranges.push(at..end);
            at = end;
        }
        if declared == available as u64 {
            Ok(ranges)
        } else {
            Err(BinaryFrameError::PayloadLength {
                declared,
                available,
            })
        }
    };
    match header {
        Header {
            id: None,
            method: Some(name),
            params: Some(params),
            result: None,
            ..
        } if name == method::PROCESS_OUTPUT => {
            let Some(process_id) = params.process_id else {
                return Err(invalid("`params.processId` is missing".to_string()));
            };
            let range = ranges(&mut std::iter::once(params.chunk_length))?;
            let chunk = range
                .into_iter()
                .next()
                .map_or_else(Bytes::new, |range| frame.slice(range));
            Ok(BinaryMessage::Output(OutputNotification {
                process_id: process_id.into_owned(),
                seq: params.seq,
                stream: params.stream,
                chunk: ByteChunk(chunk),
            }))
        }
        Header {
            id: Some(id @ (Value::Number(_) | Value::String(_))),
            method: None,
            params: None,
            result: Some(result),
            ..
        } => {
            if result.chunks.iter().any(|chunk| chunk.process_id.is_some()) {
                return Err(invalid(
                    "a chunk of a `process/read` result has a `processId`".to_string(),
                ));
            }
            let ranges = ranges(&mut result.chunks.iter().map(|chunk| chunk.chunk_length))?;
            let chunks = result
                .chunks
                .iter()
                .zip(ranges)
                .map(|(chunk, range)| OutputChunk {
                    seq: chunk.seq,
                    stream: chunk.stream,
                    chunk: ByteChunk(frame.slice(range)),
                })
                .collect();
            Ok(BinaryMessage::ReadReply {
                id,
                result: ReadResponse {
                    chunks,
                    next_seq: result.next_seq,
                    exited: result.exited,
                    exit_code: result.exit_code,
                    closed: result.closed,
                    failure: result.failure,
                    gap: result.gap,
                    notifications_resumed: result.notifications_resumed,
                },
            })
        }
        _ => Err(invalid(
            "it must have `method: \"process/output\"` and `params`, or an `id` (number or \
             string) and `result`, and nothing else"
                .to_string(),
        )),
    }
}

#[cfg(test)]
#[path = "binary_frame_tests.rs"]
mod tests;
