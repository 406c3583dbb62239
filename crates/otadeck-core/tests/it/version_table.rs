//! Version cases from SOURCES.md (Pycom's LooseVersion behaviour) and the SemVer cases around them.

use otadeck_core::version::{classify_update, compare, Comparator, LooseVersion, UpdateKind};
use std::cmp::Ordering::{self, Equal, Greater, Less};

fn loose(a: &str, b: &str) -> Option<Ordering> {
    LooseVersion::parse(a)?
        .try_cmp(&LooseVersion::parse(b)?)
        .ok()
}

#[test]
fn loose_version_as_measured_on_the_pycom_server() {
    // (left, right, what Python 3.11's LooseVersion did; None = TypeError)
    let table: &[(&str, &str, Option<Ordering>)] = &[
        ("1.0.9", "1.0.10", Some(Less)),
        ("1.0.0-rc1", "1.0.0", Some(Greater)), // pre-releases sort after the release
        ("v1.2", "1.3", None),                 // TypeError: str vs int
        ("1.0.2", "1.0.10", Some(Less)),
        ("1.0.1", "1.0.1", Some(Equal)),
        ("2.0.0", "1.0.1", Some(Greater)), // the server then sends a downgrade
        ("__pycache__", "1.0.0", None),    // a non-version folder crashed the server
        ("v1.0.0", "1.0.1", None),         // a current_ver like v1.0.0 crashed it too
        ("1.07", "1.7", Some(Equal)),
        ("1.0a", "1.0b", Some(Less)),
        ("1.0", "1.0.0", Some(Less)),
        (
            "99999999999999999999999",
            "100000000000000000000000",
            Some(Less),
        ),
    ];
    for &(a, b, want) in table {
        assert_eq!(loose(a, b), want, "{a} vs {b}");
    }
}

#[test]
fn compare_picks_the_comparator_per_pair() {
    let table: &[(&str, &str, Option<Ordering>, Comparator)] = &[
        ("1.0.9", "1.0.10", Some(Less), Comparator::Semver),
        // Both are SemVer, so the pre-release sorts *before* the release here.
        ("1.0.0-rc1", "1.0.0", Some(Less), Comparator::Semver),
        // Not SemVer: LooseVersion decides, and the pre-release tag sorts after.
        ("1.0-rc1", "1.0", Some(Greater), Comparator::Loose),
        ("v1.2", "1.3", None, Comparator::Loose),
        (
            "1.0.0+build.1",
            "1.0.0+build.2",
            Some(Equal),
            Comparator::Semver,
        ),
        ("1.0", "1.0.1", Some(Less), Comparator::Loose),
        ("", "1.0.0", None, Comparator::Loose),
        (" 1.0.1\r\n", "1.0.1", Some(Equal), Comparator::Semver),
    ];
    for &(a, b, ord, cmp) in table {
        let c = compare(a, b);
        assert_eq!((c.ordering, c.comparator), (ord, cmp), "{a:?} vs {b:?}");
    }
}

#[test]
fn notes_explain_surprises() {
    let c = compare("1.0-rc1", "1.0");
    assert!(c
        .note
        .unwrap()
        .contains("pre-release tags sort after the release"));
    let c = compare("v1.2", "1.3");
    let note = c.note.unwrap();
    assert!(
        note.contains("\"v\"") && note.contains("TypeError"),
        "{note}"
    );
    assert!(compare("1.0.0+a", "1.0.0+b")
        .note
        .unwrap()
        .contains("build metadata"));
}

#[test]
fn classify_reports_downgrades_and_never_allows_incomparable() {
    let up = classify_update("1.0.0", "1.0.1");
    assert_eq!(up.kind, UpdateKind::Upgrade);
    assert_eq!(
        up.to_string(),
        "1.0.1 is newer than the installed 1.0.0 (SemVer)"
    );

    let down = classify_update("2.0.0", "1.0.1");
    assert_eq!(down.kind, UpdateKind::Downgrade);
    assert!(!down.is_upgrade());
    assert_eq!(
        down.to_string(),
        "1.0.1 is older than the installed 2.0.0: a downgrade (SemVer)"
    );

    let same = classify_update("1.0.1", "1.0.1");
    assert_eq!(same.kind, UpdateKind::Same);

    let odd = classify_update("v1.0.0", "1.0.1");
    assert_eq!(odd.kind, UpdateKind::Incomparable);
    assert!(!odd.is_upgrade());
    assert!(odd
        .to_string()
        .starts_with("1.0.1 cannot be ordered against v1.0.0"));

    let json = serde_json::to_value(classify_update("1.0.9", "1.0.10")).unwrap();
    assert_eq!(json["kind"], "upgrade");
    assert_eq!(json["comparator"], "semver");
    assert_eq!(
        serde_json::to_value(compare("v1", "1")).unwrap()["ordering"],
        "incomparable"
    );
}
