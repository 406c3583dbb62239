//! Digests: chunked equals one-shot for any split, known vectors, hex parsing, verification.

use otadeck_core::digest::{
    parse_hex, sha256, to_hex, Algorithm, ExpectedDigest, HexError, MultiDigest, StreamingSha256,
    Verdict,
};
use proptest::prelude::*;
use sha1::Digest as _;

/// A bitwise CRC-32 (IEEE, reflected, as zlib), independent of the `crc` crate.
fn crc32_reference(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn feed_split(data: &[u8], cuts: &[usize]) -> MultiDigest {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    cuts.sort_unstable();
    let mut d = MultiDigest::new();
    let mut at = 0;
    for c in cuts {
        d.update(&data[at..c]);
        at = c;
    }
    d.update(&data[at..]);
    d
}

proptest! {
    #[test]
    fn chunked_equals_one_shot(data in proptest::collection::vec(any::<u8>(), 0..3000),
                               cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
        let chunked = feed_split(&data, &cuts).finish();
        let whole = MultiDigest::of(&data);
        prop_assert_eq!(&chunked, &whole);
        prop_assert_eq!(chunked.len, data.len() as u64);
        prop_assert_eq!(chunked.sha256.unwrap(), sha256(&data));
        prop_assert_eq!(chunked.sha1.unwrap().to_vec(), sha1::Sha1::digest(&data).to_vec());
        prop_assert_eq!(chunked.md5.unwrap().to_vec(), md5::Md5::digest(&data).to_vec());
        prop_assert_eq!(chunked.crc32.unwrap(), crc32_reference(&data));
    }

    #[test]
    fn streaming_sha256_any_split(data in proptest::collection::vec(any::<u8>(), 0..2000), cut in any::<usize>()) {
        let cut = cut % (data.len() + 1);
        let mut s = StreamingSha256::new();
        s.update(&data[..cut]);
        s.update(&data[cut..]);
        prop_assert_eq!(s.finish(), sha256(&data));
    }

    #[test]
    fn hex_round_trips_in_either_case(bytes in proptest::collection::vec(any::<u8>(), 20)) {
        let hex = to_hex(&bytes);
        prop_assert_eq!(parse_hex(Algorithm::Sha1, &hex).unwrap(), bytes.clone());
        prop_assert_eq!(parse_hex(Algorithm::Sha1, &hex.to_uppercase()).unwrap(), bytes);
    }

    #[test]
    fn hex_refuses_any_other_length(len in 0usize..100) {
        prop_assume!(len != 64);
        let s = "a".repeat(len);
        let refused = matches!(
            parse_hex(Algorithm::Sha256, &s),
            Err(HexError::WrongLength { expected: 64, .. })
        );
        prop_assert!(refused);
    }

    #[test]
    fn hex_parser_is_total(s in ".{0,80}") {
        for a in Algorithm::ALL {
            let _ = parse_hex(a, &s);
        }
    }
}

#[test]
fn known_vectors() {
    let d = MultiDigest::of(b"");
    assert_eq!(
        d.hex(Algorithm::Sha256).unwrap(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        d.hex(Algorithm::Sha1).unwrap(),
        "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    );
    assert_eq!(
        d.hex(Algorithm::Md5).unwrap(),
        "d41d8cd98f00b204e9800998ecf8427e"
    );
    assert_eq!(d.hex(Algorithm::Crc32).unwrap(), "00000000");
    let fox = MultiDigest::of(b"The quick brown fox jumps over the lazy dog");
    assert_eq!(fox.crc32, Some(0x414F_A339));
    assert_eq!(
        fox.hex(Algorithm::Md5).unwrap(),
        "9e107d9d372bb6826bd81d3542a419d6"
    );
}

#[test]
fn only_selected_algorithms_are_computed() {
    let mut d = MultiDigest::only(&[Algorithm::Md5]);
    assert_eq!(d.algorithms(), vec![Algorithm::Md5]);
    d.update(b"abc");
    let r = d.finish();
    assert!(r.sha256.is_none() && r.sha1.is_none() && r.crc32.is_none());
    let want = ExpectedDigest::parse(Algorithm::Sha256, &to_hex(&sha256(b"abc"))).unwrap();
    assert_eq!(
        r.verify(&want),
        Verdict::NotComputed {
            algorithm: Algorithm::Sha256
        }
    );
    assert!(!r.verify(&want).is_match());
}

#[test]
fn verify_match_and_mismatch() {
    let r = MultiDigest::of(b"abc");
    assert!(r
        .verify_hex(Algorithm::Md5, "900150983CD24FB0D6963F7D28E17F72")
        .unwrap()
        .is_match());
    let v = r.verify_hex(Algorithm::Crc32, "00000000").unwrap();
    assert_eq!(
        v,
        Verdict::Mismatch {
            algorithm: Algorithm::Crc32,
            expected: "00000000".into(),
            actual: "352441c2".into()
        }
    );
    assert_eq!(
        v.to_string(),
        "CRC-32 mismatch: expected 00000000, computed 352441c2"
    );
}

#[test]
fn hex_errors_are_typed_and_worded() {
    assert_eq!(
        parse_hex(Algorithm::Md5, "900150983cd24fb0d6963f7d28e17f7"),
        Err(HexError::WrongLength {
            algorithm: Algorithm::Md5,
            expected: 32,
            found: 31
        })
    );
    let e = parse_hex(Algorithm::Sha256, &format!("{}g", "0".repeat(63))).unwrap_err();
    assert_eq!(
        e,
        HexError::NotHex {
            algorithm: Algorithm::Sha256,
            expected: 64,
            found: 'g',
            position: 63
        }
    );
    assert_eq!(
        e.to_string(),
        "not a SHA-256 digest: expected 64 hex characters, found 'g' at character 63"
    );
    assert!(parse_hex(Algorithm::Sha1, " a9993e364706816aba3e25717850c26c9cd0d89d").is_err());
}

#[test]
fn results_serialise_as_hex() {
    let json = serde_json::to_value(MultiDigest::of(b"abc")).unwrap();
    assert_eq!(json["len"], 3);
    assert_eq!(json["crc32"], "352441c2");
    assert_eq!(json["sha1"], "a9993e364706816aba3e25717850c26c9cd0d89d");
    let e = ExpectedDigest::parse(Algorithm::Md5, "900150983cd24fb0d6963f7d28e17f72").unwrap();
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"algorithm":"md5","hex":"900150983cd24fb0d6963f7d28e17f72"}"#
    );
}
