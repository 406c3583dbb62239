//! Figures for `cargo xtask bench`: the payload rate of the ESP32 MicroPython, Pycom, QuecPython
//! and NodeMCU drivers against their simulated boards, for a firmware-like image and for an
//! incompressible one: over the whole session as a fraction of the line rate, and over the Write
//! step as a fraction of the slower of the line and the module's flash. Virtual clock: the
//! figures are the protocol's own efficiency, whatever this machine's speed.

use std::time::Duration;

use otadeck_core::driver::esp32_micropython::{Esp32MicroPython, Job};
use otadeck_core::driver::nodemcu::{self, NodeMcuConfig, NodeMcuSession};
use otadeck_core::driver::pycom::PycomFirmware;
use otadeck_core::driver::quecpython::{FotaOptions, QuecPythonSession};
use otadeck_core::driver::repl::flow::FlowConfig;
use otadeck_core::image::esp::{build_app_image, AppDescriptorFields};
use otadeck_core::session::{Machine, Step};
use otadeck_sim::bench;
use otadeck_sim::esp32_mp::{self, Esp32Config};
use otadeck_sim::firmware::{demo_image, demo_running_image, quecpython_running_package};
use otadeck_sim::harness::run;
use otadeck_sim::line::{Device, SimLink};
use otadeck_sim::mp_repl::RawPasteSupport;
use otadeck_sim::nodemcu::{NodeMcu, NodeMcuConfig as BoardConfig};
use otadeck_sim::pycom::{self, PycomConfig};
use otadeck_sim::quecpython::{self, QuecPythonConfig};

/// Where one session's time went: its payload rate over the whole session (connect to
/// confirmed after the restart), the session's length, and the length of its Write step.
struct Timing {
    rate: f64,
    secs: f64,
    write_secs: f64,
}

fn rates<M: Machine, D: Device>(mut m: M, link: &mut SimLink<D>, len: usize) -> Timing {
    let r = run(
        &mut m,
        link,
        Duration::ZERO,
        Duration::from_secs(3600),
        None,
    );
    assert_eq!(r.outcome().bytes, len as u64);
    let write = r.steps.iter().position(|(_, s)| *s == Step::Write);
    let from = write.map(|i| r.steps[i].0).expect("the session wrote");
    let to = write
        .and_then(|i| r.steps[i..].iter().find(|(_, s)| *s != Step::Write))
        .map(|(t, _)| *t)
        .expect("a step after the write");
    Timing {
        rate: len as f64 / r.elapsed.as_secs_f64(),
        secs: r.elapsed.as_secs_f64(),
        write_secs: (to - from).as_secs_f64(),
    }
}

/// A valid application image of `len` pseudo-random (incompressible) bytes.
fn random_image(len: usize) -> Vec<u8> {
    let data = otadeck_sim::firmware::noise(len, 0x9e37_79b9_7f4a_7c15);
    build_app_image(
        9,
        &AppDescriptorFields {
            version: "9.9.8",
            project_name: "otadeck-random",
            time: "09:30:00",
            date: "Nov 20 2026",
            idf_version: "v5.3.1",
            secure_version: 0,
        },
        &[(0x3C02_0020, &data)],
    )
}

/// One row of the table and its `bench` lines: the whole session as a fraction of the line rate,
/// and the Write step's payload rate as a fraction of its limit, the slower of the line and the
/// module's flash (`flash`: bytes per second the simulated module stores, `None` when it gives
/// its writes no time). At 921600 the Write step is held to 0.80 of that limit. The last column
/// is the most a module that cannot take bytes in while it writes flash (a single-threaded
/// interpreter whose UART buffer holds a few hundred bytes) reaches: line and flash in turn.
fn row(baud: u32, name: &str, t: Timing, flash: Option<f64>) {
    let line = f64::from(baud) / 10.0;
    let limit = flash.map_or(line, |f| f.min(line));
    let write_rate = t.rate * t.secs / t.write_secs;
    let in_turn = flash.map_or_else(
        || "-".to_string(),
        |f| format!("{:.2}", 1.0 / (1.0 / line + 1.0 / f) / limit),
    );
    println!(
        "{baud:>8}  {name:<48} {:>7.1} kB/s  {:>6.1} s  {:>12.2}  {:>10.2}  {in_turn:>10}",
        t.rate / 1000.0,
        t.secs,
        t.rate / line,
        write_rate / limit,
    );
    let slug = bench::slug(name);
    bench::figure(
        &format!("repl_{slug}_{baud}"),
        t.rate / line,
        "of_line_rate",
        None,
    );
    let target = (baud >= 921_600).then_some(">=0.80");
    bench::figure(
        &format!("repl_write_{slug}_{baud}"),
        write_rate / limit,
        "of_line_or_flash_rate",
        target,
    );
}

/// Bytes per second the simulated ESP32 MicroPython board stores (`writeblocks`, 4 KiB each).
fn esp32_flash_rate(config: &Esp32Config) -> f64 {
    4096.0 / config.block_write_time.as_secs_f64()
}

fn micropython_rows(baud: u32, image: &[u8], what: &str) {
    let paste = RawPasteSupport::Window(128);
    for (name, deflate) in [("deflate available", true), ("no deflate", false)] {
        let config = Esp32Config {
            has_deflate: deflate,
            ..Esp32Config::default()
        };
        let flash = Some(esp32_flash_rate(&config));
        let mut link = SimLink::new(esp32_mp::device(config, demo_running_image(), paste), baud);
        let job = Job::Flash {
            image: image.to_vec(),
            accept: true,
        };
        let s = Esp32MicroPython::start(Duration::ZERO, job, FlowConfig::default());
        let r = rates(s, &mut link, image.len());
        row(
            baud,
            &format!("ESP32 MicroPython, {name}, {what}"),
            r,
            flash,
        );
    }
    let config = PycomConfig::default();
    let flash = Some(1024.0 / config.write_time_per_kib.as_secs_f64());
    let mut link = SimLink::new(pycom::device(config, demo_running_image(), paste), baud);
    let s = PycomFirmware::start(Duration::ZERO, Some(image.to_vec()), FlowConfig::default());
    row(
        baud,
        &format!("Pycom (no deflate), {what}"),
        rates(s, &mut link, image.len()),
        flash,
    );
    let mut link = SimLink::new(
        quecpython::device(
            QuecPythonConfig::default(),
            quecpython_running_package(),
            paste,
        ),
        baud,
    );
    // The same bytes as the body of a full FOTA package, which the module's verify checks.
    let package = otadeck_sim::fota_package::build("9.9.9", image);
    let s = QuecPythonSession::flash(Duration::ZERO, package.clone(), FotaOptions::default());
    row(
        baud,
        &format!("QuecPython, {what}"),
        rates(s, &mut link, package.len()),
        None,
    );
}

fn main() {
    let image = demo_image("9.9.9", 256 * 1024);
    let random = random_image(256 * 1024);
    println!(
        "REPL drivers, {} byte firmware-like image and {} byte random image, whole session \
         (connect, write, read-back or verify, restart, confirm):",
        image.len(),
        random.len()
    );
    println!(
        "{:>8}  {:<48} {:>10}  {:>8}  {:>13}  {:>10}  {:>10}",
        "baud", "driver / board / image", "payload", "time", "of line rate", "write", "in turn"
    );
    println!(
        "{:>8}  {:<48} {:>10}  {:>8}  {:>13}  {:>10}  {:>10}",
        "", "", "(session)", "", "(session)", "of limit", "of limit"
    );
    for baud in [115_200u32, 921_600] {
        micropython_rows(baud, &image, "firmware");
        micropython_rows(baud, &random, "random");
        for (name, board) in [
            (
                "NodeMCU, base64 lines, firmware",
                BoardConfig {
                    console_baud: baud,
                    ..BoardConfig::default()
                },
            ),
            (
                "NodeMCU, write lines only, firmware",
                BoardConfig {
                    console_baud: baud,
                    sector_erase_time: Duration::ZERO,
                    verify_time: Duration::ZERO,
                    boot_time: Duration::from_millis(1),
                    ..BoardConfig::default()
                },
            ),
        ] {
            let mut link = SimLink::new(NodeMcu::new(board, demo_running_image()), baud);
            let job = nodemcu::Job::Flash {
                image: image.clone(),
                accept: true,
            };
            let s = NodeMcuSession::start(Duration::ZERO, job, NodeMcuConfig::default());
            row(baud, name, rates(s, &mut link, image.len()), None);
        }
    }
    // A console at 115200 that the session switches to 921600 for the write (`uart.setup`),
    // measured against 921600.
    let mut link = SimLink::new(
        NodeMcu::new(BoardConfig::default(), demo_running_image()),
        115_200,
    );
    let job = nodemcu::Job::Flash {
        image: image.clone(),
        accept: true,
    };
    let config = NodeMcuConfig {
        fast_baud: Some(nodemcu::FastBaud {
            console: 115_200,
            fast: 921_600,
        }),
        ..NodeMcuConfig::default()
    };
    let s = NodeMcuSession::start(Duration::ZERO, job, config);
    row(
        921_600,
        "NodeMCU, console 115200, write switched, firmware",
        rates(s, &mut link, image.len()),
        None,
    );
}
