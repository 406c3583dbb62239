//! A simulated Quectel module running QuecPython: `uos`, `modem`, `ubinascii`, `misc.Power` and
//! `fota` over a two-slot flash. `fota.write` stages the image in the inactive slot, `verify`
//! checks it against the declared size (and, for ESP-IDF app images, their checksum and appended
//! SHA-256), and only a restart after a passing verify boots it.

use std::time::Duration;

use base64::Engine as _;

use crate::flash::{DualSlotFlash, Staging};
use crate::mp_repl::{ExecResult, Interpreter, RawPasteSupport, ReplDevice};
use crate::pyexpr::{self, Globals, Host, PyErr, Value};

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
}

impl Default for QuecPythonConfig {
    fn default() -> Self {
        QuecPythonConfig {
            model: "EC600U".into(),
            release: "1.13.0".into(),
            slot_size: 1536 * 1024,
            verify_time_per_mib: Duration::from_millis(400),
            fail_write_at: None,
        }
    }
}

/// The interpreter side of the simulated QuecPython module.
#[derive(Debug)]
pub struct QuecPython {
    /// The module's flash.
    pub flash: DualSlotFlash,
    config: QuecPythonConfig,
    globals: Globals,
    printed: String,
    reboot_requested: bool,
    busy: Duration,
    writes: usize,
    /// Every `fota` call made, in order, for tests (`write` shows its length).
    pub calls: Vec<String>,
}

impl QuecPython {
    /// A module running `firmware` (an image, used for its version) in slot 0.
    pub fn new(config: QuecPythonConfig, firmware: Vec<u8>) -> Self {
        QuecPython {
            flash: DualSlotFlash::new(config.slot_size, firmware),
            config,
            globals: Globals::default(),
            printed: String::new(),
            reboot_requested: false,
            busy: Duration::ZERO,
            writes: 0,
            calls: Vec::new(),
        }
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
            "uos" | "os" | "modem" | "fota" | "ubinascii" | "binascii" | "misc" | "utime" | "sys"
        )
        .then(|| Value::Module(name.to_string()))
    }

    fn getattr(&mut self, obj: &Value, attr: &str) -> Result<Value, PyErr> {
        let path = match obj {
            Value::Module(m) => format!("{m}.{attr}"),
            Value::Native(n) => format!("{n}.{attr}"),
            other => {
                return Err(PyErr::new(
                    "AttributeError",
                    format!("'{}' object has no attribute '{attr}'", other.repr()),
                ))
            }
        };
        let known = [
            "uos.uname",
            "os.uname",
            "modem.getDevFwVersion",
            "modem.getDevImei",
            "ubinascii.a2b_base64",
            "binascii.a2b_base64",
            "misc.Power",
            "misc.Power.powerRestart",
            "fota.obj.write",
            "fota.obj.flush",
            "fota.obj.verify",
        ];
        if known.contains(&path.as_str()) {
            Ok(Value::Native(path))
        } else {
            Err(PyErr::new(
                "AttributeError",
                format!("'{}' object has no attribute '{attr}'", obj.repr()),
            ))
        }
    }

    fn call(
        &mut self,
        f: &Value,
        args: Vec<Value>,
        kwargs: Vec<(String, Value)>,
    ) -> Result<Value, PyErr> {
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
            "modem.getDevImei" => Ok(Value::Str("869999051234567".into())),
            "ubinascii.a2b_base64" | "binascii.a2b_base64" => {
                let data = match args.as_slice() {
                    [Value::Bytes(b)] => b.clone(),
                    [Value::Str(s)] => s.as_bytes().to_vec(),
                    _ => return Err(PyErr::new("TypeError", "a2b_base64 takes one argument")),
                };
                // Like MicroPython, characters outside the alphabet are skipped.
                let clean: Vec<u8> = data
                    .into_iter()
                    .filter(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
                    .collect();
                base64::engine::general_purpose::STANDARD
                    .decode(&clean)
                    .map(Value::Bytes)
                    .map_err(|_| PyErr::new("ValueError", "incorrect padding"))
            }
            "fota" => {
                let reset_disable = kwargs
                    .iter()
                    .any(|(k, v)| k == "reset_disable" && *v == Value::Int(1));
                self.calls.push(format!("fota(reset_disable={})", u8::from(reset_disable)));
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
                self.busy += self.config.verify_time_per_mib * (size as u32 / 4096).max(1) / 256;
                Ok(Value::Int(self.flash.verify()))
            }
            "misc.Power.powerRestart" => {
                self.calls.push("powerRestart()".into());
                self.reboot_requested = true;
                Ok(Value::None)
            }
            other => Err(PyErr::new(
                "TypeError",
                format!("'{other}' isn't callable"),
            )),
        }
    }

    fn print(&mut self, text: &str) {
        self.printed.push_str(text);
    }
}

impl Interpreter for QuecPython {
    fn exec(&mut self, code: &str) -> ExecResult {
        self.printed.clear();
        self.reboot_requested = false;
        self.busy = Duration::ZERO;
        let mut globals = std::mem::take(&mut self.globals);
        let outcome = pyexpr::run(code, &mut globals, self);
        self.globals = globals;
        ExecResult {
            stdout: std::mem::take(&mut self.printed),
            stderr: outcome.err().unwrap_or_default(),
            reboot: self.reboot_requested,
            duration: self.busy,
        }
    }

    fn banner(&self) -> String {
        format!(
            "MicroPython v{r} on 2023-06-01; {m} with QUECTEL",
            r = self.config.release,
            m = self.config.model
        )
    }

    fn reboot(&mut self) {
        self.globals.clear();
        self.flash.boot();
    }

    fn soft_reset(&mut self) {
        self.globals.clear();
    }
}
