//! Incremental frame decoding.

use bytes::{Buf, Bytes, BytesMut};

use super::{
    CONTROL_BIT, DEFAULT_MAX_CONTROL_FRAME_LEN, DEFAULT_MAX_HEADER_BLOCK_LEN, FLAG_CLEAR_SETTINGS,
    FLAG_FIN, FLAG_UNIDIRECTIONAL, Frame, FrameError, GoAwayStatus, Kind, MAX_STREAM_ID, RstStatus,
    Setting, SynStream, VERSION, read_u32,
};
use crate::compression::HeaderDecompressor;
use crate::header_block::{self, Headers};

/// Where the decoder is within the byte stream.
enum State {
    /// At a frame boundary.
    Header,
    /// Inside a DATA frame whose payload is handed out as it arrives.
    Data {
        stream_id: u32,
        fin: bool,
        remaining: usize,
    },
    /// Inside a control frame of a type SPDY says to ignore.
    Skip { remaining: usize },
    /// A previous error left the header-compression state unknown.
    Failed(FrameError),
}

/// Turns bytes read from a connection into [`Frame`]s.
pub struct FrameDecoder {
    inflater: HeaderDecompressor,
    state: State,
    max_control_frame_len: usize,
}

impl std::fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("max_control_frame_len", &self.max_control_frame_len)
            .finish_non_exhaustive()
    }
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder with the default limits.
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_MAX_CONTROL_FRAME_LEN, DEFAULT_MAX_HEADER_BLOCK_LEN)
    }

    /// A decoder that rejects control frames longer than `max_control_frame_len` bytes and
    /// header blocks that decompress to more than `max_header_block_len` bytes.
    pub fn with_limits(max_control_frame_len: usize, max_header_block_len: usize) -> Self {
        Self {
            inflater: HeaderDecompressor::new(max_header_block_len),
            state: State::Header,
            max_control_frame_len,
        }
    }

    /// Takes the next frame from the front of `buf`.
    ///
    /// `Ok(None)` means more bytes are needed; whatever was consumed so far is remembered.
    /// A DATA frame may come out in several pieces as its payload arrives. After an error
    /// every further call returns the same error: the connection must be ended.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if let State::Failed(error) = &self.state {
            return Err(error.clone());
        }
        let result = self.step(buf);
        if let Err(error) = &result {
            self.state = State::Failed(error.clone());
        }
        result
    }

    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        loop {
            match &mut self.state {
                State::Failed(error) => return Err(error.clone()),
                State::Skip { remaining } => {
                    let n = (*remaining).min(buf.len());
                    buf.advance(n);
                    *remaining -= n;
                    if *remaining > 0 {
                        return Ok(None);
                    }
                    self.state = State::Header;
                }
                State::Data {
                    stream_id,
                    fin,
                    remaining,
                } => {
                    let n = (*remaining).min(buf.len());
                    if n == 0 {
                        return Ok(None);
                    }
                    *remaining -= n;
                    let last = *remaining == 0;
                    let frame = Frame::Data {
                        stream_id: *stream_id,
                        fin: *fin && last,
                        data: buf.split_to(n).freeze(),
                    };
                    if last {
                        self.state = State::Header;
                    }
                    return Ok(Some(frame));
                }
                State::Header => {
                    let Some(head) = buf.first_chunk::<8>() else {
                        return Ok(None);
                    };
                    let word = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
                    let flags = head[4];
                    let len = usize::from(head[5]) << 16
                        | usize::from(head[6]) << 8
                        | usize::from(head[7]);
                    if word & CONTROL_BIT == 0 {
                        let stream_id = word & MAX_STREAM_ID;
                        if stream_id == 0 {
                            return Err(FrameError::ZeroStreamId { kind: "DATA" });
                        }
                        buf.advance(8);
                        let fin = flags & FLAG_FIN != 0;
                        if len == 0 {
                            return Ok(Some(Frame::Data {
                                stream_id,
                                fin,
                                data: Bytes::new(),
                            }));
                        }
                        self.state = State::Data {
                            stream_id,
                            fin,
                            remaining: len,
                        };
                        continue;
                    }
                    let version = u16::try_from(word >> 16 & 0x7fff).unwrap_or(u16::MAX);
                    let kind = u16::try_from(word & 0xffff).unwrap_or(u16::MAX);
                    if version != VERSION {
                        return Err(FrameError::UnsupportedVersion(version));
                    }
                    let Some(kind) = Kind::from_wire(kind) else {
                        // SPDY/3: a receiver ignores control frames of unknown types.
                        buf.advance(8);
                        self.state = State::Skip { remaining: len };
                        continue;
                    };
                    if len > self.max_control_frame_len {
                        return Err(FrameError::TooLarge {
                            kind: kind.name(),
                            len,
                            limit: self.max_control_frame_len,
                        });
                    }
                    if buf.len() < 8 + len {
                        buf.reserve(8 + len - buf.len());
                        return Ok(None);
                    }
                    buf.advance(8);
                    let payload = buf.split_to(len).freeze();
                    return self.control(kind, flags, payload).map(Some);
                }
            }
        }
    }

    fn control(&mut self, kind: Kind, flags: u8, mut payload: Bytes) -> Result<Frame, FrameError> {
        let name = kind.name();
        let len = payload.len();
        let invalid_length = FrameError::InvalidLength { kind: name, len };
        let fin = flags & FLAG_FIN != 0;
        let frame = match kind {
            Kind::SynStream => {
                if len < 10 {
                    return Err(invalid_length);
                }
                let stream_id = read_u32(&mut payload) & MAX_STREAM_ID;
                let associated_stream_id = read_u32(&mut payload) & MAX_STREAM_ID;
                let priority = payload.get_u8() >> 5;
                let slot = payload.get_u8();
                let headers = self.headers(&payload)?;
                Frame::SynStream(SynStream {
                    stream_id: nonzero(stream_id, name)?,
                    associated_stream_id,
                    priority,
                    slot,
                    fin,
                    unidirectional: flags & FLAG_UNIDIRECTIONAL != 0,
                    headers,
                })
            }
            Kind::SynReply | Kind::Headers => {
                if len < 4 {
                    return Err(invalid_length);
                }
                let stream_id = nonzero(read_u32(&mut payload) & MAX_STREAM_ID, name)?;
                let headers = self.headers(&payload)?;
                if kind == Kind::SynReply {
                    Frame::SynReply {
                        stream_id,
                        fin,
                        headers,
                    }
                } else {
                    Frame::Headers {
                        stream_id,
                        fin,
                        headers,
                    }
                }
            }
            Kind::RstStream => {
                if len != 8 {
                    return Err(invalid_length);
                }
                let stream_id = nonzero(read_u32(&mut payload) & MAX_STREAM_ID, name)?;
                Frame::RstStream {
                    stream_id,
                    status: RstStatus(read_u32(&mut payload)),
                }
            }
            Kind::Settings => {
                if len < 4 {
                    return Err(invalid_length);
                }
                let count = usize::try_from(read_u32(&mut payload)).unwrap_or(usize::MAX);
                if count.checked_mul(8) != Some(payload.len()) {
                    return Err(invalid_length);
                }
                let entries = (0..count)
                    .map(|_| {
                        let flags_and_id = read_u32(&mut payload);
                        Setting {
                            flags: u8::try_from(flags_and_id >> 24).unwrap_or(0),
                            id: flags_and_id & 0xff_ffff,
                            value: read_u32(&mut payload),
                        }
                    })
                    .collect();
                Frame::Settings {
                    clear_previous: flags & FLAG_CLEAR_SETTINGS != 0,
                    entries,
                }
            }
            Kind::Ping => {
                if len != 4 {
                    return Err(invalid_length);
                }
                Frame::Ping {
                    id: read_u32(&mut payload),
                }
            }
            Kind::GoAway => {
                if len != 8 {
                    return Err(invalid_length);
                }
                Frame::GoAway {
                    last_good_stream_id: read_u32(&mut payload) & MAX_STREAM_ID,
                    status: GoAwayStatus(read_u32(&mut payload)),
                }
            }
            Kind::WindowUpdate => {
                if len != 8 {
                    return Err(invalid_length);
                }
                Frame::WindowUpdate {
                    stream_id: read_u32(&mut payload) & MAX_STREAM_ID,
                    delta: read_u32(&mut payload) & MAX_STREAM_ID,
                }
            }
        };
        Ok(frame)
    }

    fn headers(&mut self, block: &[u8]) -> Result<Headers, FrameError> {
        header_block::parse(&self.inflater.decompress(block)?)
    }
}

fn nonzero(stream_id: u32, kind: &'static str) -> Result<u32, FrameError> {
    if stream_id == 0 {
        return Err(FrameError::ZeroStreamId { kind });
    }
    Ok(stream_id)
}
