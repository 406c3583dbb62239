//! Figures for `cargo xtask bench`: the payload rate of the ESP ROM loader session against the
//! simulated ESP32 ROM, compressed (`FLASH_DEFL_*`) and plain (`FLASH_*`), as a fraction of the
//! line rate, on a firmware-like image. Whole sessions: SYNC, detection, attach, the baud change
//! (made at 115200 as on a real chip), the write and the MD5 check.
//!
//! The line is simulated on a virtual clock (10 bits per byte, 1 ms latency each way), so the
//! figures are the protocol's own efficiency, independent of this machine's speed. The simulated
//! ROM inflates and writes instantly; a real chip adds its erase and write time.

use std::time::Duration;

use otadeck_core::driver::esp_rom::{EspRomConfig, EspRomSession, Job, Region};
use otadeck_core::session::Machine;
use otadeck_sim::esp_rom::EspRomSim;
use otadeck_sim::firmware::demo_image;
use otadeck_sim::harness::run;
use otadeck_sim::line::SimLink;

fn rate(baud: u32, compress: bool, image: &[u8]) -> (f64, f64, usize) {
    let mut link = SimLink::new(EspRomSim::new(), 115_200);
    let job = Job::Flash {
        regions: vec![Region {
            offset: 0x190000,
            data: image.to_vec(),
        }],
        compress,
    };
    let mut cfg = EspRomConfig::new(job);
    cfg.baud = (baud != 115_200).then_some(baud);
    let mut s = EspRomSession::start(Duration::ZERO, cfg);
    // The harness switches the line when the session asks for the new rate.
    let r = run(
        &mut s,
        &mut link,
        Duration::ZERO,
        Duration::from_secs(3600),
        None,
    );
    assert!(s.is_finished());
    assert_eq!(r.outcome().bytes, image.len() as u64);
    let at = 0x190000;
    assert_eq!(&link.device.flash[at..at + image.len()], image);
    let blocks = link
        .device
        .ops
        .iter()
        .filter(|o| **o == 0x11 || **o == 0x03)
        .count();
    let payload = image.len() as f64 / r.elapsed.as_secs_f64();
    (payload, payload / (f64::from(baud) / 10.0), blocks)
}

fn main() {
    let image = demo_image("9.9.9", 1024 * 1024);
    let z = miniz_oxide::deflate::compress_to_vec_zlib(&image, 9).len();
    println!(
        "ESP32 ROM loader, {} byte firmware-like image (zlib level 9: {z} bytes, {:.2}), whole session:",
        image.len(),
        z as f64 / image.len() as f64
    );
    println!(
        "{:>8}  {:<11} {:>7}  {:>10}  {:>13}",
        "baud", "write", "blocks", "payload", "of line rate"
    );
    for baud in [115_200u32, 921_600] {
        for (name, compress) in [("compressed", true), ("plain", false)] {
            let (payload, fraction, blocks) = rate(baud, compress, &image);
            println!(
                "{baud:>8}  {name:<11} {blocks:>7}  {:>7.1} kB/s  {fraction:>12.2}",
                payload / 1000.0
            );
            let name = format!("esp_rom_{name}_{baud}");
            otadeck_sim::bench::figure(&name, fraction, "of_line_rate", None);
        }
    }
}
