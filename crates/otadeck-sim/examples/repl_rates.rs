//! Figures for `cargo xtask bench`: the payload rate of the ESP32 MicroPython, Pycom and NodeMCU
//! drivers
//! against their simulated boards, per encoding, as a fraction of the line rate. Virtual clock:
//! the figures are the protocol's own efficiency, whatever this machine's speed.

use std::time::Duration;

use otadeck_core::driver::esp32_micropython::{Esp32MicroPython, Job};
use otadeck_core::driver::nodemcu::{self, NodeMcuConfig, NodeMcuSession};
use otadeck_core::driver::pycom::PycomFirmware;
use otadeck_core::driver::repl_flow::FlowConfig;
use otadeck_core::session::Machine;
use otadeck_sim::esp32_mp::{self, Esp32Config};
use otadeck_sim::firmware::{demo_image, demo_running_image};
use otadeck_sim::harness::run;
use otadeck_sim::line::{Device, SimLink};
use otadeck_sim::mp_repl::RawPasteSupport;
use otadeck_sim::nodemcu::{NodeMcu, NodeMcuConfig as BoardConfig};
use otadeck_sim::pycom::{self, PycomConfig};

/// Payload bytes per second over the whole session (connect to confirmed after the restart),
/// and the session's length in seconds.
fn rates<M: Machine, D: Device>(mut m: M, link: &mut SimLink<D>, len: usize) -> (f64, f64) {
    let r = run(
        &mut m,
        link,
        Duration::ZERO,
        Duration::from_secs(3600),
        None,
    );
    assert_eq!(r.outcome().bytes, len as u64);
    (
        len as f64 / r.elapsed.as_secs_f64(),
        r.elapsed.as_secs_f64(),
    )
}

fn main() {
    let image = demo_image("9.9.9", 256 * 1024);
    println!(
        "REPL drivers, {} byte firmware-like image, whole session (connect, write, read-back or \
         verify, restart, confirm):",
        image.len()
    );
    println!(
        "{:>8}  {:<40} {:>10}  {:>8}  {:>13}",
        "baud", "driver / encoding", "payload", "time", "of line rate"
    );
    for baud in [115_200u32, 921_600] {
        let line = f64::from(baud) / 10.0;
        for (name, deflate, binascii) in [
            ("ESP32 MicroPython, deflate + base64", true, true),
            ("ESP32 MicroPython, base64", false, true),
        ] {
            let config = Esp32Config {
                has_deflate: deflate,
                has_binascii: binascii,
                ..Esp32Config::default()
            };
            let mut link = SimLink::new(
                esp32_mp::device(config, demo_running_image(), RawPasteSupport::Window(128)),
                baud,
            );
            let job = Job::Flash {
                image: image.clone(),
                accept: true,
            };
            let s = Esp32MicroPython::session(Duration::ZERO, job, FlowConfig::default());
            let (rate, secs) = rates(s, &mut link, image.len());
            println!(
                "{baud:>8}  {name:<40} {:>7.1} kB/s  {secs:>6.1} s  {:>12.2}",
                rate / 1000.0,
                rate / line
            );
        }
        let mut link = SimLink::new(
            pycom::device(
                PycomConfig::default(),
                demo_running_image(),
                RawPasteSupport::Window(128),
            ),
            baud,
        );
        let s = PycomFirmware::session(Duration::ZERO, Some(image.clone()), FlowConfig::default());
        let (rate, secs) = rates(s, &mut link, image.len());
        println!(
            "{baud:>8}  {:<40} {:>7.1} kB/s  {secs:>6.1} s  {:>12.2}",
            "Pycom, base64 (no deflate on that fork)",
            rate / 1000.0,
            rate / line
        );
        for (name, board) in [
            ("NodeMCU, base64 lines", BoardConfig::default()),
            (
                "NodeMCU, write lines only",
                BoardConfig {
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
            let (rate, secs) = rates(s, &mut link, image.len());
            println!(
                "{baud:>8}  {name:<40} {:>7.1} kB/s  {secs:>6.1} s  {:>12.2}",
                rate / 1000.0,
                rate / line
            );
        }
    }
}
