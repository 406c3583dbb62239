//! Campaign plan eligibility: every reason, in words, with the time passed in.

use otadeck_core::manifest::plan::{
    parse, CampaignPlan, Eligibility, Mode, ModuleReport, PackageType, ReasonCode,
};
use serde_json::json;

/// 2025-07-15 23:00 at +08:00: inside the example's 22:00–05:00 window and its July date range.
const IN_WINDOW: i64 = 1_752_591_600;
/// 2025-07-16 03:00 at +08:00: still inside, after midnight.
const AFTER_MIDNIGHT: i64 = 1_752_606_000;
/// 2025-07-15 14:12 at +08:00.
const AFTERNOON: i64 = 1_752_559_920;

fn plan() -> CampaignPlan {
    parse(include_bytes!(
        "../../../../docs/examples/plan-quecpython-app.json"
    ))
    .unwrap()
}

fn module() -> ModuleReport {
    ModuleReport {
        imei: Some("869990012345678".into()),
        model: Some("EC200U-CN".into()),
        versions: [("app".to_string(), "2.3.0".to_string())].into(),
        battery_percent: Some(80),
        signal_dbm: Some(-85),
        free_bytes: Some(1 << 20),
        ..ModuleReport::default()
    }
}

fn reasons(e: &Eligibility) -> Vec<(ReasonCode, String)> {
    match e {
        Eligibility::NotEligible { reasons } => reasons
            .iter()
            .map(|r| (r.code, r.message.clone()))
            .collect(),
        Eligibility::Eligible { .. } => panic!("expected not eligible, got {e:?}"),
    }
}

#[test]
fn delta_when_the_source_version_matches_else_full() {
    let p = plan();
    let Eligibility::Eligible { mode, updates } = p.eligibility(&module(), IN_WINDOW) else {
        panic!()
    };
    assert_eq!(mode, Mode::Manual);
    assert_eq!(updates.len(), 1);
    assert_eq!(
        (updates[0].kind, updates[0].package_index),
        (PackageType::Delta, 0)
    );
    assert_eq!(
        (
            updates[0].from_version.as_str(),
            updates[0].to_version.as_str()
        ),
        ("2.3.0", "2.4.0")
    );
    assert_eq!(updates[0].download_bytes, 18432);

    let mut m = module();
    m.versions.insert("app".into(), "2.2.7".into());
    let Eligibility::Eligible { updates, .. } = p.eligibility(&m, AFTER_MIDNIGHT) else {
        panic!()
    };
    assert_eq!(
        (updates[0].kind, updates[0].package_index),
        (PackageType::Full, 1)
    );
    assert_eq!(updates[0].download_bytes, 18432 + 40960 + 512);

    let json = serde_json::to_value(p.eligibility(&module(), IN_WINDOW)).unwrap();
    assert_eq!(json["result"], "eligible");
    assert_eq!(json["updates"][0]["kind"], "delta");
}

#[test]
fn every_reason_is_given_in_words() {
    let m = ModuleReport {
        imei: Some("869990012345679".into()),
        battery_percent: Some(12),
        signal_dbm: Some(-110),
        free_bytes: Some(50_000),
        model: Some("BG95-M3".into()),
        versions: [("app".to_string(), "2.5.0".to_string())].into(),
        ..ModuleReport::default()
    };
    let got = reasons(&plan().eligibility(&m, AFTERNOON));
    let want = [
        (
            ReasonCode::Blacklisted,
            "module 869990012345679 is on the blacklist",
        ),
        (
            ReasonCode::WrongModel,
            "model BG95-M3 is not one the plan is for (EC200U-CN, EC200U-EU)",
        ),
        (
            ReasonCode::OutsidePushHours,
            "outside the push window 22:00–05:00 (+08:00); now 14:12",
        ),
        (
            ReasonCode::BatteryLow,
            "battery 12 % is below the plan's minimum 30 %",
        ),
        (
            ReasonCode::SignalWeak,
            "signal -110 dBm is below the plan's minimum -100 dBm",
        ),
        (
            ReasonCode::FreeSpaceLow,
            "free space 48.8 KiB is below the plan's minimum 128.0 KiB",
        ),
        (
            ReasonCode::Downgrade,
            "app 2.5.0 is newer than the plan's target 2.4.0; the plan never downgrades",
        ),
    ];
    let want: Vec<(ReasonCode, String)> = want.iter().map(|(c, s)| (*c, s.to_string())).collect();
    assert_eq!(got, want);
    let json = serde_json::to_value(plan().eligibility(&m, AFTERNOON)).unwrap();
    assert_eq!(json["result"], "not_eligible");
    assert_eq!(json["reasons"][0]["code"], "blacklisted");
}

#[test]
fn blacklist_wins_over_whitelist() {
    // 869990012345679 is on both lists.
    let mut m = module();
    m.imei = Some("869990012345679".into());
    assert_eq!(
        reasons(&plan().eligibility(&m, IN_WINDOW))[0].0,
        ReasonCode::Blacklisted
    );
    // A blacklisted serial counts even when the IMEI is whitelisted.
    let mut m = module();
    m.serial = Some("869990012345679".into());
    assert_eq!(
        reasons(&plan().eligibility(&m, IN_WINDOW))[0].0,
        ReasonCode::Blacklisted
    );

    let mut m = module();
    m.imei = Some("860000000000001".into());
    assert_eq!(
        reasons(&plan().eligibility(&m, IN_WINDOW)),
        [(
            ReasonCode::NotWhitelisted,
            "module 860000000000001 is not on the plan's whitelist".to_string()
        )]
    );
    let mut m = module();
    m.imei = None;
    assert_eq!(
        reasons(&plan().eligibility(&m, IN_WINDOW))[0].0,
        ReasonCode::NoIdentity
    );
}

#[test]
fn push_window_across_midnight_and_dates() {
    let p = plan();
    let at = |t: i64| p.eligibility(&module(), t);
    assert!(at(IN_WINDOW).is_eligible());
    assert!(at(AFTER_MIDNIGHT).is_eligible());
    // 2025-08-01 03:00 local: the window opened on 31 July, the plan's last date.
    assert!(at(1_753_988_400).is_eligible());
    // 2025-08-01 23:00 local: a window opening on 1 August is past the range.
    assert_eq!(
        reasons(&at(1_754_060_400)),
        [(
            ReasonCode::PlanEnded,
            "the plan ended on 2025-07-31 (+08:00); today is 2025-08-01".to_string()
        )]
    );
    // 2025-07-01 03:00 local: that window opened on 30 June, before the range.
    assert_eq!(reasons(&at(1_751_310_000))[0].0, ReasonCode::PlanNotStarted);
    assert_eq!(
        reasons(&at(1_751_297_400))[0].1,
        "the plan starts on 2025-07-01 (+08:00); today is 2025-06-30"
    );
    // Edges: 22:00 is inside, 05:00 is outside.
    assert!(at(IN_WINDOW - 3600).is_eligible());
    assert_eq!(
        reasons(&at(AFTER_MIDNIGHT + 2 * 3600))[0].0,
        ReasonCode::OutsidePushHours
    );
}

#[test]
fn unreported_values_fail_the_minimums() {
    let m = ModuleReport {
        imei: Some("869990012345678".into()),
        ..ModuleReport::default()
    };
    let codes: Vec<ReasonCode> = reasons(&plan().eligibility(&m, IN_WINDOW))
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(
        codes,
        [
            ReasonCode::WrongModel,
            ReasonCode::BatteryLow,
            ReasonCode::SignalWeak,
            ReasonCode::FreeSpaceLow,
            ReasonCode::VersionUnknown
        ]
    );
}

#[test]
fn versions_same_and_incomparable() {
    let mut m = module();
    m.versions.insert("app".into(), "2.4.0".into());
    assert_eq!(
        reasons(&plan().eligibility(&m, IN_WINDOW)),
        [(
            ReasonCode::AlreadyCurrent,
            "module 869990012345678 is already on app 2.4.0".to_string()
        )]
    );
    m.versions.insert("app".into(), "v2.3".into());
    let r = reasons(&plan().eligibility(&m, IN_WINDOW));
    assert_eq!(r[0].0, ReasonCode::VersionIncomparable);
    assert!(
        r[0].1
            .starts_with("app v2.3 cannot be compared with the target 2.4.0"),
        "{}",
        r[0].1
    );
}

#[test]
fn files_must_fit_in_free_space() {
    let mut m = module();
    m.versions.insert("app".into(), "1.0.0".into());
    m.free_bytes = Some(140_000); // above the 128 KiB minimum and the 58.5 KiB of the full package
    assert!(plan().eligibility(&m, IN_WINDOW).is_eligible());
    let doc = json!({"format": "otadeck-campaign-plan", "version": 1, "id": "big", "name": "big",
        "target_version": "2", "components": [{"id": "app"}], "mode": "silent",
        "packages": [{"type": "full", "files": [{"url": "https://u/a", "size": 300000,
            "hashes": {"md5": "900150983cd24fb0d6963f7d28e17f72"}, "destination": "/usr/a.py"}]}]});
    let big = parse(&serde_json::to_vec(&doc).unwrap()).unwrap();
    let r = reasons(&big.eligibility(&m, 0));
    assert_eq!(
        r,
        [(
            ReasonCode::FreeSpaceLow,
            "the files need 293.0 KiB on the file system; the module has 136.7 KiB free"
                .to_string()
        )]
    );
}

#[test]
fn two_components() {
    let p = parse(include_bytes!(
        "../../../../docs/examples/plan-firmware-and-app.json"
    ))
    .unwrap();
    // 02:00 UTC on any day is inside 01:00–04:30 UTC.
    let now = 1_752_544_800; // 2025-07-15T02:00:00Z
    let mut m = ModuleReport {
        serial: Some("SN-1".into()),
        battery_percent: Some(90),
        signal_dbm: Some(-90),
        versions: [
            ("firmware".to_string(), "BG95M3LAR02A03".to_string()),
            ("app".to_string(), "1.5.2".to_string()),
        ]
        .into(),
        ..ModuleReport::default()
    };
    let Eligibility::Eligible { mode, updates } = p.eligibility(&m, now) else {
        panic!()
    };
    assert_eq!(mode, Mode::Silent);
    assert_eq!(
        updates
            .iter()
            .map(|u| (u.component.as_str(), u.kind))
            .collect::<Vec<_>>(),
        [("firmware", PackageType::Delta), ("app", PackageType::Full)]
    );

    // Firmware already current: only the app is updated.
    m.versions
        .insert("firmware".into(), "BG95M3LAR02A04".into());
    let Eligibility::Eligible { updates, .. } = p.eligibility(&m, now) else {
        panic!()
    };
    assert_eq!(updates.len(), 1);

    // Firmware on a version with no delta and no full package.
    m.versions
        .insert("firmware".into(), "BG95M3LAR02A02".into());
    let r = reasons(&p.eligibility(&m, now));
    assert_eq!(
        r,
        [(
            ReasonCode::NoPackage,
            "the plan has no full package for firmware and no delta from BG95M3LAR02A02"
                .to_string()
        )]
    );
}

#[test]
fn module_report_reads_from_json() {
    let m: ModuleReport = serde_json::from_str(
        r#"{"imei":"869990012345678","versions":{"app":"2.3.0"},"battery_percent":55}"#,
    )
    .unwrap();
    assert_eq!(m.battery_percent, Some(55));
    assert_eq!(m.identities().collect::<Vec<_>>(), ["869990012345678"]);
}
