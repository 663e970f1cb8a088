//! Reading a message body: nom parsers over the body slice, with results
//! turned back into zero-copy [`Bytes`] slices of the datagram.

use crate::error::DecodeError;
use crate::message::MsgType;
use crate::utf8::Utf8Bytes;
use bytes::Bytes;
use nom::Parser;

/// nom's error type for complete (whole-datagram) input.
type NomError<'a> = nom::error::Error<&'a [u8]>;

/// The body of one message (everything after MsgType), tied to the datagram
/// it came from so fields can be sliced out without copying.
pub(crate) struct Body<'a> {
    /// The whole datagram, owner of the memory.
    src: &'a Bytes,
    /// The body octets, a subslice of `src`.
    data: &'a [u8],
    /// Message being decoded, for error messages.
    msg_type: MsgType,
}

impl<'a> Body<'a> {
    /// Wraps `data`, which must be a subslice of `src`.
    pub(crate) fn new(src: &'a Bytes, data: &'a [u8], msg_type: MsgType) -> Self {
        Self { src, data, msg_type }
    }

    /// Message being decoded.
    pub(crate) fn msg_type(&self) -> MsgType {
        self.msg_type
    }

    /// The body octets.
    pub(crate) fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Runs `parser` over the body, returning the rest and the fields.
    pub(crate) fn parse<O, P>(&self, mut parser: P) -> Result<(&'a [u8], O), DecodeError>
    where
        P: Parser<&'a [u8], Output = O, Error = NomError<'a>>,
    {
        parser.parse(self.data).map_err(|_| self.too_short())
    }

    /// Runs `parser` over the body and requires it to consume everything.
    pub(crate) fn exact<O, P>(&self, parser: P) -> Result<O, DecodeError>
    where
        P: Parser<&'a [u8], Output = O, Error = NomError<'a>>,
    {
        let (rest, out) = self.parse(parser)?;
        self.end(rest)?;
        Ok(out)
    }

    /// Errors if `rest` is not empty.
    pub(crate) fn end(&self, rest: &[u8]) -> Result<(), DecodeError> {
        if rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                msg_type: self.msg_type,
                extra: rest.len(),
            })
        }
    }

    /// The body is shorter than the fixed fields.
    pub(crate) fn too_short(&self) -> DecodeError {
        DecodeError::BodyTooShort {
            msg_type: self.msg_type,
            actual: self.data.len(),
        }
    }

    /// `sub` (a subslice of the body) as a shared slice of the datagram.
    pub(crate) fn bytes(&self, sub: &[u8]) -> Bytes {
        self.src.slice_ref(sub)
    }

    /// `sub` as UTF-8 text sharing the datagram.
    pub(crate) fn utf8(&self, sub: &[u8], field: &'static str) -> Result<Utf8Bytes, DecodeError> {
        Utf8Bytes::try_from_bytes(self.bytes(sub)).map_err(|_| DecodeError::InvalidUtf8 { field })
    }

    /// Exactly two octets, for TopicId fields read as raw bytes.
    pub(crate) fn two(&self, sub: &[u8]) -> Result<[u8; 2], DecodeError> {
        match sub {
            [a, b] => Ok([*a, *b]),
            [_, _, extra @ ..] => Err(DecodeError::TrailingBytes {
                msg_type: self.msg_type,
                extra: extra.len(),
            }),
            _ => Err(self.too_short()),
        }
    }
}
