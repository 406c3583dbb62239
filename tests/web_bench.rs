//! The web path's figures (run by `cargo xtask bench`, and as a test by `cargo xtask test`): the
//! ESP ROM loader flashing the sample app through `WebSerialTransport`, a fake `SerialPort` and
//! the page's pump, on the simulated ESP32 at its line's pace: at 115200, and at 921600 after the
//! loader's baud change (the port closed and reopened). It prints one line per figure,
//! `bench <name> <value> <unit>`; what it asserts is that every flash landed.

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
