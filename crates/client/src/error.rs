//! The client's one public error type: opaque, cheap to clone, with a [`ErrorKind`] and an optional
//! reason code, so callers branch on what happened without matching on internals.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tern_mqtt_codec::{DecodeError, EncodeError, ReasonCode};

/// What went wrong, coarse enough to stay stable as the client grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server URL could not be parsed.
    InvalidUrl,
    /// The URL names a transport this build cannot open. Every scheme `ServerUrl` parses is supported
    /// today; the kind stays so callers matching on it keep compiling.
    UnsupportedTransport,
    /// An I/O error on the socket (refused, reset, unreachable, ...).
    Io,
    /// The peer did not answer within the configured time.
    Timeout,
    /// The server answered CONNECT with a failure reason code (see [`ClientError::reason_code`]).
    ConnectRefused,
    /// The server sent bytes that are not valid MQTT, or a packet that breaks the protocol.
    Protocol,
    /// A packet the caller asked for cannot be encoded at the connection's protocol level.
    Encode,
    /// The caller asked for something the connection cannot do (QoS above the server's maximum, ...).
    InvalidArgument,
    /// The server sent DISCONNECT (5.0); the reason code says why.
    ServerDisconnected,
    /// The connection is closed (by either side, or because the background task ended).
    ConnectionClosed,
}

/// An error from the client. Opaque: use [`kind`](ClientError::kind), [`reason_code`](ClientError::reason_code)
/// and `Display` (which includes the underlying I/O or codec error).
#[derive(Clone)]
pub struct ClientError {
    /// Shared so one failure can be handed to every waiter of a connection.
    repr: Arc<Repr>,
}

/// The private detail behind [`ClientError`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum Repr {
    #[error("invalid server URL {url:?}: {why}")]
    InvalidUrl { url: String, why: &'static str },
    // The underlying errors are part of the message and not also returned by `source()`, so a printed
    // error chain (`{:#}` in anyhow) does not repeat them.
    #[error("{context}: {error}")]
    Io { context: String, error: std::io::Error },
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout { what: &'static str, after: Duration },
    #[error("connection refused by the server: {0}")]
    ConnectRefused(ReasonCode),
    #[error("malformed packet from the server: {0}")]
    Decode(DecodeError),
    #[error("protocol violation by the server: {0}")]
    Protocol(String),
    #[error("cannot encode packet: {0}")]
    Encode(EncodeError),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("server disconnected: {reason}{}", reason_string.as_deref().map(|s| format!(" ({s})")).unwrap_or_default())]
    ServerDisconnected {
        reason: ReasonCode,
        reason_string: Option<String>,
    },
    #[error("connection closed: {0}")]
    Closed(&'static str),
}

impl ClientError {
    pub(crate) fn new(repr: Repr) -> ClientError {
        ClientError { repr: Arc::new(repr) }
    }

    pub(crate) fn invalid_url(url: &str, why: &'static str) -> ClientError {
        ClientError::new(Repr::InvalidUrl {
            url: url.to_owned(),
            why,
        })
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> ClientError {
        ClientError::new(Repr::Io {
            context: context.into(),
            error: source,
        })
    }

    pub(crate) fn timeout(what: &'static str, after: Duration) -> ClientError {
        ClientError::new(Repr::Timeout { what, after })
    }

    pub(crate) fn protocol(msg: impl Into<String>) -> ClientError {
        ClientError::new(Repr::Protocol(msg.into()))
    }

    pub(crate) fn invalid_argument(msg: impl Into<String>) -> ClientError {
        ClientError::new(Repr::InvalidArgument(msg.into()))
    }

    pub(crate) fn closed(why: &'static str) -> ClientError {
        ClientError::new(Repr::Closed(why))
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match &*self.repr {
            Repr::InvalidUrl { .. } => ErrorKind::InvalidUrl,
            Repr::Io { .. } => ErrorKind::Io,
            Repr::Timeout { .. } => ErrorKind::Timeout,
            Repr::ConnectRefused(_) => ErrorKind::ConnectRefused,
            Repr::Decode(_) | Repr::Protocol(_) => ErrorKind::Protocol,
            Repr::Encode(_) => ErrorKind::Encode,
            Repr::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Repr::ServerDisconnected { .. } => ErrorKind::ServerDisconnected,
            Repr::Closed(_) => ErrorKind::ConnectionClosed,
        }
    }

    /// The MQTT reason code behind the error: the CONNACK code of a refused connection, the server's
    /// DISCONNECT reason, or the code a malformed packet maps to. `None` when no code applies.
    pub fn reason_code(&self) -> Option<ReasonCode> {
        match &*self.repr {
            Repr::ConnectRefused(rc) => Some(*rc),
            Repr::ServerDisconnected { reason, .. } => Some(*reason),
            Repr::Decode(e) => Some(e.reason_code()),
            Repr::Protocol(_) => Some(ReasonCode::ProtocolError),
            _ => None,
        }
    }

    /// The I/O error kind when this is an I/O failure (for "connection refused" vs "reset" decisions).
    pub fn io_error_kind(&self) -> Option<std::io::ErrorKind> {
        match &*self.repr {
            Repr::Io { error, .. } => Some(error.kind()),
            _ => None,
        }
    }
}

impl fmt::Debug for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientError")
            .field("kind", &self.kind())
            .field("message", &self.to_string())
            .finish()
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.repr, f)
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.repr)
    }
}

impl From<DecodeError> for ClientError {
    fn from(e: DecodeError) -> ClientError {
        ClientError::new(Repr::Decode(e))
    }
}

impl From<EncodeError> for ClientError {
    fn from(e: EncodeError) -> ClientError {
        ClientError::new(Repr::Encode(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_carries_reason_code_and_message() {
        let e = ClientError::new(Repr::ConnectRefused(ReasonCode::NotAuthorized));
        assert_eq!(e.kind(), ErrorKind::ConnectRefused);
        assert_eq!(e.reason_code(), Some(ReasonCode::NotAuthorized));
        assert!(e.to_string().contains("NotAuthorized"), "{e}");
    }
}
