//! Fuzz target: the SMP serial frame decoder fed arbitrary bytes in arbitrary splits
#![no_main]

use libfuzzer_sys::fuzz_target;
use otadeck_core::link::smp_frame::{encode, Frame, FrameDecoder};

fuzz_target!(|data: &[u8]| {
    let mut d = FrameDecoder::new();
    let split = usize::from(data.first().copied().unwrap_or(1)).max(1);
    for part in data.chunks(split) {
        for f in d.push(part) {
            if let Frame::Packet(p) = f {
                // A packet that decoded re-encodes to a frame that decodes to itself.
                let mut again = FrameDecoder::new();
                assert_eq!(again.push(&encode(&p)), vec![Frame::Packet(p)]);
            }
        }
    }
});
