//! The web path's figures (run by `cargo xtask bench`, and as a test by `cargo xtask test`): the
//! ESP ROM loader flashing the sample app through `WebSerialTransport`, a fake `SerialPort` and
//! the page's pump, on the simulated ESP32 at its line's pace: at 115200, and at 921600 after the
//! loader's baud change (the port closed and reopened). It prints one line per figure,
//! `bench <name> <value> <unit>`; what it asserts is that every flash landed. Hashing: SHA-256,
//! SHA-1 and MD5 streamed, and against WebCrypto.

#![cfg(target_arch = "wasm32")]

mod common;

use otadeck::clock::now;
use otadeck::pump::{drive, CancelFlag};
use otadeck::transport::web_serial::WebSerialTransport;
use otadeck::transport::Connection;
use otadeck_core::driver::esp_rom::{EspRomConfig, EspRomSession, Job, Region};
use otadeck_core::session::{SessionEvent, Step};
use otadeck_sim::esp_rom::EspRomSim;
use otadeck_sim::firmware::sample_image;
use wasm_bindgen_test::*;

use common::serial::Bench;

wasm_bindgen_test_configure!(run_in_browser);

/// Flash the sample into ota_1 with the port opened at 115200 and the loader asked for
/// `baud`; the session's seconds and the seconds of its write step.
async fn flash(baud: u32, compress: bool) -> (f64, f64) {
    let bench = Bench::with(EspRomSim::new(), 115_200);
    let conn = Connection::Serial(
        WebSerialTransport::open(bench.port(), 115_200)
            .await
            .expect("port opens"),
    );
    let image = sample_image();
    let mut cfg = EspRomConfig::new(Job::Flash {
        regions: vec![Region {
            offset: 0x10000,
            data: image.clone(),
        }],
        compress,
    });
    cfg.update_slot = true;
    cfg.baud = (baud != 115_200).then_some(baud);
    let start = now();
    let mut session = EspRomSession::start(start, cfg);
    let (mut write_start, mut write_end) = (None, None);
    let mut ok = false;
    drive(&mut session, &conn, &CancelFlag::default(), |e| match e {
        SessionEvent::Step(Step::Write) => write_start = write_start.or(Some(now())),
        SessionEvent::Progress { done, total } if done == total => {
            write_end = write_end.or(Some(now()))
        }
        SessionEvent::Finished(r) => ok = r.is_ok(),
        _ => {}
    })
    .await;
    let total = (now() - start).as_secs_f64();
    conn.close().await;
    assert!(ok, "the flash at {baud} failed");
    assert_eq!(
        &bench.link.borrow().device.flash[0x190000..0x190000 + image.len()],
        &image[..]
    );
    let write = (write_end.unwrap() - write_start.unwrap()).as_secs_f64();
    (total, write)
}

#[wasm_bindgen_test]
async fn esp_rom_through_a_web_serial_port() {
    let bytes = sample_image().len() as f64;
    for baud in [115_200u32, 921_600] {
        for compress in [false, true] {
            let (total, write) = flash(baud, compress).await;
            let line = f64::from(baud) / 10.0;
            let how = if compress { "deflate" } else { "plain" };
            let name = format!("web_esp_rom_{how}_{baud}");
            console_log!("bench {name}_session {total:.2} s");
            console_log!("bench {name}_payload {:.1} kB/s", bytes / write / 1000.0);
            console_log!("bench {name}_of_line {:.2} ratio", bytes / write / line);
        }
    }
}

/// Milliseconds on the page clock.
fn ms() -> f64 {
    web_sys::window().unwrap().performance().unwrap().now()
}

/// WebCrypto's one-shot `crypto.subtle.digest(name, data)`, through the page's global (no
/// binding needed); its time in milliseconds.
async fn webcrypto_ms(name: &str, data: &[u8]) -> f64 {
    use js_sys::{Function, Promise, Reflect, Uint8Array};
    use wasm_bindgen::{JsCast, JsValue};
    let global = js_sys::global();
    let crypto = Reflect::get(&global, &JsValue::from_str("crypto")).unwrap();
    let subtle = Reflect::get(&crypto, &JsValue::from_str("subtle")).unwrap();
    let digest: Function = Reflect::get(&subtle, &JsValue::from_str("digest"))
        .unwrap()
        .unchecked_into();
    let bytes = Uint8Array::from(data);
    let t0 = ms();
    let promise: Promise = digest
        .call2(&subtle, &JsValue::from_str(name), &bytes)
        .unwrap()
        .unchecked_into();
    let out = wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
    let took = ms() - t0;
    assert!(out.is_object(), "WebCrypto gave a digest");
    took
}

/// Streamed hashing as the page does it (64 KiB chunks through the core's `MultiDigest`, one
/// algorithm at a time) over 64 MiB in a release build (4 MiB in a debug test run), and the
/// ratio to WebCrypto's one-shot `digest` of the same bytes for SHA-256 and SHA-1.
#[wasm_bindgen_test]
async fn hashing_streamed_and_against_webcrypto() {
    use otadeck_core::digest::{Algorithm, MultiDigest};
    let mib = if cfg!(debug_assertions) { 4 } else { 64 };
    let data = otadeck_sim::firmware::noise(mib << 20, 0x2545_f491_4f6c_dd1d);
    console_log!("bench hash_input {mib} MiB");
    for (algorithm, webcrypto) in [
        (Algorithm::Sha256, Some("SHA-256")),
        (Algorithm::Sha1, Some("SHA-1")),
        (Algorithm::Md5, None),
    ] {
        let t0 = ms();
        let mut d = MultiDigest::only(&[algorithm]);
        for chunk in data.chunks(64 * 1024) {
            d.update(chunk);
        }
        let digests = d.finish();
        let took = ms() - t0;
        assert_eq!(digests.len, data.len() as u64);
        let key = algorithm.key();
        let mb_s = data.len() as f64 / 1e6 / (took / 1000.0);
        console_log!("bench hash_{key}_streamed {mb_s:.1} MB/s");
        if let Some(name) = webcrypto {
            let theirs = webcrypto_ms(name, &data).await;
            console_log!("bench hash_{key}_vs_webcrypto {:.2} ratio", theirs / took);
        }
    }
}
