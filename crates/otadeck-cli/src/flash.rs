//! `otadeck flash`, `info`, `accept`, `rollback`, `read-flash` and `boot-slot`: the session the
//! core's registry opens for the family and the job, pumped over a real serial port, and its
//! result in words.

use std::process::ExitCode;
use std::time::Instant;

use crate::interrupt;
use otadeck_core::admission::Refusal;
use otadeck_core::driver::esp_rom::reset::ResetKind;
use otadeck_core::family::{self, Family, Job, JobKind, OpenError, OpenOptions, OtherSlot};
use otadeck_core::partition_state::PartitionState;
use otadeck_core::session::{FlashError, FlashErrorKind, FlashOutcome};

use crate::port::{self, Ran};

/// How to reset an ESP chip into its loader (named as esptool's `--before` values).
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
    /// The reset sequence, if any.
    pub fn kind(self) -> Option<ResetKind> {
        match self {
            Before::DefaultReset => Some(ResetKind::Classic),
            Before::UsbReset => Some(ResetKind::UsbJtagSerial),
            Before::NoReset => None,
        }
    }
}

/// The `--protocol` values: every family's key, from the core's registry.
pub fn protocol_parser() -> impl clap::builder::TypedValueParser<Value = Family> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Family::ALL.map(Family::key))
        .map(|key: String| Family::from_key(&key).expect("a listed key names a family"))
}

/// Where and how to reach the module.
pub struct Target<'a> {
    /// The serial device.
    pub port: &'a str,
    /// The family's protocol.
    pub family: Family,
    /// The line rate the technician asked for.
    pub baud: u32,
    /// The rest of what [`family::open`] needs.
    pub options: OpenOptions,
}

impl<'a> Target<'a> {
    /// A target on `port`; without `family`, [`Target::identify`] finds out what answers.
    pub fn new(port: &'a str, family: Option<Family>, baud: u32, before: Before) -> Self {
        Target {
            port,
            family: family.unwrap_or(Family::MicroPython),
            baud,
            options: OpenOptions {
                reset: before.kind(),
                ..OpenOptions::default()
            },
        }
    }

    /// What the module is, what it runs and its slots; finds the family first when none was
    /// named. The slots are kept for the jobs that follow.
    pub fn identify(&mut self, start: Instant) -> Result<crate::install::Identified, String> {
        if self.family == Family::MicroPython {
            let mut machine = family::detect(start.elapsed(), Some(self.baud));
            let ran = port::run(&mut *machine, self.port, self.baud, start)?;
            let found = match ran.result {
                Ok(o) => o.module.or(ran.module),
                Err(e) => return Err(e.to_string()),
            };
            match found {
                Some(m) if m.family != Family::MicroPython => self.family = m.family,
                Some(m) => {
                    return Err(format!(
                        "the module answers as {} {}, which otadeck has no update driver for",
                        m.model, m.runtime
                    ))
                }
                None => return Err("nothing on the port said what it is".into()),
            }
        }
        let ran = self.run(Job::Identify, start)?;
        let reported = ran.module;
        let module = match ran.result {
            Ok(o) => o.module.or(reported),
            Err(e) => return Err(e.to_string()),
        }
        .ok_or("the module did not say what it is")?;
        self.options.partitions = ran.slots.clone();
        Ok((module, ran.slots))
    }

    /// Open the session for `job` and run it over the port. The port opens at the rate the
    /// family's loader starts at, when it has one, and the session switches to `baud`.
    pub fn run(&self, job: Job, start: Instant) -> Result<Ran, String> {
        let (open_at, switch_to) = self.family.line_rates(self.baud);
        let mut options = self.options.clone();
        options.baud = switch_to;
        options.line_baud = Some(open_at);
        let mut machine =
            family::open(self.family, job, options, start.elapsed()).map_err(|e| match e {
                OpenError::Refused(Refusal::RawNeedsConsent { .. }) => {
                    format!("{e}; to write it anyway, pass --raw")
                }
                e => e.to_string(),
            })?;
        port::run(&mut *machine, self.port, open_at, start)
    }

    /// Run `job`; a rollback on a family whose host picks the other slot reads the slots first.
    fn run_job(&mut self, job: Job, start: Instant) -> Result<Ran, String> {
        let reads_slots_first = job.kind() == JobKind::Rollback
            && self.family.capabilities().other_slot == OtherSlot::FromOtadata;
        if reads_slots_first {
            let ran = self.run(Job::Identify, start)?;
            if let Err(e) = ran.result {
                return Ok(Ran {
                    result: Err(e),
                    ..ran
                });
            }
            self.options.partitions = ran.slots;
        }
        self.run(job, start)
    }
}

/// `otadeck flash`, `accept`, `rollback`, `read-flash` and `boot-slot`. `output`: where
/// `read-flash` writes what it read.
pub fn run_job(
    mut target: Target<'_>,
    job: Job,
    output: Option<&std::path::Path>,
) -> Result<ExitCode, String> {
    let start = Instant::now();
    let (kind, image_len) = match &job {
        Job::Flash { image, .. } => (job.kind(), image.len()),
        _ => (job.kind(), 0),
    };
    let offset = match &job {
        Job::Flash { options, .. } => options.offset,
        _ => None,
    };
    let ran = target.run_job(job, start)?;
    let outcome = match ran.result {
        Ok(outcome) => outcome,
        Err(error) => return Ok(report_error(&error)),
    };
    let secs = start.elapsed().as_secs_f64();
    match kind {
        JobKind::Flash | JobKind::Download => {
            print_slots(ran.slots.as_ref());
            let place = match (offset, ran.slots.as_ref()) {
                (Some(at), _) => format!("at {at:#x}"),
                (None, Some(slots)) => format!("into {}, which boots next,", slots.next_boot),
                (None, None) => "at the app address".into(),
            };
            print_flashed(target.family, &outcome, (image_len, &place), secs, kind);
        }
        JobKind::ReadBack => {
            let (at, data) = ran.read_back.ok_or("the module sent nothing back")?;
            let out = output.ok_or("no output file")?;
            std::fs::write(out, &data)
                .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            println!(
                "Read {} bytes at {at:#x} into {} (MD5 checked by the chip, {secs:.1} s).",
                data.len(),
                out.display(),
            );
        }
        JobKind::Restart if outcome.restarted => {
            println!("The chip left its loader and boots the firmware otadata selects.");
        }
        _ => {
            print_slots(ran.slots.as_ref());
            println!("Done.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_flashed(
    family: Family,
    outcome: &FlashOutcome,
    (len, place): (usize, &str),
    secs: f64,
    kind: JobKind,
) {
    let version = outcome
        .module
        .as_ref()
        .map(|m| m.firmware_version.clone())
        .unwrap_or_else(|| "unknown".into());
    if family == Family::EspRom {
        let chip = outcome.module.as_ref().map_or("chip", |m| m.model.as_str());
        println!(
            "Wrote {len} bytes {place} on the {chip} and verified them by MD5 ({secs:.1} s){}.",
            if outcome.restarted {
                "; the chip restarted"
            } else {
                ""
            }
        );
    } else if kind == JobKind::Download && outcome.restarted {
        println!(
            "Downloaded and verified by the module, restarted: the module now runs {version} \
             ({secs:.1} s)."
        );
    } else if kind == JobKind::Download {
        println!(
            "Downloaded and verified by the module: it runs its current firmware until its next \
             restart, then the new one."
        );
    } else if outcome.restarted {
        println!(
            "Verified and restarted: the module now runs {version} ({} bytes written in \
             {secs:.1} s).",
            outcome.bytes
        );
    } else {
        println!("Verified: the module runs {version} until its next restart, then the new image.");
    }
}

fn report_error(e: &FlashError) -> ExitCode {
    println!("{e}");
    println!("{}", e.advice());
    if e.kind == FlashErrorKind::Cancelled && interrupt::requested() {
        ExitCode::from(interrupt::EXIT_INTERRUPTED)
    } else {
        ExitCode::FAILURE
    }
}

/// `otadeck info`: with a protocol, what its driver reads (slots included); without one, what
/// answers on the port.
pub fn info(target: Target<'_>, detect: bool) -> Result<ExitCode, String> {
    let start = Instant::now();
    let ran = if detect {
        let mut machine = family::detect(start.elapsed(), Some(target.baud));
        port::run(&mut *machine, target.port, target.baud, start)?
    } else {
        target.run(Job::Identify, start)?
    };
    let reported = ran.module;
    match ran.result.map(|outcome| outcome.module.or(reported)) {
        Ok(Some(m)) => {
            println!("family:   {}", m.family.name());
            println!("model:    {}", m.model);
            println!("firmware: {}", m.firmware_version);
            println!("runtime:  {}", m.runtime);
            print_slots(ran.slots.as_ref());
            Ok(ExitCode::SUCCESS)
        }
        Ok(None) => Ok(ExitCode::FAILURE),
        Err(error) => {
            println!("{error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The slots the module reported last: which runs, which boots next, one line each.
fn print_slots(slots: Option<&PartitionState>) {
    if let Some(p) = slots {
        println!("running:   {}", p.running);
        println!("next boot: {}", p.next_boot);
        println!("slots:");
        for line in p.lines() {
            println!("  {line}");
        }
    }
}
