//! [`ByteChunk`]: bytes that travel as base64 on the wire.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::Deserialize;
use serde::Deserializer;
use serde::Serialize;
use serde::Serializer;

/// Bytes that travel as standard padded base64 on the wire and are never UTF-8 decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ByteChunk(pub Bytes);

impl ByteChunk {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for ByteChunk {
    fn from(value: Vec<u8>) -> Self {
        Self(Bytes::from(value))
    }
}

impl From<&[u8]> for ByteChunk {
    fn from(value: &[u8]) -> Self {
        Self(Bytes::copy_from_slice(value))
    }
}

impl Serialize for ByteChunk {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = encode_base64(&self.0).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&text)
    }
}

/// The length of the padded base64 of `len` bytes.
pub(crate) fn base64_len(len: usize) -> usize {
    len.div_ceil(3) * 4
}

/// Append the standard padded base64 of `bytes` to `out` (the hot path of output replies
/// and notifications: SIMD, no intermediate string). The same text as `BASE64.encode`.
pub(crate) fn encode_base64_into(bytes: &[u8], out: &mut Vec<u8>) {
    base64_simd::STANDARD.encode_append(bytes, out);
}

/// The standard padded base64 of `bytes` (see [`encode_base64_into`]).
pub(crate) fn encode_base64(bytes: &[u8]) -> Result<String, std::string::FromUtf8Error> {
    let mut out = Vec::with_capacity(base64_len(bytes.len()));
    encode_base64_into(bytes, &mut out);
    String::from_utf8(out)
}

impl<'de> Deserialize<'de> for ByteChunk {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Decodes straight from the (usually borrowed) JSON string: no intermediate copy.
        struct Base64Visitor;

        impl serde::de::Visitor<'_> for Base64Visitor {
            type Value = ByteChunk;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a base64 string")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ByteChunk, E> {
                decode_base64(text.as_bytes())
                    .map(|bytes| ByteChunk(Bytes::from(bytes)))
                    .map_err(|err| E::custom(format!("invalid base64: {err}")))
            }
        }

        deserializer.deserialize_str(Base64Visitor)
    }
}

/// Decode standard padded base64: the same bytes as `BASE64.decode`, or its error (with
/// the offset it names). Decoded with SIMD; only text that fails is handed to the base64
/// crate, for its verdict.
pub(crate) fn decode_base64(text: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    base64_simd::STANDARD
        .decode_to_vec(text)
        .or_else(|_| BASE64.decode(text))
}

/// Decode the base64 of a JSON string whose text (after its opening quote) starts
/// `text`, appending the bytes to `out`; returns the length of the base64, where the
/// closing quote is. `None`, with `out` as it was, if the string is not plain padded
/// base64 up to a quote (an escape, another character, bad padding): then the caller
/// leaves it to serde.
pub(crate) fn decode_base64_string(text: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    let length = memchr::memchr(b'"', text)?;
    let start = out.len();
    match base64_simd::STANDARD.decode_append(&text[..length], out) {
        Ok(()) => Some(length),
        Err(_) => {
            out.truncate(start);
            None
        }
    }
}
