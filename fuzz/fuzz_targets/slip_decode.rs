//! Fuzz target: the SLIP decoder of the ESP ROM link fed arbitrary bytes in arbitrary splits
#![no_main]

use libfuzzer_sys::fuzz_target;
use otadeck_core::link::slip::{encode, SlipDecoder, SlipItem};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the split size, the second a small frame limit (so that `TooLong`
    // is reached as well as whole frames).
    let split = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let max_len = usize::from(data.get(1).copied().unwrap_or(0)) * 4 + 1;
    let mut d = SlipDecoder::new(max_len);
    for part in data.chunks(split) {
        for item in d.feed(part) {
            if let SlipItem::Frame(f) = item {
                assert!(!f.is_empty() && f.len() <= max_len);
                // A frame that decoded re-encodes to a frame that decodes to itself.
                let mut again = SlipDecoder::new(max_len);
                assert_eq!(again.feed(&encode(&f)), vec![SlipItem::Frame(f)]);
            }
        }
    }
});
