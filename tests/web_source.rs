//! Sources fetched through the browser's real `fetch` from the fixture server that
//! `cargo xtask test` starts (`otadeck sim fixtures` on 127.0.0.1:18765): each case ends in the
//! outcome a technician must see, in words, and nothing is installed from a refused source.

#![cfg(target_arch = "wasm32")]

use otadeck::services::source::{self, LoadedSource};
use otadeck_core::family::{Family, Job};
use otadeck_core::manifest::detect::DocumentKind;
use otadeck_core::source::install::{prepare, PrepareError};
use otadeck_core::source::trust::SignatureState;
use otadeck_core::source::{offer, ModuleFacts, Offer, Proposal};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// What the suites share: the fixture server `cargo xtask test` starts (its `FIXTURES_ADDR`).
mod common;
use common::FIXTURES;

fn fx(path: &str) -> String {
    format!("{FIXTURES}/fx/{path}")
}

/// The fixture key trusted in this browser (and only it).
fn trust_fixture_key() {
    for k in source::keys() {
        source::remove_key(&k.fingerprint());
    }
    source::import_key(&otadeck_sim::sources::fixture_public_key()).unwrap();
}

fn esp32() -> ModuleFacts {
    ModuleFacts {
        family: Some(Family::EspRom),
        model: Some("ESP32".into()),
        running_version: Some("2.0.3".into()),
        running_secure_version: Some(0),
    }
}

async fn load(path: &str) -> LoadedSource {
    source::load_url(&fx(path))
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn install_offer(l: &LoadedSource, facts: &ModuleFacts) -> Offer {
    match offer(&l.loaded, facts).unwrap() {
        Proposal::Install(o) => *o,
        other => panic!("{other:?}"),
    }
}

async fn download_all(o: &Offer) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for item in &o.items {
        out.push(source::download(item, |_| {}).await?);
    }
    Ok(out)
}

#[wasm_bindgen_test]
async fn a_signed_manifest_verifies_and_installs_three_regions() {
    otadeck::transport::demo::run_in_this_page();
    trust_fixture_key();
    let l = load("signed/m.json").await;
    assert_eq!(l.loaded.kind, DocumentKind::EspWebTools);
    assert!(
        matches!(
            l.signature,
            SignatureState::Verified {
                how: "detached",
                ..
            }
        ),
        "{:?}",
        l.signature
    );
    assert_eq!(l.refusal, None);
    let o = install_offer(&l, &esp32());
    let mut progress = Vec::new();
    let app = source::download(&o.items[2], |f| progress.push(f.done))
        .await
        .unwrap();
    assert!(progress.last() == Some(&(app.len() as u64)), "{progress:?}");
    let images = download_all(&o).await.unwrap();
    let install = prepare(&o, images, &esp32(), None).unwrap();
    let [Job::FlashParts { parts, .. }] = install.jobs.as_slice() else {
        panic!()
    };
    let offsets: Vec<u32> = parts.iter().map(|p| p.offset).collect();
    assert_eq!(offsets, [0x1000, 0x8000, 0x10000, 0xd000]);
}

#[wasm_bindgen_test]
async fn unsigned_bad_and_expired_sources_are_told_apart() {
    otadeck::transport::demo::run_in_this_page();
    trust_fixture_key();
    let l = load("ok/m.json").await;
    assert_eq!(l.signature, SignatureState::Unsigned);
    assert!(l.signature.needs_consent() && l.refusal.is_none());
    let l = load("badsig/m.json").await;
    let why = l.refusal.expect("a bad signature is refused");
    assert!(
        why.contains("verifies with none of the 1 imported key"),
        "{why}"
    );
    let l = load("expired/m.json").await;
    assert!(matches!(l.signature, SignatureState::Verified { .. }));
    let why = l.refusal.expect("an expired source is refused");
    assert!(why.contains("expired at 2020-01-01T00:00:00Z"), "{why}");
    // With no key imported, a signed source can only run as unsigned.
    for k in source::keys() {
        source::remove_key(&k.fingerprint());
    }
    let l = load("signed/m.json").await;
    assert_eq!(l.signature, SignatureState::NoKeys);
}

#[wasm_bindgen_test]
async fn a_downgrade_needs_a_reason() {
    otadeck::transport::demo::run_in_this_page();
    trust_fixture_key();
    let l = load("downgrade/m.json").await;
    let o = install_offer(&l, &esp32());
    let images = download_all(&o).await.unwrap();
    let e = prepare(&o, images.clone(), &esp32(), None).unwrap_err();
    assert!(
        matches!(&e, PrepareError::Downgrade { why } if why.contains("1.0.0 is older than the installed 2.0.3")),
        "{e}"
    );
    let ok = prepare(
        &o,
        images,
        &esp32(),
        Some("return to the field-proven 1.0.0"),
    )
    .unwrap();
    assert_eq!(
        ok.downgrade_reason.as_deref(),
        Some("return to the field-proven 1.0.0")
    );
}

#[wasm_bindgen_test]
async fn a_server_without_cors_gets_a_sentence_naming_the_header_and_the_cli() {
    otadeck::transport::demo::run_in_this_page();
    let e = source::load_url(&fx("nocors/m.json")).await.unwrap_err();
    assert!(e.contains("Access-Control-Allow-Origin"), "{e}");
    assert!(e.contains("otadeck install"), "{e}");
}

#[wasm_bindgen_test]
async fn an_http_error_is_named_with_its_status() {
    otadeck::transport::demo::run_in_this_page();
    let e = source::load_url(&fx("broken.json")).await.unwrap_err();
    assert!(e.contains("answered HTTP 500: the server failed"), "{e}");
}

async fn job_download(path: &str) -> Result<Vec<u8>, String> {
    let l = load(path).await;
    assert_eq!(l.loaded.kind, DocumentKind::AwsJob);
    let facts = ModuleFacts {
        family: Some(Family::Esp32MicroPython),
        ..ModuleFacts::default()
    };
    let o = install_offer(&l, &facts);
    source::download(&o.items[0], |_| {}).await
}

#[wasm_bindgen_test]
async fn aws_job_downloads_are_checked_for_hash_length_and_redirects() {
    otadeck::transport::demo::run_in_this_page();
    assert!(job_download("jobs/ok.json").await.is_ok());
    let e = job_download("jobs/wrong-hash.json").await.unwrap_err();
    assert!(
        e.contains("its MD5 is")
            && e.contains("the source publishes 00000000000000000000000000000000"),
        "{e}"
    );
    let e = job_download("jobs/truncated.json").await.unwrap_err();
    assert!(
        e.contains("cut.bin: the download of") && e.contains("broke off after 20648 bytes"),
        "{e}"
    );
    let e = job_download("jobs/oversized.json").await.unwrap_err();
    assert!(e.contains("more than the 1,000 bytes"), "{e}");
    let e = job_download("jobs/redirect.json").await.unwrap_err();
    assert!(
        e.contains(
            "redirects to http://localhost.:18765/fx/files/app.bin, which is refused: plain http"
        ),
        "{e}"
    );
}

#[wasm_bindgen_test]
async fn a_hawkbit_controller_registers_installs_on_the_demo_board_and_feeds_back() {
    otadeck::transport::demo::run_in_this_page();
    use otadeck::services::device::DeviceHandle;
    use otadeck::services::install::{resolve, Installed};
    use otadeck::services::log::SessionLog;
    let device = DeviceHandle::new(SessionLog::default());
    device.connect_demo(Family::Esp32MicroPython, 115_200).await;
    let token = Some("TargetToken web-1-secret".to_string());
    let l = source::load_url_with(&fx("hawkbit/DEFAULT/controller/v1/web-1"), token)
        .await
        .unwrap();
    assert_eq!(l.loaded.kind, DocumentKind::HawkbitController);
    let (doc, proposal) = resolve(l, &device.facts()).await.unwrap();
    assert_eq!(doc.loaded.kind, DocumentKind::HawkbitDeployment);
    let Proposal::Install(o) = proposal else {
        panic!("{proposal:?}")
    };
    assert!(o.items[0].swu);
    let done = device.install(&doc, &o, None, false, |_, _| {}).await;
    assert!(matches!(done, Installed::Done { .. }), "{done:?}");
    let seen = common::requests().await;
    let put = seen
        .iter()
        .find(|r| r.method == "PUT" && r.target.ends_with("/web-1/configData"))
        .expect("the controller registered");
    assert!(
        put.body.contains("\"sw_version\":\"2.0.3\""),
        "{}",
        put.body
    );
    let feedback: Vec<serde_json::Value> = seen
        .iter()
        .filter(|r| r.method == "POST" && r.target.ends_with("/deploymentBase/3/feedback"))
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    let last = feedback.last().expect("feedback POSTed");
    assert_eq!(last["status"]["execution"], "closed");
    assert_eq!(last["status"]["result"]["finished"], "success");
    assert!(
        feedback.len() >= 3,
        "proceeding (download, flash), then closed: {feedback:?}"
    );
}
