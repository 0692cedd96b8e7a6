//! RFC 6455 framing for the server side, built on tungstenite's frame header codec.
//!
//! The simulator does its own framing rather than running a full WebSocket state machine because
//! it must *not* do what a conforming library does automatically: answer ping frames with pong
//! frames (Genesys's handling of RFC 6455 pings is [UNK], §2.4; the field reports that protocol
//! pings do not keep a socket alive), and it must be able to go silent, reset or drop TCP without
//! a close frame at will. Reading is incremental and cancel-safe: bytes are appended to a buffer
//! and complete frames are taken from its front.

use std::io::Cursor;

use bytes::{Buf, BytesMut};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};

/// Largest client frame accepted (1 MiB); larger → close 1009.
pub const MAX_CLIENT_FRAME: u64 = 1 << 20;

/// A decoded client frame (payload unmasked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// A text or binary data frame or a continuation; `fin` marks the last fragment.
    Data {
        opcode: DataKind,
        fin: bool,
        payload: Vec<u8>,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// Close with an optional code.
    Close(Option<u16>),
}

/// Data frame kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    Text,
    Binary,
    Continuation,
}

/// Why the buffer cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Protocol violation: close with 1002.
    Protocol(String),
    /// Frame too large: close with 1009.
    TooLarge(u64),
}

/// Takes one complete frame from the front of `buf`, or `Ok(None)` if more bytes are needed.
pub fn take_frame(buf: &mut BytesMut) -> Result<Option<ClientFrame>, FrameError> {
    let mut cursor = Cursor::new(&buf[..]);
    let (header, len) = match FrameHeader::parse(&mut cursor) {
        Ok(Some(h)) => h,
        Ok(None) => return Ok(None),
        Err(e) => return Err(FrameError::Protocol(e.to_string())),
    };
    if len > MAX_CLIENT_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let header_len = usize::try_from(cursor.position()).map_err(|_| FrameError::Protocol("header".into()))?;
    let len = usize::try_from(len).map_err(|_| FrameError::TooLarge(len))?;
    if buf.len() < header_len + len {
        return Ok(None);
    }
    let Some(mask) = header.mask else {
        return Err(FrameError::Protocol("client frames must be masked".into()));
    };
    if header.rsv1 || header.rsv2 || header.rsv3 {
        return Err(FrameError::Protocol("reserved bits set".into()));
    }
    buf.advance(header_len);
    let mut payload = buf.split_to(len).to_vec();
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
    let fin = header.is_final;
    let frame = match header.opcode {
        OpCode::Data(Data::Text) => ClientFrame::Data { opcode: DataKind::Text, fin, payload },
        OpCode::Data(Data::Binary) => ClientFrame::Data { opcode: DataKind::Binary, fin, payload },
        OpCode::Data(Data::Continue) => ClientFrame::Data { opcode: DataKind::Continuation, fin, payload },
        OpCode::Control(Control::Ping) => ClientFrame::Ping(payload),
        OpCode::Control(Control::Pong) => ClientFrame::Pong(payload),
        OpCode::Control(Control::Close) => {
            let code = (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
            ClientFrame::Close(code)
        }
        other => return Err(FrameError::Protocol(format!("reserved opcode {other}"))),
    };
    Ok(Some(frame))
}

fn encode(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader { is_final: true, rsv1: false, rsv2: false, rsv3: false, opcode, mask: None };
    let len = payload.len() as u64;
    let mut out = Vec::with_capacity(header.len(len) + payload.len());
    // Writing into a Vec cannot fail.
    let _ = header.format(len, &mut out);
    out.extend_from_slice(payload);
    out
}

/// An unmasked, final text frame.
pub fn text(payload: &str) -> Vec<u8> {
    encode(OpCode::Data(Data::Text), payload.as_bytes())
}

/// An unmasked, final binary frame.
pub fn binary(payload: &[u8]) -> Vec<u8> {
    encode(OpCode::Data(Data::Binary), payload)
}

/// A close frame with a code and reason (reason truncated to fit a control frame).
pub fn close(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    let mut r = reason.as_bytes();
    if r.len() > 123 {
        r = &r[..123];
    }
    payload.extend_from_slice(r);
    encode(OpCode::Control(Control::Close), &payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut out = vec![0x80 | opcode, 0x80 | payload.len() as u8];
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    #[test]
    fn decodes_split_frames() {
        let bytes = masked(0x1, br#"{"message":"ping"}"#);
        let mut buf = BytesMut::from(&bytes[..5]);
        assert_eq!(take_frame(&mut buf), Ok(None));
        buf.extend_from_slice(&bytes[5..]);
        buf.extend_from_slice(&masked(0x9, b"hi"));
        assert_eq!(
            take_frame(&mut buf),
            Ok(Some(ClientFrame::Data {
                opcode: DataKind::Text,
                fin: true,
                payload: br#"{"message":"ping"}"#.to_vec()
            }))
        );
        assert_eq!(take_frame(&mut buf), Ok(Some(ClientFrame::Ping(b"hi".to_vec()))));
        assert!(buf.is_empty());
    }

    #[test]
    fn rejects_unmasked() {
        let mut buf = BytesMut::from(&text("x")[..]);
        assert!(matches!(take_frame(&mut buf), Err(FrameError::Protocol(_))));
    }

    #[test]
    fn encodes_long_text() {
        let long = "a".repeat(70_000);
        let f = text(&long);
        assert_eq!(f[0], 0x81);
        assert_eq!(f[1], 127);
        assert_eq!(f.len(), 70_000 + 10);
    }
}
