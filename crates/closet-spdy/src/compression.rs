//! The per-direction zlib streams that compress header blocks.
//!
//! SPDY/3 compresses every header block of one direction with a single zlib stream that
//! lives as long as the connection, primed with the SPDY dictionary and flushed with
//! SYNC_FLUSH after each block. A block therefore only decompresses in order and with the
//! state the previous one left, which is why each connection has exactly one
//! [`HeaderCompressor`] and one [`HeaderDecompressor`] (inside its frame encoder and
//! decoder).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::dictionary::{DICTIONARY, DICTIONARY_ID};
use crate::frame::FrameError;

/// The sending direction's zlib stream.
pub(crate) struct HeaderCompressor {
    zlib: Compress,
}

impl HeaderCompressor {
    pub(crate) fn new() -> Result<Self, FrameError> {
        let mut zlib = Compress::new(Compression::default(), true);
        zlib.set_dictionary(&DICTIONARY)
            .map_err(|e| FrameError::Compress(e.to_string()))?;
        Ok(Self { zlib })
    }

    /// Compresses one serialized block and ends it with a SYNC_FLUSH, so the peer can
    /// decompress it completely without waiting for later blocks.
    pub(crate) fn compress(&mut self, raw: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        let start_in = self.zlib.total_in();
        loop {
            let consumed = usize::try_from(self.zlib.total_in() - start_in).unwrap_or(raw.len());
            let before = (self.zlib.total_in(), self.zlib.total_out());
            out.reserve(raw.len() - consumed + 64);
            self.zlib
                .compress_vec(&raw[consumed..], out, FlushCompress::Sync)
                .map_err(|e| FrameError::Compress(e.to_string()))?;
            let all_in = self.zlib.total_in() - start_in == raw.len() as u64;
            // zlib has finished the flush once it stops filling the output space it was given.
            if all_in && out.len() < out.capacity() {
                return Ok(());
            }
            if (self.zlib.total_in(), self.zlib.total_out()) == before {
                return Err(FrameError::Compress("zlib made no progress".to_owned()));
            }
        }
    }
}

/// The receiving direction's zlib stream.
pub(crate) struct HeaderDecompressor {
    zlib: Decompress,
    max_len: usize,
}

impl HeaderDecompressor {
    /// `max_len` bounds the uncompressed size of one block, so a small hostile block cannot
    /// inflate into unbounded memory.
    pub(crate) fn new(max_len: usize) -> Self {
        Self {
            zlib: Decompress::new(true),
            max_len,
        }
    }

    /// Decompresses one whole block (the compressed bytes of one frame).
    pub(crate) fn decompress(&mut self, input: &[u8]) -> Result<Vec<u8>, FrameError> {
        let start_in = self.zlib.total_in();
        let mut out = Vec::new();
        loop {
            let consumed = usize::try_from(self.zlib.total_in() - start_in).unwrap_or(input.len());
            let before = (self.zlib.total_in(), self.zlib.total_out());
            // Room for one byte past the limit tells "exactly at the limit" from "over it".
            let room = (self.max_len + 1 - out.len()).min(16 * 1024);
            out.reserve(room);
            let result = self.zlib.decompress_vec(
                &input[consumed.min(input.len())..],
                &mut out,
                FlushDecompress::Sync,
            );
            match result {
                Ok(Status::StreamEnd) => {
                    return Err(FrameError::Decompress(
                        "peer ended its zlib stream".to_owned(),
                    ));
                }
                Ok(Status::Ok | Status::BufError) => {}
                Err(e) => match e.needs_dictionary() {
                    Some(DICTIONARY_ID) => {
                        self.zlib
                            .set_dictionary(&DICTIONARY)
                            .map_err(|e| FrameError::Decompress(e.to_string()))?;
                        continue;
                    }
                    Some(other) => {
                        return Err(FrameError::Decompress(format!(
                            "stream wants unknown dictionary {other:#010x}"
                        )));
                    }
                    None => return Err(FrameError::Decompress(e.to_string())),
                },
            }
            if out.len() > self.max_len {
                return Err(FrameError::HeaderBlockTooLarge {
                    limit: self.max_len,
                });
            }
            let all_in = self.zlib.total_in() - start_in == input.len() as u64;
            if all_in && out.len() < out.capacity() {
                return Ok(out);
            }
            if (self.zlib.total_in(), self.zlib.total_out()) == before {
                return Err(FrameError::Decompress(
                    "block ends inside a zlib symbol".to_owned(),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::header_block::{Headers, parse, serialize};

    /// A block compressed by C zlib (Python's `zlib.compressobj(9, zdict=dictionary)` with
    /// Z_SYNC_FLUSH), the same way Go's SPDY framer writes it: checks the dictionary and the
    /// stream format against an independent implementation.
    #[test]
    fn decompresses_a_block_from_c_zlib() {
        let first = hex("78f9e3c6a7c202a62346703a2b294a4dcc851625aca9a08006000000ffff");
        let second = hex("c22a054ccc29f9a52500000000ffff");
        let mut inflater = HeaderDecompressor::new(1024);
        let headers = parse(&inflater.decompress(&first).unwrap()).unwrap();
        assert_eq!(headers.get("streamtype"), Some("error"));
        let headers = parse(&inflater.decompress(&second).unwrap()).unwrap();
        assert_eq!(headers.get("streamtype"), Some("stdout"));
    }

    #[test]
    fn blocks_share_one_stream_per_direction() {
        let mut deflater = HeaderCompressor::new().unwrap();
        let mut inflater = HeaderDecompressor::new(1 << 16);
        for i in 0..20 {
            let headers = Headers::new()
                .with("streamtype", "stdin")
                .with("requestid", &i.to_string());
            let mut block = Vec::new();
            deflater.compress(&serialize(&headers), &mut block).unwrap();
            assert!(block.ends_with(&[0, 0, 0xff, 0xff]), "sync flush marker");
            assert_eq!(
                parse(&inflater.decompress(&block).unwrap()).unwrap(),
                headers
            );
        }
    }

    #[test]
    fn decompression_is_bounded() {
        let mut deflater = HeaderCompressor::new().unwrap();
        let big = Headers::new().with("x", &"a".repeat(10_000));
        let mut block = Vec::new();
        deflater.compress(&serialize(&big), &mut block).unwrap();
        assert!(block.len() < 200, "repetitive values compress well");
        let mut inflater = HeaderDecompressor::new(1000);
        assert_eq!(
            inflater.decompress(&block),
            Err(FrameError::HeaderBlockTooLarge { limit: 1000 })
        );
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }
}
