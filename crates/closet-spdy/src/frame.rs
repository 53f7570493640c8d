//! SPDY/3.1 frames and their wire encoding.
//!
//! [`FrameDecoder`] turns a growing byte buffer into [`Frame`]s: it answers "need more bytes",
//! a frame, or a protocol error, and never panics on any input. Control frames are bounded by
//! a maximum length so a hostile length field cannot make it buffer megabytes per frame; DATA
//! payloads are handed out as they arrive instead of being buffered whole, so the 16 MiB a
//! DATA length field allows never sits in memory at once. [`FrameEncoder`] writes frames.
//! Both own one direction's header-compression stream ([`crate::header_block`]), so a
//! connection uses exactly one of each.

use bytes::{Buf, Bytes};

use crate::header_block::Headers;

mod codes;
mod decode;
mod encode;
#[cfg(test)]
mod tests;

pub use codes::{GoAwayStatus, RstStatus};
pub use decode::FrameDecoder;
pub use encode::FrameEncoder;

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

/// Reads a big-endian u32 from the front of a payload the caller has length-checked.
fn read_u32(payload: &mut Bytes) -> u32 {
    if payload.remaining() < 4 {
        return 0;
    }
    payload.get_u32()
}
