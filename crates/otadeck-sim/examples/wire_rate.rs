//! Figures for `cargo xtask bench`: the payload rate of each driver against the simulated module
//! as a fraction of the line rate, and hashing throughput.
//!
//! The line is simulated on a virtual clock (10 bits per byte, 1 ms latency each way), so the
//! figures are the protocol's own efficiency, independent of this machine's speed.

use std::time::{Duration, Instant};

use otadeck_core::digest::StreamingSha256;
use otadeck_core::driver::mcuboot_smp::{Job, McuBootSmp, SmpConfig};
use otadeck_core::driver::quecpython::{FotaOptions, QuecPythonSession};
use otadeck_sim::firmware::{demo_image, quecpython_package, quecpython_running_package};
use otadeck_sim::harness::run;
use otadeck_sim::line::SimLink;
use otadeck_sim::mcuboot::{demo_mcuboot_image, McuBoot, McuBootConfig};
use otadeck_sim::mp_repl::RawPasteSupport;
use otadeck_sim::quecpython::{device, QuecPythonConfig};

fn quecpython_rate(baud: u32, paste: RawPasteSupport, image: &[u8]) -> (f64, f64) {
    let mut link = SimLink::new(
        device(
            QuecPythonConfig::default(),
            quecpython_running_package(),
            paste,
        ),
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

/// SMP upload rate (first chunk received to last) and whole-session time, at `buf_size`.
fn smp_rate(baud: u32, buf_size: usize, image: &[u8]) -> (f64, f64, Duration) {
    let config = McuBootConfig {
        buf_size,
        slot_size: 1024 * 1024,
        ..McuBootConfig::default()
    };
    let mut link = SimLink::new(
        McuBoot::new(config, demo_mcuboot_image((1, 0, 0), 20_000)),
        baud,
    );
    let job = Job::Flash {
        image: image.to_vec(),
        accept: true,
    };
    let mut s = McuBootSmp::start(Duration::ZERO, job, SmpConfig::default());
    let (mut first, mut last) = (None, None);
    let total = image.len() as u64;
    let mut hook = |now: Duration, _: &mut McuBootSmp, l: &mut SimLink<McuBoot>| match l
        .device
        .upload
        .as_ref()
        .map(|u| u.off)
    {
        Some(off) if off > 0 && first.is_none() => first = Some((now, off)),
        Some(off) if off == total && last.is_none() => last = Some(now),
        _ => {}
    };
    let r = run(
        &mut s,
        &mut link,
        Duration::ZERO,
        Duration::from_secs(3600),
        Some(&mut hook),
    );
    assert!(r.outcome().restarted);
    let ((t0, off0), t1) = (first.unwrap(), last.unwrap());
    let rate = (total - off0) as f64 / (t1 - t0).as_secs_f64();
    (rate, rate / (f64::from(baud) / 10.0), r.elapsed)
}

fn main() {
    let image = demo_mcuboot_image((2, 0, 0), 256 * 1024);
    println!(
        "MCUmgr SMP upload over the serial console, {} byte MCUboot image (upload phase; \
         whole session = identify, upload, test, reset, confirm):",
        image.len()
    );
    println!(
        "{:>8}  {:>8} {:>10}  {:>13}  {:>8}",
        "baud", "buf_size", "payload", "of line rate", "session"
    );
    for baud in [115_200u32, 921_600] {
        for buf_size in [384usize, 1024, 2048] {
            let (rate, fraction, elapsed) = smp_rate(baud, buf_size, &image);
            println!(
                "{baud:>8}  {buf_size:>8} {:>7.1} kB/s  {:>12.2}  {:>7.1} s",
                rate / 1000.0,
                fraction,
                elapsed.as_secs_f64()
            );
            let name = format!("smp_buf{buf_size}_{baud}");
            otadeck_sim::bench::figure(&name, fraction, "of_line_rate", None);
        }
    }

    let image = quecpython_package("9.9.9", 256 * 1024);
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
            let name = format!("quecpython_{}_{baud}", otadeck_sim::bench::slug(name));
            otadeck_sim::bench::figure(&name, fraction, "of_line_rate", None);
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
    otadeck_sim::bench::figure(
        "sha256_native",
        data.len() as f64 / secs / 1e6,
        "MB/s",
        None,
    );
}
