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
        serializer.serialize_str(&BASE64.encode(&self.0))
    }
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
                BASE64
                    .decode(text.as_bytes())
                    .map(|bytes| ByteChunk(Bytes::from(bytes)))
                    .map_err(|err| E::custom(format!("invalid base64: {err}")))
            }
        }

        deserializer.deserialize_str(Base64Visitor)
    }
}
