//! The pinned bash and zsh, run through the exec-server itself.
//!
//! `bash` and `zsh` beside this file are DotSlash files pinning Debian's `bash-static`
//! and `zsh-static` binaries by size and sha256; every test that needs a shell resolves
//! them this way (`find_resource!`, then `dotslash_fetch`), never the host's shell.
//! (`codex-utils-dotslash`'s own tests check the resolution itself.) Here the resolved
//! binaries are started with `process/start`, on a pipe and on a PTY, and must report
//! exactly the pinned versions. Needs `dotslash` on `PATH` and its cache seeded by
//! `tools/dotslash/seed-test-shells.sh`.

use codex_utils_cargo_bin::find_resource;
use codex_utils_dotslash::dotslash_fetch;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::child_env;
use super::harness::cwd;

/// Resolves the DotSlash fixture `name`, runs `<shell> -c script` through a real
/// exec-server and returns (stdout-or-pty bytes, exit code).
async fn run_through_server(name: &str, script: &str, tty: bool) -> (String, i64) {
    let fixture =
        find_resource!(format!("tests/suite/{name}")).unwrap_or_else(|err| panic!("{err}"));
    let shell = dotslash_fetch(&fixture).unwrap_or_else(|err| panic!("{err}"));
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    client
        .ok(
            "process/start",
            json!({
                "processId": name,
                "argv": [shell, "-c", script],
                "cwd": dir.path(),
                "env": child_env(),
                "tty": tty,
            }),
        )
        .await;
    let (output, last) = client.read_all(name).await;
    let exit_code = last["exitCode"].as_i64().expect("exit code");
    (String::from_utf8_lossy(&output).into_owned(), exit_code)
}

#[tokio::test]
async fn pinned_bash_runs_through_the_server() {
    assert_eq!(
        ("5.2.15(1)-release\n".to_string(), 0),
        run_through_server("bash", "echo \"$BASH_VERSION\"", /*tty*/ false).await
    );
}

#[tokio::test]
async fn pinned_zsh_runs_through_the_server_on_a_pty() {
    let (output, exit_code) = run_through_server(
        "zsh",
        "[[ -t 1 ]] && echo \"$ZSH_VERSION on a tty\"",
        /*tty*/ true,
    )
    .await;
    // A PTY turns "\n" into "\r\n".
    assert_eq!(("5.9 on a tty\r\n".to_string(), 0), (output, exit_code));
}
