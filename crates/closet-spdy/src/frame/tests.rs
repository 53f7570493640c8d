#![allow(clippy::unwrap_used)]

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;

use super::*;

fn encode_all(frames: &[Frame]) -> BytesMut {
    let mut encoder = FrameEncoder::new().unwrap();
    let mut buf = BytesMut::new();
    for frame in frames {
        encoder.encode(frame, &mut buf).unwrap();
    }
    buf
}

/// Decodes `bytes` fed in pieces of the given sizes (cycled), until the input is used up.
fn decode_chunked(bytes: &[u8], chunks: &[usize]) -> Result<Vec<Frame>, FrameError> {
    let mut decoder = FrameDecoder::new();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut offset = 0;
    let mut sizes = chunks.iter().copied().cycle();
    loop {
        while let Some(frame) = decoder.decode(&mut buf)? {
            frames.push(frame);
        }
        if offset == bytes.len() {
            return Ok(frames);
        }
        let size = sizes.next().unwrap_or(usize::MAX).max(1);
        let end = bytes.len().min(offset.saturating_add(size));
        buf.put_slice(&bytes[offset..end]);
        offset = end;
    }
}

/// Merges consecutive DATA pieces of one stream, so whole and piecewise decodes compare.
fn merge_data(frames: Vec<Frame>) -> Vec<Frame> {
    let mut merged: Vec<Frame> = Vec::new();
    for frame in frames {
        if let Frame::Data {
            stream_id,
            fin,
            data,
        } = &frame
            && let Some(Frame::Data {
                stream_id: prev_id,
                fin: prev_fin,
                data: prev,
            }) = merged.last_mut()
            && !*prev_fin
            && prev_id == stream_id
        {
            let mut joined = BytesMut::from(&prev[..]);
            joined.put_slice(data);
            *prev = joined.freeze();
            *prev_fin = *fin;
            continue;
        }
        merged.push(frame);
    }
    merged
}

#[test]
fn data_frame_layout() {
    let frame = Frame::Data {
        stream_id: 5,
        fin: true,
        data: Bytes::from_static(b"hi"),
    };
    assert_eq!(
        &encode_all(&[frame])[..],
        &[0, 0, 0, 5, 1, 0, 0, 2, b'h', b'i']
    );
}

#[test]
fn fixed_control_frame_layouts() {
    let frames = [
        Frame::RstStream {
            stream_id: 3,
            status: RstStatus::CANCEL,
        },
        Frame::Ping { id: 7 },
        Frame::GoAway {
            last_good_stream_id: 1,
            status: GoAwayStatus::OK,
        },
        Frame::WindowUpdate {
            stream_id: 1,
            delta: 0x1_0000,
        },
    ];
    let bytes = encode_all(&frames);
    assert_eq!(
        &bytes[..16],
        &[0x80, 3, 0, 3, 0, 0, 0, 8, 0, 0, 0, 3, 0, 0, 0, 5]
    );
    assert_eq!(&bytes[16..28], &[0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 7]);
    assert_eq!(
        &bytes[28..44],
        &[0x80, 3, 0, 7, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0]
    );
    assert_eq!(
        &bytes[44..],
        &[0x80, 3, 0, 9, 0, 0, 0, 8, 0, 0, 0, 1, 0, 1, 0, 0]
    );
}

#[test]
fn syn_stream_layout_and_round_trip() {
    let syn = Frame::SynStream(SynStream {
        stream_id: 1,
        associated_stream_id: 0,
        priority: 7,
        slot: 0,
        fin: false,
        unidirectional: false,
        headers: Headers::new().with("streamtype", "error"),
    });
    let bytes = encode_all(std::slice::from_ref(&syn));
    assert_eq!(&bytes[..4], &[0x80, 3, 0, 1]);
    assert_eq!(bytes[4], 0, "no flags");
    assert_eq!(&bytes[8..18], &[0, 0, 0, 1, 0, 0, 0, 0, 0xe0, 0]);
    // zlib header announcing the SPDY dictionary by its Adler-32 id.
    assert_eq!(bytes[18] & 0x0f, 8);
    assert_ne!(bytes[19] & 0x20, 0, "FDICT set");
    assert_eq!(&bytes[20..24], &0xe3c6_a7c2_u32.to_be_bytes());
    assert_eq!(decode_chunked(&bytes, &[usize::MAX]).unwrap(), vec![syn]);
}

#[test]
fn data_payload_is_handed_out_as_it_arrives() {
    let mut decoder = FrameDecoder::new();
    let mut buf = BytesMut::from(&[0u8, 0, 0, 1, 1, 0, 0, 5, b'a', b'b'][..]);
    assert_eq!(
        decoder.decode(&mut buf).unwrap(),
        Some(Frame::Data {
            stream_id: 1,
            fin: false,
            data: Bytes::from_static(b"ab")
        })
    );
    assert_eq!(decoder.decode(&mut buf).unwrap(), None);
    buf.put_slice(b"cde");
    assert_eq!(
        decoder.decode(&mut buf).unwrap(),
        Some(Frame::Data {
            stream_id: 1,
            fin: true,
            data: Bytes::from_static(b"cde")
        })
    );
}

#[test]
fn hostile_control_length_is_rejected_before_buffering() {
    let mut decoder = FrameDecoder::new();
    let mut buf = BytesMut::from(&[0x80u8, 3, 0, 1, 0, 0xff, 0xff, 0xff][..]);
    assert!(matches!(
        decoder.decode(&mut buf),
        Err(FrameError::TooLarge { .. })
    ));
    assert!(buf.capacity() < 1024);
    // The decoder stays failed: the header zlib state can no longer be trusted.
    assert!(decoder.decode(&mut BytesMut::new()).is_err());
}

#[test]
fn unknown_control_frames_are_skipped() {
    let mut bytes = BytesMut::from(&[0x80u8, 3, 0, 10, 0, 0, 0, 3, 1, 2, 3][..]);
    bytes.put_slice(&encode_all(&[Frame::Ping { id: 2 }]));
    assert_eq!(
        decode_chunked(&bytes, &[1]).unwrap(),
        vec![Frame::Ping { id: 2 }]
    );
}

#[test]
fn other_versions_and_bad_lengths_are_errors() {
    let mut decoder = FrameDecoder::new();
    let mut buf = BytesMut::from(&[0x80u8, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1][..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Err(FrameError::UnsupportedVersion(2))
    );
    let mut decoder = FrameDecoder::new();
    let mut buf = BytesMut::from(&[0x80u8, 3, 0, 6, 0, 0, 0, 5, 0, 0, 0, 1, 0][..]);
    assert!(matches!(
        decoder.decode(&mut buf),
        Err(FrameError::InvalidLength { .. })
    ));
    let mut decoder = FrameDecoder::new();
    let mut buf = BytesMut::from(&[0u8, 0, 0, 0, 0, 0, 0, 0][..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Err(FrameError::ZeroStreamId { kind: "DATA" })
    );
}

#[test]
fn encoder_rejects_out_of_range_fields_without_touching_zlib() {
    let mut encoder = FrameEncoder::new().unwrap();
    let mut buf = BytesMut::new();
    let huge = Headers::new().with("x", &"y".repeat(MAX_ENCODED_HEADER_BLOCK_LEN));
    let reply = |headers| Frame::SynReply {
        stream_id: 1,
        fin: false,
        headers,
    };
    assert!(encoder.encode(&reply(huge), &mut buf).is_err());
    assert!(
        encoder
            .encode(&Frame::Ping { id: 1 }.clone(), &mut buf)
            .is_ok()
    );
    let bad_id = Frame::Data {
        stream_id: 1 << 31,
        fin: false,
        data: Bytes::new(),
    };
    assert!(encoder.encode(&bad_id, &mut buf).is_err());
    let small = reply(Headers::new().with("a", "b"));
    encoder.encode(&small, &mut buf).unwrap();
    assert_eq!(
        decode_chunked(&buf, &[usize::MAX]).unwrap(),
        vec![Frame::Ping { id: 1 }, small]
    );
}

fn arb_headers() -> impl Strategy<Value = Headers> {
    prop::collection::vec(("[a-z][a-z0-9-]{0,12}", "[ -~]{0,40}"), 0..6).prop_map(|pairs| {
        let mut headers = Headers::new();
        for (name, value) in pairs {
            headers.append(&name, &value);
        }
        headers
    })
}

fn arb_stream_id() -> impl Strategy<Value = u32> {
    1..=MAX_STREAM_ID
}

fn arb_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (
            arb_stream_id(),
            0..=MAX_STREAM_ID,
            0u8..8,
            any::<u8>(),
            any::<bool>(),
            any::<bool>(),
            arb_headers()
        )
            .prop_map(
                |(
                    stream_id,
                    associated_stream_id,
                    priority,
                    slot,
                    fin,
                    unidirectional,
                    headers,
                )| {
                    Frame::SynStream(SynStream {
                        stream_id,
                        associated_stream_id,
                        priority,
                        slot,
                        fin,
                        unidirectional,
                        headers,
                    })
                }
            ),
        (arb_stream_id(), any::<bool>(), arb_headers()).prop_map(|(stream_id, fin, headers)| {
            Frame::SynReply {
                stream_id,
                fin,
                headers,
            }
        }),
        (arb_stream_id(), any::<bool>(), arb_headers()).prop_map(|(stream_id, fin, headers)| {
            Frame::Headers {
                stream_id,
                fin,
                headers,
            }
        }),
        (arb_stream_id(), any::<u32>()).prop_map(|(stream_id, s)| Frame::RstStream {
            stream_id,
            status: RstStatus(s)
        }),
        (
            any::<bool>(),
            prop::collection::vec((any::<u8>(), 0u32..=0xff_ffff, any::<u32>()), 0..5)
        )
            .prop_map(|(clear_previous, entries)| Frame::Settings {
                clear_previous,
                entries: entries
                    .into_iter()
                    .map(|(flags, id, value)| Setting { flags, id, value })
                    .collect(),
            }),
        any::<u32>().prop_map(|id| Frame::Ping { id }),
        (0..=MAX_STREAM_ID, any::<u32>()).prop_map(|(last_good_stream_id, s)| Frame::GoAway {
            last_good_stream_id,
            status: GoAwayStatus(s),
        }),
        (0..=MAX_STREAM_ID, 0..=MAX_STREAM_ID)
            .prop_map(|(stream_id, delta)| Frame::WindowUpdate { stream_id, delta }),
        (
            arb_stream_id(),
            any::<bool>(),
            prop::collection::vec(any::<u8>(), 0..300)
        )
            .prop_map(|(stream_id, fin, data)| Frame::Data {
                stream_id,
                fin,
                data: data.into()
            }),
    ]
}

proptest! {
    #[test]
    fn frames_round_trip(frames in prop::collection::vec(arb_frame(), 0..12)) {
        let bytes = encode_all(&frames);
        prop_assert_eq!(decode_chunked(&bytes, &[usize::MAX]).unwrap(), frames);
    }

    #[test]
    fn frames_round_trip_in_any_pieces(
        frames in prop::collection::vec(arb_frame(), 0..12),
        chunks in prop::collection::vec(1usize..64, 1..8),
    ) {
        let bytes = encode_all(&frames);
        let decoded = decode_chunked(&bytes, &chunks).unwrap();
        prop_assert_eq!(merge_data(decoded), merge_data(frames));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        chunks in prop::collection::vec(1usize..128, 1..4),
    ) {
        let _ = decode_chunked(&bytes, &chunks);
    }

    #[test]
    fn garbage_header_blocks_never_panic(
        kind in prop_oneof![Just(1u8), Just(2u8), Just(8u8)],
        prefix_valid in any::<bool>(),
        garbage in prop::collection::vec(any::<u8>(), 4..400),
    ) {
        // Either a valid block first (so the inflater is primed) or straight garbage.
        let mut bytes = if prefix_valid {
            encode_all(&[Frame::SynReply { stream_id: 1, fin: false, headers: Headers::new().with("a", "b") }])
        } else {
            BytesMut::new()
        };
        let len = u32::try_from(garbage.len()).unwrap();
        bytes.put_slice(&[0x80, 3, 0, kind]);
        bytes.put_u32(len);
        bytes.put_slice(&garbage);
        let _ = decode_chunked(&bytes, &[usize::MAX]);
    }

    #[test]
    fn mutated_streams_never_panic(
        frames in prop::collection::vec(arb_frame(), 1..6),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encode_all(&frames).to_vec();
        for (index, value) in flips {
            let i = index.index(bytes.len());
            bytes[i] ^= value;
        }
        let _ = decode_chunked(&bytes, &[7]);
    }
}
