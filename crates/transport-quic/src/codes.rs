//! The QUIC application error codes this listener sends, from one table, so logs, tests and client authors
//! read the same numbers.
//!
//! QUIC leaves application error codes to the application protocol; MQTT over QUIC has no registry, and
//! EMQX closes with 0 for a normal end. Tern uses 0 the same way and small distinct codes for each refusal.

use quinn::VarInt;

/// Why the listener closed a QUIC connection or refused a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppCode {
    /// The MQTT connection on the control stream ended (DISCONNECT, keep alive, protocol error): the QUIC
    /// connection has nothing left to carry.
    NoError,
    /// A bidirectional stream beyond the first: Tern serves one MQTT connection per QUIC connection on its
    /// first stream (EMQX's single-stream mode) and does not implement EMQX's multi-stream data streams.
    StreamRefused,
    /// The client negotiated the connection but opened no stream in time.
    NoStream,
    /// The broker is shutting down.
    Shutdown,
    /// The listener is at `max_connections`.
    ConnectionLimit,
    /// The handshake produced an application protocol other than `mqtt`.
    WrongProtocol,
}

impl AppCode {
    /// Every code, for tests and documentation.
    pub const ALL: [AppCode; 6] = [
        AppCode::NoError,
        AppCode::StreamRefused,
        AppCode::NoStream,
        AppCode::Shutdown,
        AppCode::ConnectionLimit,
        AppCode::WrongProtocol,
    ];

    /// The number on the wire.
    pub fn code(self) -> u32 {
        match self {
            AppCode::NoError => 0x0,
            AppCode::StreamRefused => 0x1,
            AppCode::NoStream => 0x2,
            AppCode::Shutdown => 0x3,
            AppCode::ConnectionLimit => 0x4,
            AppCode::WrongProtocol => 0x5,
        }
    }

    /// The code as quinn takes it.
    pub fn varint(self) -> VarInt {
        VarInt::from_u32(self.code())
    }

    /// The reason phrase sent with CONNECTION_CLOSE (short: it travels in one packet).
    pub fn reason(self) -> &'static [u8] {
        match self {
            AppCode::NoError => b"mqtt connection closed",
            AppCode::StreamRefused => b"one MQTT stream per connection (multi-stream not supported)",
            AppCode::NoStream => b"no MQTT stream opened in time",
            AppCode::Shutdown => b"broker shutting down",
            AppCode::ConnectionLimit => b"listener at max_connections",
            AppCode::WrongProtocol => b"ALPN must be mqtt",
        }
    }

    /// The code a peer sent, if it is one of ours.
    pub fn from_code(code: u64) -> Option<AppCode> {
        AppCode::ALL.into_iter().find(|c| u64::from(c.code()) == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_round_trip() {
        for c in AppCode::ALL {
            assert_eq!(AppCode::from_code(u64::from(c.code())), Some(c));
            assert!(c.reason().len() < 100);
        }
        assert_eq!(AppCode::from_code(99), None);
    }
}
