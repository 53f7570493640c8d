//! Frame encoding.

use bytes::{BufMut, BytesMut};

use super::{
    CONTROL_BIT, FLAG_CLEAR_SETTINGS, FLAG_FIN, FLAG_UNIDIRECTIONAL, Frame, FrameError, Kind,
    MAX_DATA_LEN, MAX_ENCODED_HEADER_BLOCK_LEN, MAX_STREAM_ID, VERSION,
};
use crate::compression::HeaderCompressor;
use crate::header_block::{self, Headers};

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
