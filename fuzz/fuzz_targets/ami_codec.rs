//! The AMI decoder (`asterisk::ami::AmiCodec`) on arbitrary bytes fed in arbitrary chunkings, as
//! `FramedRead` feeds it: it never panics, buffers at most one message's limit, and the frames
//! (and whether the stream ends in an error) do not depend on how the bytes were split.
//!
//! Input: byte 0 chooses the mode (banner or not, default or a small message limit), byte 1
//! seeds the chunk sizes, the rest is the stream.
#![no_main]

use bytes::BytesMut;
use centralita::asterisk::ami::{AmiCodec, AmiFrame};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

#[derive(Debug, PartialEq)]
enum Outcome {
    Frame(AmiFrame),
    TooLarge,
}

fn codec(banner: bool, limit: usize) -> AmiCodec {
    let c = AmiCodec::with_max_message(limit);
    if banner {
        c
    } else {
        c.without_banner()
    }
}

/// Decodes `input` split into `chunks` (sizes, cycled) the way `FramedRead` drives a decoder.
fn decode(input: &[u8], chunks: &[usize], banner: bool, limit: usize) -> Vec<Outcome> {
    let mut codec = codec(banner, limit);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut rest = input;
    let mut sizes = chunks.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().expect("cycled")).clamp(1, rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => out.push(Outcome::Frame(frame)),
                Ok(None) => break,
                Err(_) => {
                    out.push(Outcome::TooLarge);
                    return out;
                }
            }
        }
        // What stays buffered is one unfinished line, within the message limit.
        assert!(
            buf.len() <= limit,
            "{} bytes buffered, limit {limit}",
            buf.len()
        );
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(frame)) => out.push(Outcome::Frame(frame)),
            Ok(None) => break,
            Err(_) => {
                out.push(Outcome::TooLarge);
                break;
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [mode, seed, input @ ..] = data else {
        return;
    };
    let banner = mode & 1 == 1;
    let limit = if mode & 2 == 2 {
        centralita::asterisk::ami::codec::DEFAULT_MAX_MESSAGE
    } else {
        // Small limits reach the too-large paths with small inputs.
        16 + usize::from(mode >> 2) * 4
    };
    let whole = decode(input, &[input.len().max(1)], banner, limit);
    // Chunk sizes 1..=16 from a small generator seeded by `seed` (seed 0: byte by byte).
    let mut x = u32::from(*seed) | 0x100;
    let chunks: Vec<usize> = if *seed == 0 {
        vec![1]
    } else {
        (0..16)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x % 16) as usize + 1
            })
            .collect()
    };
    let split = decode(input, &chunks, banner, limit);
    assert_eq!(whole, split, "chunks {chunks:?}");
});
