use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pretty_assertions::assert_eq;

use super::*;

fn sessions(session_ttl: Duration) -> Arc<Sessions> {
    let mut config = ServerConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.session_ttl = session_ttl;
    Arc::new(Sessions {
        file_system: LocalFileSystem::new(config.file_system.clone()),
        root_pins: Arc::default(),
        config,
        map: Mutex::new(HashMap::new()),
        expired: Mutex::new(HashMap::new()),
    })
}

/// Expiry is decided when the client comes back, not by the cleanup timer: here the
/// timer task cannot run (this single-threaded runtime is blocked in `thread::sleep`), yet
/// a resume after the TTL is refused as expired, and the session is gone afterwards.
#[tokio::test(flavor = "current_thread")]
async fn a_session_past_its_ttl_cannot_be_resumed_before_its_cleanup_ran() {
    let sessions = sessions(Duration::from_millis(50));
    let (session, generation) = sessions.create();
    let id = session.id.clone();
    sessions.detach(&session, generation);

    std::thread::sleep(Duration::from_millis(100));
    let first = sessions
        .resume(&id)
        .map(|_| ())
        .map_err(|err| err.to_string());
    let second = sessions
        .resume(&id)
        .map(|_| ())
        .map_err(|err| err.to_string());

    let expired = Err(format!("session `{id}` expired; start a new session"));
    assert_eq!((first, second), (expired.clone(), expired));
}

/// Within the TTL the same session comes back.
#[tokio::test(flavor = "current_thread")]
async fn a_session_within_its_ttl_is_resumed() {
    let sessions = sessions(Duration::from_secs(60));
    let (session, generation) = sessions.create();
    sessions.detach(&session, generation);

    let resumed = sessions
        .resume(&session.id)
        .map(|(resumed, _)| resumed.id.clone());

    assert_eq!(
        resumed.map_err(|err| err.to_string()),
        Ok(session.id.clone())
    );
}
