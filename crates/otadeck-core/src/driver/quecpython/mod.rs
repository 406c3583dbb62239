//! QuecPython local firmware update: `fota()`, then the image streamed as `write(<bytes>, total)`
//! calls, `flush()`, `verify()`, and `Power.powerRestart()` unless the technician asked not to
//! restart. Runs as a [`ReplPlan`] on the shared raw-REPL engine ([`ReplFlow`]).
//!
//! Nothing makes the new image bootable before the module's own `verify()` returned 0, so every
//! failure before that point leaves the module on its previous firmware.

pub mod download;

use std::time::Duration;

use crate::driver::repl::encoding::{ChunkEncoder, Encoding};
use crate::driver::repl::flow::{
    bad_answer, Call, FlowConfig, Next, ReplFlow, ReplPlan, Reply, Report,
};
use crate::link::mp_repl::ReplConfig;
use crate::module::{parse_uname, uname_field, Family, ModuleDetails, ModuleInfo};
use crate::session::{FlashErrorKind, LogLevel, Step};

pub use crate::driver::repl::flow::CONNECT_ATTEMPTS;

/// Image bytes per `write` call in raw-paste mode: 4096 base64 characters (about 3.2 kB as a
/// bytes literal), which the flow control streams without the module buffering the whole exec.
pub const RAW_PASTE_CHUNK: usize = 3072;
/// Image bytes per `write` call in plain raw mode, where the module buffers the whole exec.
pub const PLAIN_CHUNK: usize = 768;

/// How the flash runs.
#[derive(Debug, Clone)]
pub struct FotaOptions {
    /// Restart the module into the new firmware after a passing verify. When false the `fota`
    /// object is made with `reset_disable=1` and the module boots the new firmware at its next
    /// restart.
    pub restart: bool,
    /// Image bytes per `write` call; `None` picks by REPL mode.
    pub chunk_size: Option<usize>,
    /// REPL tuning.
    pub repl: ReplConfig,
    /// Silence allowed while a `write` or `flush` runs.
    pub call_timeout: Duration,
    /// Silence allowed while `verify()` runs (it reads the whole package back).
    pub verify_timeout: Duration,
    /// How long the module may take to come back after the restart.
    pub reboot_timeout: Duration,
}

impl Default for FotaOptions {
    fn default() -> Self {
        FotaOptions {
            restart: true,
            chunk_size: None,
            repl: ReplConfig::default(),
            call_timeout: Duration::from_secs(5),
            verify_timeout: Duration::from_secs(60),
            reboot_timeout: Duration::from_secs(30),
        }
    }
}

/// Reads what the module runs, then (each in its own `try`, since a module may lack the API or
/// the hardware) its IMEI, battery voltage, signal quality (CSQ) and the free space of `/usr`.
pub(crate) const IDENTIFY_CODE: &[u8] =
    b"import uos,modem\nprint(uos.uname())\nprint(modem.getDevFwVersion())
try:
 print('imei',modem.getDevImei())
except Exception:
 pass
try:
 from misc import Power
 print('vbatt',Power.getVbatt())
except Exception:
 pass
try:
 import net
 print('csq',net.csqQueryPoll())
except Exception:
 pass
try:
 print('statvfs',uos.statvfs('/usr'))
except Exception:
 pass";
pub(crate) const IDENTIFY_CALL: &str = "uos.uname() and modem.getDevFwVersion()";
pub(crate) const RESTART_CODE: &[u8] = b"from misc import Power\nPower.powerRestart()";

/// The module's identity from what [`IDENTIFY_CODE`] printed.
pub(crate) fn parse_identity(out: &str) -> Option<ModuleInfo> {
    let mut lines = out.trim().lines();
    let uname = parse_uname(lines.next()?)?;
    let firmware_version = lines.next()?.trim().to_string();
    let field = |k: &str| uname_field(&uname, k);
    Some(ModuleInfo {
        details: parse_details(lines),
        family: Family::QuecPython,
        model: field("sysname"),
        firmware_version,
        runtime: format!("MicroPython {}", field("release")),
    })
}
/// The `key value` lines after the version: what the module could tell of itself.
fn parse_details<'a>(lines: impl Iterator<Item = &'a str>) -> ModuleDetails {
    let mut d = ModuleDetails::default();
    for line in lines {
        let Some((key, value)) = line.trim().split_once(' ') else {
            continue;
        };
        let value = value.trim();
        match key {
            "imei" if !value.is_empty() && value != "-1" => d.imei = Some(value.into()),
            "vbatt" => d.battery_mv = value.parse().ok().filter(|mv| *mv > 0),
            // CSQ 0–31 is -113 dBm and up in 2 dB steps; 99 means not known.
            "csq" => {
                d.signal_dbm = value
                    .parse::<i32>()
                    .ok()
                    .filter(|c| (0..=31).contains(c))
                    .map(|c| -113 + 2 * c)
            }
            // (f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, ...): free is bsize × bavail.
            "statvfs" => {
                let fields: Vec<u64> = value
                    .trim_matches(|c| matches!(c, '(' | ')' | '[' | ']'))
                    .split(',')
                    .filter_map(|f| f.trim().parse().ok())
                    .collect();
                if let (Some(size), Some(avail)) = (fields.first(), fields.get(4)) {
                    d.free_bytes = size.checked_mul(*avail);
                }
            }
            _ => {}
        }
    }
    d
}

const KEEP_OLD: &str = "still runs its previous firmware";
/// The verify call may have passed on the module before the session stopped without its answer.
const VERIFY_UNKNOWN: &str =
    "still runs its previous firmware, but boots the new one at its next restart if its verify passed";

/// Where the plan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Connect,
    Identify,
    Prepare,
    Write,
    Flush,
    Verify,
    Restart,
    Confirm,
}

/// The calls of a QuecPython identify or local flash, for the raw-REPL engine.
#[derive(Debug)]
pub struct FotaPlan {
    image: Option<Vec<u8>>,
    options: FotaOptions,
    stage: Stage,
    written: u64,
    in_flight: usize,
    /// Base64 (the firmware always has `ubinascii`) or a bytes literal, per chunk.
    encoder: ChunkEncoder,
    /// No image: restart the module and read what it runs afterwards.
    restart_only: bool,
}

/// One session with a QuecPython module: identify it, or flash it.
pub type QuecPythonSession = ReplFlow<FotaPlan>;

impl ReplFlow<FotaPlan> {
    /// A session that only asks the module what it is.
    pub fn identify(now: Duration, repl: ReplConfig) -> Self {
        let options = FotaOptions {
            repl,
            ..FotaOptions::default()
        };
        FotaPlan::session(now, None, options, false)
    }

    /// A session that flashes `image`.
    pub fn flash(now: Duration, image: Vec<u8>, options: FotaOptions) -> Self {
        FotaPlan::session(now, Some(image), options, false)
    }

    /// A session that restarts the module (a package verified without a restart then runs)
    /// and reads the version it runs afterwards.
    pub fn restart(now: Duration, repl: ReplConfig) -> Self {
        let options = FotaOptions {
            repl,
            ..FotaOptions::default()
        };
        FotaPlan::session(now, None, options, true)
    }
}

impl FotaPlan {
    fn session(
        now: Duration,
        image: Option<Vec<u8>>,
        options: FotaOptions,
        restart_only: bool,
    ) -> QuecPythonSession {
        let config = FlowConfig {
            repl: options.repl.clone(),
            reboot_timeout: options.reboot_timeout,
        };
        let empty = image.as_ref().is_some_and(|i| i.is_empty());
        let plan = FotaPlan {
            image,
            options,
            stage: Stage::Connect,
            written: 0,
            in_flight: 0,
            encoder: ChunkEncoder::new(Encoding::Base64),
            restart_only,
        };
        if empty {
            return ReplFlow::refused(now, plan, config, Step::Prepare, FlashErrorKind::EmptyImage);
        }
        ReplFlow::start(now, plan, config)
    }

    fn total(&self) -> u64 {
        self.image.as_ref().map_or(0, |i| i.len() as u64)
    }

    fn call(&self, step: Step, code: impl Into<Vec<u8>>) -> Next {
        Next::Exec(Call::new(step, code, self.options.call_timeout))
    }

    fn chunk_size(&self, report: &Report) -> usize {
        let paste = report.paste_window().is_some();
        let by_mode = if paste { RAW_PASTE_CHUNK } else { PLAIN_CHUNK };
        self.options.chunk_size.unwrap_or(by_mode)
    }

    fn write_call(&mut self, report: &Report) -> Next {
        let total = self.total();
        let start = self.written as usize;
        let size = self.chunk_size(report);
        let image = self.image.as_ref().expect("writing without an image");
        let end = (start + size).min(image.len());
        let mut code = b"print(f.write(".to_vec();
        code.extend_from_slice(&self.encoder.encode(&image[start..end]));
        code.extend_from_slice(format!(",{total}))").as_bytes());
        self.in_flight = end - start;
        self.call(Step::Write, code)
    }

    fn prepare_call(&mut self, report: &mut Report) -> Next {
        self.stage = Stage::Prepare;
        let ctor = if self.options.restart {
            "fota()"
        } else {
            "fota(reset_disable=1)"
        };
        let size = crate::session::group_digits(self.total());
        report.log(
            LogLevel::Info,
            format!("Starting the update: {size} bytes, {ctor}"),
        );
        let code = format!("import fota\nfrom ubinascii import a2b_base64 as A\nf={ctor}");
        self.call(Step::Prepare, code)
    }

    /// The module answered `out` for the call of the current stage.
    fn on_output(&mut self, report: &mut Report, out: &str) -> Result<Next, FlashErrorKind> {
        match self.stage {
            Stage::Identify | Stage::Confirm => {
                let info = parse_identity(out).ok_or_else(|| bad_answer(IDENTIFY_CALL, out))?;
                report.identified(info);
                Ok(match (self.stage, self.image.is_some()) {
                    (Stage::Identify, true) => self.prepare_call(report),
                    (Stage::Identify, false) if self.restart_only => {
                        self.stage = Stage::Restart;
                        report.log(LogLevel::Info, "Restarting the module");
                        Next::Restart(RESTART_CODE.to_vec())
                    }
                    (Stage::Identify, false) => Next::Done { restarted: false },
                    _ => Next::Done { restarted: true },
                })
            }
            Stage::Prepare => {
                self.stage = Stage::Write;
                report.progress(0, self.total());
                let size = self.chunk_size(report);
                let how = self.encoder.describe_choice();
                report.log(
                    LogLevel::Info,
                    format!("Writing the image in calls of {size} bytes, each {how}"),
                );
                Ok(self.write_call(report))
            }
            Stage::Write => {
                returned_zero("fota.write", out)?;
                self.written += self.in_flight as u64;
                self.in_flight = 0;
                report.progress(self.written, self.total());
                if self.written < self.total() {
                    return Ok(self.write_call(report));
                }
                self.stage = Stage::Flush;
                let summary = self.encoder.summary();
                report.log(LogLevel::Info, format!("All bytes written ({summary})"));
                Ok(self.call(Step::Flush, "print(f.flush())"))
            }
            Stage::Flush => {
                returned_zero("fota.flush", out)?;
                self.stage = Stage::Verify;
                report.log(
                    LogLevel::Info,
                    "All bytes written; the module verifies the package",
                );
                let timeout = self.options.verify_timeout;
                Ok(Next::Exec(Call::new(
                    Step::Verify,
                    "print(f.verify())",
                    timeout,
                )))
            }
            Stage::Verify => {
                returned_zero("fota.verify", out)?;
                report.log(LogLevel::Info, "The module verified the package");
                if self.options.restart {
                    self.stage = Stage::Restart;
                    report.log(
                        LogLevel::Info,
                        "Restarting the module into the new firmware",
                    );
                    Ok(Next::Restart(RESTART_CODE.to_vec()))
                } else {
                    report.log(
                        LogLevel::Info,
                        "Not restarting, as asked: the new firmware runs after the next restart",
                    );
                    Ok(Next::Done { restarted: false })
                }
            }
            Stage::Connect | Stage::Restart => Ok(Next::Done { restarted: false }),
        }
    }
}

/// A `fota` call's printed result: `0` is success, another number is the module refusing.
fn returned_zero(call: &'static str, out: &str) -> Result<(), FlashErrorKind> {
    match out {
        "0" => Ok(()),
        _ if out.parse::<i64>().is_ok() => Err(FlashErrorKind::Rejected {
            call,
            returned: out.to_string(),
        }),
        _ => Err(bad_answer(call, out)),
    }
}

impl ReplPlan for FotaPlan {
    fn next(&mut self, report: &mut Report, reply: Reply<'_>) -> Result<Next, FlashErrorKind> {
        match reply {
            Reply::Connected => {
                self.stage = Stage::Identify;
                Ok(self.call(Step::Identify, IDENTIFY_CODE))
            }
            Reply::Reconnected => {
                self.stage = Stage::Confirm;
                report.log(LogLevel::Info, "Reading the version it runs now");
                Ok(self.call(Step::Confirm, IDENTIFY_CODE))
            }
            Reply::Output { .. } => {
                let out = reply.output()?;
                self.on_output(report, out)
            }
        }
    }

    fn position(&self) -> Option<(u64, u64)> {
        let in_image = matches!(self.stage, Stage::Write | Stage::Flush | Stage::Verify);
        (self.image.is_some() && in_image).then(|| (self.written, self.total()))
    }

    fn bytes_done(&self) -> u64 {
        self.written
    }

    fn module_state(&self, _step: Step, kind: &FlashErrorKind) -> &'static str {
        match self.stage {
            Stage::Restart | Stage::Confirm if self.restart_only => {
                "was told to restart; reconnect to check the version it runs"
            }
            Stage::Restart | Stage::Confirm => {
                "verified the new firmware and was told to restart into it; reconnect to check \
                 the version it runs"
            }
            _ if self.image.is_none() => "was not changed",
            // Stopped (cancel, lost link, silence) while `verify()` may already have run and
            // passed: the module then boots the new image at its next restart. Only a failing
            // answer or a traceback from the verify rules that out.
            Stage::Verify
                if !matches!(
                    kind,
                    FlashErrorKind::Rejected { .. } | FlashErrorKind::Traceback { .. }
                ) =>
            {
                VERIFY_UNKNOWN
            }
            _ => KEEP_OLD,
        }
    }
}
