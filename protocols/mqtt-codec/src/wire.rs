//! Data representations of section 1.5: integers, variable byte integers, UTF-8 strings and binary data.
//!
//! Decoding uses nom over `&[u8]` slices of the packet's frozen `Bytes`, then `Bytes::slice_ref` turns a parsed
//! slice back into a shared `Bytes` (no copy). Encoding writes into a `BytesMut` reserved once by the caller.

use crate::error::{DecodeError, EncodeError};
use crate::types::ByteStr;
use bytes::{BufMut, Bytes, BytesMut};
use nom::IResult;
use nom::bytes::complete::take;

/// Result of a body parser: rest of the input and the value, or a [`DecodeError`].
pub(crate) type PResult<'a, T> = IResult<&'a [u8], T, DecodeError>;

/// Largest value a variable byte integer (and so the remaining length) can hold.
pub(crate) const MAX_VBI: usize = 268_435_455;

/// Largest UTF-8 string or binary field.
pub(crate) const MAX_FIELD: usize = 65_535;

/// Fails the parse with a semantic error (no backtracking: the packet is bad).
pub(crate) fn fail<'a, T>(e: DecodeError) -> PResult<'a, T> {
    Err(nom::Err::Failure(e))
}

/// Turns a parser result over a complete body into the value, rejecting leftover bytes.
pub(crate) fn finish<T>(r: PResult<'_, T>) -> Result<T, DecodeError> {
    match r {
        Ok(([], v)) => Ok(v),
        Ok((rest, _)) => Err(DecodeError::TrailingBytes(rest.len())),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e),
        Err(nom::Err::Incomplete(_)) => Err(DecodeError::Truncated),
    }
}

/// A one-byte integer.
pub(crate) fn u8(i: &[u8]) -> PResult<'_, u8> {
    nom::number::complete::be_u8(i)
}

/// A two-byte big-endian integer.
pub(crate) fn u16(i: &[u8]) -> PResult<'_, u16> {
    nom::number::complete::be_u16(i)
}

/// A four-byte big-endian integer.
pub(crate) fn u32(i: &[u8]) -> PResult<'_, u32> {
    nom::number::complete::be_u32(i)
}

/// A variable byte integer (1.5.5): at most 4 bytes.
pub(crate) fn vbi(i: &[u8]) -> PResult<'_, u32> {
    let mut value = 0u32;
    let mut rest = i;
    for shift in [0u32, 7, 14, 21] {
        let (r, b) = u8(rest)?;
        rest = r;
        value |= u32::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            return Ok((rest, value));
        }
    }
    fail(DecodeError::MalformedRemainingLength)
}

/// Reads the remaining length that follows the first byte of `buf`, if enough bytes are there:
/// `Ok(None)` while incomplete, else the value and how many bytes it took.
pub(crate) fn peek_remaining_length(buf: &[u8]) -> Result<Option<(usize, usize)>, DecodeError> {
    let mut value = 0usize;
    for (n, b) in buf.iter().skip(1).take(4).enumerate() {
        value |= usize::from(b & 0x7F) << (7 * n);
        if b & 0x80 == 0 {
            return Ok(Some((value, n + 1)));
        }
    }
    if buf.len() >= 5 {
        Err(DecodeError::MalformedRemainingLength)
    } else {
        Ok(None)
    }
}

/// A two-byte-length-prefixed binary field, as a slice of `src` (which `i` must be a part of).
pub(crate) fn binary<'a>(src: &Bytes, i: &'a [u8]) -> PResult<'a, Bytes> {
    let (i, len) = u16(i)?;
    let (i, data) = take(len)(i)?;
    Ok((i, src.slice_ref(data)))
}

/// A UTF-8 string (1.5.4): well-formed and without U+0000.
pub(crate) fn string<'a>(src: &Bytes, i: &'a [u8]) -> PResult<'a, ByteStr> {
    let (i, data) = binary(src, i)?;
    match ByteStr::from_utf8(data) {
        Some(s) => Ok((i, s)),
        None => fail(DecodeError::InvalidUtf8),
    }
}

/// Bytes a variable byte integer holding `v` takes (`v` at most [`MAX_VBI`]).
pub(crate) fn vbi_len(v: usize) -> usize {
    match v {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes a variable byte integer (`v` at most [`MAX_VBI`], checked by the length pass).
pub(crate) fn put_vbi(buf: &mut BytesMut, mut v: usize) {
    loop {
        let mut b = (v % 128) as u8;
        v /= 128;
        if v > 0 {
            b |= 0x80;
        }
        buf.put_u8(b);
        if v == 0 {
            break;
        }
    }
}

/// Encoded size of a length-prefixed string or binary field, or an error past 65,535 bytes.
pub(crate) fn field_len(data: &[u8]) -> Result<usize, EncodeError> {
    if data.len() > MAX_FIELD {
        Err(EncodeError::FieldTooLong(data.len()))
    } else {
        Ok(2 + data.len())
    }
}

/// Writes a length-prefixed string or binary field (length checked by the length pass).
pub(crate) fn put_field(buf: &mut BytesMut, data: &[u8]) {
    buf.put_u16(data.len() as u16);
    buf.put_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The remaining length table of 2.2.3 (3.1.1) / 1.5.5 (5.0): boundaries of each byte count.
    #[test]
    fn vbi_golden_table() {
        let cases: [(usize, &[u8]); 8] = [
            (0, &[0x00]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xFF, 0xFF, 0x7F]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ];
        for (value, bytes) in cases {
            let mut buf = BytesMut::new();
            put_vbi(&mut buf, value);
            assert_eq!(&buf[..], bytes, "encode {value}");
            assert_eq!(vbi_len(value), bytes.len());
            assert_eq!(vbi(bytes), Ok((&[][..], value as u32)), "decode {value}");
            let mut framed = vec![0x30];
            framed.extend_from_slice(bytes);
            assert_eq!(peek_remaining_length(&framed), Ok(Some((value, bytes.len()))));
        }
    }

    #[test]
    fn vbi_over_four_bytes_is_malformed() {
        assert_eq!(
            vbi(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            fail(DecodeError::MalformedRemainingLength)
        );
        assert_eq!(
            peek_remaining_length(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF]),
            Err(DecodeError::MalformedRemainingLength)
        );
        assert_eq!(peek_remaining_length(&[0x30, 0xFF, 0xFF, 0xFF]), Ok(None));
        assert_eq!(peek_remaining_length(&[0x30]), Ok(None));
    }

    #[test]
    fn strings_are_slices_and_checked() {
        let src = Bytes::from_static(b"\x00\x03abc\x00\x02a\x00\x00\x05ab");
        let (rest, s) = string(&src, &src).unwrap();
        assert_eq!(&*s, "abc");
        assert_eq!(s.as_bytes().as_ptr(), src[2..].as_ptr());
        assert_eq!(string(&src, rest), fail(DecodeError::InvalidUtf8));
        assert_eq!(finish(string(&src, &src[9..])), Err(DecodeError::Truncated));
    }
}
