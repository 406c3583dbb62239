//! `otadeck install` against simulated modules on ptys, fed by a local HTTP server that serves
//! each kind of source the way its real server does (Pycom: HTTP/1.0, no CORS, no
//! Content-Length, URLs built from the Host header).

use crate::common;

use base64::Engine;
use common::{otadeck, scratch, PtySim};
use ed25519_dalek::{Signer, SigningKey};
use otadeck_core::digest::{sha256, to_hex, MultiDigest};
use otadeck_core::source::swu;
use otadeck_sim::firmware::demo_image;
use otadeck_sim::fixture_server::{FixtureServer, Reply};
use otadeck_sim::sources::{demo_files, ESP_WEB_TOOLS_MANIFEST};
use serde_json::json;

struct Out {
    code: i32,
    stdout: String,
}

fn otadeck_run(args: &[&str]) -> Out {
    let out = otadeck().args(args).output().unwrap();
    let stdout =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout,
    }
}

fn server_with_demo() -> FixtureServer {
    let server = FixtureServer::start("127.0.0.1:0").unwrap();
    for (name, data) in demo_files() {
        server.route(&format!("/demo/{name}"), Reply::ok(data));
    }
    server
}

fn read_flash(port: &str, offset: u32, len: usize, out: &std::path::Path) -> Vec<u8> {
    let r = otadeck_run(&[
        "read-flash",
        "--port",
        port,
        "--before",
        "no-reset",
        "--offset",
        &format!("{offset:#x}"),
        "--size",
        &len.to_string(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    std::fs::read(out).unwrap()
}

#[test]
fn an_esp_web_tools_manifest_installs_bootloader_table_and_app() {
    let server = server_with_demo();
    let sim = PtySim::start(&["esp32"]);
    let url = server.url(&format!("/demo/{ESP_WEB_TOOLS_MANIFEST}"));
    let p = sim.path.as_str();
    let base = [
        "install",
        &url,
        "--port",
        p,
        "--protocol",
        "esp-rom",
        "--before",
        "no-reset",
    ];
    // Unsigned: refused unless chosen.
    let r = otadeck_run(&base);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("unsigned") && r.stdout.contains("--allow-unsigned"),
        "{}",
        r.stdout
    );
    let r = otadeck_run(&[&base[..], &["--allow-unsigned"]].concat());
    assert_eq!(r.code, 0, "{}", r.stdout);
    for line in [
        "Module:    ESP32 bootloader ESP32, runs 2.0.3",
        "Against:   2.1.0 is newer than the installed 2.0.3",
        "Will put:  bootloader.bin -> flash at 0x1000",
        "Will put:  app-2.1.0.bin -> flash at 0x10000",
        "otadata at 0xd000 is blanked",
        "Installed: the module runs 2.1.0",
    ] {
        assert!(r.stdout.contains(line), "{line}\n{}", r.stdout);
    }
    let dir = scratch("install-ewt");
    for (name, offset) in [
        ("bootloader.bin", 0x1000),
        ("partitions.bin", 0x8000),
        ("app-2.1.0.bin", 0x10000),
    ] {
        let want = &demo_files().into_iter().find(|(n, _)| n == name).unwrap().1;
        let got = read_flash(p, offset, want.len(), &dir.join(name));
        assert!(&got == want, "{name} reads back different");
    }
}

#[test]
fn signatures_expiry_and_downgrades_are_checked_before_the_module_is_touched() {
    let server = server_with_demo();
    let sim = PtySim::start(&["esp32"]);
    let dir = scratch("install-sig");
    let key = SigningKey::from_bytes(&[7; 32]);
    let key_file = dir.join("publisher.pub");
    std::fs::write(&key_file, to_hex(key.verifying_key().as_bytes())).unwrap();
    let manifest = demo_files()
        .into_iter()
        .find(|(n, _)| n == ESP_WEB_TOOLS_MANIFEST)
        .unwrap()
        .1;
    server.route("/signed/m.json", Reply::json(manifest.clone()));
    server.route(
        "/signed/m.json.sig",
        Reply::ok(base64::engine::general_purpose::STANDARD.encode(key.sign(&manifest).to_bytes())),
    );
    for name in ["bootloader.bin", "partitions.bin", "app-2.1.0.bin"] {
        let data = demo_files().into_iter().find(|(n, _)| n == name).unwrap().1;
        server.route(&format!("/signed/{name}"), Reply::ok(data));
    }
    let p = sim.path.as_str();
    let args = |url: &str| -> Vec<String> {
        [
            "install",
            url,
            "--port",
            p,
            "--protocol",
            "esp-rom",
            "--before",
            "no-reset",
            "--key",
            key_file.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let run = |v: Vec<String>| otadeck_run(&v.iter().map(String::as_str).collect::<Vec<_>>());

    // A signature by another key: refused whatever the flags.
    let other = SigningKey::from_bytes(&[8; 32]);
    server.route("/bad/m.json", Reply::json(manifest.clone()));
    server.route(
        "/bad/m.json.sig",
        Reply::ok(other.sign(&manifest).to_bytes().to_vec()),
    );
    let mut v = args(&server.url("/bad/m.json"));
    v.push("--allow-unsigned".into());
    let r = run(v);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("verifies with none of the 1 imported key"),
        "{}",
        r.stdout
    );

    // Expired.
    let mut expired: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    expired["expires"] = json!("2020-01-01T00:00:00Z");
    server.route(
        "/old/m.json",
        Reply::json(serde_json::to_vec(&expired).unwrap()),
    );
    let mut v = args(&server.url("/old/m.json"));
    v.push("--allow-unsigned".into());
    let r = run(v);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("expired at 2020-01-01T00:00:00Z"),
        "{}",
        r.stdout
    );

    // Signed, but older than what the chip runs: it runs only with a reason.
    let mut older: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    older["version"] = json!("1.0.0");
    let older = serde_json::to_vec(&older).unwrap();
    server.route("/signed/old.json", Reply::json(older.clone()));
    server.route(
        "/signed/old.json.sig",
        Reply::ok(key.sign(&older).to_bytes().to_vec()),
    );
    let r = run(args(&server.url("/signed/old.json")));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("1.0.0 is older than the installed 2.0.3")
            && r.stdout.contains("--downgrade-reason"),
        "{}",
        r.stdout
    );
    // The same manifest as served and signed: verified by the imported key.
    let r = run(args(&server.url("/signed/m.json")));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("Signature: signed: a detached signature verified with the key SHA256:"),
        "{}",
        r.stdout
    );
}

#[test]
fn an_aws_job_is_checked_by_md5_and_size_and_reported_as_job_execution_updates() {
    let server = FixtureServer::start("127.0.0.1:0").unwrap();
    let sim = PtySim::start(&["micropython-esp32"]);
    let dir = scratch("install-aws");
    let image = demo_image("2.1.0", 30_000);
    let md5 = to_hex(&MultiDigest::of(&image).md5.unwrap());
    server.route("/fw.bin", Reply::ok(image.clone()));
    let job = |md5: &str| {
        json!({"execution": {"jobId": "job-42", "jobDocument":
        {"bc_idx": 0, "bc_crc": md5, "bc_size": image.len(), "bc_url": server.url("/fw.bin?X-Amz-Signature=x")}}})
    };
    let file = dir.join("job.json");
    let report = dir.join("report.json");
    let p = sim.path.as_str();
    let args = [
        "install",
        file.to_str().unwrap(),
        "--port",
        p,
        "--allow-unsigned",
        "--report",
        report.to_str().unwrap(),
    ];

    // A wrong MD5: refused before the module is written, and reported REJECTED.
    std::fs::write(&file, serde_json::to_vec(&job(&"0".repeat(32))).unwrap()).unwrap();
    let r = otadeck_run(&args);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!(
            "its MD5 is {md5}, and the source publishes 00000000"
        )),
        "{}",
        r.stdout
    );
    let rep: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(
        rep["updates"].as_array().unwrap().last().unwrap()["status"],
        "REJECTED"
    );

    std::fs::write(&file, serde_json::to_vec(&job(&md5)).unwrap()).unwrap();
    server.route("/things/dev-1/jobs/job-42", Reply::json(b"{}".to_vec()));
    let endpoint = server.url("/");
    let args = [
        &args[..],
        &["--aws-endpoint", &endpoint, "--thing", "dev-1"],
    ]
    .concat();
    let r = otadeck_run(&args);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains("Installed: the module runs 2.1.0"),
        "{}",
        r.stdout
    );
    let rep: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(rep["jobId"], "job-42");
    let statuses: Vec<&str> = rep["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"]);
    assert_eq!(rep["updates"][2]["statusDetails"]["version"], "2.1.0");
    // The same updates, sent as they happened to the endpoint.
    let sent: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|q| q.method == "POST" && q.target == "/things/dev-1/jobs/job-42")
        .map(|q| {
            serde_json::from_slice::<serde_json::Value>(&q.body).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(sent, ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"]);
}

#[test]
fn a_pycom_server_is_asked_with_the_running_version_over_http_1_0_without_cors() {
    let server = FixtureServer::start("127.0.0.1:0").unwrap();
    let sim = PtySim::start(&["pycom"]);
    let firmware = demo_image("2.1.0", 20_000);
    let lib = b"VALUE = 2\n".to_vec();
    let sha1 = |d: &[u8]| to_hex(&MultiDigest::of(d).sha1.unwrap());
    let manifest = json!({"version": "2.1.0", "delete": [],
        "new": [{"URL": "http://{host}/2.1.0/flash/lib/value.py", "dst_path": "/flash/lib/value.py", "hash": sha1(&lib)}],
        "update": [], "firmware": {"URL": "http://{host}/firmware_2.1.0.bin", "hash": sha1(&firmware)}});
    let pycom = |body: Vec<u8>| Reply {
        http10: true,
        ..Reply::ok(body).no_cors()
    };
    let listing = |body: Vec<u8>| Reply {
        host: true,
        ..pycom(body)
    };
    server.route(
        "/manifest.json",
        listing(serde_json::to_vec_pretty(&manifest).unwrap()),
    );
    server.route("/2.1.0/flash/lib/value.py", pycom(lib));
    server.route("/firmware_2.1.0.bin", pycom(firmware));
    let r = otadeck_run(&[
        "install",
        &server.url("/manifest.json"),
        "--port",
        &sim.path,
        "--allow-unsigned",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("Will put:  /flash/lib/value.py -> /flash/lib/value.py (new)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("Installed: the module runs 2.1.0"),
        "{}",
        r.stdout
    );
    let asked: Vec<String> = server.requests().into_iter().map(|q| q.target).collect();
    assert!(
        asked.contains(&"/manifest.json?current_ver=2.0.3".to_string()),
        "{asked:?}"
    );

    // Up to date: the server answers null.
    server.route("/manifest.json", listing(b"null".to_vec()));
    let r = otadeck_run(&[
        "install",
        &server.url("/manifest.json"),
        "--port",
        &sim.path,
        "--allow-unsigned",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("Up to date: the Pycom server has nothing newer"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_hawkbit_deployment_is_polled_downloaded_unwrapped_and_fed_back() {
    let server = FixtureServer::start("127.0.0.1:0").unwrap();
    let sim = PtySim::start(&["micropython-esp32"]);
    let image = demo_image("3.0.0", 25_000);
    let desc = format!("software = {{ version = \"3.0.0\"; images: ({{ filename = \"app.bin\"; sha256 = \"{}\"; }}); }}", to_hex(&sha256(&image)));
    let bundle = swu::archive(&[("sw-description", desc.as_bytes()), ("app.bin", &image)]);
    let ctl = "/DEFAULT/controller/v1/dev-7";
    server.route(ctl, Reply::json(serde_json::to_vec(&json!({"config": {"polling": {"sleep": "00:00:30"}},
        "_links": {"deploymentBase": {"href": server.url(&format!("{ctl}/deploymentBase/5?c=99"))}}})).unwrap()));
    server.route(&format!("{ctl}/deploymentBase/5"), Reply::json(serde_json::to_vec(&json!({"id": "5",
        "deployment": {"download": "forced", "update": "forced", "chunks": [{"part": "os", "version": "3.0.0", "name": "app",
        "artifacts": [{"filename": "app-3.0.0.swu", "size": bundle.len(), "hashes": {"sha256": to_hex(&sha256(&bundle))},
            "_links": {"download-http": {"href": server.url("/artifacts/app-3.0.0.swu")}}}]}]}})).unwrap()));
    server.route("/artifacts/app-3.0.0.swu", Reply::ok(bundle));
    server.route(
        &format!("{ctl}/deploymentBase/5/feedback"),
        Reply::json(b"".to_vec()),
    );
    let r = otadeck_run(&[
        "install",
        "--port",
        &sim.path,
        "--hawkbit",
        &server.url(""),
        "--tenant",
        "DEFAULT",
        "--controller",
        "dev-7",
        "--token",
        "s3cret",
        "--allow-unsigned",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains("an SWUpdate bundle; its one image"),
        "{}",
        r.stdout
    );
    let feedback: Vec<serde_json::Value> = server
        .requests()
        .into_iter()
        .filter(|q| q.method == "POST")
        .map(|q| {
            assert_eq!(q.authorization.as_deref(), Some("TargetToken s3cret"));
            serde_json::from_slice(&q.body).unwrap()
        })
        .collect();
    // The server closed the action meanwhile: the next install says the result was not recorded.
    server.route(
        &format!("{ctl}/deploymentBase/5/feedback"),
        Reply {
            status: 410,
            ..Reply::json(b"{}".to_vec())
        },
    );
    let r = otadeck_run(&[
        "install",
        "--port",
        &sim.path,
        "--hawkbit",
        &server.url(""),
        "--tenant",
        "DEFAULT",
        "--controller",
        "dev-7",
        "--token",
        "s3cret",
        "--allow-unsigned",
    ]);
    assert!(
        r.stdout
            .contains("closed this action already (410 Gone): the result was not recorded there"),
        "{}",
        r.stdout
    );
    let last = feedback.last().expect("feedback sent");
    assert_eq!(last["status"]["execution"], "closed");
    assert_eq!(last["status"]["result"]["finished"], "success");
    assert!(feedback[..feedback.len() - 1]
        .iter()
        .all(|f| f["status"]["execution"] == "proceeding"));
}
