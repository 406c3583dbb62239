//! Properties of the SLIP codec and the loader's response parser: any payloads, any noise
//! between frames (boot messages), any splits of the stream give back the payloads; arbitrary
//! bytes never panic the parsers.

use otadeck_core::driver::esp_rom::packet::{Loader, Response};
use otadeck_core::link::slip::{encode, SlipDecoder, SlipItem};
use proptest::prelude::*;

proptest! {
    #[test]
    fn frames_survive_noise_and_splits(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 1..6),
        noise in prop::collection::vec(
            prop::collection::vec(any::<u8>().prop_filter("no delimiter", |b| *b != 0xC0), 0..40),
            6,
        ),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut wire = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            wire.extend_from_slice(&noise[i]);
            wire.extend(encode(p));
        }
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
        points.sort_unstable();
        let mut d = SlipDecoder::default();
        let mut got = Vec::new();
        let mut last = 0;
        for p in points.into_iter().chain([wire.len()]) {
            for item in d.feed(&wire[last..p]) {
                match item {
                    SlipItem::Frame(f) => got.push(f),
                    SlipItem::Error(e) => prop_assert!(false, "unexpected {e:?}"),
                }
            }
            last = p;
        }
        prop_assert_eq!(got, payloads);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut d = SlipDecoder::new(128);
        for item in d.feed(&data) {
            if let SlipItem::Frame(f) = item {
                let _ = Response::parse(&f, Loader::Rom);
                let _ = Response::parse(&f, Loader::Stub);
            }
        }
        let _ = Response::parse(&data, Loader::Rom);
    }
}
