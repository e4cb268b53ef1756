use std::sync::Arc;
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use tokio::sync::mpsc;

use super::Answer;
use super::Approvals;
use super::is_response;
use crate::escalation::AskClient;
use crate::protocol::ApprovalDecision;
use crate::protocol::ApprovalKind;
use crate::protocol::ApprovalRequest;
use crate::server::writer::WriterMsg;

fn request() -> ApprovalRequest {
    ApprovalRequest {
        approval_id: "a-1".to_string(),
        kind: ApprovalKind::Exec,
        process_id: "sh".to_string(),
        program: "/usr/bin/git".to_string(),
        argv: vec!["git".to_string(), "push".to_string()],
        cwd: "/work".to_string(),
        justification: Some("pushing needs the network".to_string()),
        timeout_ms: None,
    }
}

/// The next `approval/request` the connection got.
async fn sent(out: &mut mpsc::UnboundedReceiver<WriterMsg>) -> Value {
    match tokio::time::timeout(Duration::from_secs(10), out.recv()).await {
        Ok(Some(WriterMsg::ServerRequest(text))) => serde_json::from_str(&text).unwrap(),
        _ => panic!("no approval/request was sent"),
    }
}

/// Asks in a task; returns the request the client got and the pending decision.
async fn ask(
    approvals: &Arc<Approvals>,
    out: &mut mpsc::UnboundedReceiver<WriterMsg>,
) -> (Value, tokio::task::JoinHandle<ApprovalDecision>) {
    let asking = tokio::spawn(Arc::clone(approvals).ask(request()));
    (sent(out).await, asking)
}

#[tokio::test]
async fn the_request_goes_to_the_attached_connection_and_its_answer_decides() {
    let approvals = Arc::new(Approvals::new(Duration::from_secs(30)));
    let (tx, mut out) = mpsc::unbounded_channel();
    approvals.attach(/*generation*/ 1, tx);
    let (sent, asking) = ask(&approvals, &mut out).await;
    assert_eq!(
        sent,
        json!({
            "jsonrpc": "2.0",
            "id": 1,
            "method": "approval/request",
            "params": {
                "approvalId": "a-1",
                "kind": "exec",
                "processId": "sh",
                "program": "/usr/bin/git",
                "argv": ["git", "push"],
                "cwd": "/work",
                "justification": "pushing needs the network",
                "timeoutMs": 30000,
            },
        })
    );
    approvals.answer(
        /*generation*/ 1,
        &json!(1),
        Answer::Result(json!({"decision": "approveForSession"})),
    );
    assert_eq!(asking.await.unwrap(), ApprovalDecision::ApproveForSession);
    assert_eq!(approvals.pending(), 0);
}

#[tokio::test]
async fn without_a_connection_the_answer_is_deny_at_once() {
    let approvals = Arc::new(Approvals::new(Duration::from_secs(30)));
    assert_eq!(
        Arc::clone(&approvals).ask(request()).await,
        ApprovalDecision::Deny
    );
    let (tx, _out) = mpsc::unbounded_channel();
    approvals.attach(/*generation*/ 1, tx);
    approvals.detach(/*generation*/ 1);
    assert_eq!(approvals.ask(request()).await, ApprovalDecision::Deny);
}

/// Errors, malformed results and unknown decisions deny; a response that answers no
/// pending approval (unknown id, a string id, another connection's) changes nothing.
#[tokio::test]
async fn bad_answers_deny_and_stray_ones_are_ignored() {
    let approvals = Arc::new(Approvals::new(Duration::from_secs(30)));
    let (tx, mut out) = mpsc::unbounded_channel();
    approvals.attach(/*generation*/ 1, tx);
    let bad_answers = [
        Answer::Error(json!({"code": -32000, "message": "no"})),
        Answer::Result(json!({"decision": "maybe"})),
        Answer::Result(json!({"decision": "approve", "remember": true})),
        Answer::Result(json!("approve")),
    ];
    for bad in bad_answers {
        let (sent, asking) = ask(&approvals, &mut out).await;
        let id = sent["id"].clone();
        // Strays first: none of them decides.
        approvals.answer(
            /*generation*/ 1,
            &json!(999),
            Answer::Result(json!({"decision": "approve"})),
        );
        approvals.answer(
            /*generation*/ 1,
            &json!(id.to_string()),
            Answer::Result(json!({"decision": "approve"})),
        );
        approvals.answer(
            /*generation*/ 2,
            &id,
            Answer::Result(json!({"decision": "approve"})),
        );
        assert_eq!(approvals.pending(), 1);
        approvals.answer(/*generation*/ 1, &id, bad);
        assert_eq!(asking.await.unwrap(), ApprovalDecision::Deny);
        // A repeated answer finds nothing.
        approvals.answer(
            /*generation*/ 1,
            &id,
            Answer::Result(json!({"decision": "approve"})),
        );
    }
    assert_eq!(approvals.pending(), 0);
}

#[tokio::test]
async fn a_connection_that_goes_away_or_is_taken_over_denies_what_it_was_asked() {
    let approvals = Arc::new(Approvals::new(Duration::from_secs(30)));
    let (tx, mut out) = mpsc::unbounded_channel();
    approvals.attach(/*generation*/ 1, tx);
    let (_, asking) = ask(&approvals, &mut out).await;
    approvals.detach(/*generation*/ 1);
    assert_eq!(asking.await.unwrap(), ApprovalDecision::Deny);

    let (tx, mut out) = mpsc::unbounded_channel();
    approvals.attach(/*generation*/ 2, tx);
    let (sent, asking) = ask(&approvals, &mut out).await;
    let (tx, _new_out) = mpsc::unbounded_channel();
    approvals.attach(/*generation*/ 3, tx);
    assert_eq!(asking.await.unwrap(), ApprovalDecision::Deny);
    // The old connection's late answer is ignored.
    approvals.answer(
        /*generation*/ 2,
        &sent["id"],
        Answer::Result(json!({"decision": "approve"})),
    );
    assert_eq!(approvals.pending(), 0);
}

#[tokio::test]
async fn no_answer_within_the_timeout_is_deny() {
    let approvals = Arc::new(Approvals::new(Duration::from_millis(100)));
    let (tx, mut out) = mpsc::unbounded_channel();
    approvals.attach(/*generation*/ 1, tx);
    let (sent, asking) = ask(&approvals, &mut out).await;
    assert_eq!(asking.await.unwrap(), ApprovalDecision::Deny);
    assert_eq!(approvals.pending(), 0);
    approvals.answer(
        /*generation*/ 1,
        &sent["id"],
        Answer::Result(json!({"decision": "approve"})),
    );
}

#[test]
fn responses_are_objects_with_a_result_or_an_error_and_no_method() {
    for (value, response) in [
        (json!({"jsonrpc": "2.0", "id": 1, "result": {}}), true),
        (json!({"id": 1, "error": {"code": 1, "message": "x"}}), true),
        (json!({"result": {}}), true),
        (json!({"id": 1, "method": "x", "result": {}}), false),
        (json!({"id": 1, "method": "process/read"}), false),
        (json!({"id": 1}), false),
        (json!([{"id": 1, "result": {}}]), false),
        (json!("result"), false),
    ] {
        assert_eq!(is_response(&value), response, "{value}");
    }
}

/// Two resumes that attach in the other order than they took the session: the later
/// attachment keeps the session's approvals, the superseded one never gets them.
#[tokio::test]
async fn a_superseded_attachment_attaching_late_gets_nothing() {
    let approvals = Arc::new(Approvals::new(Duration::from_secs(30)));
    let (newer, mut newer_out) = mpsc::unbounded_channel();
    let (older, mut older_out) = mpsc::unbounded_channel();
    approvals.attach(/*generation*/ 3, newer);
    approvals.attach(/*generation*/ 2, older);
    let (sent, asking) = ask(&approvals, &mut newer_out).await;
    assert_eq!(sent["method"], "approval/request");
    assert!(older_out.try_recv().is_err());
    approvals.answer(
        /*generation*/ 2,
        &sent["id"],
        Answer::Result(json!({"decision": "approve"})),
    );
    assert_eq!(
        approvals.pending(),
        1,
        "the superseded connection's answer is ignored"
    );
    approvals.answer(
        /*generation*/ 3,
        &sent["id"],
        Answer::Result(json!({"decision": "deny"})),
    );
    assert_eq!(asking.await.unwrap(), ApprovalDecision::Deny);
}

/// At most `MAX_PENDING_APPROVALS` questions wait at once; more are denied at once.
#[tokio::test]
async fn questions_beyond_the_pending_limit_are_denied_at_once() {
    let approvals = Arc::new(Approvals::new(Duration::from_secs(30)));
    let (tx, mut out) = mpsc::unbounded_channel();
    approvals.attach(/*generation*/ 1, tx);
    let mut waiting = Vec::new();
    for _ in 0..super::MAX_PENDING_APPROVALS {
        waiting.push(ask(&approvals, &mut out).await.1);
    }
    assert_eq!(
        Arc::clone(&approvals).ask(request()).await,
        ApprovalDecision::Deny
    );
    assert!(out.try_recv().is_err(), "nothing more was asked");
    assert_eq!(approvals.pending(), super::MAX_PENDING_APPROVALS);
    for task in waiting {
        task.abort();
    }
}
