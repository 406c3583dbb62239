//! `otadeck flash` and `otadeck info`: the core's machines pumped over a real serial port.

use std::io::{ErrorKind, Read, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use otadeck_core::detect::Detector;
use otadeck_core::driver::esp32_micropython::{self as esp32, Esp32MicroPython};
use otadeck_core::driver::mcuboot_smp::{self as smp, McuBootSmp, SmpConfig};
use otadeck_core::driver::nodemcu::{self, NodeMcuConfig, NodeMcuSession};
use otadeck_core::driver::pycom::PycomFirmware;
use otadeck_core::driver::quecpython::{FotaOptions, QuecPythonSession};
use otadeck_core::driver::quecpython_download::{download, DownloadOptions};
use otadeck_core::driver::repl_flow::FlowConfig;
use otadeck_core::link::mp_repl::ReplConfig;
use otadeck_core::partition_state::PartitionState;
use otadeck_core::session::{FlashError, FlashOutcome, Machine, SessionEvent};

use crate::term::Reporter;

/// Run `machine` over the serial device at `path` until it finishes.
fn pump<M: Machine>(
    machine: &mut M,
    path: &str,
    baud: u32,
    start: Instant,
    slots: &mut Option<PartitionState>,
) -> Result<Result<FlashOutcome, FlashError>, String> {
    let mut port = serialport::new(path, baud)
        .timeout(Duration::from_millis(10))
        .open()
        .map_err(|e| format!("cannot open {path}: {e}"))?;
    let mut reporter = Reporter::new(std::env::var_os("OTADECK_VERBOSE").is_some());
    let mut buf = [0u8; 4096];
    let mut result = None;
    loop {
        let now = start.elapsed();
        while let Some(bytes) = machine.poll_transmit() {
            if port.write_all(&bytes).and_then(|_| port.flush()).is_err() {
                machine.link_lost(start.elapsed());
                break;
            }
        }
        while let Some(event) = machine.poll_event() {
            reporter.event(now, &event);
            match event {
                SessionEvent::Finished(r) => result = Some(r),
                SessionEvent::Partitions(p) => *slots = Some(p),
                _ => {}
            }
        }
        if let Some(r) = result.take().filter(|_| machine.is_finished()) {
            // Let the last bytes (Ctrl-C, Ctrl-B) leave before closing.
            let _ = port.flush();
            return Ok(r);
        }
        match port.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => machine.handle_input(start.elapsed(), &buf[..n]),
            Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => machine.link_lost(start.elapsed()),
        }
        let now = start.elapsed();
        if machine.poll_timeout().is_some_and(|t| t <= now) {
            machine.handle_timeout(now);
        }
    }
}

/// The update protocol of the module on the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// QuecPython `fota` over the MicroPython raw REPL.
    Quecpython,
    /// ESP32 MicroPython: `esp32.Partition` over the raw REPL.
    MicropythonEsp32,
    /// Pycom: `pycom.ota_*` over the raw REPL.
    Pycom,
    /// NodeMCU on ESP32: `otaupgrade` over the Lua console.
    Nodemcu,
    /// Zephyr / MCUboot: MCUmgr SMP over the serial console.
    Smp,
    /// The ESP serial ROM loader (chip in download mode): SLIP packets, compressed writes,
    /// MD5 verification, slots read from flash.
    EspRom,
}

/// What to do to the module.
pub enum Job {
    /// Flash `image`; `restart` into it (QuecPython), `accept` it after the restart (ESP32).
    Flash {
        image: Vec<u8>,
        restart: bool,
        accept: bool,
    },
    /// Have the module download `url1` (and `url2`, mini FOTA) itself (QuecPython).
    Download {
        url1: String,
        url2: Option<String>,
        restart: bool,
    },
    /// Read what it is (and its slots where the protocol tells).
    Info,
    /// Accept the firmware on trial.
    Accept,
    /// Return to the previous firmware.
    Rollback,
}

fn machine(protocol: Protocol, job: Job, now: Duration) -> Result<Box<dyn Machine>, String> {
    let flow = FlowConfig::default();
    Ok(match (protocol, job) {
        (Protocol::Quecpython, Job::Flash { image, restart, .. }) => {
            let options = FotaOptions {
                restart,
                ..FotaOptions::default()
            };
            Box::new(QuecPythonSession::flash(now, image, options))
        }
        (
            Protocol::Quecpython,
            Job::Download {
                url1,
                url2,
                restart,
            },
        ) => {
            let mut options = DownloadOptions::new(url1);
            options.url2 = url2;
            options.restart = restart;
            Box::new(download(now, options))
        }
        (p, Job::Download { .. }) => {
            return Err(format!(
                "--url is for QuecPython modules, which download the package themselves; give \
                 {p:?} an image file"
            ))
        }
        (Protocol::Quecpython, Job::Info) => {
            Box::new(QuecPythonSession::identify(now, ReplConfig::default()))
        }
        (Protocol::MicropythonEsp32, job) => {
            let job = match job {
                Job::Flash { image, accept, .. } => esp32::Job::Flash { image, accept },
                Job::Info => esp32::Job::Inspect,
                Job::Accept => esp32::Job::Accept,
                Job::Rollback => esp32::Job::Rollback,
                Job::Download { .. } => unreachable!("downloads are refused above"),
            };
            Box::new(Esp32MicroPython::session(now, job, flow))
        }
        (Protocol::Nodemcu, job) => {
            let job = match job {
                Job::Flash { image, accept, .. } => nodemcu::Job::Flash { image, accept },
                Job::Info => nodemcu::Job::Inspect,
                Job::Accept => nodemcu::Job::Accept,
                Job::Rollback => nodemcu::Job::Rollback,
                Job::Download { .. } => unreachable!("downloads are refused above"),
            };
            Box::new(NodeMcuSession::start(now, job, NodeMcuConfig::default()))
        }
        (Protocol::Smp, job) => {
            let job = match job {
                Job::Flash { image, accept, .. } => smp::Job::Flash { image, accept },
                Job::Info => smp::Job::Inspect,
                Job::Accept => smp::Job::Confirm,
                Job::Rollback => smp::Job::Test { hash: None },
                Job::Download { .. } => unreachable!("downloads are refused above"),
            };
            Box::new(McuBootSmp::start(now, job, SmpConfig::default()))
        }
        (Protocol::Pycom, Job::Flash { image, .. }) => {
            Box::new(PycomFirmware::session(now, Some(image), flow))
        }
        (Protocol::Pycom, Job::Info) => Box::new(PycomFirmware::session(now, None, flow)),
        (p, _) => {
            return Err(format!(
                "{p:?} modules have no accept or rollback: their bootloader decides at boot"
            ))
        }
    })
}

/// `otadeck flash`, `accept` and `rollback`.
pub fn run_job(port: &str, baud: u32, protocol: Protocol, job: Job) -> Result<ExitCode, String> {
    let flashing = matches!(job, Job::Flash { .. } | Job::Download { .. });
    let downloading = matches!(job, Job::Download { .. });
    let start = Instant::now();
    let mut machine = machine(protocol, job, start.elapsed())?;
    let mut slots = None;
    let result = pump(&mut machine, port, baud, start, &mut slots)?;
    if protocol == Protocol::Smp {
        print_slots(slots.as_ref());
    }
    match result {
        Ok(outcome) if flashing => {
            let version = outcome
                .module
                .map(|m| m.firmware_version)
                .unwrap_or_else(|| "unknown".into());
            if downloading && outcome.restarted {
                println!(
                    "Downloaded and verified by the module, restarted: the module now runs \
                     {version} ({:.1} s).",
                    start.elapsed().as_secs_f64()
                );
            } else if downloading {
                println!(
                    "Downloaded and verified by the module: it runs its current firmware until \
                     its next restart, then the new one."
                );
            } else if outcome.restarted {
                println!(
                    "Verified and restarted: the module now runs {version} ({} bytes written in {:.1} s).",
                    outcome.bytes,
                    start.elapsed().as_secs_f64()
                );
            } else {
                println!(
                    "Verified: the module runs {version} until its next restart, then the new image."
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Ok(_) => {
            println!("Done.");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            println!("{error}");
            println!("{}", error.advice());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `otadeck info`: with a protocol, what the driver reads (slots included); without one, what
/// answers on the port.
pub fn info(port: &str, baud: u32, protocol: Option<Protocol>) -> Result<ExitCode, String> {
    let start = Instant::now();
    let mut machine: Box<dyn Machine> = match protocol {
        Some(p) => machine(p, Job::Info, start.elapsed())?,
        None => Box::new(Detector::start(start.elapsed())),
    };
    let mut slots = None;
    let result = pump(&mut machine, port, baud, start, &mut slots)?;
    match result {
        Ok(FlashOutcome {
            module: Some(m), ..
        }) => {
            println!("family:   {}", m.family.name());
            println!("model:    {}", m.model);
            println!("firmware: {}", m.firmware_version);
            println!("runtime:  {}", m.runtime);
            if protocol == Some(Protocol::Smp) {
                print_slots(slots.as_ref());
            }
            Ok(ExitCode::SUCCESS)
        }
        Ok(_) => Ok(ExitCode::FAILURE),
        Err(error) => {
            println!("{error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The slots the module reported last, one line each.
fn print_slots(slots: Option<&PartitionState>) {
    if let Some(p) = slots {
        println!("slots:");
        for line in p.lines() {
            println!("  {line}");
        }
    }
}
