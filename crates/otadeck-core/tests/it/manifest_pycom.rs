//! Pycom OTA manifests: the body recorded from the real `OTA_server.py`, `null`, the empty body,
//! and the safety rules, with the JSON path in every error.

use otadeck_core::manifest::pycom::{parse, parse_with, PycomResponse};
use otadeck_core::manifest::{ErrorKind, ManifestError};
use otadeck_core::version::UpdateKind;

const RECORDED: &[u8] = include_bytes!("../fixtures/manifests/pycom_current_1.0.0.json");

fn err(body: &str) -> ManifestError {
    parse(body.as_bytes()).unwrap_err()
}

fn manifest(files: &str) -> String {
    format!(r#"{{"version":"1.0.1",{files}}}"#)
}

#[test]
fn recorded_server_output() {
    let PycomResponse::Update(m) = parse_with(RECORDED, None, Some("1.0.0")).unwrap() else {
        panic!("expected a manifest")
    };
    assert_eq!(m.version, "1.0.1");
    assert_eq!(m.delete, ["/sd/asset_that_will_be_removed.wav"]);
    assert_eq!(m.new.len(), 1);
    assert_eq!(m.new[0].dst_path, "/flash/lib/new_lib.py");
    assert_eq!(
        m.new[0].url,
        "http://127.0.0.1:41123/1.0.1/flash/lib/new_lib.py"
    );
    assert_eq!(
        m.new[0].sha1.hex(),
        "c67d2f9b93dfd45abd0298ffcf6370123d368100"
    );
    assert_eq!(m.update[0].dst_path, "/flash/main.py");
    let fw = m.firmware.as_ref().unwrap();
    assert_eq!(fw.sha1.hex(), "19f7af2a5afdfc1f972a49fae9b149c4ab4d40b0");
    assert_eq!(m.downloads().len(), 3);
    let check = m.version_check.as_ref().unwrap();
    assert_eq!(check.kind, UpdateKind::Upgrade);
    let json = serde_json::to_value(PycomResponse::Update(m)).unwrap();
    assert_eq!(json["outcome"], "update");
    assert_eq!(json["firmware"]["sha1"]["algorithm"], "sha1");
}

#[test]
fn null_empty_and_garbage_are_three_different_outcomes() {
    let null = include_bytes!("../fixtures/manifests/pycom_up_to_date.json");
    assert_eq!(parse(null).unwrap(), PycomResponse::UpToDate);
    assert_eq!(
        serde_json::to_string(&PycomResponse::UpToDate).unwrap(),
        r#"{"outcome":"up_to_date"}"#
    );

    let empty = include_bytes!("../fixtures/manifests/pycom_server_crash_empty.json");
    let e = parse(empty).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Empty);
    assert!(e.to_string().contains("not \"up to date\""), "{e}");
    assert_eq!(parse(b" \r\n").unwrap_err().kind, ErrorKind::Empty);

    assert!(matches!(
        parse(b"<html>500</html>").unwrap_err().kind,
        ErrorKind::Syntax { .. }
    ));
    assert!(matches!(
        err("[]").kind,
        ErrorKind::Type {
            expected: "an object",
            ..
        }
    ));
}

#[test]
fn downgrade_is_reported_not_hidden() {
    // The real server answers current_ver=2.0.0 with a manifest back to 1.0.1.
    let PycomResponse::Update(m) = parse_with(RECORDED, None, Some("2.0.0")).unwrap() else {
        panic!()
    };
    let check = m.version_check.unwrap();
    assert_eq!(check.kind, UpdateKind::Downgrade);
    assert!(check.to_string().contains("downgrade"));
    let PycomResponse::Update(m) = parse_with(RECORDED, None, Some("v1.0.0")).unwrap() else {
        panic!()
    };
    assert_eq!(m.version_check.unwrap().kind, UpdateKind::Incomparable);
}

#[test]
fn errors_name_the_json_path() {
    let e = err(&manifest(
        r#""new":[{"URL":"https://h/a","dst_path":"/flash/a.py","hash":"c67d2f9b"}]"#,
    ));
    assert_eq!(e.path, "new[0].hash");
    assert_eq!(
        e.to_string(),
        "new[0].hash: not a SHA-1 digest: expected 40 hex characters, found 8"
    );

    let e = err(r#"{"version":101}"#);
    assert_eq!(e.to_string(), "version: expected a string, found a number");

    let e = err(r#"{"new":[]}"#);
    assert_eq!(e.to_string(), "version: required field is missing");

    let e = err(&manifest(r#""firmware":{"URL":"https://h/fw.bin"}"#));
    assert_eq!(e.path, "firmware.hash");
}

#[test]
fn destinations_stay_on_the_module() {
    let h = "c67d2f9b93dfd45abd0298ffcf6370123d368100";
    let e = err(&manifest(&format!(
        r#""update":[{{"URL":"https://h/a","dst_path":"/flash/../etc/passwd","hash":"{h}"}}]"#
    )));
    assert_eq!(e.path, "update[0].dst_path");
    assert!(matches!(e.kind, ErrorKind::UnsafePath { .. }), "{e}");

    let e = err(&manifest(&format!(
        r#""new":[{{"URL":"https://h/a","dst_path":"/etc/x","hash":"{h}"}}]"#
    )));
    assert!(
        e.to_string()
            .contains("outside the allowed roots (/flash, /sd)"),
        "{e}"
    );

    // current_ver=/etc/apt made the real server list host files for deletion.
    let e = err(
        r#"{"delete":["flash/ok.py","etc/apt/sources.list"],"new":[],"update":[],"version":"1"}"#,
    );
    assert_eq!(e.path, "delete[1]");

    let e = err(&manifest(&format!(
        r#""new":[{{"URL":"https://h/a","dst_path":"/flash/a.py","hash":"{h}"}}],"update":[{{"URL":"https://h/b","dst_path":"//flash/./a.py","hash":"{h}"}}]"#
    )));
    assert_eq!(e.path, "update[0].dst_path");
    assert!(e.to_string().contains("listed twice"));
}

#[test]
fn urls_must_be_https_or_loopback() {
    let h = "c67d2f9b93dfd45abd0298ffcf6370123d368100";
    let with_url = |u: &str| manifest(&format!(r#""firmware":{{"URL":"{u}","hash":"{h}"}}"#));
    let e = err(&with_url("http://192.168.1.20:8000/firmware_1.0.1.bin"));
    assert_eq!(e.path, "firmware.URL");
    assert!(matches!(e.kind, ErrorKind::UnsafeUrl { .. }));
    // What the real server writes when the request had no Host header.
    assert!(err(&with_url("http://None/firmware_1.0.1.bin"))
        .to_string()
        .contains("Host header"));
    assert!(parse(with_url("http://localhost:8000/fw.bin").as_bytes()).is_ok());
    assert!(parse(with_url("https://ota.example.com/fw.bin").as_bytes()).is_ok());
    assert!(err(&with_url("/firmware_1.0.1.bin"))
        .to_string()
        .contains("relative"));

    let resolved = parse_with(
        with_url("/fw.bin").as_bytes(),
        Some("https://ota.example.com/manifest.json"),
        None,
    );
    let PycomResponse::Update(m) = resolved.unwrap() else {
        panic!()
    };
    assert_eq!(m.firmware.unwrap().url, "https://ota.example.com/fw.bin");

    let e = parse_with(RECORDED, Some("ftp://x/manifest.json"), None).unwrap_err();
    assert_eq!(e.path, "(manifest URL)");
}

#[test]
fn duplicate_keys_and_nesting_bombs_are_refused() {
    let e = err(r#"{"version":"1.0.1","version":"9.9.9"}"#);
    assert!(e.to_string().contains("duplicate key \"version\""), "{e}");
    let deep = "[".repeat(100_000);
    assert!(matches!(
        parse(deep.as_bytes()).unwrap_err().kind,
        ErrorKind::Syntax { .. }
    ));
}
