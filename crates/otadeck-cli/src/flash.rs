//! `otadeck flash` and `otadeck info`: the core's machines pumped over a real serial port.

use std::io::{ErrorKind, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use otadeck_core::driver::quecpython::{FotaOptions, QuecPythonSession};
use otadeck_core::link::mp_repl::ReplConfig;
use otadeck_core::session::{FlashError, FlashOutcome, Machine, SessionEvent};

use crate::term::Reporter;

/// Run `machine` over the serial device at `path` until it finishes.
fn pump<M: Machine>(
    machine: &mut M,
    path: &str,
    baud: u32,
    start: Instant,
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
            if let SessionEvent::Finished(r) = event {
                result = Some(r);
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

/// `otadeck flash`.
pub fn flash(port: &str, baud: u32, image: &Path, restart: bool) -> Result<ExitCode, String> {
    let bytes =
        std::fs::read(image).map_err(|e| format!("cannot read {}: {e}", image.display()))?;
    let start = Instant::now();
    let options = FotaOptions {
        restart,
        ..FotaOptions::default()
    };
    let mut machine = QuecPythonSession::flash(start.elapsed(), bytes, options);
    match pump(&mut machine, port, baud, start)? {
        Ok(outcome) => {
            let version = outcome
                .module
                .map(|m| m.firmware_version)
                .unwrap_or_else(|| "unknown".into());
            if outcome.restarted {
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
        Err(error) => {
            println!("{error}");
            println!("{}", error.advice());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `otadeck info`.
pub fn info(port: &str, baud: u32) -> Result<ExitCode, String> {
    let start = Instant::now();
    let mut machine = QuecPythonSession::identify(start.elapsed(), ReplConfig::default());
    match pump(&mut machine, port, baud, start)? {
        Ok(FlashOutcome {
            module: Some(m), ..
        }) => {
            println!("family:   {}", m.family.name());
            println!("model:    {}", m.model);
            println!("firmware: {}", m.firmware_version);
            println!("runtime:  {}", m.runtime);
            Ok(ExitCode::SUCCESS)
        }
        Ok(_) => Ok(ExitCode::FAILURE),
        Err(error) => {
            println!("{error}");
            Ok(ExitCode::FAILURE)
        }
    }
}
