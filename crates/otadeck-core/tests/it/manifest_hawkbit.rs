//! hawkBit DDI: controller base, deploymentBase (the example from hawkBit's own
//! `DdiDeploymentBase.java`), and the feedback body (`finished`, not `final`).

use otadeck_core::digest::{Algorithm, MultiDigest};
use otadeck_core::manifest::hawkbit::{
    parse_controller_base, parse_deployment_base, parse_feedback, Execution, Feedback, Finished,
    Handling, MaintenanceWindow,
};
use otadeck_core::manifest::ErrorKind;
use serde_json::{json, Value};

const CONTROLLER: &[u8] = include_bytes!("../fixtures/manifests/hawkbit_controller_base.json");
const DEPLOYMENT: &[u8] = include_bytes!("../fixtures/manifests/hawkbit_deployment_base.json");
const FEEDBACK: &[u8] =
    include_bytes!("../fixtures/manifests/hawkbit_feedback_closed_success.json");

#[test]
fn controller_base() {
    let c = parse_controller_base(CONTROLLER).unwrap();
    assert_eq!(c.polling_sleep, "12:00:00");
    assert_eq!(c.polling_seconds, 43_200);
    assert!(c
        .deployment_base
        .as_deref()
        .unwrap()
        .ends_with("/deploymentBase/5?c=-2127183556"));
    assert!(c.installed_base.is_some() && c.config_data.is_some());
    assert!(c.cancel_action.is_none());

    let e = parse_controller_base(br#"{"config":{"polling":{"sleep":"10"}}}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "config.polling.sleep: expected HH:mm:ss, found \"10\""
    );
    let e = parse_controller_base(br#"{"config":{"polling":{}}}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "config.polling.sleep: required field is missing"
    );
    let e = parse_controller_base(
        br#"{"config":{"polling":{"sleep":"00:05:00"}},"_links":{"deploymentBase":{"href":"http://hawkbit.lan/x"}}}"#,
    )
    .unwrap_err();
    assert_eq!(e.path, "_links.deploymentBase.href");
}

#[test]
fn deployment_base_from_hawkbit_docs() {
    let d = parse_deployment_base(DEPLOYMENT).unwrap();
    assert_eq!(d.id, "8");
    assert_eq!(
        (d.download, d.update),
        (Some(Handling::Forced), Some(Handling::Forced))
    );
    assert_eq!(d.maintenance_window, Some(MaintenanceWindow::Available));
    assert_eq!(d.chunks.len(), 3);
    let os = &d.chunks[1];
    assert_eq!(
        (os.part.as_str(), os.version.as_str(), os.name.as_str()),
        ("os", "1.0.79", "one Firmware")
    );
    let a = &os.artifacts[0];
    assert_eq!((a.filename.as_str(), a.size), ("binary.tgz", 13));
    assert_eq!(a.best_hash().unwrap().algorithm(), Algorithm::Sha256);
    assert_eq!(
        a.sha1.as_ref().unwrap().hex(),
        "574cd34be20f75d101ed23518339cc38c5157bdb"
    );
    // The https link is used; the plain-http alternative next to it is ignored.
    assert!(a.download_url.starts_with("https://link-to-cdn.com/"));
    assert_eq!(d.chunks[2].metadata[0].0, "aMetadataKey");
    assert_eq!(d.history.len(), 6);
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(
        json["chunks"][0]["artifacts"][0]["sha256"]["algorithm"],
        "sha256"
    );

    // A downloaded artifact is checked against the hash the deployment promised.
    let digests = MultiDigest::of(b"not the real binary.tgz");
    assert!(!digests.verify(a.best_hash().unwrap()).is_match());
}

fn with_artifact(artifact: Value) -> Vec<u8> {
    let doc = json!({"id": "9", "deployment": {"download": "attempt", "update": "skip",
        "chunks": [{"part": "os", "version": "1", "name": "fw", "artifacts": [artifact]}]}});
    serde_json::to_vec(&doc).unwrap()
}

#[test]
fn artifact_rules_and_paths() {
    let good = json!({"filename": "fw.bin", "size": 13, "hashes": {"md5": "a0637c1ccb9fd53e2ba6f45712516989"},
        "_links": {"download": {"href": "https://cdn/fw.bin"}}});
    assert!(parse_deployment_base(&with_artifact(good.clone())).is_ok());

    let mut bad = good.clone();
    bad["hashes"]["md5"] = json!("a0637c1c");
    let e = parse_deployment_base(&with_artifact(bad)).unwrap_err();
    assert_eq!(e.to_string(), "deployment.chunks[0].artifacts[0].hashes.md5: not an MD5 digest: expected 32 hex characters, found 8");

    let mut bad = good.clone();
    bad["hashes"] = json!({});
    assert_eq!(
        parse_deployment_base(&with_artifact(bad)).unwrap_err().path,
        "deployment.chunks[0].artifacts[0].hashes"
    );

    let mut bad = good.clone();
    bad["filename"] = json!("../../etc/passwd");
    let e = parse_deployment_base(&with_artifact(bad)).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::UnsafePath { .. }));

    let mut only_http = good.clone();
    only_http["_links"] = json!({"download-http": {"href": "http://cdn.example/fw.bin"}});
    let e = parse_deployment_base(&with_artifact(only_http)).unwrap_err();
    assert_eq!(
        e.path,
        "deployment.chunks[0].artifacts[0]._links.download-http.href"
    );

    let mut local_http = good.clone();
    local_http["_links"] = json!({"download-http": {"href": "http://127.0.0.1:8080/fw.bin"}});
    assert!(parse_deployment_base(&with_artifact(local_http)).is_ok());

    let mut no_link = good.clone();
    no_link["_links"] = json!({"md5sum": {"href": "https://cdn/fw.bin.MD5SUM"}});
    let e = parse_deployment_base(&with_artifact(no_link)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "deployment.chunks[0].artifacts[0]._links.download: required field is missing"
    );

    let mut bad = good;
    bad["size"] = json!(13.5);
    let e = parse_deployment_base(&with_artifact(bad)).unwrap_err();
    assert_eq!(e.path, "deployment.chunks[0].artifacts[0].size");

    let e = parse_deployment_base(br#"{"id":"1","deployment":{"download":"later","chunks":[]}}"#)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "deployment.download: expected one of \"skip\", \"attempt\", \"forced\", found \"later\""
    );
}

#[test]
fn feedback_bodies() {
    let recorded = parse_feedback(FEEDBACK).unwrap();
    let built = Feedback::closed_success()
        .with_timestamp(1_627_997_501_890)
        .with_detail("ok");
    assert_eq!(recorded, built);
    let original: Value = serde_json::from_slice(FEEDBACK).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&built.to_json()).unwrap(),
        original
    );

    let p = Feedback::proceeding(2, 5).with_detail("writing slot 1");
    assert_eq!(
        p.to_json(),
        r#"{"status":{"execution":"proceeding","result":{"finished":"none","progress":{"cnt":2,"of":5}},"details":["writing slot 1"]}}"#
    );
    let f = Feedback::closed_failure()
        .with_code(-3)
        .with_detail("SHA-256 mismatch");
    assert_eq!(
        f.to_json(),
        r#"{"status":{"execution":"closed","result":{"finished":"failure"},"code":-3,"details":["SHA-256 mismatch"]}}"#
    );
    assert!(!f.to_json().contains("\"final\""));
    let r = Feedback::new(Execution::Rejected, Finished::None);
    assert_eq!(parse_feedback(r.to_json().as_bytes()).unwrap(), r);
}

#[test]
fn feedback_with_final_is_refused() {
    let e = parse_feedback(br#"{"status":{"execution":"closed","result":{"final":"success"}}}"#)
        .unwrap_err();
    assert_eq!(e.path, "status.result.final");
    assert!(e.to_string().contains("\"finished\", not \"final\""));
    let e = parse_feedback(br#"{"status":{"execution":"closed","result":{"finished":"none","progress":{"cnt":6,"of":5}}}}"#)
        .unwrap_err();
    assert_eq!(e.path, "status.result.progress");
}
