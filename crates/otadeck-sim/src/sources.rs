//! Update sources for the demo and for tests: an ESP Web Tools manifest of a whole ESP32 install
//! (bootloader, partition table, app) and the files it names, made deterministically. The web
//! app serves them from `static/demo/` (written by `otadeck sim sources --out static/demo`, and
//! checked to be current by a test).

use otadeck_core::image::esp::build_image;
use otadeck_core::image::esp_partition::build_table;
use serde_json::json;

use crate::esp_rom::PARTITIONS;
use crate::firmware::{demo_image, SAMPLE_BODY_LEN, SAMPLE_VERSION};

/// The file name of the demo's ESP Web Tools manifest.
pub const ESP_WEB_TOOLS_MANIFEST: &str = "esp32-install.json";

/// An ESP32 second-stage bootloader image (no app descriptor), firmware-like, about 24 KiB.
pub fn bootloader_image() -> Vec<u8> {
    let app = demo_image("bootloader", 24 * 1024);
    // The body of a demo app, reused as the bootloader's two segments (IRAM and DRAM).
    let body = &app[0x100..app.len() - 64];
    let split = body.len() / 2;
    build_image(
        0,
        None,
        &[(0x3FFF_0030, &body[..split]), (0x4007_8000, &body[split..])],
    )
}

/// The partition table the simulated ESP32 has (nvs, otadata, phy_init, ota_0, ota_1).
pub fn partition_table() -> Vec<u8> {
    build_table(PARTITIONS)
}

/// An ESP Web Tools manifest for `version` whose parts are `bootloader.bin` at 0x1000,
/// `partitions.bin` at 0x8000 and `app` at 0x10000, paths relative to the manifest.
pub fn esp_web_tools_manifest(version: &str, app: &str) -> String {
    let manifest = json!({
        "name": "otadeck demo",
        "version": version,
        "new_install_prompt_erase": true,
        "builds": [
            {"chipFamily": "ESP32", "parts": [
                {"path": "bootloader.bin", "offset": 0x1000},
                {"path": "partitions.bin", "offset": 0x8000},
                {"path": app, "offset": 0x10000}
            ]},
            {"chipFamily": "ESP32-S3", "parts": [
                {"path": "esp32s3/firmware.bin", "offset": 0}
            ]}
        ]
    });
    serde_json::to_string_pretty(&manifest).expect("JSON") + "\n"
}

/// The demo's Pycom OTA manifest (as `OTA_server.py` writes one), relative to `demo/`.
pub const PYCOM_MANIFEST: &str = "pycom/manifest.json";
/// A Pycom manifest with a file the board cannot write (its parent is a file): the update is
/// undone on the board, all or nothing.
pub const PYCOM_FAILING_MANIFEST: &str = "pycom/manifest-fails.json";

fn sha1_hex(data: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    Sha1::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The demo Pycom update: two files and the firmware; and the one that fails on the board.
fn pycom_files(app: &[u8]) -> Vec<(String, Vec<u8>)> {
    let sensor =
        b"# otadeck demo: read the sensor every 10 s\nimport time\nINTERVAL = 10\n".to_vec();
    let main = b"import sensor\nprint('demo app 2.1.0')\n".to_vec();
    let entry = |name: &str, dst: &str, data: &[u8]| json!({"URL": name, "dst_path": dst, "hash": sha1_hex(data)});
    let manifest = json!({
        "delete": [],
        "firmware": {"URL": format!("../app-{SAMPLE_VERSION}.bin"), "hash": sha1_hex(app)},
        "new": [entry("sensor.py", "/flash/lib/sensor.py", &sensor), entry("main.py", "/flash/main.py", &main)],
        "update": [],
        "version": SAMPLE_VERSION,
    });
    let failing = json!({
        "delete": [],
        "new": [entry("sensor.py", "/flash/lib/sensor2.py", &sensor), entry("main.py", "/flash/main.py/extra.py", &main)],
        "update": [],
        "version": "2.2.0",
    });
    let text = |v: serde_json::Value| serde_json::to_string_pretty(&v).expect("JSON").into_bytes();
    vec![
        (PYCOM_MANIFEST.into(), text(manifest)),
        (PYCOM_FAILING_MANIFEST.into(), text(failing)),
        ("pycom/sensor.py".into(), sensor),
        ("pycom/main.py".into(), main),
    ]
}

/// Every file of the demo's sources, by name, as `static/demo/` holds them.
pub fn demo_files() -> Vec<(String, Vec<u8>)> {
    let app_name = format!("app-{SAMPLE_VERSION}.bin");
    let app = demo_image(SAMPLE_VERSION, SAMPLE_BODY_LEN);
    let mut files = vec![
        (
            ESP_WEB_TOOLS_MANIFEST.into(),
            esp_web_tools_manifest(SAMPLE_VERSION, &app_name).into_bytes(),
        ),
        ("bootloader.bin".into(), bootloader_image()),
        ("partitions.bin".into(), partition_table()),
    ];
    files.extend(pycom_files(&app));
    files.push((app_name, app));
    files.extend(crate::fleet::demo_campaign_files());
    files
}

/// The seed of the key that signs the fixtures' signed sources (its public half is
/// [`fixture_public_key`]).
const FIXTURE_KEY_SEED: [u8; 32] = [7; 32];

/// The public key, as hex, that verifies the fixtures under `/fx/signed/`.
pub fn fixture_public_key() -> String {
    let key = ed25519_dalek::SigningKey::from_bytes(&FIXTURE_KEY_SEED);
    key.verifying_key()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(not(target_arch = "wasm32"))]
fn sign(seed: [u8; 32], data: &[u8]) -> Vec<u8> {
    use ed25519_dalek::Signer;
    ed25519_dalek::SigningKey::from_bytes(&seed)
        .sign(data)
        .to_bytes()
        .to_vec()
}

/// The test sources a [`crate::fixture_server::FixtureServer`] serves under `/fx/`, one case per
/// path, each as a real server might serve it (see the table in the body).
#[cfg(not(target_arch = "wasm32"))]
pub fn serve_fixtures(server: &crate::fixture_server::FixtureServer) {
    use crate::fixture_server::Reply;
    let manifest = esp_web_tools_manifest(SAMPLE_VERSION, &format!("app-{SAMPLE_VERSION}.bin"));
    for (name, data) in demo_files() {
        if name != ESP_WEB_TOOLS_MANIFEST {
            for dir in ["ok", "nocors", "signed", "badsig", "expired", "downgrade"] {
                server.route(&format!("/fx/{dir}/{name}"), Reply::ok(data.clone()));
            }
        }
    }
    let with = |key: &str, value: serde_json::Value| {
        let mut m: serde_json::Value = serde_json::from_str(&manifest).expect("JSON");
        m[key] = value;
        serde_json::to_vec_pretty(&m).expect("JSON")
    };
    // | path | case |
    // | ok/ | an unsigned manifest, CORS on |
    server.route("/fx/ok/m.json", Reply::json(manifest.clone()));
    // | nocors/ | the same without Access-Control-Allow-Origin (a browser may not read it) |
    server.route("/fx/nocors/m.json", Reply::json(manifest.clone()).no_cors());
    // | signed/ | a detached signature by the fixture key |
    server.route("/fx/signed/m.json", Reply::json(manifest.clone()));
    server.route(
        "/fx/signed/m.json.sig",
        Reply::ok(sign(FIXTURE_KEY_SEED, manifest.as_bytes())),
    );
    // | badsig/ | a detached signature by another key |
    server.route("/fx/badsig/m.json", Reply::json(manifest.clone()));
    server.route(
        "/fx/badsig/m.json.sig",
        Reply::ok(sign([8; 32], manifest.as_bytes())),
    );
    // | expired/ | signed, but its `expires` is past |
    let expired = with("expires", serde_json::json!("2020-01-01T00:00:00Z"));
    server.route("/fx/expired/m.json", Reply::json(expired.clone()));
    server.route(
        "/fx/expired/m.json.sig",
        Reply::ok(sign(FIXTURE_KEY_SEED, &expired)),
    );
    // | downgrade/ | signed, version 1.0.0 (older than the demo's 2.0.3) |
    let older = with("version", serde_json::json!("1.0.0"));
    server.route("/fx/downgrade/m.json", Reply::json(older.clone()));
    server.route(
        "/fx/downgrade/m.json.sig",
        Reply::ok(sign(FIXTURE_KEY_SEED, &older)),
    );
    // | jobs/ | AWS IoT job documents for one app image: right, wrong MD5, cut short, oversized |
    let app = crate::firmware::demo_image(SAMPLE_VERSION, 40 * 1024);
    let md5: String = {
        use md5::{Digest, Md5};
        Md5::digest(&app)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let job = |md5: &str, size: usize, path: &str| {
        let doc = serde_json::json!({"execution": {"jobId": "fx", "jobDocument": {
            "bc_idx": 0, "bc_crc": md5, "bc_size": size, "bc_url": server.url(path)}}});
        serde_json::to_vec(&doc).expect("JSON")
    };
    server.route("/fx/files/app.bin", Reply::ok(app.clone()));
    server.route(
        "/fx/files/cut.bin",
        Reply {
            cut_at: Some(app.len() / 2),
            ..Reply::ok(app.clone())
        },
    );
    server.route(
        "/fx/jobs/ok.json",
        Reply::json(job(&md5, app.len(), "/fx/files/app.bin")),
    );
    server.route(
        "/fx/jobs/wrong-hash.json",
        Reply::json(job(&"0".repeat(32), app.len(), "/fx/files/app.bin")),
    );
    server.route(
        "/fx/jobs/truncated.json",
        Reply::json(job(&md5, app.len(), "/fx/files/cut.bin")),
    );
    server.route(
        "/fx/jobs/oversized.json",
        Reply::json(job(&md5, 1000, "/fx/files/app.bin")),
    );
    // | files/redirect.bin | a redirect to a plain-http host that is not this machine |
    server.route(
        "/fx/files/redirect.bin",
        Reply {
            status: 302,
            location: Some(format!(
                "http://localhost.:{}/fx/files/app.bin",
                server.addr.rsplit(':').next().unwrap_or("80")
            )),
            ..Reply::ok(Vec::new())
        },
    );
    server.route(
        "/fx/jobs/redirect.json",
        Reply::json(job(&md5, app.len(), "/fx/files/redirect.bin")),
    );
    // | hawkbit/ | a hawkBit DDI controller that asks to register, then offers a one-image .swu |
    serve_hawkbit(server);
    // | ok/campaign/plan-reports.json | the demo plan, reporting to fleet/results and to a
    // | hawkBit Management API (hawkbit-mgmt/) |
    serve_campaign_reports(server);
    // | broken.json | the server fails (HTTP 500) |
    server.route(
        "/fx/broken.json",
        Reply {
            status: 500,
            ..Reply::json(b"{}".to_vec())
        },
    );
}

/// A one-image SWUpdate bundle of `image` declaring `version`, as `swugenerator` writes one
/// (`sw-description` first, then `app.bin`, its SHA-256 in the description).
pub fn swu_bundle(image: &[u8], version: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let sha: String = Sha256::digest(image)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let desc = format!(
        "software =\n{{\n\tversion = \"{version}\";\n\tdescription = \"otadeck demo app\";\n\timages: (\n\t\t{{\n\t\t\tfilename = \"app.bin\";\n\t\t\ttype = \"raw\";\n\t\t\tsha256 = \"{sha}\";\n\t\t}}\n\t);\n}}\n"
    );
    otadeck_core::source::swu::archive(&[("sw-description", desc.as_bytes()), ("app.bin", image)])
}

/// The demo plan with a `report` section, and its two receivers: `/fx/fleet/results` fails once
/// (503), then takes every report; the hawkBit Management API takes offline assignments of
/// distribution set 7.
#[cfg(not(target_arch = "wasm32"))]
fn serve_campaign_reports(server: &crate::fixture_server::FixtureServer) {
    use crate::fixture_server::Reply;
    let mut plan: serde_json::Value =
        serde_json::from_str(&crate::fleet::demo_plan()).expect("the demo plan is JSON");
    plan["id"] = json!("demo-with-reports");
    plan["report"] = json!({
        "url": server.url("/fx/fleet/results"),
        "hawkbit": {"base": server.url("/fx/hawkbit-mgmt"), "distribution_set": 7},
    });
    server.route(
        "/fx/ok/campaign/plan-reports.json",
        Reply::json(serde_json::to_vec_pretty(&plan).expect("JSON")),
    );
    let taken = Reply::json(b"{}".to_vec());
    server.route(
        "/fx/fleet/results",
        Reply {
            status: 503,
            on_write: Some(("/fx/fleet/results".into(), Box::new(taken.clone()))),
            ..Reply::json(b"{}".to_vec())
        },
    );
    server.route(
        "/fx/hawkbit-mgmt/rest/v1/distributionsets/7/assignedTargets",
        taken,
    );
}

/// The controller `web-1` of tenant `DEFAULT` under `/fx/hawkbit/`: its base resource asks for
/// its attributes (`configData`); once they are PUT, it offers action 3, a one-image SWUpdate
/// bundle of the sample app; feedback is accepted (and recorded, see `/fx/requests`).
#[cfg(not(target_arch = "wasm32"))]
fn serve_hawkbit(server: &crate::fixture_server::FixtureServer) {
    use crate::fixture_server::Reply;
    let base = "/fx/hawkbit/DEFAULT/controller/v1/web-1";
    let app = demo_image(SAMPLE_VERSION, 30 * 1024);
    let sha = |d: &[u8]| -> String {
        use sha2::{Digest, Sha256};
        Sha256::digest(d)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let bundle = swu_bundle(&app, SAMPLE_VERSION);
    let json = |v: serde_json::Value| Reply::json(serde_json::to_vec(&v).expect("JSON"));
    let polling = serde_json::json!({"polling": {"sleep": "00:00:30"}});
    let registered = json(serde_json::json!({"config": polling,
        "_links": {"deploymentBase": {"href": server.url(&format!("{base}/deploymentBase/3?c=77"))}}}));
    server.route(
        base,
        json(serde_json::json!({"config": polling,
        "_links": {"configData": {"href": server.url(&format!("{base}/configData"))}}})),
    );
    server.route(
        &format!("{base}/configData"),
        Reply {
            on_write: Some((base.to_string(), Box::new(registered))),
            ..json(serde_json::json!({"success": true}))
        },
    );
    server.route(&format!("{base}/deploymentBase/3"), json(serde_json::json!({"id": "3",
        "deployment": {"download": "forced", "update": "forced", "chunks": [{"part": "os",
        "version": SAMPLE_VERSION, "name": "app", "artifacts": [{"filename": format!("app-{SAMPLE_VERSION}.swu"),
        "size": bundle.len(), "hashes": {"sha256": sha(&bundle)},
        "_links": {"download-http": {"href": server.url("/fx/hawkbit/artifacts/app.swu")}}}]}]}})));
    server.route("/fx/hawkbit/artifacts/app.swu", Reply::ok(bundle));
    server.route(
        &format!("{base}/deploymentBase/3/feedback"),
        json(serde_json::json!({})),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use otadeck_core::image::{detect, Image};

    #[test]
    fn the_bootloader_is_an_esp32_image_without_an_app_descriptor() {
        let Image::EspApp(e) = detect(&bootloader_image()) else {
            panic!("not an ESP image")
        };
        assert!(e.app.is_none());
        assert_eq!(e.chip, "ESP32");
    }

    /// `static/demo/` is what [`demo_files`] makes: rewrite it with
    /// `cargo run -p otadeck-cli -- sim sources --out static/demo`.
    #[test]
    fn the_served_demo_files_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../static/demo");
        for (name, data) in demo_files() {
            let on_disk = std::fs::read(dir.join(&name)).unwrap_or_default();
            assert!(
                on_disk == data,
                "static/demo/{name} is out of date: run `cargo run -p otadeck-cli -- sim sources --out static/demo`"
            );
        }
    }
}
