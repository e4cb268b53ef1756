//! Off Linux there is no shell escalation (its protocol needs `SOCK_SEQPACKET` and
//! `SCM_RIGHTS` as Linux has them): an escalated start is refused.

use std::sync::Arc;

use super::AskClient;
use super::EscalationConfig;
use crate::error::ExecError;
use crate::protocol::StartParams;

/// Nothing to hold.
pub(crate) struct SessionEscalation;

impl SessionEscalation {
    pub(crate) fn new(
        _config: &EscalationConfig,
        _session_id: &str,
        _client: Option<Arc<dyn AskClient>>,
    ) -> Self {
        Self
    }
}

/// Never made off Linux.
#[derive(Debug)]
pub(crate) enum PreparedEscalation {}

/// `params` unchanged when it asks for no escalation; `escalationUnavailable` otherwise.
pub(crate) async fn prepare(
    params: StartParams,
    _session: Option<&SessionEscalation>,
) -> Result<(StartParams, Option<PreparedEscalation>), ExecError> {
    match params.escalation {
        None => Ok((params, None)),
        Some(_) => Err(ExecError::EscalationUnavailable(
            "shell escalation is only available on Linux".to_string(),
        )),
    }
}
