//! The per-server secret: generating it, comparing it without leaking timing, and carrying
//! it in a URL's `token` query parameter (Jupyter-style `ws://127.0.0.1:PORT/?token=HEX`).
//!
//! The server accepts the token as `Authorization: Bearer T` or as the `token` query
//! parameter of the upgrade request. The client takes it *out* of a URL it is given and
//! sends it only as the bearer header, so it never appears in a request line (which
//! proxies and access logs record).

use std::io::Read;

use sha2::Digest;
use sha2::Sha256;

/// Name of the query parameter that carries the token.
pub const TOKEN_QUERY_PARAMETER: &str = "token";

/// Random bytes in a generated token (256 bits; 64 hex characters).
const GENERATED_TOKEN_BYTES: usize = 32;

/// Why a URL's `token` parameter could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlTokenError {
    /// `token` appears more than once.
    #[error("the URL has more than one `token` query parameter")]
    Repeated,
    /// `token=` with nothing after it.
    #[error("the URL's `token` query parameter is empty")]
    Empty,
    /// Percent-encoding that does not decode to UTF-8.
    #[error("the URL's `token` query parameter is not valid percent-encoded UTF-8")]
    BadEncoding,
}

/// A fresh token of 256 bits from the operating system's random source, as lowercase hex.
pub fn generate_token() -> std::io::Result<String> {
    let mut bytes = [0u8; GENERATED_TOKEN_BYTES];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Whether `presented` equals `expected`, in time that depends on neither their contents
/// nor their lengths: both sides are hashed to fixed-length SHA-256 digests first, and the
/// digests are compared without an early exit.
pub fn tokens_match(presented: &[u8], expected: &[u8]) -> bool {
    let presented = Sha256::digest(presented);
    let expected = Sha256::digest(expected);
    presented
        .iter()
        .zip(expected.iter())
        .fold(/*init*/ 0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// `url` with `token` as its query parameter: `ws://HOST:PORT/?token=TOKEN`. The token
/// is percent-encoded where needed (a generated one never needs it).
pub fn url_with_token(url: &str, token: &str) -> String {
    let base = url.trim_end_matches('/');
    format!(
        "{base}/?{TOKEN_QUERY_PARAMETER}={}",
        percent_encode(token.as_bytes())
    )
}

/// The value of the `token` parameter in the query of `target` (a URL or an HTTP request
/// target such as `/?token=…`), percent-decoded (RFC 3986: `+` stays `+`); `None` when
/// there is none.
pub fn query_token(target: &str) -> Result<Option<String>, UrlTokenError> {
    Ok(split_url_token(target)?.1)
}

/// `url` without its `token` query parameter (other parameters kept, a query left empty
/// dropped), and that parameter's value.
pub fn split_url_token(url: &str) -> Result<(String, Option<String>), UrlTokenError> {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (url, None),
    };
    let Some((base, query)) = before_fragment.split_once('?') else {
        return Ok((url.to_string(), None));
    };
    let mut token = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != TOKEN_QUERY_PARAMETER {
            kept.push(pair);
            continue;
        }
        if token.is_some() {
            return Err(UrlTokenError::Repeated);
        }
        let value = percent_decode(value).ok_or(UrlTokenError::BadEncoding)?;
        if value.is_empty() {
            return Err(UrlTokenError::Empty);
        }
        token = Some(value);
    }
    let mut rest = base.to_string();
    let kept: Vec<&str> = kept.into_iter().filter(|pair| !pair.is_empty()).collect();
    if !kept.is_empty() {
        rest.push('?');
        rest.push_str(&kept.join("&"));
    }
    if let Some(fragment) = fragment {
        rest.push('#');
        rest.push_str(fragment);
    }
    Ok((rest, token))
}

fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let hex = bytes.get(index + 1..index + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, /*radix*/ 16).ok()?);
                index += 3;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn tokens_match_only_when_equal_whatever_the_lengths() {
        assert_eq!(
            [
                tokens_match(b"s3cret", b"s3cret"),
                tokens_match(b"s3cret", b"s3creT"),
                tokens_match(b"s3cre", b"s3cret"),
                tokens_match(b"s3cret-and-more", b"s3cret"),
                tokens_match(b"", b"s3cret"),
                tokens_match(b"", b""),
            ],
            [true, false, false, false, false, true]
        );
    }

    #[test]
    fn generated_tokens_are_256_bit_hex_and_differ() {
        let first = generate_token().unwrap();
        let second = generate_token().unwrap();
        assert_eq!(first.len(), 64);
        assert!(first.bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_ne!(first, second);
    }

    #[test]
    fn the_token_goes_into_and_out_of_a_url() {
        let url = url_with_token("ws://127.0.0.1:4000", "ab c/+");
        assert_eq!(url, "ws://127.0.0.1:4000/?token=ab%20c%2F%2B");
        assert_eq!(
            split_url_token(&url),
            Ok((
                "ws://127.0.0.1:4000/".to_string(),
                Some("ab c/+".to_string())
            ))
        );
        assert_eq!(
            split_url_token("ws://h:1/p?a=1&token=t&b=2#f"),
            Ok(("ws://h:1/p?a=1&b=2#f".to_string(), Some("t".to_string())))
        );
        assert_eq!(
            split_url_token("ws://h:1"),
            Ok(("ws://h:1".to_string(), None))
        );
        assert_eq!(
            query_token("/?token=a&token=b"),
            Err(UrlTokenError::Repeated)
        );
        assert_eq!(query_token("/?token="), Err(UrlTokenError::Empty));
        assert_eq!(query_token("/?token=%zz"), Err(UrlTokenError::BadEncoding));
        assert_eq!(query_token("/?tokens=x"), Ok(None));
    }
}
