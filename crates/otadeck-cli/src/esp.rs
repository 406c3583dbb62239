//! `--protocol esp-rom`: the ESP serial ROM loader session pumped over a serial port, with the
//! DTR/RTS steps and the baud change it asks for.

use std::io::{ErrorKind, Read, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use otadeck_core::driver::esp_rom::reset::ResetKind;
use otadeck_core::driver::esp_rom::stub::Stub;
use otadeck_core::driver::esp_rom::{EspRomConfig, EspRomSession, Job, Region};
use otadeck_core::partition_state::PartitionState;
use otadeck_core::session::{FlashError, FlashOutcome, Machine, SessionEvent};

use crate::term::Reporter;

/// How to reset the chip into its loader (named as esptool's `--before` values).
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Before {
    /// DTR/RTS on a USB-UART bridge (esptool's default).
    DefaultReset,
    /// The built-in USB-JTAG-serial of newer chips.
    UsbReset,
    /// The chip already waits in its loader (and a pty has no modem lines anyway).
    NoReset,
}

impl Before {
    fn kind(self) -> Option<ResetKind> {
        match self {
            Before::DefaultReset => Some(ResetKind::Classic),
            Before::UsbReset => Some(ResetKind::UsbJtagSerial),
            Before::NoReset => None,
        }
    }
}

/// The ROM starts at this rate; anything else goes through CHANGE_BAUDRATE.
const ROM_BAUD: u32 = 115_200;

type Finished = Result<FlashOutcome, FlashError>;

fn pump(
    s: &mut EspRomSession,
    path: &str,
    start: Instant,
) -> Result<(Finished, Option<PartitionState>), String> {
    let mut port = serialport::new(path, ROM_BAUD)
        .timeout(Duration::from_millis(5))
        .open()
        .map_err(|e| format!("cannot open {path}: {e}"))?;
    let mut reporter = Reporter::new(std::env::var_os("OTADECK_VERBOSE").is_some());
    let mut buf = [0u8; 4096];
    let mut state = None;
    loop {
        // A pty or a network bridge has no modem lines: a failed set is not an error.
        while let Some(step) = s.poll_signals() {
            if let Some(dtr) = step.dtr {
                let _ = port.write_data_terminal_ready(dtr);
            }
            if let Some(rts) = step.rts {
                let _ = port.write_request_to_send(rts);
            }
        }
        while let Some(bytes) = s.poll_transmit() {
            if port.write_all(&bytes).and_then(|_| port.flush()).is_err() {
                s.link_lost(start.elapsed());
                break;
            }
        }
        if let Some(baud) = s.poll_baud() {
            port.set_baud_rate(baud)
                .map_err(|e| format!("cannot switch {path} to {baud} baud: {e}"))?;
        }
        let now = start.elapsed();
        while let Some(event) = s.poll_event() {
            reporter.event(now, &event);
            match event {
                SessionEvent::Partitions(p) => state = Some(p),
                SessionEvent::Finished(r) => return Ok((r, state)),
                _ => {}
            }
        }
        match port.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => s.handle_input(start.elapsed(), &buf[..n]),
            Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => s.link_lost(start.elapsed()),
        }
        let now = start.elapsed();
        if s.poll_timeout().is_some_and(|t| t <= now) {
            s.handle_timeout(now);
        }
    }
}

fn config(job: Job, baud: u32, before: Before, restart: bool) -> EspRomConfig {
    let mut cfg = EspRomConfig::new(job);
    cfg.reset = before.kind();
    cfg.baud = (baud != ROM_BAUD).then_some(baud);
    cfg.restart = restart;
    cfg
}

fn report_error(e: &FlashError) -> ExitCode {
    println!("{e}");
    println!("{}", e.advice());
    ExitCode::FAILURE
}

/// The options of `otadeck flash --protocol esp-rom`.
pub struct FlashArgs {
    /// Flash address of the image.
    pub offset: u32,
    /// Send plain blocks instead of a zlib stream.
    pub plain: bool,
    /// Reboot into the app at the end.
    pub restart: bool,
    /// How to enter the loader.
    pub before: Before,
    /// A flasher stub in esptool's JSON format to load first.
    pub stub: Option<std::path::PathBuf>,
}

/// `otadeck flash --protocol esp-rom`.
pub fn flash(port: &str, baud: u32, image: Vec<u8>, a: FlashArgs) -> Result<ExitCode, String> {
    let start = Instant::now();
    let len = image.len();
    let job = Job::Flash {
        regions: vec![Region {
            offset: a.offset,
            data: image,
        }],
        compress: !a.plain,
    };
    let mut cfg = config(job, baud, a.before, a.restart);
    if let Some(path) = &a.stub {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        cfg.stub = Some(Stub::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    let mut s = EspRomSession::new(cfg, start.elapsed());
    match pump(&mut s, port, start)?.0 {
        Ok(o) => {
            println!(
                "Wrote {len} bytes at {:#x} on the {} and verified them by MD5 ({:.1} s){}.",
                a.offset,
                s.chip(),
                start.elapsed().as_secs_f64(),
                if o.restarted {
                    "; the chip restarted"
                } else {
                    ""
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(report_error(&e)),
    }
}

/// `otadeck info --protocol esp-rom`: the partition state read from flash.
pub fn info(port: &str, baud: u32, before: Before) -> Result<ExitCode, String> {
    run_state(port, baud, before, Job::Info)
}

/// `otadeck boot-slot --protocol esp-rom --slot N`: rewrite otadata so that ota_N boots next.
pub fn set_boot(port: &str, baud: u32, before: Before, slot: u8) -> Result<ExitCode, String> {
    run_state(port, baud, before, Job::SetBootSlot { slot })
}

fn run_state(port: &str, baud: u32, before: Before, job: Job) -> Result<ExitCode, String> {
    let start = Instant::now();
    let mut s = EspRomSession::new(config(job, baud, before, false), start.elapsed());
    match pump(&mut s, port, start)? {
        (Ok(_), Some(state)) => {
            println!("chip:      {}", s.chip());
            println!(
                "running:   {} (the slot the bootloader selects)",
                state.running
            );
            println!("next boot: {}", state.next_boot);
            for line in state.lines() {
                println!("  {line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        (Ok(_), None) => Ok(ExitCode::FAILURE),
        (Err(e), _) => Ok(report_error(&e)),
    }
}

/// `otadeck read-flash`: `len` bytes at `offset` into `out`, checked by the chip's MD5.
pub fn read_flash(
    port: &str,
    baud: u32,
    before: Before,
    (offset, len): (u32, u32),
    out: &std::path::Path,
) -> Result<ExitCode, String> {
    let start = Instant::now();
    let job = Job::ReadFlash { offset, len };
    let mut s = EspRomSession::new(config(job, baud, before, false), start.elapsed());
    match pump(&mut s, port, start)?.0 {
        Ok(_) => {
            let data = s.take_read();
            std::fs::write(out, &data)
                .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            println!(
                "Read {} bytes at {offset:#x} into {} (MD5 checked by the chip, {:.1} s).",
                data.len(),
                out.display(),
                start.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(report_error(&e)),
    }
}
