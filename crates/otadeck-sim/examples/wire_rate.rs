//! Figures for `cargo xtask bench`: the payload rate of each driver against the simulated module
//! as a fraction of the line rate, and hashing throughput.
//!
//! The line is simulated on a virtual clock (10 bits per byte, 1 ms latency each way), so the
//! figures are the protocol's own efficiency, independent of this machine's speed.

use std::time::{Duration, Instant};

use otadeck_core::digest::StreamingSha256;
use otadeck_core::driver::quecpython::{FotaOptions, QuecPythonSession};
use otadeck_sim::firmware::{demo_image, demo_running_image};
use otadeck_sim::harness::run;
use otadeck_sim::line::SimLink;
use otadeck_sim::mp_repl::RawPasteSupport;
use otadeck_sim::quecpython::{device, QuecPythonConfig};

fn quecpython_rate(baud: u32, paste: RawPasteSupport, image: &[u8]) -> (f64, f64) {
    let mut link = SimLink::new(
        device(QuecPythonConfig::default(), demo_running_image(), paste),
        baud,
    );
    let options = FotaOptions {
        restart: false,
        ..FotaOptions::default()
    };
    let mut s = QuecPythonSession::flash(Duration::ZERO, image.to_vec(), options);
    let r = run(
        &mut s,
        &mut link,
        Duration::ZERO,
        Duration::from_secs(3600),
        None,
    );
    assert_eq!(r.outcome().bytes, image.len() as u64);
    let rate = image.len() as f64 / r.elapsed.as_secs_f64();
    (rate, rate / (f64::from(baud) / 10.0))
}

fn main() {
    let image = demo_image("9.9.9", 256 * 1024);
    println!(
        "QuecPython fota over the raw REPL, {} byte image, whole session (connect to verify):",
        image.len()
    );
    println!(
        "{:>8}  {:<22} {:>10}  {:>13}",
        "baud", "paste mode", "payload", "of line rate"
    );
    for baud in [115_200u32, 921_600] {
        for (name, paste) in [
            ("raw-paste, window 128", RawPasteSupport::Window(128)),
            ("refused (R\\x00)", RawPasteSupport::Refuses),
        ] {
            let (rate, fraction) = quecpython_rate(baud, paste, &image);
            println!(
                "{baud:>8}  {name:<22} {:>7.1} kB/s  {:>12.2}",
                rate / 1000.0,
                fraction
            );
        }
    }

    let data = demo_image("1.0.0", 16 * 1024 * 1024);
    let start = Instant::now();
    let mut h = StreamingSha256::new();
    for chunk in data.chunks(64 * 1024) {
        h.update(chunk);
    }
    let _ = h.finish();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "SHA-256 native, {} MiB in 64 KiB updates: {:.0} MB/s",
        data.len() / (1024 * 1024),
        data.len() as f64 / secs / 1e6
    );
}
