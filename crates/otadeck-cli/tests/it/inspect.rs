//! `otadeck inspect` on fixtures made by the real tools and on documents from real servers:
//! summaries, JSON output, exit status 0 / 1 / 2, signature checks with `--key`, and URLs.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;

use common::{otadeck, scratch};

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../otadeck-core/tests/fixtures")
        .join(path)
}

fn inspect(args: &[&str]) -> (Option<i32>, String, String) {
    let out = otadeck().arg("inspect").args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn manifests_and_jobs_are_recognised_by_their_shape() {
    for (file, kind) in [
        ("manifests/pycom_current_1.0.0.json", "Pycom OTA manifest"),
        ("manifests/pycom_up_to_date.json", "Pycom OTA manifest"),
        (
            "manifests/esp_web_tools_esphome.json",
            "ESP Web Tools manifest",
        ),
        ("manifests/aws_zerynth_job.json", "AWS IoT job document"),
        (
            "manifests/hawkbit_deployment_base.json",
            "hawkBit DDI deploymentBase",
        ),
        (
            "manifests/hawkbit_feedback_closed_success.json",
            "hawkBit DDI feedback",
        ),
        (
            "../../../../docs/examples/plan-minimal.json",
            "otadeck campaign plan",
        ),
    ] {
        let f = fixture(file);
        let (code, out, err) = inspect(&[path(&f)]);
        assert_eq!(code, Some(0), "{file}: {out}{err}");
        assert!(out.starts_with(&format!("{kind} — valid")), "{file}: {out}");
    }
}

#[test]
fn a_broken_document_names_the_json_path_and_exits_1() {
    let dir = scratch("inspect-bad-doc");
    let text = std::fs::read_to_string(fixture("manifests/esp_web_tools_esphome.json")).unwrap();
    let bad = text.replacen("\"offset\": 0", "\"offset\": \"zero\"", 1);
    assert_ne!(bad, text, "the fixture has an offset to break");
    let f = dir.join("bad.json");
    std::fs::write(&f, bad).unwrap();
    let (code, out, _) = inspect(&[path(&f)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("ESP Web Tools manifest — INVALID"), "{out}");
    assert!(
        out.contains("builds[1].parts[0].offset: expected a number, found a string"),
        "{out}"
    );
}

#[test]
fn mcuboot_signatures_hold_only_with_the_right_key_and_untouched_bytes() {
    let ed = fixture("images/ed25519.pub.pem");
    let ec = fixture("images/ecdsa-p256.pub.pem");
    let good = fixture("images/mcuboot_ed25519.bin");
    let (code, out, err) = inspect(&[path(&good), "--key", path(&ed)]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("verified (ed25519"), "{out}");
    let (code, out, _) = inspect(&[path(&good), "--key", path(&ec)]);
    assert_eq!(code, Some(1), "wrong key: {out}");
    let flipped = fixture("images/mcuboot_ed25519_body_flipped.bin");
    let (code, out, _) = inspect(&[path(&flipped)]);
    assert_eq!(code, Some(1), "tampered body: {out}");
    assert!(out.contains("PROBLEM"), "{out}");
    let sig = fixture("images/mcuboot_ecdsa_p256_sig_flipped.bin");
    let (code, _, _) = inspect(&[path(&sig)]);
    assert_eq!(code, Some(0), "without a key only the hash is checked");
    let (code, out, _) = inspect(&[path(&sig), "--key", path(&ec)]);
    assert_eq!(code, Some(1), "flipped signature: {out}");
}

#[test]
fn esp_images_report_their_fields_and_json() {
    let img = fixture("images/esp32_app.bin");
    let (code, out, _) = inspect(&[path(&img), "--json"]);
    assert_eq!(code, Some(0), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["image"]["format"], "esp_app");

    let dir = scratch("inspect-esp-flip");
    let mut bytes = std::fs::read(&img).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x10;
    let f = dir.join("flipped.bin");
    std::fs::write(&f, bytes).unwrap();
    let (code, out, _) = inspect(&[path(&f)]);
    assert_eq!(code, Some(1), "{out}");
}

#[test]
fn usage_errors_and_unreadable_input_exit_2() {
    let (code, _, err) = inspect(&["/nonexistent/otadeck-image.bin"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("cannot read /nonexistent/otadeck-image.bin"),
        "{err}"
    );
    let img = fixture("images/esp32_app.bin");
    let key = fixture("images/ed25519.pub.pem");
    let (code, _, err) = inspect(&[path(&img), "--key", path(&key)]);
    assert_eq!(code, Some(2), "{err}");
    // Plain http is refused unless it stays on this machine; nothing is fetched.
    let (code, _, err) = inspect(&["http://192.0.2.1/manifest.json"]);
    assert_eq!(code, Some(2), "{err}");
}

/// A server on this machine that answers each of `answers` (whole HTTP responses) to one
/// request, in order; `None` accepts the connection and never answers.
fn serve(answers: Vec<Option<Vec<u8>>>) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for answer in answers {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = [0u8; 2048];
            let _ = s.read(&mut req);
            match answer {
                Some(bytes) => s.write_all(&bytes).unwrap(),
                // Hold the connection open, silent, until the client gives up.
                None => {
                    let _ = s.read(&mut req);
                }
            }
        }
    });
    (port, server)
}

fn ok_json(body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn redirect(to: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn a_manifest_is_fetched_from_a_local_server_through_a_local_redirect() {
    let body = std::fs::read(fixture("manifests/hawkbit_deployment_base.json")).unwrap();
    let (port, server) = serve(vec![
        Some(redirect("/default/controller/v1/dev1/deploymentBase/8")),
        Some(ok_json(&body)),
    ]);
    let url = format!("http://127.0.0.1:{port}/moved");
    let (code, out, err) = inspect(&[&url]);
    server.join().unwrap();
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.starts_with("hawkBit DDI deploymentBase — valid"),
        "{out}"
    );
}

#[test]
fn a_redirect_to_plain_http_elsewhere_is_refused() {
    let (port, server) = serve(vec![Some(redirect("http://fw.example.com/app.json"))]);
    let url = format!("http://127.0.0.1:{port}/manifest.json");
    let (code, out, err) = inspect(&[&url]);
    server.join().unwrap();
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("redirects to"), "{err}");
    assert!(err.contains("refused"), "{err}");
}

#[test]
fn a_server_that_never_answers_is_given_up_at_the_deadline() {
    let (port, server) = serve(vec![None]);
    let url = format!("http://127.0.0.1:{port}/manifest.json");
    let started = std::time::Instant::now();
    let (code, out, err) = inspect(&["--timeout", "2", &url]);
    let took = started.elapsed();
    server.join().unwrap();
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("did not answer within 2 s"), "{err}");
    assert!(took < std::time::Duration::from_secs(15), "{took:?}");
}

#[test]
fn json_that_does_not_parse_names_line_and_column_and_exits_1() {
    let dir = scratch("inspect-strict-json");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cases: [(&str, &[u8], &str); 7] = [
        (
            "plan.json",
            b"{\"format\": \"otadeck-campaign-plan\",\n  \"steps\": [}",
            "at line 2 column",
        ),
        (
            "huge-number.json",
            b"[1e400]",
            "number out of range at line 1",
        ),
        ("nan.json", b"{\"a\": NaN}", "at line 1 column 7"),
        (
            "not-utf8.json",
            b"\xff\xfe{\"a\": 1}",
            "not UTF-8 (byte 0xff at offset 0)",
        ),
        ("deep.bin", deep.as_bytes(), "recursion limit exceeded"),
        (
            "bom.json",
            b"\xEF\xBB\xBF{\"a\": 1}",
            "no manifest or plan otadeck reads",
        ),
        (
            "dup.json",
            b"{\"builds\": [], \"builds\": []}",
            "duplicate key",
        ),
    ];
    for (name, bytes, says) in cases {
        let file = dir.join(name);
        std::fs::write(&file, bytes).unwrap();
        let (code, out, err) = inspect(&[path(&file)]);
        assert_eq!(code, Some(1), "{name}: {out}{err}");
        assert!(out.contains("INVALID"), "{name}: {out}");
        assert!(out.contains(says), "{name}: {out}");
        assert!(!out.contains("raw data"), "{name}: {out}");
    }
}

#[test]
fn a_corrupt_esp_header_is_an_esp_error_not_raw_data() {
    let dir = scratch("inspect-strict-esp");
    let mut image = std::fs::read(fixture("images/esp32_app.bin")).unwrap();
    image[1] = 0xFF; // segment count
    let file = dir.join("app.bin");
    std::fs::write(&file, &image).unwrap();
    let (code, out, _) = inspect(&[path(&file)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("ESP-IDF app image (INVALID)"), "{out}");
    assert!(out.contains("255"), "the segment count is named: {out}");
}

#[test]
fn output_cut_short_by_a_closed_pipe_ends_quietly() {
    use std::process::Stdio;
    // A pipe whose reading end is closed before otadeck starts: its first print meets EPIPE.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = otadeck()
        .args(["inspect", path(&fixture("images/esp32_app.bin"))])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}
