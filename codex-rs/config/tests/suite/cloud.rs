//! The cloud requirements client against a real HTTP server (wiremock).

use std::path::PathBuf;
use std::time::Duration;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use codex_config::CLOUD_CACHE_FILE;
use codex_config::CLOUD_CACHE_META_FILE;
use codex_config::CloudFetch;
use codex_config::CloudOrigin;
use codex_config::CloudRequirementsConfig;
use codex_config::ConfigWarning;
use codex_config::RequirementsError;
use codex_config::SandboxMode;
use codex_config::fetch_cloud_requirements;
use pretty_assertions::assert_eq;
use wiremock::Mock;
use wiremock::MockServer;
use wiremock::ResponseTemplate;
use wiremock::matchers::header;
use wiremock::matchers::method;
use wiremock::matchers::path;

use super::World;
use super::test_fetch_options;

const BODY: &str = "allowed_sandbox_modes = [\"read-only\", \"workspace-write\"]\n";

fn modes() -> Option<Vec<SandboxMode>> {
    Some(vec![SandboxMode::ReadOnly, SandboxMode::WorkspaceWrite])
}

struct Cloud {
    world: World,
    server: MockServer,
    config: CloudRequirementsConfig,
}

impl Cloud {
    async fn new(fail_closed: bool, cache_ttl_secs: u64) -> Self {
        let world = World::new();
        let token_file = world.write(&world.root.join("token"), "secret-token\n");
        let server = MockServer::start().await;
        let config = CloudRequirementsConfig {
            url: format!("{}/req.toml", server.uri()),
            token_file: Some(token_file),
            fail_closed,
            cache_ttl: Duration::from_secs(cache_ttl_secs),
        };
        Self {
            world,
            server,
            config,
        }
    }

    async fn fetch(&self) -> Result<CloudFetch, RequirementsError> {
        self.fetch_with(test_fetch_options()).await
    }

    async fn fetch_with(
        &self,
        options: codex_config::CloudFetchOptions,
    ) -> Result<CloudFetch, RequirementsError> {
        fetch_cloud_requirements(&self.config, &self.world.codex_home, &options).await
    }

    async fn requests(&self) -> usize {
        self.server
            .received_requests()
            .await
            .map_or(/*default*/ 0, |requests| requests.len())
    }

    fn cache_file(&self, name: &str) -> PathBuf {
        self.world.codex_home.join(name)
    }

    async fn fail_closed_reason(&self) -> String {
        match self.fetch().await {
            Err(RequirementsError::CloudFetch { url, reason }) => {
                assert_eq!(url, self.config.url);
                reason
            }
            other => panic!("expected CloudFetch error, got {other:?}"),
        }
    }
}

fn ok_body() -> ResponseTemplate {
    ResponseTemplate::new(/*status*/ 200)
        .set_body_string(BODY)
        .insert_header("ETag", "\"v1\"")
}

#[tokio::test]
async fn ok_200_sends_the_bearer_token_and_writes_the_cache() {
    let cloud = Cloud::new(/*fail_closed*/ true, /*cache_ttl_secs*/ 3600).await;
    Mock::given(method("GET"))
        .and(path("/req.toml"))
        .and(header("authorization", "Bearer secret-token"))
        .respond_with(ok_body())
        .expect(/*times*/ 1)
        .mount(&cloud.server)
        .await;
    let fetched = cloud.fetch().await.unwrap();
    assert_eq!(
        fetched,
        CloudFetch {
            allowed_sandbox_modes: modes(),
            origin: CloudOrigin::Fetched,
            warnings: Vec::new(),
        }
    );
    assert_eq!(
        std::fs::read_to_string(cloud.cache_file(CLOUD_CACHE_FILE)).unwrap(),
        BODY
    );
    let meta = std::fs::read_to_string(cloud.cache_file(CLOUD_CACHE_META_FILE)).unwrap();
    assert!(meta.contains("etag = '\"v1\"'"), "{meta}");
}

#[tokio::test]
async fn not_modified_304_reuses_the_cache_via_etag() {
    let cloud = Cloud::new(/*fail_closed*/ true, /*cache_ttl_secs*/ 0).await;
    Mock::given(method("GET"))
        .and(header("if-none-match", "\"v1\""))
        .respond_with(ResponseTemplate::new(/*status*/ 304))
        .expect(/*times*/ 1)
        .mount(&cloud.server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ok_body())
        .up_to_n_times(/*n*/ 1)
        .expect(/*times*/ 1)
        .mount(&cloud.server)
        .await;
    assert_eq!(cloud.fetch().await.unwrap().origin, CloudOrigin::Fetched);
    let second = cloud.fetch().await.unwrap();
    assert_eq!(
        second,
        CloudFetch {
            allowed_sandbox_modes: modes(),
            origin: CloudOrigin::NotModified,
            warnings: Vec::new(),
        }
    );
}

#[tokio::test]
async fn unauthorized_401_fails_closed_without_retrying() {
    let cloud = Cloud::new(/*fail_closed*/ true, /*cache_ttl_secs*/ 3600).await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(/*status*/ 401))
        .expect(/*times*/ 1)
        .mount(&cloud.server)
        .await;
    let reason = cloud.fail_closed_reason().await;
    let token = cloud.world.root.join("token");
    assert_eq!(
        reason,
        format!(
            "HTTP 401 Unauthorized: the token in {} was refused",
            token.display()
        )
    );
}

#[tokio::test]
async fn unauthorized_401_fails_open_with_a_warning() {
    let cloud = Cloud::new(/*fail_closed*/ false, /*cache_ttl_secs*/ 3600).await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(/*status*/ 401))
        .mount(&cloud.server)
        .await;
    let fetched = cloud.fetch().await.unwrap();
    let token = cloud.world.root.join("token");
    assert_eq!(
        fetched,
        CloudFetch {
            allowed_sandbox_modes: None,
            origin: CloudOrigin::Unavailable,
            warnings: vec![ConfigWarning::CloudRequirements {
                message: format!(
                    "could not fetch cloud requirements from {}: HTTP 401 Unauthorized: the \
                     token in {} was refused; continuing without cloud requirements \
                     (fail_closed = false)",
                    cloud.config.url,
                    token.display()
                ),
            }],
        }
    );
}

#[tokio::test]
async fn server_error_500_is_retried_then_succeeds() {
    let cloud = Cloud::new(/*fail_closed*/ true, /*cache_ttl_secs*/ 3600).await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(/*status*/ 500))
        .up_to_n_times(/*n*/ 1)
        .with_priority(/*priority*/ 1)
        .mount(&cloud.server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ok_body())
        .mount(&cloud.server)
        .await;
    let fetched = cloud.fetch().await.unwrap();
    assert_eq!(
        (
            fetched.origin,
            fetched.allowed_sandbox_modes,
            cloud.requests().await
        ),
        (CloudOrigin::Fetched, modes(), 2)
    );
}

#[tokio::test]
async fn persistent_500_gives_up_after_the_bounded_retries() {
    let cloud = Cloud::new(/*fail_closed*/ true, /*cache_ttl_secs*/ 3600).await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(/*status*/ 500))
        .expect(/*times*/ 3)
        .mount(&cloud.server)
        .await;
    assert_eq!(
        cloud.fail_closed_reason().await,
        "HTTP 500 Internal Server Error (gave up after 3 attempts)"
    );
}

#[tokio::test]
async fn slow_server_times_out() {
    let cloud = Cloud::new(/*fail_closed*/ true, /*cache_ttl_secs*/ 3600).await;
    Mock::given(method("GET"))
        .respond_with(ok_body().set_delay(Duration::from_secs(3)))
        .mount(&cloud.server)
        .await;
    let mut options = test_fetch_options();
    options.timeout = Duration::from_millis(200);
    options.max_attempts = 2;
    let err = cloud.fetch_with(options).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cloud requirements from {} are required (fail_closed = true) but could not be \
             fetched: timed out after 200ms (gave up after 2 attempts). Check the network \
             connection and the token in token_file, or ask your administrator to fix the \
             requirements service or set fail_closed = false",
            cloud.config.url
        )
    );
    assert_eq!(cloud.requests().await, 2);
}

#[tokio::test]
async fn malformed_toml_is_refused_with_its_location() {
    let cloud = Cloud::new(/*fail_closed*/ true, /*cache_ttl_secs*/ 3600).await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(/*status*/ 200).set_body_string("allowed_sandbox_modes = [\n"),
        )
        .mount(&cloud.server)
        .await;
    let reason = cloud.fail_closed_reason().await;
    let prefix = format!(
        "the response is not valid requirements: {}:1:26: unclosed array, expected `]`",
        cloud.config.url
    );
    assert_eq!(reason, prefix);
    assert!(!cloud.cache_file(CLOUD_CACHE_FILE).exists());
}

#[tokio::test]
async fn ten_megabytes_of_garbage_hit_the_size_cap() {
    let cloud = Cloud::new(/*fail_closed*/ true, /*cache_ttl_secs*/ 3600).await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(/*status*/ 200).set_body_bytes(vec![b'#'; 10 * 1024 * 1024]),
        )
        .expect(/*times*/ 1)
        .mount(&cloud.server)
        .await;
    assert_eq!(
        cloud.fail_closed_reason().await,
        "the response is larger than the 1048576-byte limit; refusing it"
    );
}

#[tokio::test]
async fn fail_open_uses_the_stale_cache() {
    let cloud = Cloud::new(/*fail_closed*/ false, /*cache_ttl_secs*/ 0).await;
    Mock::given(method("GET"))
        .respond_with(ok_body())
        .up_to_n_times(/*n*/ 1)
        .with_priority(/*priority*/ 1)
        .mount(&cloud.server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(/*status*/ 503))
        .mount(&cloud.server)
        .await;
    assert_eq!(cloud.fetch().await.unwrap().origin, CloudOrigin::Fetched);
    let stale = cloud.fetch().await.unwrap();
    assert_eq!(
        (
            stale.origin,
            stale.allowed_sandbox_modes,
            stale.warnings.len()
        ),
        (CloudOrigin::StaleCache, modes(), 1)
    );
    let warning = stale.warnings[0].to_string();
    assert!(
        warning.contains(
            "HTTP 503 Service Unavailable (gave up after 3 attempts); using the cached copy"
        ),
        "{warning}"
    );
}

#[tokio::test]
async fn fail_closed_refuses_a_stale_cache() {
    let cloud = Cloud::new(/*fail_closed*/ true, /*cache_ttl_secs*/ 0).await;
    Mock::given(method("GET"))
        .respond_with(ok_body())
        .up_to_n_times(/*n*/ 1)
        .with_priority(/*priority*/ 1)
        .mount(&cloud.server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(/*status*/ 404))
        .mount(&cloud.server)
        .await;
    assert_eq!(cloud.fetch().await.unwrap().origin, CloudOrigin::Fetched);
    assert_eq!(cloud.fail_closed_reason().await, "HTTP 404 Not Found");
}

#[tokio::test]
async fn within_ttl_the_cache_is_used_without_any_request() {
    let cloud = Cloud::new(/*fail_closed*/ true, /*cache_ttl_secs*/ 3600).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    std::fs::write(cloud.cache_file(CLOUD_CACHE_FILE), BODY).unwrap();
    std::fs::write(
        cloud.cache_file(CLOUD_CACHE_META_FILE),
        format!("url = \"{}\"\nfetched_at = {now}\n", cloud.config.url),
    )
    .unwrap();
    Mock::given(method("GET"))
        .respond_with(ok_body())
        .expect(/*times*/ 0)
        .mount(&cloud.server)
        .await;
    let fetched = cloud.fetch().await.unwrap();
    assert_eq!(
        (
            fetched.origin,
            fetched.allowed_sandbox_modes,
            cloud.requests().await
        ),
        (CloudOrigin::FreshCache, modes(), 0)
    );
}

#[tokio::test]
async fn second_fetch_within_ttl_makes_no_request() {
    let cloud = Cloud::new(/*fail_closed*/ true, /*cache_ttl_secs*/ 3600).await;
    Mock::given(method("GET"))
        .respond_with(ok_body())
        .expect(/*times*/ 1)
        .mount(&cloud.server)
        .await;
    assert_eq!(cloud.fetch().await.unwrap().origin, CloudOrigin::Fetched);
    assert_eq!(cloud.fetch().await.unwrap().origin, CloudOrigin::FreshCache);
    assert_eq!(cloud.requests().await, 1);
}

#[tokio::test]
async fn load_config_intersects_local_and_cloud_lists() {
    let world = World::new();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(/*status*/ 200).set_body_string(
            "allowed_sandbox_modes = [\"workspace-write\", \"danger-full-access\"]\n",
        ))
        .mount(&server)
        .await;
    world.requirements(&format!(
        "allowed_sandbox_modes = [\"read-only\", \"workspace-write\"]\n\
         [cloud_requirements]\nurl = \"{}/r.toml\"\n",
        server.uri()
    ));
    let config = world.load(&world.repo, &[]).await.unwrap();
    assert_eq!(
        (
            config.requirements.allowed_sandbox_modes(),
            config.requirements.cloud_origin(),
            config.sandbox_mode
        ),
        (
            vec![SandboxMode::WorkspaceWrite],
            Some(CloudOrigin::Fetched),
            SandboxMode::WorkspaceWrite
        )
    );
}

#[tokio::test]
async fn load_config_fails_closed_when_the_cloud_is_down() {
    let world = World::new();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(/*status*/ 500))
        .mount(&server)
        .await;
    let url = format!("{}/r.toml", server.uri());
    world.requirements(&format!(
        "[cloud_requirements]\nurl = \"{url}\"\nfail_closed = true\n"
    ));
    let err = world.load(&world.repo, &[]).await.unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "cloud requirements from {url} are required (fail_closed = true) but could not be \
             fetched: HTTP 500 Internal Server Error (gave up after 3 attempts)."
        )),
        "{err}"
    );
}
