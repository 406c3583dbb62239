//! Every manifest parser is total: random bytes, random JSON and fixtures with one value
//! replaced give a result or a typed error, never a panic. (A cargo-fuzz target goes further.)

use otadeck_core::manifest::{aws_job, esp_web_tools, hawkbit, plan, pycom, ManifestError};
use proptest::prelude::*;
use serde_json::Value;

fn run_all(bytes: &[u8]) {
    let _ = pycom::parse(bytes);
    let _ = pycom::parse_with(
        bytes,
        Some("https://ota.example.com/manifest.json"),
        Some("1.0.0"),
    );
    let _ = esp_web_tools::parse(bytes);
    let _ = esp_web_tools::parse_at(bytes, "https://example.com/fw/manifest.json");
    let _ = aws_job::parse(bytes);
    let _ = hawkbit::parse_controller_base(bytes);
    let _ = hawkbit::parse_deployment_base(bytes);
    let _ = hawkbit::parse_feedback(bytes);
    if let Ok(p) = plan::parse(bytes) {
        let _ = p.eligibility(&plan::ModuleReport::default(), i64::MIN);
        let _ = p.eligibility(&plan::ModuleReport::default(), i64::MAX);
    }
    // Errors always render.
    let e: Result<(), ManifestError> = pycom::parse(bytes).map(|_| ());
    if let Err(e) = e {
        let _ = e.to_string();
        let _ = serde_json::to_string(&e).unwrap();
    }
}

const FIXTURES: &[&[u8]] = &[
    include_bytes!("../fixtures/manifests/pycom_current_1.0.0.json"),
    include_bytes!("../fixtures/manifests/esp_web_tools_esphome.json"),
    include_bytes!("../fixtures/manifests/esp_web_tools_tasmota.json"),
    include_bytes!("../fixtures/manifests/aws_zerynth_job.json"),
    include_bytes!("../fixtures/manifests/aws_afr_ota_job.json"),
    include_bytes!("../fixtures/manifests/hawkbit_controller_base.json"),
    include_bytes!("../fixtures/manifests/hawkbit_deployment_base.json"),
    include_bytes!("../fixtures/manifests/hawkbit_feedback_closed_success.json"),
    include_bytes!("../../../../docs/examples/plan-quecpython-app.json"),
    include_bytes!("../../../../docs/examples/plan-firmware-and-app.json"),
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e20f64..1e20).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("https://h/x"),
            Just("http://None/x"),
            Just("/flash/../x"),
            Just("00:00"),
            Just("+08:00")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_A-Z]{1,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replace the `n`-th node (in a depth-first walk) of `v` with `new`.
fn replace_nth(v: &mut Value, n: &mut usize, new: &Value) -> bool {
    if *n == 0 {
        *v = new.clone();
        return true;
    }
    *n -= 1;
    match v {
        Value::Array(items) => items.iter_mut().any(|i| replace_nth(i, n, new)),
        Value::Object(map) => map.values_mut().any(|i| replace_nth(i, n, new)),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        run_all(&bytes);
    }

    #[test]
    fn random_json(v in json_value()) {
        run_all(&serde_json::to_vec(&v).unwrap());
    }

    #[test]
    fn fixtures_with_one_value_replaced(which in 0..FIXTURES.len(), at in 0usize..400, new in json_value()) {
        let mut doc: Value = serde_json::from_slice(FIXTURES[which]).unwrap();
        let mut n = at;
        replace_nth(&mut doc, &mut n, &new);
        run_all(&serde_json::to_vec(&doc).unwrap());
    }

    #[test]
    fn truncated_fixtures(which in 0..FIXTURES.len(), cut in any::<usize>()) {
        let f = FIXTURES[which];
        run_all(&f[..cut % (f.len() + 1)]);
    }
}

#[test]
fn oversized_and_deep_documents() {
    run_all(&vec![b' '; otadeck_core::manifest::MAX_DOCUMENT_BYTES + 1]);
    run_all("[".repeat(200_000).as_bytes());
    run_all("{\"a\":".repeat(200_000).as_bytes());
    run_all(b"\xEF\xBB\xBFnull");
    run_all(b"\xff\xfe{}");
}

#[test]
fn climbing_part_paths_unknown_chips_and_hidden_characters_are_refused() {
    let ewt = |chip: &str, path: &str, name: &str| {
        format!(
            r#"{{"name": "{name}", "builds": [{{"chipFamily": "{chip}", "parts": [{{"path": "{path}", "offset": 0}}]}}]}}"#
        )
    };
    let refused = |doc: String| {
        esp_web_tools::parse(doc.as_bytes())
            .expect_err("refused")
            .to_string()
    };
    let text = refused(ewt("ESP32", "../../etc/passwd", "x"));
    assert!(
        text.contains("climbs out of the manifest's folder"),
        "{text}"
    );
    let text = refused(ewt("ESP32", "fw/%2e%2e/%2E%2E/secret.bin", "x"));
    assert!(text.contains("climbs out"), "{text}");
    let text = refused(ewt("Z80", "fw.bin", "x"));
    assert!(
        text.contains("\"Z80\" is no chip family ESP Web Tools flashes"),
        "{text}"
    );
    let text = refused(ewt("ESP32", "fw.bin", "invoice\u{202E}nib.exe"));
    assert!(text.contains("U+202E"), "{text}");
    // Fetched, a `../` part resolves on the manifest's own server, as ESP Web Tools does it.
    let fetched = esp_web_tools::parse_at(
        ewt("esp32-s3", "../fw/app.bin", "x").as_bytes(),
        "https://example.com/a/manifest.json",
    )
    .unwrap();
    let url = fetched.builds[0].parts[0].url.as_deref();
    assert_eq!(url, Some("https://example.com/fw/app.bin"));
    // A Pycom destination with a direction override is refused too.
    let pycom_doc = r#"{"version": "1.0.1", "new": [{"URL": "https://ota.example.com/a.py",
        "dst_path": "/flash/ma\u202Ein.py", "hash": "0000000000000000000000000000000000000000"}],
        "update": [], "delete": []}"#;
    let text = pycom::parse(pycom_doc.as_bytes())
        .expect_err("refused")
        .to_string();
    assert!(
        text.contains("U+202E") || text.contains("unsafe path"),
        "{text}"
    );
}
