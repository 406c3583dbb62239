//! AWS IoT job documents (Zerynth, FreeRTOS `afr_ota`) and execution status update bodies.

use otadeck_core::manifest::aws_job::{
    check_detail, parse, DetailError, ExecutionStatus, JobDocument, StatusUpdate,
};
use otadeck_core::manifest::ErrorKind;

const ZERYNTH: &[u8] = include_bytes!("../fixtures/manifests/aws_zerynth_job.json");
/// The job from the FreeRTOS OTA library's own unit tests (`ota_jobParsing_utest.c`).
const AFR: &[u8] = include_bytes!("../fixtures/manifests/aws_afr_ota_job.json");

#[test]
fn zerynth_job() {
    let job = parse(ZERYNTH).unwrap();
    assert_eq!(job.job_id, None);
    let JobDocument::Zerynth(z) = &job.document else {
        panic!("{job:?}")
    };
    assert_eq!(z.bc_idx, 1);
    assert_eq!(z.bc_size, 123_399);
    assert_eq!(z.bc_md5.hex(), "8b697907df3e2371a4cf535e1f774354");
    assert!(z
        .bc_url
        .starts_with("https://zerynth-fota.s3.amazonaws.com/"));
    assert_eq!(
        serde_json::to_value(&job).unwrap()["document"]["format"],
        "zerynth"
    );
}

#[test]
fn zerynth_in_the_execution_wrapper() {
    let doc = format!(
        r#"{{"execution":{{"jobId":"fota-42","statusDetails":{{"step":"queued"}},"jobDocument":{}}}}}"#,
        std::str::from_utf8(ZERYNTH).unwrap()
    );
    let job = parse(doc.as_bytes()).unwrap();
    assert_eq!(job.job_id.as_deref(), Some("fota-42"));
    assert_eq!(job.status_details["step"], "queued");
}

#[test]
fn freertos_afr_ota_job() {
    let job = parse(AFR).unwrap();
    assert_eq!(job.job_id.as_deref(), Some("AFR_OTA-testjob20"));
    let JobDocument::AfrOta(a) = &job.document else {
        panic!()
    };
    assert_eq!(a.protocols, ["MQTT"]);
    assert_eq!(a.stream_name.as_deref(), Some("AFR_OTA-XYZ"));
    let f = &a.files[0];
    assert_eq!(
        (f.file_path.as_str(), f.file_size, f.file_id),
        ("/test/demo", 180_568, 0)
    );
    assert_eq!(f.cert_file.as_deref(), Some("test.crt"));
    assert!(f
        .signature_base64
        .as_deref()
        .unwrap()
        .starts_with("MEQCIF2Q"));
}

#[test]
fn errors_name_the_json_path() {
    let z = |bc_crc: &str, url: &str| {
        format!(r#"{{"bc_idx":0,"bc_crc":"{bc_crc}","bc_size":10,"bc_url":"{url}"}}"#)
    };
    let md5 = "8b697907df3e2371a4cf535e1f774354";
    let e = parse(z("19f7af2a5afdfc1f972a49fae9b149c4ab4d40b0", "https://s3/x").as_bytes())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "bc_crc: not an MD5 digest: expected 32 hex characters, found 40"
    );
    let e = parse(z(md5, "http://bucket.s3.amazonaws.com/x").as_bytes()).unwrap_err();
    assert_eq!(e.path, "bc_url");
    assert!(matches!(e.kind, ErrorKind::UnsafeUrl { .. }));
    let e = parse(br#"{"bc_idx":"1"}"#).unwrap_err();
    assert_eq!(e.to_string(), "bc_idx: expected a number, found a string");
    let e = parse(
        format!(r#"{{"bc_idx":0,"bc_crc":"{md5}","bc_size":104857601,"bc_url":"https://s/x"}}"#)
            .as_bytes(),
    )
    .unwrap_err();
    assert_eq!(e.path, "bc_size");
    let e = parse(br#"{"something":"else"}"#).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Unsupported { .. }));

    let afr = |file: &str| {
        format!(r#"{{"afr_ota":{{"protocols":["MQTT"],"streamname":"s","files":[{file}]}}}}"#)
    };
    let e =
        parse(afr(r#"{"filepath":"/a/../../b","filesize":1,"fileid":0}"#).as_bytes()).unwrap_err();
    assert_eq!(e.path, "afr_ota.files[0].filepath");
    let e = parse(
        afr(r#"{"filepath":"/a","filesize":1,"fileid":0,"sig-sha256-ecdsa":"not base64!"}"#)
            .as_bytes(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "afr_ota.files[0].sig-sha256-ecdsa: not valid base64"
    );
    let e = parse(br#"{"afr_ota":{"protocols":["MQTT"],"files":[]}}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "afr_ota.streamname: required field is missing"
    );
    let e = parse(br#"{"afr_ota":{"protocols":["FTP"],"files":[]}}"#).unwrap_err();
    assert_eq!(e.path, "afr_ota.protocols[0]");
    let e =
        parse(br#"{"execution":{"jobId":"j","statusDetails":{"bad key":"v"},"jobDocument":{}}}"#)
            .unwrap_err();
    assert_eq!(e.path, "execution.statusDetails[\"bad key\"]");
}

#[test]
fn status_update_bodies() {
    let s = StatusUpdate::in_progress("download").unwrap();
    assert_eq!(
        s.to_json(),
        r#"{"status":"IN_PROGRESS","statusDetails":{"step":"download"}}"#
    );

    let mut s = StatusUpdate::succeeded("1.0.1").unwrap();
    s.expected_version = Some(3);
    s.client_token = Some("otadeck-1".into());
    assert_eq!(
        s.to_json(),
        r#"{"status":"SUCCEEDED","statusDetails":{"version":"1.0.1"},"expectedVersion":3,"clientToken":"otadeck-1"}"#
    );

    let s = StatusUpdate::failed("SHA-1 mismatch:\nexpected 19f7…")
        .detail("code", "E_HASH")
        .unwrap();
    assert_eq!(
        s.to_json(),
        r#"{"status":"FAILED","statusDetails":{"code":"E_HASH","reason":"SHA-1 mismatch: expected 19f7…"}}"#
    );
    assert_eq!(
        StatusUpdate::new(ExecutionStatus::Rejected).to_json(),
        r#"{"status":"REJECTED"}"#
    );

    let long = StatusUpdate::failed(&"x".repeat(5000));
    let reason = &long.status_details()["reason"];
    assert_eq!(reason.chars().count(), 1024);
    assert!(reason.ends_with('…'));
}

#[test]
fn status_details_limits() {
    assert!(check_detail(&"k".repeat(128), "v").is_ok());
    assert_eq!(
        check_detail(&"k".repeat(129), "v"),
        Err(DetailError::Key("k".repeat(129)))
    );
    assert!(check_detail("a:b_c-D9", "v").is_ok());
    assert!(check_detail("a.b", "v").is_err());
    assert!(check_detail("", "v").is_err());
    assert!(check_detail("k", &"v".repeat(1024)).is_ok());
    assert_eq!(
        check_detail("k", &"v".repeat(1025)),
        Err(DetailError::Value("k".into()))
    );
    assert!(check_detail("k", "").is_err());
    assert!(check_detail("k", "tab\there").is_err());
    assert!(check_detail("k", "zero\u{200B}width").is_err());
    assert!(check_detail("k", "中文 ok").is_ok());
    assert!(StatusUpdate::new(ExecutionStatus::Failed)
        .detail("bad key", "v")
        .is_err());
}
