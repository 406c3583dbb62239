//! The web path's figures (run by `cargo xtask bench`, and as a test by `cargo xtask test`): the
//! ESP ROM loader flashing the sample app through `WebSerialTransport`, a fake `SerialPort` and
//! the page's pump, on the simulated ESP32 at its line's pace: at 115200, and at 921600 after the
//! loader's baud change (the port closed and reopened). It prints one line per figure,
//! `bench <name> <value> <unit>`; what it asserts is that every flash landed. Side by side:
//! esptool-js (npm) flashes the same image into the same simulated ESP32 through the same fake
//! port, and the ratio of the two times is printed. Hashing: SHA-256, SHA-1 and MD5 streamed,
//! and against WebCrypto.

#![cfg(target_arch = "wasm32")]

mod common;
#[path = "bench/esptool_js.rs"]
mod esptool_js;

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

/// The simulated ESP32's second app slot.
const OTA_1: u32 = 0x19_0000;

/// Flash the sample into ota_1 with the port opened at 115200 and the loader asked for
/// `baud`; the session's seconds and the seconds of its write step.
async fn flash(baud: u32, compress: bool) -> (f64, f64) {
    flash_at(baud, compress, true).await
}

/// Flash the sample: into the update slot (ota_1) and select it when `update_slot`, else at
/// ota_1's address with nothing else; the session's seconds and the seconds of its write step.
async fn flash_at(baud: u32, compress: bool, update_slot: bool) -> (f64, f64) {
    let bench = Bench::with(EspRomSim::new(), 115_200);
    let conn = Connection::Serial(
        WebSerialTransport::open(bench.port(), 115_200)
            .await
            .expect("port opens"),
    );
    let image = sample_image();
    let mut cfg = EspRomConfig::new(Job::Flash {
        regions: vec![Region {
            offset: if update_slot { 0x10000 } else { OTA_1 },
            data: image.clone(),
        }],
        compress,
    });
    cfg.update_slot = update_slot;
    cfg.baud = (baud != 115_200).then_some(baud);
    let start = now();
    let mut session = EspRomSession::start(start, cfg);
    let (mut write_start, mut write_end) = (None, None);
    let mut ok = Err(String::new());
    drive(&mut session, &conn, &CancelFlag::default(), |e| match e {
        SessionEvent::Step(Step::Write) => write_start = write_start.or(Some(now())),
        SessionEvent::Progress { done, total } if done == total => {
            write_end = write_end.or(Some(now()))
        }
        SessionEvent::Finished(r) => ok = r.map(|_| ()).map_err(|e| format!("{e:?}")),
        _ => {}
    })
    .await;
    let total = (now() - start).as_secs_f64();
    conn.close().await;
    if let Err(e) = ok {
        panic!("the flash at {baud} failed: {e}");
    }
    let at = OTA_1 as usize;
    assert_eq!(
        &bench.link.borrow().device.flash[at..at + image.len()],
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

/// otadeck and esptool-js, one after the other in this page, each flashing the sample (deflated,
/// verified by MD5) at ota_1 of a fresh simulated ESP32 behind the same fake port, from a port
/// opened at 115200 and switched to `baud`: both session times and their ratio.
#[wasm_bindgen_test]
async fn side_by_side_with_esptool_js() {
    use js_sys::Uint8Array;
    use otadeck_core::digest::{to_hex, Algorithm, MultiDigest};
    use wasm_bindgen::closure::Closure;
    let image = sample_image();
    // esptool-js 0.7.0 hex-encodes the ROM's answer to SPI_FLASH_MD5, which is already 32 ASCII
    // hex digits, before comparing it with this hash: so that its check passes when the flash
    // is right (and the ROM still hashes the whole image), the hash is given in that form.
    let md5 = Closure::<dyn Fn(Uint8Array) -> String>::new(|data: Uint8Array| {
        let mut d = MultiDigest::only(&[Algorithm::Md5]);
        d.update(&data.to_vec());
        let hex = d.finish().hex(Algorithm::Md5).expect("MD5 was asked for");
        to_hex(hex.as_bytes())
    });
    for baud in [115_200u32, 921_600] {
        let (ours, our_write) = flash_at(baud, true, false).await;
        let name = format!("web_vs_esptool_js_{baud}");
        console_log!("bench {name}_otadeck_session {ours:.2} s");
        console_log!("bench {name}_otadeck_write {our_write:.2} s");
        // As shipped (16 KiB blocks), then at esptool's ROM block of 1 KiB, which otadeck uses.
        for (how, block) in [("", None), ("_1k_blocks", Some(0x400))] {
            let bench = Bench::with(EspRomSim::new(), 115_200);
            let (theirs, their_write) =
                esptool_js::flash(&bench.port(), baud, block, &image, OTA_1, &md5, ms)
                    .await
                    .unwrap_or_else(|e| panic!("at {baud}: {e}"));
            assert_eq!(
                &bench.link.borrow().device.flash[OTA_1 as usize..OTA_1 as usize + image.len()],
                &image[..],
                "esptool-js's flash at {baud} landed"
            );
            console_log!("bench {name}_esptool_js{how}_session {theirs:.2} s");
            console_log!("bench {name}_esptool_js{how}_write {their_write:.2} s");
            console_log!(
                "bench {name}_speedup{how} {:.2} ratio target >1",
                theirs / ours
            );
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
