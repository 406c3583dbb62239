//! Seeds for the host-side fuzz targets (`cargo xtask fuzz` runs this): what the simulated
//! modules send during whole sessions, recorded as the targets read their input. Each read is
//! `[control, len, bytes...]` (split into pieces of at most 255 bytes): bits 1.. of `control`
//! are the time since the previous read in the target's unit, bit 0 is left clear (raw bytes).
//!
//! Usage: `fuzz_seeds <target> <corpus dir>`; unknown targets write nothing.

use std::time::Duration;

use otadeck_core::driver::esp_rom::{EspRomConfig, EspRomSession, Job as EspJob, Region};
use otadeck_core::driver::nodemcu::{Job as NodeJob, NodeMcuConfig, NodeMcuSession};
use otadeck_core::driver::quecpython::download::{download, DownloadOptions};
use otadeck_core::session::{Machine, SessionEvent, SignalStep};
use otadeck_sim::demo::{quecpython_demo_config, DEMO_PACKAGE_URL};
use otadeck_sim::esp_rom::EspRomSim;
use otadeck_sim::firmware::{demo_image, demo_running_image};
use otadeck_sim::harness::run;
use otadeck_sim::line::{Device, SimLink};
use otadeck_sim::mp_repl::RawPasteSupport;
use otadeck_sim::nodemcu::NodeMcu;
use otadeck_sim::quecpython::device;

/// A machine that records what it is fed, as the fuzz targets read it.
struct Tap<M> {
    inner: M,
    unit: Duration,
    last: Duration,
    out: Vec<u8>,
}

impl<M: Machine> Machine for Tap<M> {
    fn handle_input(&mut self, now: Duration, data: &[u8]) {
        for piece in data.chunks(255) {
            let ticks =
                (now.saturating_sub(self.last).as_millis() / self.unit.as_millis()).min(127);
            self.out.push((ticks as u8) << 1);
            self.out.push(piece.len() as u8);
            self.out.extend_from_slice(piece);
            self.last = now;
        }
        self.inner.handle_input(now, data)
    }
    fn handle_timeout(&mut self, now: Duration) {
        self.inner.handle_timeout(now)
    }
    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.inner.poll_transmit()
    }
    fn poll_timeout(&self) -> Option<Duration> {
        self.inner.poll_timeout()
    }
    fn poll_event(&mut self) -> Option<SessionEvent> {
        self.inner.poll_event()
    }
    fn cancel(&mut self, now: Duration) {
        self.inner.cancel(now)
    }
    fn link_lost(&mut self, now: Duration) {
        self.inner.link_lost(now)
    }
    fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
    fn poll_signals(&mut self) -> Option<SignalStep> {
        self.inner.poll_signals()
    }
    fn poll_baud(&mut self) -> Option<u32> {
        self.inner.poll_baud()
    }
}

/// Runs `m` against `link` and gives `head` followed by what the module sent.
fn record<M: Machine, D: Device>(head: &[u8], unit_ms: u64, m: M, mut link: SimLink<D>) -> Vec<u8> {
    let mut tap = Tap {
        inner: m,
        unit: Duration::from_millis(unit_ms),
        last: Duration::ZERO,
        out: head.to_vec(),
    };
    run(
        &mut tap,
        &mut link,
        Duration::ZERO,
        Duration::from_secs(900),
        None,
    );
    tap.out
}

fn esp(job: EspJob) -> Vec<u8> {
    let s = EspRomSession::start(Duration::ZERO, EspRomConfig::new(job));
    record(&[], 10, s, SimLink::new(EspRomSim::new(), 115_200))
}

fn nodemcu(job: NodeJob) -> Vec<u8> {
    let board = NodeMcu::new(Default::default(), demo_running_image());
    let s = NodeMcuSession::start(Duration::ZERO, job, NodeMcuConfig::default());
    record(&[], 20, s, SimLink::new(board, 115_200))
}

fn seeds(target: &str) -> Vec<(&'static str, Vec<u8>)> {
    let image = demo_image("2.1.0", 8 * 1024);
    match target {
        // The first byte picks the job, as in the target.
        "esp_rom_host" => vec![
            ("sim_info", [&[0u8][..], &esp(EspJob::Info)].concat()),
            (
                "sim_flash",
                [
                    &[4u8][..],
                    &esp(EspJob::Flash {
                        regions: vec![Region {
                            offset: 0,
                            data: vec![0x55; 100],
                        }],
                        compress: false,
                    }),
                ]
                .concat(),
            ),
            (
                "sim_boot_slot",
                [&[2u8][..], &esp(EspJob::SetBootSlot { slot: 1 })].concat(),
            ),
        ],
        "nodemcu_host" => vec![
            (
                "sim_inspect",
                [&[0u8][..], &nodemcu(NodeJob::Inspect)].concat(),
            ),
            (
                "sim_flash",
                [
                    &[1u8][..],
                    &nodemcu(NodeJob::Flash {
                        image,
                        accept: false,
                    }),
                ]
                .concat(),
            ),
            (
                "sim_rollback",
                [&[3u8][..], &nodemcu(NodeJob::Rollback)].concat(),
            ),
        ],
        "quecpython_download_host" => {
            let module = device(
                quecpython_demo_config("EC600U"),
                otadeck_sim::firmware::quecpython_running_package(),
                RawPasteSupport::Window(128),
            );
            let s = download(Duration::ZERO, DownloadOptions::new(DEMO_PACKAGE_URL));
            vec![(
                "sim_download",
                record(&[2u8], 20, s, SimLink::new(module, 115_200)),
            )]
        }
        _ => Vec::new(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [target, dir] = &args[..] else {
        eprintln!("usage: fuzz_seeds <target> <corpus dir>");
        std::process::exit(2);
    };
    for (name, bytes) in seeds(target) {
        let p = std::path::Path::new(dir).join(format!("seed_{name}"));
        if let Err(e) = std::fs::write(&p, bytes) {
            eprintln!("{}: {e}", p.display());
            std::process::exit(1);
        }
    }
}
