//! Fetching the cloud requirements over HTTPS, with retries, a size cap and an ETag
//! cache under `$CODEX_HOME`.

use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use reqwest::StatusCode;
use reqwest::header::ETAG;
use reqwest::header::IF_NONE_MATCH;
use serde::Deserialize;
use serde::Serialize;

use crate::SandboxMode;
use crate::error::ConfigWarning;
use crate::error::RequirementsError;
use crate::requirements::CloudDoc;
use crate::requirements::CloudRequirementsConfig;
use crate::requirements::parse_cloud_doc;

/// The cached body, under `$CODEX_HOME`.
pub const CLOUD_CACHE_FILE: &str = "cloud-requirements.toml";
/// The cache metadata (URL, ETag, fetch time), under `$CODEX_HOME`.
pub const CLOUD_CACHE_META_FILE: &str = "cloud-requirements.meta.toml";

/// How the cloud copy is fetched. Not configurable from TOML; tests shorten it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudFetchOptions {
    /// Timeout of one attempt (connect + response + body). Default 10 s.
    pub timeout: Duration,
    /// Attempts in all (timeouts, connection errors, 5xx and 429 are retried). Default 3.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each further one. Default 500 ms.
    pub initial_backoff: Duration,
    /// Largest accepted response body. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Accept `http://` URLs (tests only: wiremock serves plain HTTP).
    pub allow_http: bool,
}

impl Default for CloudFetchOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_body_bytes: 1024 * 1024,
            allow_http: false,
        }
    }
}

/// Where the cloud constraints in effect came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudOrigin {
    /// Downloaded now (HTTP 200).
    Fetched,
    /// The server answered 304 Not Modified; the cache was reused and its time refreshed.
    NotModified,
    /// The cache was younger than `cache_ttl`; no request was made.
    FreshCache,
    /// The fetch failed (fail-open); an older cached copy is used.
    StaleCache,
    /// The fetch failed (fail-open) and there is no cache: no cloud constraints.
    Unavailable,
}

/// The outcome of [`fetch_cloud_requirements`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudFetch {
    /// The cloud list, `None` when the document has none or nothing is available.
    pub allowed_sandbox_modes: Option<Vec<SandboxMode>>,
    /// Where it came from.
    pub origin: CloudOrigin,
    /// Unknown keys in the document, and the failure when failing open.
    pub warnings: Vec<ConfigWarning>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CacheMeta {
    url: String,
    etag: Option<String>,
    /// Seconds since the Unix epoch.
    fetched_at: u64,
}

struct Cached {
    doc: CloudDoc,
    meta: CacheMeta,
}

enum Response {
    Body { text: String, etag: Option<String> },
    NotModified,
}

enum AttemptError {
    Retryable(String),
    Fatal(String),
}

/// Returns the cloud requirements for `config`: the cache when younger than
/// `cache_ttl`, else a fresh copy (conditional on the cached ETag). When that fails:
/// with `fail_closed` an error naming the URL and the reason; otherwise a warning and
/// the stale cache, or nothing.
pub async fn fetch_cloud_requirements(
    config: &CloudRequirementsConfig,
    codex_home: &Path,
    options: &CloudFetchOptions,
) -> Result<CloudFetch, RequirementsError> {
    let cached = read_cache(codex_home, &config.url).await;
    let now = unix_now();
    let fresh = cached
        .as_ref()
        .filter(|c| now.saturating_sub(c.meta.fetched_at) < config.cache_ttl.as_secs());
    if let Some(cached) = fresh {
        return Ok(done(cached.doc.clone(), CloudOrigin::FreshCache));
    }

    let etag = cached.as_ref().and_then(|c| c.meta.etag.clone());
    let failure = match fetch_with_retries(config, options, etag.as_deref()).await {
        Ok(Response::Body { text, etag }) => match parse_cloud_doc(&text, &config.url) {
            Ok(doc) => {
                let meta = CacheMeta {
                    url: config.url.clone(),
                    etag,
                    fetched_at: now,
                };
                let mut fetch = done(doc, CloudOrigin::Fetched);
                if let Err(message) = write_cache(codex_home, Some(&text), &meta).await {
                    fetch
                        .warnings
                        .push(ConfigWarning::CloudRequirements { message });
                }
                return Ok(fetch);
            }
            Err(err) => format!("the response is not valid requirements: {err}"),
        },
        Ok(Response::NotModified) => match cached {
            Some(Cached { doc, meta }) => {
                let meta = CacheMeta {
                    fetched_at: now,
                    ..meta
                };
                let mut fetch = done(doc, CloudOrigin::NotModified);
                if let Err(message) = write_cache(codex_home, /*body*/ None, &meta).await {
                    fetch
                        .warnings
                        .push(ConfigWarning::CloudRequirements { message });
                }
                return Ok(fetch);
            }
            None => "HTTP 304 Not Modified but there is no cached copy".to_string(),
        },
        Err(reason) => reason,
    };

    if config.fail_closed {
        return Err(RequirementsError::CloudFetch {
            url: config.url.clone(),
            reason: failure,
        });
    }
    let (mut fetch, using) = match cached {
        Some(cached) => (
            done(cached.doc, CloudOrigin::StaleCache),
            format!(
                "using the cached copy fetched {}s ago",
                now.saturating_sub(cached.meta.fetched_at)
            ),
        ),
        None => (
            CloudFetch {
                allowed_sandbox_modes: None,
                origin: CloudOrigin::Unavailable,
                warnings: Vec::new(),
            },
            "continuing without cloud requirements".to_string(),
        ),
    };
    fetch.warnings.push(ConfigWarning::CloudRequirements {
        message: format!(
            "could not fetch cloud requirements from {}: {failure}; {using} (fail_closed = false)",
            config.url
        ),
    });
    Ok(fetch)
}

fn done(doc: CloudDoc, origin: CloudOrigin) -> CloudFetch {
    CloudFetch {
        allowed_sandbox_modes: doc.allowed_sandbox_modes,
        origin,
        warnings: doc.warnings,
    }
}

async fn fetch_with_retries(
    config: &CloudRequirementsConfig,
    options: &CloudFetchOptions,
    etag: Option<&str>,
) -> Result<Response, String> {
    let token = match &config.token_file {
        Some(path) => Some(read_token(path).await?),
        None => None,
    };
    let allow_http = options.allow_http;
    let redirect = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 5 {
            attempt.error("too many redirects")
        } else if attempt.url().scheme() == "https" || allow_http {
            attempt.follow()
        } else {
            attempt.error("refusing a redirect away from https")
        }
    });
    let client = reqwest::Client::builder()
        .timeout(options.timeout)
        .redirect(redirect)
        .build()
        .map_err(|err| format!("cannot build the HTTP client: {err}"))?;

    let attempts = options.max_attempts.max(1);
    let mut backoff = options.initial_backoff;
    let mut last = String::new();
    for attempt in 1..=attempts {
        match fetch_once(&client, config, options, token.as_deref(), etag).await {
            Ok(response) => return Ok(response),
            Err(AttemptError::Fatal(reason)) => return Err(reason),
            Err(AttemptError::Retryable(reason)) => last = reason,
        }
        if attempt < attempts {
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
    }
    Err(format!("{last} (gave up after {attempts} attempts)"))
}

async fn read_token(path: &Path) -> Result<String, String> {
    let token = tokio::fs::read_to_string(path)
        .await
        .map_err(|err| format!("cannot read token_file {}: {err}", path.display()))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(format!("token_file {} is empty", path.display()));
    }
    Ok(token.to_string())
}

async fn fetch_once(
    client: &reqwest::Client,
    config: &CloudRequirementsConfig,
    options: &CloudFetchOptions,
    token: Option<&str>,
    etag: Option<&str>,
) -> Result<Response, AttemptError> {
    let mut request = client.get(&config.url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(etag) = etag {
        request = request.header(IF_NONE_MATCH, etag);
    }
    let mut response = request
        .send()
        .await
        .map_err(|err| transport_error(&err, options))?;
    let status = response.status();
    if status == StatusCode::NOT_MODIFIED {
        return Ok(Response::NotModified);
    }
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        let hint = match &config.token_file {
            Some(path) => format!("the token in {} was refused", path.display()),
            None => "no token_file is configured".to_string(),
        };
        return Err(AttemptError::Fatal(format!("HTTP {status}: {hint}")));
    }
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return Err(AttemptError::Retryable(format!("HTTP {status}")));
    }
    if !status.is_success() {
        return Err(AttemptError::Fatal(format!("HTTP {status}")));
    }
    let etag = response
        .headers()
        .get(ETAG)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let cap = options.max_body_bytes;
    let too_large = || {
        AttemptError::Fatal(format!(
            "the response is larger than the {cap}-byte limit; refusing it"
        ))
    };
    if response
        .content_length()
        .is_some_and(|len| len > cap as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| transport_error(&err, options))?
    {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(body)
        .map_err(|_| AttemptError::Fatal("the response is not UTF-8 text".to_string()))?;
    Ok(Response::Body { text, etag })
}

fn transport_error(err: &reqwest::Error, options: &CloudFetchOptions) -> AttemptError {
    if err.is_timeout() {
        AttemptError::Retryable(format!("timed out after {:?}", options.timeout))
    } else if err.is_redirect() {
        AttemptError::Fatal(format!("bad redirect: {err}"))
    } else {
        AttemptError::Retryable(format!("request failed: {err}"))
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(/*default*/ 0, |d| d.as_secs())
}

fn cache_paths(codex_home: &Path) -> (PathBuf, PathBuf) {
    (
        codex_home.join(CLOUD_CACHE_FILE),
        codex_home.join(CLOUD_CACHE_META_FILE),
    )
}

/// The cached copy for `url`, if there is a readable, well-formed one. A cache for
/// another URL, or one that no longer parses, is ignored.
async fn read_cache(codex_home: &Path, url: &str) -> Option<Cached> {
    let (body_path, meta_path) = cache_paths(codex_home);
    let meta_text = tokio::fs::read_to_string(&meta_path).await.ok()?;
    let meta: CacheMeta = toml::from_str(&meta_text).ok()?;
    if meta.url != url {
        return None;
    }
    let body = tokio::fs::read_to_string(&body_path).await.ok()?;
    let doc = parse_cloud_doc(&body, url).ok()?;
    Some(Cached { doc, meta })
}

/// Writes the body (when given) and the metadata, each through a temporary file and a
/// rename so a concurrent reader never sees half a file.
async fn write_cache(
    codex_home: &Path,
    body: Option<&str>,
    meta: &CacheMeta,
) -> Result<(), String> {
    let (body_path, meta_path) = cache_paths(codex_home);
    let fail = |err: std::io::Error| {
        format!(
            "could not write the cloud requirements cache in {}: {err}",
            codex_home.display()
        )
    };
    tokio::fs::create_dir_all(codex_home).await.map_err(fail)?;
    if let Some(body) = body {
        write_atomic(&body_path, body).await.map_err(fail)?;
    }
    let meta_text = toml::to_string(meta).map_err(|err| format!("cache metadata: {err}"))?;
    write_atomic(&meta_path, &meta_text).await.map_err(fail)
}

async fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    tokio::fs::write(&tmp, text).await?;
    tokio::fs::rename(&tmp, path).await
}
