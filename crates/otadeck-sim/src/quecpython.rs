//! A simulated Quectel module running QuecPython: `uos`, `modem`, `ubinascii`, `misc.Power` and
//! `fota` over a two-slot flash. `fota.write` stages the image in the inactive slot, `verify`
//! checks it against the declared size (and, for ESP-IDF app images, their checksum and appended
//! SHA-256), and only a restart after a passing verify boots it. The module-side download
//! (`httpDownload`, mini FOTA, `download_cancel`) is in [`crate::quecpython_download`].

use std::time::Duration;

use crate::flash::{DualSlotFlash, Staging};
use crate::interp::python::block::{Flow, Program, Wait};
use crate::interp::python::builtins::{self, ExecState};
use crate::interp::python::expr::{Host, Kwargs, PyErr, PyResult, Value};
use crate::mp_repl::{ExecResult, Interpreter, RawPasteSupport, ReplDevice};
use crate::quecpython_download::{Body, Job, SimPackage};

/// The simulated module's fixed facts.
#[derive(Debug, Clone)]
pub struct QuecPythonConfig {
    /// Model, as `uos.uname().sysname`.
    pub model: String,
    /// MicroPython release, as `uos.uname().release`.
    pub release: String,
    /// Bytes the update area holds.
    pub slot_size: usize,
    /// Time `verify()` takes per MiB checked.
    pub verify_time_per_mib: Duration,
    /// Fault knob: the `fota` `write` call with this index (0 for the first) raises
    /// `OSError: [Errno 5] EIO` and stages nothing.
    pub fail_write_at: Option<usize>,
    /// What `httpDownload` can fetch.
    pub packages: Vec<SimPackage>,
    /// Download speed, bytes per second of virtual time.
    pub download_rate: u32,
    /// The module upgrades only through mini FOTA (small storage): a download without `url2`
    /// fails.
    pub mini_fota_only: bool,
    /// Fault knob: a download stops making progress past this percentage (the network stalls).
    pub stall_download_at: Option<i64>,
    /// What `modem.getDevImei()` returns.
    pub imei: String,
    /// What `misc.Power.getVbatt()` returns, mV; `None`: the call raises (no battery gauge).
    pub battery_mv: Option<u32>,
    /// What `net.csqQueryPoll()` returns (0–31, 99 unknown).
    pub csq: i64,
    /// Free bytes `uos.statvfs('/usr')` reports.
    pub free_bytes: u64,
}

impl Default for QuecPythonConfig {
    fn default() -> Self {
        QuecPythonConfig {
            model: "EC600U".into(),
            release: "1.13.0".into(),
            slot_size: 1536 * 1024,
            verify_time_per_mib: Duration::from_millis(400),
            fail_write_at: None,
            packages: Vec::new(),
            download_rate: 64 * 1024,
            mini_fota_only: false,
            stall_download_at: None,
            imei: "869999051234567".into(),
            battery_mv: Some(3980),
            csq: 22,
            free_bytes: 256 * 1024,
        }
    }
}

/// The interpreter side of the simulated QuecPython module.
#[derive(Debug)]
pub struct QuecPython {
    /// The module's flash.
    pub flash: DualSlotFlash,
    pub(crate) config: QuecPythonConfig,
    exec: ExecState,
    writes: usize,
    pub(crate) now: Duration,
    /// The exec that waits on the clock, and until when.
    program: Option<Box<Program>>,
    wait_until: Option<Duration>,
    pub(crate) wait: Option<Wait>,
    pub(crate) reset_disable: bool,
    pub(crate) job: Option<Box<Job>>,
    pub(crate) stage2: Option<Box<Body>>,
    boot_extra: Duration,
    /// Every `fota` call made, in order, for tests (`write` shows its length).
    pub calls: Vec<String>,
}

impl QuecPython {
    /// A module running `firmware` (an image, used for its version) in slot 0.
    pub fn new(config: QuecPythonConfig, firmware: Vec<u8>) -> Self {
        QuecPython {
            flash: DualSlotFlash::new(config.slot_size, firmware),
            config,
            exec: ExecState::default(),
            writes: 0,
            now: Duration::ZERO,
            program: None,
            wait_until: None,
            wait: None,
            reset_disable: false,
            job: None,
            stage2: None,
            boot_extra: Duration::ZERO,
            calls: Vec::new(),
        }
    }

    /// True while a download runs on the module.
    pub fn downloading(&self) -> bool {
        self.job.is_some()
    }

    /// Run the waiting exec as far as the clock allows: callbacks due, then the code.
    fn drive(&mut self) -> ExecResult {
        let Some(mut program) = self.program.take() else {
            return ExecResult::default();
        };
        let mut globals = std::mem::take(&mut self.exec.globals);
        let result = loop {
            let due = self.advance_download(self.now);
            for (f, args) in due.calls {
                let Value::Function(name) = f else { continue };
                if let Err(e) = program.call(&name, args, &mut globals, self) {
                    self.exec
                        .printed
                        .push_str(&format!("callback error: {e}\r\n"));
                }
            }
            if due.reboot {
                break ExecResult {
                    stdout: std::mem::take(&mut self.exec.printed),
                    reboot: true,
                    ..ExecResult::default()
                };
            }
            if let Some(until) = self.wait_until.filter(|t| *t > self.now) {
                let next = self
                    .next_download_event()
                    .map_or(until, |t| t.min(until))
                    .max(self.now + Duration::from_millis(1));
                self.program = Some(program);
                break ExecResult {
                    stdout: std::mem::take(&mut self.exec.printed),
                    pending: Some(next - self.now),
                    ..ExecResult::default()
                };
            }
            self.wait_until = None;
            match program.run(&mut globals, self) {
                Flow::Waiting(w) => self.wait_until = Some(self.now + w.duration),
                Flow::Done(tb) => {
                    break ExecResult {
                        stdout: std::mem::take(&mut self.exec.printed),
                        stderr: tb.unwrap_or_default(),
                        reboot: self.exec.reboot_requested,
                        duration: self.exec.busy,
                        pending: None,
                    }
                }
            }
            if self.exec.reboot_requested {
                break ExecResult {
                    stdout: std::mem::take(&mut self.exec.printed),
                    reboot: true,
                    ..ExecResult::default()
                };
            }
        };
        self.exec.globals = globals;
        result
    }

    /// The firmware version the module runs.
    pub fn running_version(&self) -> String {
        self.flash.running_version()
    }
}

/// A QuecPython module behind its REPL, ready to put on a [`crate::line::SimLink`].
pub fn device(
    config: QuecPythonConfig,
    firmware: Vec<u8>,
    paste: RawPasteSupport,
) -> ReplDevice<QuecPython> {
    ReplDevice::new(QuecPython::new(config, firmware), paste)
}

fn int_arg(args: &[Value], i: usize, what: &str) -> Result<i64, PyErr> {
    match args.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        Some(_) => Err(PyErr::new("TypeError", format!("{what} must be an int"))),
        None => Err(PyErr::new(
            "TypeError",
            "function missing required positional argument",
        )),
    }
}

impl Host for QuecPython {
    fn import(&mut self, name: &str) -> Option<Value> {
        matches!(
            name,
            "uos"
                | "os"
                | "modem"
                | "fota"
                | "ubinascii"
                | "binascii"
                | "misc"
                | "utime"
                | "sys"
                | "net"
        )
        .then(|| Value::Module(name.to_string()))
    }

    fn getattr(&mut self, obj: &Value, attr: &str) -> PyResult {
        let known = [
            "uos.uname",
            "os.uname",
            "modem.getDevFwVersion",
            "modem.getDevImei",
            "ubinascii.a2b_base64",
            "binascii.a2b_base64",
            "misc.Power",
            "misc.Power.powerRestart",
            "misc.Power.getVbatt",
            "net.csqQueryPoll",
            "uos.statvfs",
            "os.statvfs",
            "fota.obj.write",
            "fota.obj.flush",
            "fota.obj.verify",
            "fota.obj.httpDownload",
            "fota.obj.download_cancel",
            "fota.obj.apn_set",
            "utime.sleep_ms",
            "utime.sleep",
        ];
        builtins::known_attr(obj, attr, &known)
    }

    fn call(&mut self, f: &Value, args: Vec<Value>, kwargs: Kwargs) -> PyResult {
        let path = match f {
            Value::Native(p) => p.as_str(),
            // QuecPython's `fota` module is called to make the update object: `fota()`.
            Value::Module(m) if m == "fota" => "fota",
            other => {
                return Err(PyErr::new(
                    "TypeError",
                    format!("'{}' object isn't callable", other.repr()),
                ))
            }
        };
        match path {
            "uos.uname" | "os.uname" => Ok(Value::Repr(format!(
                "(sysname='{m}', nodename='{m}', release='{r}', version='v{r} on 2023-06-01', machine='{m} with QUECTEL')",
                m = self.config.model,
                r = self.config.release
            ))),
            "modem.getDevFwVersion" => Ok(Value::Str(self.running_version())),
            "modem.getDevImei" => Ok(Value::Str(self.config.imei.clone())),
            "misc.Power.getVbatt" => match self.config.battery_mv {
                Some(mv) => Ok(Value::Int(mv.into())),
                None => Err(PyErr::new("OSError", "[Errno 19] ENODEV")),
            },
            "net.csqQueryPoll" => Ok(Value::Int(self.config.csq)),
            // (f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, ...), 4 KiB blocks.
            "uos.statvfs" | "os.statvfs" => {
                let free = (self.config.free_bytes / 4096) as i64;
                let block = Value::Int(4096);
                Ok(Value::List(vec![
                    block.clone(),
                    block,
                    Value::Int(1024),
                    Value::Int(free),
                    Value::Int(free),
                ]))
            }
            "ubinascii.a2b_base64" | "binascii.a2b_base64" => builtins::a2b_base64(&args),
            "fota" => {
                let reset_disable = kwargs
                    .iter()
                    .any(|(k, v)| k == "reset_disable" && *v == Value::Int(1));
                self.calls.push(format!("fota(reset_disable={})", u8::from(reset_disable)));
                self.reset_disable = reset_disable;
                self.flash.staging = Some(Staging::default());
                Ok(Value::Native("fota.obj".into()))
            }
            "fota.obj.write" => {
                let Some(Value::Bytes(data)) = args.first() else {
                    return Err(PyErr::new("TypeError", "object with buffer protocol required"));
                };
                let total = int_arg(&args, 1, "file_size")?;
                self.calls.push(format!("write({},{total})", data.len()));
                self.writes += 1;
                if self.config.fail_write_at == Some(self.writes - 1) {
                    return Err(PyErr::new("OSError", "[Errno 5] EIO"));
                }
                Ok(Value::Int(self.flash.write(data, total)))
            }
            "fota.obj.flush" => {
                self.calls.push("flush()".into());
                Ok(Value::Int(if self.flash.staging.is_some() { 0 } else { -1 }))
            }
            "fota.obj.verify" => {
                self.calls.push("verify()".into());
                let size = self.flash.staging.as_ref().map_or(0, |s| s.data.len());
                self.exec.busy += self.config.verify_time_per_mib * (size as u32 / 4096).max(1) / 256;
                Ok(Value::Int(self.flash.verify()))
            }
            "fota.obj.httpDownload" => self.http_download(&kwargs),
            "fota.obj.download_cancel" => Ok(self.download_cancel()),
            "fota.obj.apn_set" => {
                let shown: Vec<String> = kwargs
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.repr()))
                    .collect();
                self.calls.push(format!("apn_set({})", shown.join(", ")));
                Ok(Value::Int(0))
            }
            "utime.sleep_ms" | "utime.sleep" => {
                let n = int_arg(&args, 0, "time")?.max(0) as u64;
                let duration = if path == "utime.sleep" {
                    Duration::from_secs(n)
                } else {
                    Duration::from_millis(n)
                };
                self.wait = Some(Wait {
                    duration,
                    interruptible: true,
                });
                Ok(Value::None)
            }
            "misc.Power.powerRestart" => {
                self.calls.push("powerRestart()".into());
                self.exec.reboot_requested = true;
                Ok(Value::None)
            }
            other => Err(PyErr::new(
                "TypeError",
                format!("'{other}' isn't callable"),
            )),
        }
    }

    fn print(&mut self, text: &str) {
        self.exec.printed.push_str(text);
    }

    fn take_wait(&mut self) -> Option<Wait> {
        self.wait.take()
    }
}

impl Interpreter for QuecPython {
    fn exec(&mut self, code: &str) -> ExecResult {
        self.exec.printed.clear();
        self.exec.reboot_requested = false;
        self.exec.busy = Duration::ZERO;
        self.wait_until = None;
        match Program::parse(code) {
            Ok(program) => {
                self.program = Some(Box::new(program));
                self.drive()
            }
            Err(tb) => ExecResult {
                stderr: tb,
                ..ExecResult::default()
            },
        }
    }

    fn clock(&mut self, now: Duration) {
        self.now = now;
    }

    fn resume(&mut self) -> ExecResult {
        self.drive()
    }

    fn interrupt(&mut self) -> ExecResult {
        if let Some(program) = self.program.as_mut() {
            if program.interrupt() {
                self.wait_until = None;
            }
        }
        self.drive()
    }

    fn boot_delay(&self) -> Duration {
        self.boot_extra
    }

    fn banner(&self) -> String {
        format!(
            "MicroPython v{r} on 2023-06-01; {m} with QUECTEL",
            r = self.config.release,
            m = self.config.model
        )
    }

    fn reboot(&mut self) {
        self.exec.globals.clear();
        self.program = None;
        self.wait_until = None;
        self.wait = None;
        self.flash.boot();
        self.boot_extra = self.boot_stage_two();
    }

    fn soft_reset(&mut self) {
        self.exec.globals.clear();
    }
}
