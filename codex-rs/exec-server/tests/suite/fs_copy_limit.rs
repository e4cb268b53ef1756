//! `--max-fs-copy-bytes`: one `fs/copy` writes at most that many bytes. A source known to
//! be bigger is refused with `tooLarge` before anything is written; a source that turns
//! out bigger while it is copied (here: procfs files, which report a size of 0) stops the
//! copy, and what it wrote is removed.

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

use super::harness::RawClient;
use super::harness::TestServer;

/// `(code, kind)` of an error response, and whether its message contains `needle`.
fn error_mentions(response: &Value, needle: &str) -> (i64, String, bool) {
    let error = &response["error"];
    let message = error["message"].as_str().unwrap_or_default();
    (
        error["code"].as_i64().unwrap_or_default(),
        error["data"]["kind"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        message.contains(needle),
    )
}

#[tokio::test]
async fn copies_past_the_limit_are_refused_and_leave_nothing_behind() {
    let server = TestServer::start_with(&["--max-fs-copy-bytes", "64"], &[]);
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(dir.path()).unwrap();
    let big_tree = dir.join("big");
    std::fs::create_dir_all(big_tree.join("sub")).unwrap();
    std::fs::write(big_tree.join("a"), vec![b'a'; 40]).unwrap();
    std::fs::write(big_tree.join("sub/b"), vec![b'b'; 40]).unwrap();
    let small_tree = dir.join("small");
    std::fs::create_dir_all(small_tree.join("sub")).unwrap();
    std::fs::write(small_tree.join("a"), vec![b'a'; 30]).unwrap();
    std::fs::write(small_tree.join("sub/b"), vec![b'b'; 30]).unwrap();
    let big_file = dir.join("big-file");
    std::fs::write(&big_file, vec![b'x'; 65]).unwrap();
    let copy = |source: &std::path::Path, destination: &std::path::Path, recursive: bool| json!({"sourcePath": source, "destinationPath": destination, "recursive": recursive});

    let tree = client
        .request(
            "fs/copy",
            copy(&big_tree, &dir.join("big-copy"), /*recursive*/ true),
        )
        .await;
    let file = client
        .request(
            "fs/copy",
            copy(&big_file, &dir.join("file-copy"), /*recursive*/ false),
        )
        .await;
    // procfs files say they are empty: the limit is only met while copying (cpuinfo has
    // kilobytes; the six small files of kernel/random about 90 bytes, two UUIDs alone 74).
    let growing_file = client
        .request(
            "fs/copy",
            copy(
                "/proc/cpuinfo".as_ref(),
                &dir.join("cpuinfo"),
                /*recursive*/ false,
            ),
        )
        .await;
    let growing_tree = client
        .request(
            "fs/copy",
            copy(
                "/proc/sys/kernel/random".as_ref(),
                &dir.join("random"),
                /*recursive*/ true,
            ),
        )
        .await;
    let fits = client
        .request(
            "fs/copy",
            copy(
                &small_tree,
                &dir.join("small-copy"),
                /*recursive*/ true,
            ),
        )
        .await;

    let too_large = (-32014, "tooLarge".to_string(), true);
    assert_eq!(
        [
            error_mentions(&tree, "would write 80 bytes or more"),
            error_mentions(&file, "would write 65 bytes or more"),
            error_mentions(
                &growing_file,
                "grew past the limit for one fs/copy (64 bytes)"
            ),
            error_mentions(&growing_tree, "the partial copy was removed"),
        ],
        [
            too_large.clone(),
            too_large.clone(),
            too_large.clone(),
            too_large
        ],
        "{tree}\n{file}\n{growing_file}\n{growing_tree}"
    );
    assert_eq!(fits.get("error"), None, "{fits}");
    assert_eq!(
        ["big-copy", "file-copy", "cpuinfo", "random"].map(|name| dir.join(name).exists()),
        [false; 4]
    );
    assert_eq!(
        std::fs::read(dir.join("small-copy/sub/b")).unwrap(),
        vec![b'b'; 30]
    );
}
