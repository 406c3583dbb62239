//! Property tests of the SMP serial framing and packets: any packet, framed with any line width,
//! decodes back from any split of the byte stream, with console noise around it.

use otadeck_core::link::smp::{Op, Packet, Value};
use otadeck_core::link::smp_frame::{encode_lines, Frame, FrameDecoder};
use proptest::prelude::*;

proptest! {
    #[test]
    fn frames_decode_from_any_split(
        packet in proptest::collection::vec(any::<u8>(), 0..2000),
        width in 4usize..400,
        split in 1usize..300,
        noise in "[a-z :$*\r\n]{0,40}",
    ) {
        let mut wire = noise.as_bytes().to_vec();
        wire.extend(encode_lines(&packet, width));
        wire.extend_from_slice(noise.as_bytes());
        let mut d = FrameDecoder::new();
        let mut got = Vec::new();
        for part in wire.chunks(split) {
            got.extend(d.push(part));
        }
        prop_assert_eq!(got, vec![Frame::Packet(packet)]);
    }

    #[test]
    fn packets_round_trip(
        seq in any::<u8>(),
        group in any::<u16>(),
        id in any::<u8>(),
        version in 0u8..2,
        data in proptest::collection::vec(any::<u8>(), 0..600),
        off in any::<u32>(),
        text in "\\PC{0,20}",
    ) {
        let body = Value::map([
            ("data", Value::Bytes(data)),
            ("off", Value::Int(off.into())),
            ("neg", Value::Int(-i128::from(off) - 1)),
            ("t", Value::Text(text)),
            ("b", Value::Bool(off % 2 == 0)),
            ("a", Value::Array(vec![Value::Null, Value::Int(1)])),
        ]);
        let p = Packet::new(Op::Write, version, group, id, seq, body.clone());
        let back = Packet::decode(&p.encode()).unwrap();
        prop_assert_eq!(back.body, body);
        prop_assert_eq!(back.header.seq, seq);
        prop_assert_eq!(back.header.group, group);
        prop_assert_eq!(back.header.version, version);
    }
}
