//! Process lifecycle over the wire: ordering, seq, stdin, signals, terminate, PTY.

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

use super::harness::EVENT_TIMEOUT;
use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::b64;
use super::harness::child_env;
use super::harness::cwd;
use super::harness::pid_alive;
use super::harness::start_params;
use super::harness::unb64;
use super::harness::wait_until;

/// (method, seq) of each event, plus the concatenated output per stream.
fn summarize(events: &[Value]) -> (Vec<(String, u64)>, Vec<u8>, Vec<u8>) {
    let mut order = Vec::new();
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    for event in events {
        let method = event["method"].as_str().unwrap().to_string();
        let seq = event["params"]["seq"].as_u64().unwrap();
        if method == "process/output" {
            let data = unb64(&event["params"]["chunk"]);
            match event["params"]["stream"].as_str().unwrap() {
                "stdout" => stdout.extend(data),
                "stderr" => stderr.extend(data),
                other => panic!("unexpected stream {other}"),
            }
            order.push(("process/output".to_string(), seq));
        } else {
            order.push((method, seq));
        }
    }
    (order, stdout, stderr)
}

#[tokio::test]
async fn output_then_exited_then_closed_with_contiguous_seq() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    // Many separate writes to both streams, then a non-zero exit.
    let script =
        "i=0; while [ $i -lt 200 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done; exit 7";
    let started = client
        .ok("process/start", start_params("p1", script, dir.path()))
        .await;
    assert_eq!(started, json!({"processId": "p1"}));
    let events = client.events_until_closed("p1").await;
    let (order, stdout, stderr) = summarize(&events);

    let seqs: Vec<u64> = order.iter().map(|(_, seq)| *seq).collect();
    assert_eq!(
        seqs,
        (1..=order.len() as u64).collect::<Vec<_>>(),
        "seq has no holes"
    );
    let n = order.len();
    assert_eq!(order[n - 2].0, "process/exited");
    assert_eq!(order[n - 1].0, "process/closed");
    assert!(order[..n - 2].iter().all(|(m, _)| m == "process/output"));
    assert_eq!(events[n - 2]["params"]["exitCode"], json!(7));
    assert_eq!(events[n - 2]["jsonrpc"], json!("2.0"));

    let expected_out: String = (0..200).map(|i| format!("out{i}\n")).collect();
    let expected_err: String = (0..200).map(|i| format!("err{i}\n")).collect();
    assert_eq!(String::from_utf8(stdout).unwrap(), expected_out);
    assert_eq!(String::from_utf8(stderr).unwrap(), expected_err);

    // The same history through process/read.
    let read = client
        .ok("process/read", json!({"processId": "p1", "afterSeq": 0}))
        .await;
    assert_eq!(read["nextSeq"], json!(n as u64 + 1));
    assert_eq!(
        (
            &read["exited"],
            &read["exitCode"],
            &read["closed"],
            &read["failure"]
        ),
        (&json!(true), &json!(7), &json!(true), &Value::Null)
    );
    assert_eq!(read["chunks"].as_array().unwrap().len(), n - 2);
}

/// Regression: a `process/read` cut short by `maxBytes` on a closed process said
/// `closed: true` with events still unread, so a client reading until `closed` lost the
/// tail. Output on two pipes is at least two chunks, so a one-byte read is always cut short.
#[tokio::test]
async fn reading_with_small_max_bytes_until_closed_gets_every_chunk() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    client
        .ok(
            "process/start",
            start_params("small", "echo a; echo b >&2; echo c; exit 3", dir.path()),
        )
        .await;
    client.events_until_closed("small").await;
    let mut after = 0u64;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let last = loop {
        let read = client
            .ok(
                "process/read",
                json!({"processId": "small", "afterSeq": after, "maxBytes": 1}),
            )
            .await;
        for chunk in read["chunks"].as_array().unwrap() {
            match chunk["stream"].as_str().unwrap() {
                "stdout" => stdout.extend(unb64(&chunk["chunk"])),
                "stderr" => stderr.extend(unb64(&chunk["chunk"])),
                other => panic!("unexpected stream {other}"),
            }
        }
        after = read["nextSeq"].as_u64().unwrap() - 1;
        if read["closed"] == json!(true) {
            break read;
        }
    };
    assert_eq!(
        (
            String::from_utf8(stdout).unwrap(),
            String::from_utf8(stderr).unwrap(),
            &last["exited"],
            &last["exitCode"],
        ),
        (
            "a\nc\n".to_string(),
            "b\n".to_string(),
            &json!(true),
            &json!(3)
        )
    );
}

#[tokio::test]
async fn many_processes_never_report_exit_before_output() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    for i in 0..50 {
        client
            .ok(
                "process/start",
                start_params(&format!("p{i}"), "echo a; echo b >&2; echo c", dir.path()),
            )
            .await;
    }
    for i in 0..50 {
        let events = client.events_until_closed(&format!("p{i}")).await;
        let (order, stdout, stderr) = summarize(&events);
        let n = order.len();
        assert_eq!(
            order[n - 2..]
                .iter()
                .map(|(m, _)| m.as_str())
                .collect::<Vec<_>>(),
            vec!["process/exited", "process/closed"]
        );
        assert_eq!((stdout, stderr), (b"a\nc\n".to_vec(), b"b\n".to_vec()));
    }
}

#[tokio::test]
async fn binary_output_is_not_decoded() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    client
        .ok(
            "process/start",
            start_params("bin", r"printf '\000\377\303\050\n'", dir.path()),
        )
        .await;
    let (output, _) = client.read_all("bin").await;
    assert_eq!(output, vec![0u8, 0xff, 0xc3, 0x28, b'\n']);
}

#[tokio::test]
async fn env_is_complete_cwd_and_arg0_apply() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    client
        .ok(
            "process/start",
            json!({
                "processId": "env",
                "argv": ["/bin/sh", "-c", "env | sort; pwd; echo \"$0\""],
                "cwd": dir.path(),
                "env": {"PATH": "/usr/bin:/bin", "ONLY": "this"},
                "tty": false,
                "arg0": "renamed-sh",
            }),
        )
        .await;
    let (output, read) = client.read_all("env").await;
    let canonical = dir.path().canonicalize().unwrap();
    let text = String::from_utf8(output).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("PWD=")).collect();
    // `sh` itself may add PWD; nothing else is inherited from the server.
    assert_eq!(
        lines,
        vec![
            "ONLY=this",
            "PATH=/usr/bin:/bin",
            canonical.to_str().unwrap(),
            "renamed-sh",
        ]
    );
    assert_eq!(read["exitCode"], json!(0));
}

#[tokio::test]
async fn stdin_and_every_write_status() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    let mut params = start_params("cat", "read a; read b; echo \"got $a $b\"", dir.path());
    params["pipeStdin"] = json!(true);
    client.ok("process/start", params).await;

    let write = |id: Option<&str>, data: &[u8]| {
        let mut params = json!({"processId": "cat", "chunk": b64(data)});
        if let Some(id) = id {
            params["writeId"] = json!(id);
        }
        params
    };
    assert_eq!(
        client
            .ok("process/write", write(Some("w1"), b"one\n"))
            .await,
        json!({"status": "accepted"})
    );
    // A retry with the same writeId is acknowledged but not written again.
    assert_eq!(
        client
            .ok("process/write", write(Some("w1"), b"one\n"))
            .await,
        json!({"status": "accepted"})
    );
    assert_eq!(
        client.ok("process/write", write(None, b"two\n")).await,
        json!({"status": "accepted"})
    );
    let (output, _) = client.read_all("cat").await;
    assert_eq!(String::from_utf8(output).unwrap(), "got one two\n");

    // Closed process: its stdin is closed.
    assert_eq!(
        client.ok("process/write", write(None, b"late\n")).await,
        json!({"status": "stdinClosed"})
    );
    // No stdin pipe requested: stdinClosed as well.
    client
        .ok(
            "process/start",
            start_params("nopipe", "sleep 30", dir.path()),
        )
        .await;
    assert_eq!(
        client
            .ok(
                "process/write",
                json!({"processId": "nopipe", "chunk": b64(b"x")})
            )
            .await,
        json!({"status": "stdinClosed"})
    );
    client
        .ok("process/terminate", json!({"processId": "nopipe"}))
        .await;
    assert_eq!(
        client
            .ok(
                "process/write",
                json!({"processId": "ghost", "chunk": b64(b"x")})
            )
            .await,
        json!({"status": "unknownProcess"})
    );
    // `starting` is covered by the unit test `write_during_start_reports_starting`: over
    // the wire it depends on scheduling.
}

/// Regression: the accepted `writeId`s lived in the stdin writer, which is gone once the
/// process exited, so a retry after exit was answered `stdinClosed`.
#[tokio::test]
async fn retried_write_id_is_accepted_after_exit() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    let mut params = start_params("once", "read a; echo \"got $a\"", dir.path());
    params["pipeStdin"] = json!(true);
    client.ok("process/start", params).await;
    let write =
        |write_id: &str| json!({"processId": "once", "chunk": b64(b"one\n"), "writeId": write_id});
    let first = client.ok("process/write", write("w1")).await;
    let (output, _) = client.read_all("once").await;
    // After exit: a retry of the accepted write is still accepted; a write with a new id
    // finds stdin closed.
    let retry = client.ok("process/write", write("w1")).await;
    let new = client.ok("process/write", write("w2")).await;
    assert_eq!(
        (String::from_utf8(output).unwrap(), first, retry, new),
        (
            "got one\n".to_string(),
            json!({"status": "accepted"}),
            json!({"status": "accepted"}),
            json!({"status": "stdinClosed"}),
        )
    );
}

#[tokio::test]
async fn terminate_kills_the_whole_process_group() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    client
        .ok(
            "process/start",
            start_params("tree", "sleep 1000 & echo $!; wait", dir.path()),
        )
        .await;
    // The first output line is the grandchild's pid.
    let mut line = Vec::new();
    while !line.ends_with(b"\n") {
        let read = client
            .ok(
                "process/read",
                json!({"processId": "tree", "afterSeq": 0, "waitMs": 5000}),
            )
            .await;
        line = read["chunks"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| unb64(&c["chunk"]))
            .collect();
    }
    let grandchild: i32 = String::from_utf8(line).unwrap().trim().parse().unwrap();
    assert!(pid_alive(grandchild));

    assert_eq!(
        client
            .ok("process/terminate", json!({"processId": "tree"}))
            .await,
        json!({"running": true})
    );
    let (_, read) = client.read_all("tree").await;
    assert_eq!(read["exitCode"], json!(128 + 9));
    wait_until("grandchild gone", EVENT_TIMEOUT, || !pid_alive(grandchild)).await;
    // Terminating again reports it as not running.
    assert_eq!(
        client
            .ok("process/terminate", json!({"processId": "tree"}))
            .await,
        json!({"running": false})
    );
}

#[tokio::test]
async fn signal_reaches_the_process_group() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    client
        .ok(
            "process/start",
            start_params(
                "trap",
                "exec 2>/dev/null; trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.05; done",
                dir.path(),
            ),
        )
        .await;
    let ready = client
        .ok(
            "process/read",
            json!({"processId": "trap", "afterSeq": 0, "waitMs": 10000}),
        )
        .await;
    assert_eq!(unb64(&ready["chunks"][0]["chunk"]), b"ready\n".to_vec());
    assert_eq!(
        client
            .ok(
                "process/signal",
                json!({"processId": "trap", "signal": "terminate"}),
            )
            .await,
        json!({})
    );
    let (output, read) = client.read_all("trap").await;
    assert_eq!(String::from_utf8(output).unwrap(), "ready\ngot-term\n");
    assert_eq!(read["exitCode"], json!(3));
}

#[tokio::test]
async fn tty_process_sees_a_terminal() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    client
        .ok(
            "process/start",
            json!({
                "processId": "tty",
                "argv": ["/bin/sh", "-c", "if [ -t 0 ] && [ -t 1 ]; then echo isatty; else echo notatty; fi; read x; echo \"in:$x\""],
                "cwd": dir.path(),
                "env": child_env(),
                "tty": true,
            }),
        )
        .await;
    assert_eq!(
        client
            .ok(
                "process/write",
                json!({"processId": "tty", "chunk": b64(b"hello\n")})
            )
            .await,
        json!({"status": "accepted"})
    );
    let events = client.events_until_closed("tty").await;
    let mut output = Vec::new();
    for event in &events {
        if event["method"] == json!("process/output") {
            assert_eq!(event["params"]["stream"], json!("pty"));
            output.extend(unb64(&event["params"]["chunk"]));
        }
    }
    let text = String::from_utf8_lossy(&output).replace('\r', "");
    assert!(text.contains("isatty\n"), "{text:?}");
    assert!(text.contains("in:hello\n"), "{text:?}");
    assert!(!text.contains("notatty"), "{text:?}");
}

#[tokio::test]
async fn long_poll_does_not_block_other_requests() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    client
        .ok(
            "process/start",
            start_params("quiet", "sleep 1000", dir.path()),
        )
        .await;
    // A long-poll that will not be answered for a long time...
    let poll = client
        .send_request(
            "process/read",
            json!({"processId": "quiet", "afterSeq": 0, "waitMs": 60000}),
        )
        .await;
    // ...does not hold up a later request on the same connection.
    client
        .ok("process/start", start_params("fast", "echo hi", dir.path()))
        .await;
    let (output, _) = client.read_all("fast").await;
    assert_eq!(output, b"hi\n".to_vec());
    // Terminating the quiet process answers the long-poll.
    client
        .ok("process/terminate", json!({"processId": "quiet"}))
        .await;
    let answer = client.response(poll).await;
    assert!(answer.get("result").is_some(), "{answer}");
}
