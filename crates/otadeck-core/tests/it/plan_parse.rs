//! Campaign plan v1: parsing rules and error paths.

use otadeck_core::manifest::plan::{parse, FileTarget, Mode, PackageType};
use otadeck_core::manifest::{ErrorKind, ManifestError};
use serde_json::{json, Value};

fn base() -> Value {
    serde_json::from_str(include_str!(
        "../../../../docs/examples/plan-quecpython-app.json"
    ))
    .unwrap()
}

fn err(doc: &Value) -> ManifestError {
    parse(&serde_json::to_vec(doc).unwrap()).unwrap_err()
}

fn file(dest: &str) -> Value {
    json!({"url": "https://u/x", "size": 10, "hashes": {"sha1": "a9993e364706816aba3e25717850c26c9cd0d89d"}, "destination": dest})
}

#[test]
fn example_plan_fields() {
    let p = parse(&serde_json::to_vec(&base()).unwrap()).unwrap();
    assert_eq!(p.id, "ec200u-app-2.4.0");
    assert_eq!(p.components[0].target_version, "2.4.0");
    assert_eq!(p.packages[0].kind, PackageType::Delta);
    assert_eq!(p.packages[0].source_version.as_deref(), Some("2.3.0"));
    assert_eq!(p.packages[1].component, "app");
    assert_eq!(
        p.packages[1].files[1].target,
        FileTarget::Destination("/usr/lib/meter.py".into())
    );
    assert_eq!(p.timezone.to_string(), "+08:00");
    assert!(p.push_window.unwrap().crosses_midnight());
    assert_eq!(p.mode, Mode::Manual);
    assert_eq!(p.strategy.min_signal_dbm, Some(-100));
    assert_eq!(p.notes_for(&["zh-TW"]).unwrap().0, "zh-CN");
    assert_eq!(p.notes_for(&["fr"]).unwrap().0, "en");
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["packages"][0]["type"], "delta");
    assert_eq!(
        json["packages"][0]["files"][0]["destination"],
        "/usr/main.py"
    );
    assert_eq!(json["push_window"]["start"], "22:00");
}

#[test]
fn format_and_version_are_checked() {
    let mut d = base();
    d["version"] = json!(2);
    let e = err(&d);
    assert_eq!(
        e.to_string(),
        "version: plan format version 2 is not supported (this otadeck reads version 1)"
    );
    let mut d = base();
    d["format"] = json!("quectel-plan");
    assert!(matches!(err(&d).kind, ErrorKind::Unsupported { .. }));
    let mut d = base();
    d.as_object_mut().unwrap().remove("mode");
    assert_eq!(err(&d).to_string(), "mode: required field is missing");
    let mut d = base();
    d["mode"] = json!("forced");
    assert_eq!(err(&d).path, "mode");
    let mut d = base();
    d["unknown_field_from_a_server"] = json!({"anything": [1, 2]});
    assert!(parse(&serde_json::to_vec(&d).unwrap()).is_ok());
}

#[test]
fn time_zone_rules() {
    let mut d = base();
    d["timezone"] = json!("Asia/Shanghai");
    let e = err(&d);
    assert!(matches!(e.kind, ErrorKind::Unsupported { .. }));
    assert!(
        e.to_string()
            .starts_with("timezone: named time zones such as \"Asia/Shanghai\" are not supported"),
        "{e}"
    );
    d["timezone"] = json!("+14:30");
    assert_eq!(err(&d).path, "timezone");
    let mut d = base();
    d.as_object_mut().unwrap().remove("timezone");
    assert_eq!(
        err(&d).to_string(),
        "timezone: a push window needs a timezone"
    );
    let mut d = base();
    d["push_window"]["start"] = json!("24:00");
    assert_eq!(err(&d).path, "push_window.start");
    d["push_window"]["start"] = json!("05:00");
    assert!(err(&d).to_string().contains("start and end are equal"));
    let mut d = base();
    d["push_window"]["until"] = json!("2025-06-30");
    assert_eq!(err(&d).path, "push_window.until");
    d["push_window"]["until"] = json!("2025-02-30");
    assert!(err(&d).to_string().contains("not a calendar date"));
}

#[test]
fn package_rules() {
    let mut d = base();
    d["packages"][1]["files"] = json!([
        file("/usr/a"),
        file("/usr/b"),
        file("/usr/c"),
        file("/usr/d"),
        file("/usr/e"),
        file("/usr/f")
    ]);
    assert_eq!(
        err(&d).to_string(),
        "packages[1].files: 6 entries, more than the 5 allowed"
    );

    let mut d = base();
    d["packages"][1]["files"] = json!([file("/usr/../etc/passwd")]);
    let e = err(&d);
    assert_eq!(e.path, "packages[1].files[0].destination");
    assert!(matches!(e.kind, ErrorKind::UnsafePath { .. }));
    d["packages"][1]["files"] = json!([file("/etc/passwd")]);
    assert!(err(&d)
        .to_string()
        .contains("outside the allowed roots (/usr, /flash, /sd)"));
    d["packages"][1]["files"] = json!([file("/usr/a"), file("/usr//a")]);
    assert!(err(&d).to_string().contains("two files go to /usr/a"));

    let mut d = base();
    d["packages"][1]["files"][0]["size"] = json!(100 * 1024 * 1024 + 1);
    assert_eq!(err(&d).path, "packages[1].files[0].size");
    d["packages"][1]["files"][0]["size"] = json!("18432");
    assert_eq!(
        err(&d).to_string(),
        "packages[1].files[0].size: expected a number, found a string"
    );

    let mut d = base();
    d["packages"][1]["files"][0]["hashes"] = json!({"sha256": "abc"});
    assert_eq!(err(&d).path, "packages[1].files[0].hashes.sha256");
    d["packages"][1]["files"][0]["hashes"] = json!({"crc32": "352441c2"});
    assert_eq!(err(&d).path, "packages[1].files[0].hashes");

    let mut d = base();
    d["packages"][1]["files"][0]["role"] = json!("firmware");
    assert!(err(&d)
        .to_string()
        .contains("exactly one of destination and role"));

    let mut d = base();
    d["packages"][1]["files"][0]["url"] = json!("http://updates.example.com/x");
    assert_eq!(err(&d).path, "packages[1].files[0].url");

    let mut d = base();
    d["packages"][0]
        .as_object_mut()
        .unwrap()
        .remove("source_version");
    assert_eq!(
        err(&d).to_string(),
        "packages[0].source_version: required field is missing"
    );
    let mut d = base();
    d["packages"][1]["source_version"] = json!("2.3.0");
    assert!(err(&d)
        .to_string()
        .contains("only a delta package has a source_version"));
    let mut d = base();
    d["packages"][0]["source_version"] = json!("2.4.0");
    assert!(err(&d).to_string().contains("changes nothing"));
    let mut d = base();
    d["packages"][0] = d["packages"][1].clone();
    assert!(err(&d).to_string().contains("a second full package"));
}

#[test]
fn component_rules() {
    let mut d = base();
    d["components"] = json!([{"id": "app"}, {"id": "app"}]);
    assert_eq!(
        err(&d).to_string(),
        "components[1].id: component id \"app\" is used twice"
    );
    let mut d = base();
    d["components"] = json!([{"id": "app"}, {"id": "modem"}]);
    assert_eq!(err(&d).path, "packages[0].component");
    let mut d = base();
    d["packages"][0]["component"] = json!("mcu");
    assert!(err(&d)
        .to_string()
        .contains("no component has the id \"mcu\""));
    let mut d = base();
    d["components"] = json!([{"id": "app"}, {"id": "modem"}]);
    d["packages"][0]["component"] = json!("app");
    d["packages"][1]["component"] = json!("app");
    assert!(err(&d)
        .to_string()
        .contains("component \"modem\" has no package"));
    let mut d = base();
    d["components"][0]["id"] = json!("has space");
    assert_eq!(err(&d).path, "components[0].id");
}

#[test]
fn lists_notes_and_strategy() {
    let mut d = base();
    d["blacklist"] = json!(["8699 900"]);
    assert_eq!(err(&d).path, "blacklist[0]");
    let mut d = base();
    d["strategy"]["min_battery_percent"] = json!(101);
    assert_eq!(
        err(&d).to_string(),
        "strategy.min_battery_percent: 101 is outside 0..100"
    );
    let mut d = base();
    d["strategy"]["min_signal_dbm"] = json!(10);
    assert_eq!(err(&d).path, "strategy.min_signal_dbm");
    let mut d = base();
    d["release_notes"]["english please"] = json!("x");
    assert_eq!(err(&d).path, "release_notes[\"english please\"]");
}
