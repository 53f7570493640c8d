//! SPDY/3.1 frames and their wire encoding.
//!
//! [`FrameDecoder`] turns a growing byte buffer into [`Frame`]s: it answers "need more bytes",
//! a frame, or a protocol error, and never panics on any input. Control frames are bounded by
//! a maximum length so a hostile length field cannot make it buffer megabytes per frame; DATA
//! payloads are handed out as they arrive instead of being buffered whole, so the 16 MiB a
//! DATA length field allows never sits in memory at once. [`FrameEncoder`] writes frames.
//! Both own one direction's header-compression stream ([`crate::header_block`]), so a
//! connection uses exactly one of each.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::header_block::{self, HeaderCompressor, Headers};

mod codes;
mod decode;
#[cfg(test)]
mod tests;

pub use codes::{GoAwayStatus, RstStatus};
pub use decode::FrameDecoder;

/// The only protocol version spoken.
pub const VERSION: u16 = 3;
/// Largest payload a DATA frame's 24-bit length field can describe.
pub const MAX_DATA_LEN: usize = 0xff_ffff;
/// Largest stream id (31 bits).
pub const MAX_STREAM_ID: u32 = 0x7fff_ffff;
/// Default bound on one control frame's length, compressed header block included.
pub const DEFAULT_MAX_CONTROL_FRAME_LEN: usize = 256 * 1024;
/// Default bound on one header block once decompressed.
pub const DEFAULT_MAX_HEADER_BLOCK_LEN: usize = 256 * 1024;
/// Largest uncompressed header block the encoder writes. Kept well under the peer's default
/// limits so that even incompressible headers fit once zlib's framing is added.
pub const MAX_ENCODED_HEADER_BLOCK_LEN: usize = 128 * 1024;

const CONTROL_BIT: u32 = 0x8000_0000;
const FLAG_FIN: u8 = 0x01;
const FLAG_UNIDIRECTIONAL: u8 = 0x02;
const FLAG_CLEAR_SETTINGS: u8 = 0x01;

/// Control frame types this implementation knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
enum Kind {
    SynStream = 1,
    SynReply = 2,
    RstStream = 3,
    Settings = 4,
    Ping = 6,
    GoAway = 7,
    Headers = 8,
    WindowUpdate = 9,
}

impl Kind {
    fn from_wire(kind: u16) -> Option<Self> {
        Some(match kind {
            1 => Self::SynStream,
            2 => Self::SynReply,
            3 => Self::RstStream,
            4 => Self::Settings,
            6 => Self::Ping,
            7 => Self::GoAway,
            8 => Self::Headers,
            9 => Self::WindowUpdate,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::SynStream => "SYN_STREAM",
            Self::SynReply => "SYN_REPLY",
            Self::RstStream => "RST_STREAM",
            Self::Settings => "SETTINGS",
            Self::Ping => "PING",
            Self::GoAway => "GOAWAY",
            Self::Headers => "HEADERS",
            Self::WindowUpdate => "WINDOW_UPDATE",
        }
    }
}

/// One SPDY/3.1 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Opens a stream.
    SynStream(SynStream),
    /// Accepts a stream the peer opened.
    SynReply {
        /// The stream being accepted.
        stream_id: u32,
        /// The replying side sends nothing more on this stream.
        fin: bool,
        /// Reply headers (often empty).
        headers: Headers,
    },
    /// Aborts a stream.
    RstStream {
        /// The stream being aborted.
        stream_id: u32,
        /// Why.
        status: RstStatus,
    },
    /// Connection settings.
    Settings {
        /// FLAG_SETTINGS_CLEAR_SETTINGS.
        clear_previous: bool,
        /// The settings carried.
        entries: Vec<Setting>,
    },
    /// Liveness probe; the receiver echoes a peer-initiated id unchanged.
    Ping {
        /// Odd from clients, even from servers.
        id: u32,
    },
    /// The sender accepts no new streams.
    GoAway {
        /// Highest peer-initiated stream the sender handled.
        last_good_stream_id: u32,
        /// Why the connection ends.
        status: GoAwayStatus,
    },
    /// Extra headers on an open stream.
    Headers {
        /// The stream the headers belong to.
        stream_id: u32,
        /// The sender sends nothing more on this stream.
        fin: bool,
        /// The headers.
        headers: Headers,
    },
    /// Flow-control credit for a stream (or the connection, for stream 0).
    WindowUpdate {
        /// The stream credited, 0 for the whole connection.
        stream_id: u32,
        /// Bytes of credit (31 bits).
        delta: u32,
    },
    /// Stream payload. A decoded DATA frame may be one piece of a larger frame on the wire;
    /// only the last piece carries the frame's FIN.
    Data {
        /// The stream the bytes belong to.
        stream_id: u32,
        /// The sender sends nothing more on this stream.
        fin: bool,
        /// The payload.
        data: Bytes,
    },
}

/// A SYN_STREAM frame's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynStream {
    /// The new stream's id: odd from clients, even from servers.
    pub stream_id: u32,
    /// Stream this one is associated with (server push), usually 0.
    pub associated_stream_id: u32,
    /// 0 (highest) to 7.
    pub priority: u8,
    /// Credential slot, 0 when unused.
    pub slot: u8,
    /// The opener sends nothing more on this stream.
    pub fin: bool,
    /// The receiver may not send on this stream.
    pub unidirectional: bool,
    /// Request headers.
    pub headers: Headers,
}

/// One SETTINGS entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// FLAG_SETTINGS_PERSIST_VALUE / FLAG_SETTINGS_PERSISTED.
    pub flags: u8,
    /// Setting id (24 bits); 7 is SETTINGS_INITIAL_WINDOW_SIZE.
    pub id: u32,
    /// Its value.
    pub value: u32,
}

/// A frame that cannot be decoded or encoded.
///
/// A decoding error leaves the connection's header-compression state unknown, so the only
/// way on is to end the connection (GOAWAY with PROTOCOL_ERROR).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A control frame names a protocol version other than 3.
    #[error("control frame has unsupported spdy version {0}")]
    UnsupportedVersion(u16),
    /// A control frame is longer than the decoder's limit.
    #[error("{kind} frame of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Frame type.
        kind: &'static str,
        /// Declared length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A control frame's length does not fit its type.
    #[error("{kind} frame has invalid length {len}")]
    InvalidLength {
        /// Frame type.
        kind: &'static str,
        /// Declared length.
        len: usize,
    },
    /// A frame that must name a stream names stream 0.
    #[error("{kind} frame names stream 0")]
    ZeroStreamId {
        /// Frame type.
        kind: &'static str,
    },
    /// A decompressed header block does not parse.
    #[error("header block is malformed: {0}")]
    MalformedHeaderBlock(&'static str),
    /// A header block decompresses to more than the limit.
    #[error("header block decompresses to more than {limit} bytes")]
    HeaderBlockTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The peer's header zlib stream is corrupt.
    #[error("header block zlib stream is corrupt: {0}")]
    Decompress(String),
    /// Compressing a header block failed.
    #[error("header block could not be compressed: {0}")]
    Compress(String),
    /// A header block to encode is larger than [`MAX_ENCODED_HEADER_BLOCK_LEN`].
    #[error("header block of {0} bytes is too large to send")]
    HeaderBlockTooLargeToSend(usize),
    /// A stream id to encode does not fit in 31 bits.
    #[error("stream id {0} does not fit in 31 bits")]
    StreamIdOutOfRange(u32),
    /// A value to encode does not fit its field.
    #[error("{field} value {value} does not fit its field")]
    FieldOutOfRange {
        /// Which field.
        field: &'static str,
        /// The offending value.
        value: u64,
    },
}

/// Writes frames, compressing header blocks with this direction's zlib stream.
pub struct FrameEncoder {
    deflater: HeaderCompressor,
}

impl std::fmt::Debug for FrameEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameEncoder").finish_non_exhaustive()
    }
}

impl FrameEncoder {
    /// A new encoder, at the start of its header-compression stream.
    pub fn new() -> Result<Self, FrameError> {
        Ok(Self {
            deflater: HeaderCompressor::new()?,
        })
    }

    /// Appends `frame` to `dst`.
    ///
    /// Everything is validated before the header block is compressed, so a rejected frame
    /// leaves the compression stream untouched and the connection usable.
    pub fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        match frame {
            Frame::SynStream(syn) => {
                check_stream_id(syn.stream_id, false)?;
                check_stream_id(syn.associated_stream_id, true)?;
                if syn.priority > 7 {
                    return Err(out_of_range("priority", syn.priority.into()));
                }
                let flags = flag(syn.fin, FLAG_FIN) | flag(syn.unidirectional, FLAG_UNIDIRECTIONAL);
                let mut fixed = [0u8; 10];
                fixed[..4].copy_from_slice(&syn.stream_id.to_be_bytes());
                fixed[4..8].copy_from_slice(&syn.associated_stream_id.to_be_bytes());
                fixed[8] = syn.priority << 5;
                fixed[9] = syn.slot;
                self.encode_with_headers(Kind::SynStream, flags, &fixed, &syn.headers, dst)
            }
            Frame::SynReply {
                stream_id,
                fin,
                headers,
            } => {
                check_stream_id(*stream_id, false)?;
                let fixed = stream_id.to_be_bytes();
                self.encode_with_headers(Kind::SynReply, flag(*fin, FLAG_FIN), &fixed, headers, dst)
            }
            Frame::Headers {
                stream_id,
                fin,
                headers,
            } => {
                check_stream_id(*stream_id, false)?;
                let fixed = stream_id.to_be_bytes();
                self.encode_with_headers(Kind::Headers, flag(*fin, FLAG_FIN), &fixed, headers, dst)
            }
            Frame::RstStream { stream_id, status } => {
                check_stream_id(*stream_id, false)?;
                put_control_header(dst, Kind::RstStream, 0, 8);
                dst.put_u32(*stream_id);
                dst.put_u32(status.0);
                Ok(())
            }
            Frame::Settings {
                clear_previous,
                entries,
            } => {
                let len = entries
                    .len()
                    .checked_mul(8)
                    .and_then(|n| n.checked_add(4))
                    .filter(|n| *n <= MAX_DATA_LEN)
                    .ok_or(out_of_range("settings count", entries.len() as u64))?;
                if let Some(bad) = entries.iter().find(|e| e.id > 0xff_ffff) {
                    return Err(out_of_range("setting id", bad.id.into()));
                }
                put_control_header(
                    dst,
                    Kind::Settings,
                    flag(*clear_previous, FLAG_CLEAR_SETTINGS),
                    len,
                );
                dst.put_u32(u32::try_from(entries.len()).unwrap_or(u32::MAX));
                for entry in entries {
                    dst.put_u32(u32::from(entry.flags) << 24 | entry.id);
                    dst.put_u32(entry.value);
                }
                Ok(())
            }
            Frame::Ping { id } => {
                put_control_header(dst, Kind::Ping, 0, 4);
                dst.put_u32(*id);
                Ok(())
            }
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                check_stream_id(*last_good_stream_id, true)?;
                put_control_header(dst, Kind::GoAway, 0, 8);
                dst.put_u32(*last_good_stream_id);
                dst.put_u32(status.0);
                Ok(())
            }
            Frame::WindowUpdate { stream_id, delta } => {
                check_stream_id(*stream_id, true)?;
                if *delta > MAX_STREAM_ID {
                    return Err(out_of_range("window delta", (*delta).into()));
                }
                put_control_header(dst, Kind::WindowUpdate, 0, 8);
                dst.put_u32(*stream_id);
                dst.put_u32(*delta);
                Ok(())
            }
            Frame::Data {
                stream_id,
                fin,
                data,
            } => {
                check_stream_id(*stream_id, false)?;
                if data.len() > MAX_DATA_LEN {
                    return Err(out_of_range("data length", data.len() as u64));
                }
                dst.reserve(8 + data.len());
                dst.put_u32(*stream_id);
                dst.put_u32(u32::from(flag(*fin, FLAG_FIN)) << 24 | len_u32(data.len()));
                dst.put_slice(data);
                Ok(())
            }
        }
    }

    fn encode_with_headers(
        &mut self,
        kind: Kind,
        flags: u8,
        fixed: &[u8],
        headers: &Headers,
        dst: &mut BytesMut,
    ) -> Result<(), FrameError> {
        let raw_len = header_block::serialized_len(headers);
        if raw_len > MAX_ENCODED_HEADER_BLOCK_LEN {
            return Err(FrameError::HeaderBlockTooLargeToSend(raw_len));
        }
        let mut block = Vec::new();
        self.deflater
            .compress(&header_block::serialize(headers), &mut block)?;
        put_control_header(dst, kind, flags, fixed.len() + block.len());
        dst.put_slice(fixed);
        dst.put_slice(&block);
        Ok(())
    }
}

fn flag(set: bool, bit: u8) -> u8 {
    if set { bit } else { 0 }
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn out_of_range(field: &'static str, value: u64) -> FrameError {
    FrameError::FieldOutOfRange { field, value }
}

fn check_stream_id(id: u32, zero_allowed: bool) -> Result<(), FrameError> {
    if id > MAX_STREAM_ID || (id == 0 && !zero_allowed) {
        return Err(FrameError::StreamIdOutOfRange(id));
    }
    Ok(())
}

/// Callers keep `len` within 24 bits (header blocks are bounded well below it).
fn put_control_header(dst: &mut BytesMut, kind: Kind, flags: u8, len: usize) {
    dst.reserve(8 + len);
    dst.put_u32(CONTROL_BIT | u32::from(VERSION) << 16 | kind as u32);
    dst.put_u32(u32::from(flags) << 24 | (len_u32(len) & 0xff_ffff));
}

/// Reads a big-endian u32 from the front of a payload the caller has length-checked.
fn read_u32(payload: &mut Bytes) -> u32 {
    if payload.remaining() < 4 {
        return 0;
    }
    payload.get_u32()
}
