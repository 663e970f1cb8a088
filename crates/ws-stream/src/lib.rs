//! [`WsByteStream`]: a WebSocket connection seen as one continuous byte stream, which is what MQTT over
//! WebSocket is (MQTT §6): binary frames' payloads are concatenated, so a packet split across frames and
//! several packets in one frame both read correctly. Text frames are refused (close 1003), oversized ones
//! close with 1009, pings are answered by tungstenite, and a close frame reads as end of stream.

use bytes::Bytes;
use futures_util::{Sink, Stream};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Largest frame one vectored write gathers into; bigger batches go out as several frames.
const MAX_GATHER: usize = 64 * 1024;

/// A [`WebSocketStream`] adapted to `AsyncRead + AsyncWrite` over the binary frames' payloads.
pub struct WsByteStream<S> {
    ws: WebSocketStream<S>,
    /// Unread rest of the last binary frame.
    pending: Bytes,
    /// A close frame to send before reporting end of stream (protocol violation by the peer).
    closing: Option<CloseFrame>,
    /// The stream has ended; reads return EOF.
    eof: bool,
}

impl<S> WsByteStream<S> {
    /// Wraps an upgraded WebSocket.
    pub fn new(ws: WebSocketStream<S>) -> WsByteStream<S> {
        WsByteStream {
            ws,
            pending: Bytes::new(),
            closing: None,
            eof: false,
        }
    }

    /// The underlying transport stream.
    pub fn get_ref(&self) -> &S
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.ws.get_ref()
    }
}

fn to_io(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        WsError::ConnectionClosed | WsError::AlreadyClosed => io::ErrorKind::NotConnected.into(),
        other => io::Error::other(other),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsByteStream<S> {
    /// Starts sending what was just queued: a frame must not wait for a flush its writer may never ask for.
    /// If the socket is full, the rest goes out on the next read, write or flush.
    fn push(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match Pin::new(&mut self.ws).poll_flush(cx) {
            Poll::Ready(Err(e)) => Err(to_io(e)),
            _ => Ok(()),
        }
    }

    /// Sends the queued close frame (best effort: the peer may be gone) and ends the stream.
    fn poll_send_close(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(frame) = self.closing.take() {
            match Pin::new(&mut self.ws).poll_ready(cx) {
                Poll::Pending => {
                    self.closing = Some(frame);
                    return Poll::Pending;
                }
                Poll::Ready(Ok(())) => {
                    let _ = Pin::new(&mut self.ws).start_send(Message::Close(Some(frame)));
                }
                Poll::Ready(Err(_)) => {}
            }
        }
        // Flush the close (or give up if the connection is already broken).
        let _ = ready!(Pin::new(&mut self.ws).poll_flush(cx));
        self.eof = true;
        Poll::Ready(())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsByteStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        // Writers may never call flush, so frames queued by
        // `poll_write` that the socket could not take at once go out whenever the connection is read.
        if let Poll::Ready(Err(e)) = Pin::new(&mut this.ws).poll_flush(cx)
            && !matches!(e, WsError::ConnectionClosed | WsError::AlreadyClosed)
        {
            return Poll::Ready(Err(to_io(e)));
        }
        loop {
            if !this.pending.is_empty() {
                let n = this.pending.len().min(buf.remaining());
                buf.put_slice(&this.pending.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            if this.closing.is_some() {
                ready!(this.poll_send_close(cx));
                continue;
            }
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => this.pending = data,
                Some(Ok(Message::Text(_))) => {
                    this.closing = Some(CloseFrame {
                        code: CloseCode::Unsupported,
                        reason: "MQTT over WebSocket uses binary frames only".into(),
                    });
                }
                // tungstenite answers pings itself (on the next read or write); pongs need nothing.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) | None => this.eof = true,
                Some(Err(WsError::Capacity(e))) => {
                    this.closing = Some(CloseFrame {
                        code: CloseCode::Size,
                        reason: "message larger than the maximum packet size".into(),
                    });
                    tracing::debug!(error = %e, "WebSocket message too large");
                }
                Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => this.eof = true,
                Some(Err(e)) => return Poll::Ready(Err(to_io(e))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsByteStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(to_io)?;
        Pin::new(&mut self.ws)
            .start_send(Message::Binary(Bytes::copy_from_slice(data)))
            .map_err(to_io)?;
        self.push(cx)?;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // One frame for the whole batch rather than one per slice.
        let mut frame = Vec::new();
        for b in bufs {
            if !frame.is_empty() && frame.len() + b.len() > MAX_GATHER {
                break;
            }
            frame.extend_from_slice(b);
        }
        if frame.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(to_io)?;
        let n = frame.len();
        Pin::new(&mut self.ws)
            .start_send(Message::Binary(Bytes::from(frame)))
            .map_err(to_io)?;
        self.push(cx)?;
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_flush(cx).map_err(to_io)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match ready!(Pin::new(&mut self.ws).poll_close(cx)) {
            Ok(()) | Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(to_io(e))),
        }
    }
}
