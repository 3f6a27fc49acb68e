//! The attach stream: after an `attach` request and its `ok` line, the control
//! connection carries frames both ways.
//!
//! A frame is one kind byte, a big-endian u32 payload length, then the payload.
//! The supervisor sends output (stdout and stderr apart, or the terminal's bytes as
//! stdout) and, last, the exit code; the client sends stdin bytes, window sizes and
//! the end of its stdin.

/// The largest payload accepted: a peer announcing more is not speaking this protocol.
pub const MAX_PAYLOAD: usize = 1 << 20;

const HEADER: usize = 5;

/// One message on an attach connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Bytes for the container's stdin (client to supervisor).
    Stdin(Vec<u8>),
    /// The container's standard output, or its terminal's output.
    Stdout(Vec<u8>),
    /// The container's standard error (never with a terminal).
    Stderr(Vec<u8>),
    /// The container's process exited with this code (the last frame).
    Exit(i32),
    /// The client's terminal has this size: rows, columns.
    Resize(u16, u16),
    /// The client's stdin ended: close the container's stdin.
    CloseStdin,
}

/// A frame that cannot be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// An unknown kind byte.
    #[error("unknown attach frame kind {0}")]
    Kind(u8),
    /// A payload longer than [`MAX_PAYLOAD`].
    #[error("attach frame of {0} bytes exceeds the limit")]
    TooLong(usize),
    /// A payload of the wrong size for its kind.
    #[error("attach frame of kind {kind} has {len} bytes")]
    BadLength {
        /// The kind byte.
        kind: u8,
        /// The payload length.
        len: usize,
    },
}

impl Frame {
    fn kind(&self) -> u8 {
        match self {
            Frame::Stdin(_) => 0,
            Frame::Stdout(_) => 1,
            Frame::Stderr(_) => 2,
            Frame::Exit(_) => 3,
            Frame::Resize(..) => 4,
            Frame::CloseStdin => 5,
        }
    }

    /// Appends the frame's bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(self.kind());
        out.extend_from_slice(&[0; 4]);
        match self {
            Frame::Stdin(b) | Frame::Stdout(b) | Frame::Stderr(b) => out.extend_from_slice(b),
            Frame::Exit(code) => out.extend_from_slice(&code.to_be_bytes()),
            Frame::Resize(rows, cols) => {
                out.extend_from_slice(&rows.to_be_bytes());
                out.extend_from_slice(&cols.to_be_bytes());
            }
            Frame::CloseStdin => {}
        }
        let len = (out.len() - start - HEADER) as u32;
        out[start + 1..start + HEADER].copy_from_slice(&len.to_be_bytes());
    }

    /// The frame's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![];
        self.encode_into(&mut out);
        out
    }
}

/// Turns a byte stream, arriving in pieces of any size, back into frames.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    /// Adds bytes read from the connection.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, if one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.buf.len() < HEADER {
            return Ok(None);
        }
        let kind = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > MAX_PAYLOAD {
            return Err(FrameError::TooLong(len));
        }
        if kind > 5 {
            return Err(FrameError::Kind(kind));
        }
        if self.buf.len() < HEADER + len {
            return Ok(None);
        }
        let payload: Vec<u8> = self.buf.drain(..HEADER + len).skip(HEADER).collect();
        let bad = || FrameError::BadLength { kind, len };
        Ok(Some(match kind {
            0 => Frame::Stdin(payload),
            1 => Frame::Stdout(payload),
            2 => Frame::Stderr(payload),
            3 => Frame::Exit(i32::from_be_bytes(payload.try_into().map_err(|_| bad())?)),
            4 => {
                let [r0, r1, c0, c1]: [u8; 4] = payload.try_into().map_err(|_| bad())?;
                Frame::Resize(u16::from_be_bytes([r0, r1]), u16::from_be_bytes([c0, c1]))
            }
            _ if payload.is_empty() => Frame::CloseStdin,
            _ => return Err(bad()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Frame> {
        vec![
            Frame::Stdin(b"ls\n".to_vec()),
            Frame::Stdout(b"out".to_vec()),
            Frame::Stderr(vec![]),
            Frame::Exit(-3),
            Frame::Resize(40, 132),
            Frame::CloseStdin,
        ]
    }

    #[test]
    fn every_frame_survives_a_byte_by_byte_stream() {
        let mut bytes = vec![];
        for f in all() {
            f.encode_into(&mut bytes);
        }
        let mut d = Decoder::default();
        let mut got = vec![];
        for b in bytes {
            d.push(&[b]);
            while let Some(f) = d.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got, all());
    }

    #[test]
    fn a_partial_frame_waits_for_the_rest() {
        let bytes = Frame::Stdout(b"hello".to_vec()).encode();
        let mut d = Decoder::default();
        d.push(&bytes[..7]);
        assert_eq!(d.next_frame().unwrap(), None);
        d.push(&bytes[7..]);
        assert_eq!(
            d.next_frame().unwrap(),
            Some(Frame::Stdout(b"hello".to_vec()))
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut d = Decoder::default();
        d.push(&[9, 0, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(FrameError::Kind(9)));
        let mut d = Decoder::default();
        d.push(&[1, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(d.next_frame(), Err(FrameError::TooLong(_))));
        let mut d = Decoder::default();
        d.push(&[3, 0, 0, 0, 1, 7]);
        assert_eq!(
            d.next_frame(),
            Err(FrameError::BadLength { kind: 3, len: 1 })
        );
    }
}
