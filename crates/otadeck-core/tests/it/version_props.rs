//! Property tests of the version comparators.

use otadeck_core::version::{classify_update, compare, Comparator, LooseVersion, UpdateKind};
use proptest::prelude::*;
use std::cmp::Ordering;

/// Loose-looking versions: numbers, lower-case runs and other separators, often with dots.
fn loose_version() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            (0u32..30).prop_map(|n| n.to_string()),
            "[a-c]{1,3}",
            Just("-".to_string()),
            Just("_".to_string()),
            Just("00".to_string()),
            Just("V".to_string()),
        ],
        1..6,
    )
    .prop_map(|parts| parts.join("."))
}

fn semver_version() -> impl Strategy<Value = String> {
    (
        0u32..4,
        0u32..12,
        0u32..12,
        proptest::option::of(prop_oneof!["rc\\.[0-9]", "alpha", "beta\\.[1-3]"]),
    )
        .prop_map(|(a, b, c, pre)| match pre {
            Some(p) => format!("{a}.{b}.{c}-{p}"),
            None => format!("{a}.{b}.{c}"),
        })
}

fn any_version() -> impl Strategy<Value = String> {
    prop_oneof![loose_version(), semver_version(), ".{0,20}"]
}

proptest! {
    #[test]
    fn antisymmetric(a in any_version(), b in any_version()) {
        let ab = compare(&a, &b);
        let ba = compare(&b, &a);
        prop_assert_eq!(ab.ordering.map(Ordering::reverse), ba.ordering);
        prop_assert_eq!(ab.comparator, ba.comparator);
    }

    #[test]
    fn reflexive(a in loose_version()) {
        prop_assert_eq!(compare(&a, &a).ordering, Some(Ordering::Equal));
    }

    #[test]
    fn loose_is_transitive(a in loose_version(), b in loose_version(), c in loose_version()) {
        let (a, b, c) = (LooseVersion::parse(&a).unwrap(), LooseVersion::parse(&b).unwrap(), LooseVersion::parse(&c).unwrap());
        if let (Ok(ab), Ok(bc)) = (a.try_cmp(&b), b.try_cmp(&c)) {
            if ab == bc || bc == Ordering::Equal {
                prop_assert_eq!(a.try_cmp(&c), Ok(ab));
            } else if ab == Ordering::Equal {
                prop_assert_eq!(a.try_cmp(&c), Ok(bc));
            }
        }
    }

    #[test]
    fn semver_is_transitive(a in semver_version(), b in semver_version(), c in semver_version()) {
        let (ab, bc, ac) = (compare(&a, &b), compare(&b, &c), compare(&a, &c));
        prop_assert_eq!(ab.comparator, Comparator::Semver);
        if ab.ordering == bc.ordering {
            prop_assert_eq!(ac.ordering, ab.ordering);
        }
    }

    #[test]
    fn loose_agrees_with_semver_on_releases(a in (0u64..50, 0u64..50, 0u64..50), b in (0u64..50, 0u64..50, 0u64..50)) {
        let sa = format!("{}.{}.{}", a.0, a.1, a.2);
        let sb = format!("{}.{}.{}", b.0, b.1, b.2);
        let semver = semver::Version::parse(&sa).unwrap().cmp_precedence(&semver::Version::parse(&sb).unwrap());
        let loose = LooseVersion::parse(&sa).unwrap().try_cmp(&LooseVersion::parse(&sb).unwrap());
        prop_assert_eq!(loose, Ok(semver));
        let c = compare(&sa, &sb);
        prop_assert_eq!((c.ordering, c.comparator), (Some(semver), Comparator::Semver));
    }

    #[test]
    fn classify_matches_compare(cur in any_version(), new in any_version()) {
        let check = classify_update(&cur, &new);
        let want = match compare(&new, &cur).ordering {
            Some(Ordering::Greater) => UpdateKind::Upgrade,
            Some(Ordering::Equal) => UpdateKind::Same,
            Some(Ordering::Less) => UpdateKind::Downgrade,
            None => UpdateKind::Incomparable,
        };
        prop_assert_eq!(check.kind, want);
        prop_assert_eq!(check.is_upgrade(), want == UpdateKind::Upgrade);
    }

    #[test]
    fn total_on_any_string(a in "\\PC{0,300}", b in "\\PC{0,300}") {
        let _ = compare(&a, &b);
        let _ = classify_update(&a, &b).to_string();
    }
}
