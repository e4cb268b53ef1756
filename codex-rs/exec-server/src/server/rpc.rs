//! JSON-RPC framing of a connection: parse and validate each incoming text frame
//! ([`Incoming`]), decode params ([`parse_params`], the `-32602` errors), hand requests to
//! the router, and write responses and error replies.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::json;
use tracing::debug;

use crate::error::ExecError;
use crate::protocol::JSONRPC_VERSION;
use crate::protocol::ReadResponse;
use crate::protocol::RpcError;
use crate::protocol::decode_binary_frame;
use crate::protocol::error_code;
use crate::protocol::method;

use super::connection::Connection;
use super::writer::OutputFraming;
use super::writer::Payload;
use super::writer::WriterMsg;

/// A validated incoming message.
enum Incoming {
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
    },
}

fn validate(value: Value) -> Result<Incoming, (Value, String)> {
    let Value::Object(mut object) = value else {
        return Err((Value::Null, "a request must be a JSON object".to_string()));
    };
    let id = object.remove("id");
    let id_for_error = match &id {
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        _ => Value::Null,
    };
    let invalid = |message: String| Err((id_for_error.clone(), message));
    match object.remove("jsonrpc") {
        None => {}
        Some(Value::String(version)) if version == JSONRPC_VERSION => {}
        Some(other) => return invalid(format!("unsupported jsonrpc version {other}")),
    }
    let method = match object.remove("method") {
        Some(Value::String(method)) => method,
        Some(_) => return invalid("`method` must be a string".to_string()),
        None => return invalid("missing `method`".to_string()),
    };
    let params = object.remove("params").unwrap_or(Value::Null);
    if let Some(extra) = object.keys().next() {
        return invalid(format!("unknown member `{extra}` in request"));
    }
    match id {
        None => Ok(Incoming::Notification { method }),
        Some(Value::String(_) | Value::Number(_)) => Ok(Incoming::Request {
            id: id_for_error,
            method,
            params,
        }),
        Some(_) => invalid("`id` must be a string or a number".to_string()),
    }
}

/// Decode a request's `params` (absent or `null` reads as `{}`) into its typed struct.
pub(super) fn parse_params<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    let params = match params {
        Value::Null => Value::Object(serde_json::Map::new()),
        Value::Object(_) => params,
        _ => {
            return Err(RpcError {
                code: error_code::INVALID_PARAMS,
                message: "params must be an object".to_string(),
                data: None,
            });
        }
    };
    serde_json::from_value(params).map_err(|err| RpcError {
        code: error_code::INVALID_PARAMS,
        message: format!("invalid params: {err}"),
        data: None,
    })
}

/// The `result` of a successful reply, and how the response carrying it is written.
pub(super) trait ReplyResult: Send + 'static {
    /// The whole response answering request `id`, on a connection whose output is framed
    /// as `framing`.
    fn response(&self, id: &Value, framing: OutputFraming) -> serde_json::Result<Payload>;
}

/// Every serializable result is written by serde, in one pass, as JSON text (only output
/// is ever framed as binary).
impl<T: Serialize + Send + 'static> ReplyResult for T {
    fn response(&self, id: &Value, _framing: OutputFraming) -> serde_json::Result<Payload> {
        #[derive(Serialize)]
        struct Response<'a, T> {
            jsonrpc: &'static str,
            id: &'a Value,
            result: &'a T,
        }
        serde_json::to_string(&Response {
            jsonrpc: JSONRPC_VERSION,
            id,
            result: self,
        })
        .map(Payload::Text)
    }
}

/// A `process/read` result: up to megabytes of output, written directly rather than by
/// serde (see [`ReadResponse::to_response_text`]), or as a binary frame
/// ([`ReadResponse::to_binary_frame`]) on a connection that asked for binary output.
pub(super) struct ReadReply(pub(super) ReadResponse);

impl ReplyResult for ReadReply {
    fn response(&self, id: &Value, framing: OutputFraming) -> serde_json::Result<Payload> {
        match framing {
            OutputFraming::Text => self.0.to_response_text(id).map(Payload::Text),
            OutputFraming::Binary => self.0.to_binary_frame(id).map(Payload::Binary),
        }
    }
}

impl Connection {
    fn send_json(&self, value: Value) {
        let _ = self
            .out
            .send(WriterMsg::Response(Payload::Text(value.to_string())));
    }

    pub(super) fn send_error(&self, id: Value, code: i64, message: String, data: Option<Value>) {
        self.send_rpc_error(
            id,
            RpcError {
                code,
                message,
                data,
            },
        );
    }

    pub(super) fn send_rpc_error(&self, id: Value, error: RpcError) {
        self.send_json(json!({"jsonrpc": JSONRPC_VERSION, "id": id, "error": error}));
    }

    pub(super) fn send_result<T: ReplyResult>(&self, id: Value, result: Result<T, ExecError>) {
        let framing = self.output_framing();
        let response = result.map(|result| result.response(&id, framing));
        match response {
            Ok(Ok(payload)) => {
                let _ = self.out.send(WriterMsg::Response(payload));
            }
            Ok(Err(err)) => self.send_rpc_error(
                id,
                ExecError::Internal(format!("serializing result: {err}")).to_rpc_error(),
            ),
            Err(err) => self.send_rpc_error(id, err.to_rpc_error()),
        }
    }

    /// A binary frame from the client: binary frames carry only the server's output, so
    /// it is answered `-32600` either way, with what is wrong with it when it is not even
    /// a well-formed frame (the connection stays open).
    pub(super) fn handle_binary(&self, frame: &bytes::Bytes) {
        let message = match decode_binary_frame(frame) {
            Err(err) => format!("malformed binary frame: {err}"),
            Ok(_) => "binary frames carry only the server's output (process/output \
                      notifications and process/read replies); send requests as JSON text \
                      frames"
                .to_string(),
        };
        debug!(
            "refusing a binary frame of {} bytes: {message}",
            frame.len()
        );
        self.send_error(
            Value::Null,
            error_code::INVALID_REQUEST,
            message,
            /*data*/ None,
        );
    }

    pub(super) fn handle_text(self: &Arc<Self>, text: &str) {
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(err) => {
                return self.send_error(
                    Value::Null,
                    error_code::PARSE_ERROR,
                    format!("parse error: {err}"),
                    /*data*/ None,
                );
            }
        };
        if super::approvals::is_response(&value) {
            // A response to the server's request: routed, never answered.
            self.backlog.done();
            return self.route_response(value);
        }
        match validate(value) {
            Err((id, message)) => {
                self.send_error(id, error_code::INVALID_REQUEST, message, /*data*/ None)
            }
            Ok(Incoming::Notification { method }) => {
                // Notifications get no response: nothing to wait for.
                self.backlog.done();
                if method != method::INITIALIZED {
                    debug!("ignoring notification `{method}`");
                }
            }
            Ok(Incoming::Request { id, method, params }) => self.dispatch(id, &method, params),
        }
    }
}
