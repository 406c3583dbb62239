//! Pycom firmware update (`pycom.ota_start / ota_write / ota_verify / ota_finish`) on the raw REPL.
//!
//! Order: read the module, probe its encodings, `ota_start()` (erases the other slot), stream the
//! image through `ota_write` (each chunk in the encoding shortest for it), `ota_verify()` (the
//! module checks the image it holds), and only then `ota_finish()`, which selects the new slot;
//! then `machine.reset()` and a check that the module runs the new version. Pycom's own client
//! finishes before it verifies; verifying first means a bad image is never selected.

pub mod files;

use std::time::Duration;

use crate::driver::repl::encoding::{
    exec_budget, ChunkEncoder, Encoding, EncodingProbe, ProbeStep, EXEC_CODE_MIN, FREE_HEAP_CODE,
};
use crate::driver::repl::flow::{
    bad_answer, Call, FlowConfig, Next, ReplFlow, ReplPlan, Reply, Report,
};
use crate::image::esp;
use crate::module::{parse_uname, uname_field, Family, ModuleInfo};
use crate::session::{FlashErrorKind, LogLevel, Step};

/// Image bytes per `ota_write` call.
pub const WRITE_CHUNK: usize = 4096;
const IDENTIFY: &str = "import os,pycom\nprint(os.uname())\nprint(pycom.ota_slot())";
const RESTART: &[u8] = b"import machine\nmachine.reset()";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Identify,
    Probe(Encoding),
    Memory,
    Start,
    Write,
    Verify,
    Finish,
    Restarting,
    Confirm,
    Done,
}

/// The Pycom firmware driver, as a [`ReplPlan`]. Without an image it only identifies the module.
#[derive(Debug)]
pub struct PycomFirmware {
    image: Option<Vec<u8>>,
    stage: Stage,
    probe: EncodingProbe,
    encoder: Option<ChunkEncoder>,
    /// Python source per write exec, from the module's free heap.
    budget: usize,
    /// Image bytes the module confirmed it stored.
    written: usize,
    slot: Option<String>,
    restarted: bool,
}

/// A session on a Pycom module.
pub type PycomSession = ReplFlow<PycomFirmware>;

impl PycomFirmware {
    /// Identify the module, and flash `image` when given.
    pub fn new(image: Option<Vec<u8>>) -> Self {
        PycomFirmware {
            image,
            stage: Stage::Identify,
            probe: EncodingProbe::default(),
            budget: EXEC_CODE_MIN,
            encoder: None,
            written: 0,
            slot: None,
            restarted: false,
        }
    }

    /// Start a session.
    pub fn start(now: Duration, image: Option<Vec<u8>>, config: FlowConfig) -> PycomSession {
        ReplFlow::start(now, Self::new(image), config)
    }

    fn image(&self) -> &[u8] {
        self.image.as_deref().unwrap_or_default()
    }

    fn expected_version(&self) -> Option<String> {
        esp::app_descriptor(self.image()).map(|d| d.version)
    }

    fn on_identity(
        &mut self,
        report: &mut Report,
        out: &str,
    ) -> Result<Option<String>, FlashErrorKind> {
        let mut lines = out.lines();
        let uname = lines.next().and_then(parse_uname);
        let slot = lines.next().map(|l| l.trim().to_string());
        let (Some(uname), Some(slot)) = (uname, slot) else {
            return Err(bad_answer("os.uname() and pycom.ota_slot()", out));
        };
        let field = |k: &str| uname_field(&uname, k);
        let info = ModuleInfo {
            details: Default::default(),
            family: Family::Pycom,
            model: field("sysname"),
            firmware_version: field("release"),
            runtime: field("version"),
        };
        let version = info.firmware_version.clone();
        report.identified(info);
        // `pycom.ota_slot()` gives the slot's flash address in decimal; addresses read in hex.
        let slot = slot
            .parse::<u64>()
            .map_or(slot, |addr| format!("{addr:#x}"));
        self.slot = Some(slot);
        Ok(Some(version))
    }

    /// The next write exec: chunks of [`WRITE_CHUNK`] while they fit the budget (at least one),
    /// each in the shortest encoding the module decodes and each followed by a print of the
    /// bytes stored so far, so that a failure mid-exec still knows what the module confirmed.
    fn write_call(&mut self) -> Call {
        let image = self.image.as_deref().unwrap_or_default();
        let encoder = self.encoder.as_mut().expect("probed");
        let mut code = Vec::new();
        let mut at = self.written;
        while at < image.len() {
            let end = (at + WRITE_CHUNK).min(image.len());
            let (e, expr) = encoder.shortest(&image[at..end]);
            let mut line = b"pycom.ota_write(".to_vec();
            line.extend_from_slice(&expr);
            line.extend_from_slice(format!(")\nprint({end})\n").as_bytes());
            if !code.is_empty() && code.len() + line.len() > self.budget {
                break;
            }
            encoder.record(e);
            code.extend_from_slice(&line);
            at = end;
        }
        Call::new(Step::Write, code, Duration::from_secs(10))
    }

    fn probe_step(&mut self, report: &mut Report, step: ProbeStep) -> Next {
        match step {
            ProbeStep::Try(e) => {
                self.stage = Stage::Probe(e);
                Next::exec(Step::Prepare, e.imports(), 5)
            }
            ProbeStep::Found(e) => {
                let encoder = ChunkEncoder::new(e);
                report.log(
                    LogLevel::Info,
                    format!(
                        "Starting the update into the slot at {}; each chunk goes {}",
                        self.slot.as_deref().unwrap_or("?"),
                        encoder.describe_choice()
                    ),
                );
                self.encoder = Some(encoder);
                self.stage = Stage::Memory;
                Next::exec(Step::Prepare, FREE_HEAP_CODE, 5)
            }
        }
    }

    fn on_output(&mut self, report: &mut Report, reply: Reply<'_>) -> Result<Next, FlashErrorKind> {
        match self.stage {
            Stage::Identify => {
                self.on_identity(report, reply.output()?)?;
                if self.image.is_none() {
                    self.stage = Stage::Done;
                    return Ok(Next::Done { restarted: false });
                }
                if self.image().first() != Some(&esp::IMAGE_MAGIC) {
                    return Ok(Next::Fail {
                        step: Step::Prepare,
                        kind: FlashErrorKind::Unsuitable(
                            "the file is not a Pycom firmware image (an ESP32 application image \
                             starts with 0xE9)"
                                .into(),
                        ),
                    });
                }
                let first = self.probe.start();
                Ok(self.probe_step(report, first))
            }
            Stage::Probe(_) => match self.probe.on_reply(reply) {
                Some(step) => Ok(self.probe_step(report, step)),
                None => Err(FlashErrorKind::ModuleLacks(
                    "this firmware cannot run the code that sends binary data".into(),
                )),
            },
            Stage::Memory => {
                self.budget = exec_budget(report, reply);
                self.stage = Stage::Start;
                Ok(Next::exec(Step::Prepare, "pycom.ota_start()", 10))
            }
            Stage::Start => {
                reply.output()?;
                self.stage = Stage::Write;
                report.progress(0, self.image().len() as u64);
                Ok(Next::Exec(self.write_call()))
            }
            Stage::Write => {
                let out = reply.output()?;
                let at: usize = out
                    .lines()
                    .last()
                    .and_then(|l| l.trim().parse().ok())
                    .ok_or_else(|| bad_answer("pycom.ota_write", out))?;
                let confirmed = at.min(self.image().len());
                if confirmed != self.written {
                    self.written = confirmed;
                    report.progress(self.written as u64, self.image().len() as u64);
                }
                if self.written < self.image().len() {
                    return Ok(Next::Exec(self.write_call()));
                }
                self.stage = Stage::Verify;
                let summary = self.encoder.as_ref().map(ChunkEncoder::summary);
                report.log(
                    LogLevel::Info,
                    format!(
                        "All bytes written ({}); the module verifies the image",
                        summary.unwrap_or_default()
                    ),
                );
                Ok(Next::exec(Step::Verify, "print(pycom.ota_verify())", 30))
            }
            Stage::Verify => match reply.output()? {
                "True" => {
                    self.stage = Stage::Finish;
                    Ok(Next::exec(Step::Flush, "pycom.ota_finish()", 10))
                }
                "False" => Err(FlashErrorKind::Rejected {
                    call: "pycom.ota_verify",
                    returned: "False".into(),
                }),
                other => Err(bad_answer("pycom.ota_verify", other)),
            },
            Stage::Finish => {
                reply.output()?;
                self.stage = Stage::Restarting;
                report.log(LogLevel::Info, "New slot selected; restarting the module");
                Ok(Next::Restart(RESTART.to_vec()))
            }
            Stage::Confirm => {
                let version = self.on_identity(report, reply.output()?)?;
                if let (Some(expected), Some(running)) = (self.expected_version(), version) {
                    if !running.contains(expected.trim_start_matches('v')) {
                        return Err(FlashErrorKind::Mismatch(format!(
                            "the module came back on firmware {running}, not {expected}: its \
                             bootloader refused the new image"
                        )));
                    }
                }
                self.stage = Stage::Done;
                Ok(Next::Done { restarted: true })
            }
            Stage::Restarting | Stage::Done => Ok(Next::Done {
                restarted: self.restarted,
            }),
        }
    }
}

impl ReplPlan for PycomFirmware {
    fn next(&mut self, report: &mut Report, reply: Reply<'_>) -> Result<Next, FlashErrorKind> {
        match reply {
            Reply::Connected => {
                if self.image.as_ref().is_some_and(|i| i.is_empty()) {
                    return Ok(Next::Fail {
                        step: Step::Prepare,
                        kind: FlashErrorKind::EmptyImage,
                    });
                }
                self.stage = Stage::Identify;
                Ok(Next::exec(Step::Identify, IDENTIFY, 5))
            }
            Reply::Reconnected => {
                self.restarted = true;
                self.stage = Stage::Confirm;
                Ok(Next::exec(Step::Confirm, IDENTIFY, 5))
            }
            Reply::Output { .. } => self.on_output(report, reply),
        }
    }

    fn on_line(&mut self, report: &mut Report, line: &str) {
        // A chunk stored: `print(end)` after its `ota_write`.
        let len = self.image().len();
        match line.trim().parse::<usize>() {
            Ok(at) if self.stage == Stage::Write && at > self.written && at <= len => {
                self.written = at;
                report.progress(at as u64, len as u64);
            }
            _ => {}
        }
    }

    fn position(&self) -> Option<(u64, u64)> {
        match self.stage {
            Stage::Write | Stage::Verify | Stage::Finish => {
                Some((self.written as u64, self.image().len() as u64))
            }
            _ => None,
        }
    }

    fn bytes_done(&self) -> u64 {
        self.written as u64
    }

    fn module_state(&self, _step: Step, kind: &FlashErrorKind) -> &'static str {
        let refused = matches!(
            kind,
            FlashErrorKind::Traceback { .. } | FlashErrorKind::Rejected { .. }
        );
        match self.stage {
            _ if self.image.is_none() => "was not changed",
            Stage::Finish if !refused => {
                "still runs its previous firmware, and may start the new one at its next restart"
            }
            Stage::Restarting | Stage::Confirm => {
                "was told to restart into the new firmware; reconnect to check the version it runs"
            }
            _ => "still runs its previous firmware",
        }
    }
}
