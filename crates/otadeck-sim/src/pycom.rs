//! A simulated Pycom board (FiPy, LoPy4, ...) running Pycom's MicroPython 1.11 fork: `os.uname`
//! with Pycom's `release`, `pycom.ota_start / ota_write / ota_verify / ota_finish / ota_slot`,
//! `machine.reset` and `ubinascii` (no `deflate`: that fork predates it).
//!
//! `ota_start` erases the other slot, `ota_write` appends, `ota_verify` checks the written image,
//! `ota_finish` selects it. The Pycom bootloader checks a newly selected image at boot and keeps
//! it when it validates (no application-side accept), otherwise boots the previous one.

use std::time::Duration;

use crate::esp_ota::EspOtaFlash;
use crate::mp_builtins;
use crate::mp_repl::{ExecResult, Interpreter, RawPasteSupport, ReplDevice};
use crate::pyexpr::{self, Globals, Host, PyErr, Value};

/// The simulated board's fixed facts and fault knobs.
#[derive(Debug, Clone)]
pub struct PycomConfig {
    /// Board name, as `os.uname().sysname`.
    pub board: String,
    /// Bytes per slot.
    pub slot_size: usize,
    /// Time `ota_write` takes per KiB.
    pub write_time_per_kib: Duration,
    /// Fault knob: the `ota_write` call with this index raises `OSError`.
    pub fail_write_at: Option<usize>,
}

impl Default for PycomConfig {
    fn default() -> Self {
        PycomConfig {
            board: "FiPy".into(),
            slot_size: 1536 * 1024,
            write_time_per_kib: Duration::from_millis(8),
            fail_write_at: None,
        }
    }
}

/// The interpreter side of the simulated board.
#[derive(Debug)]
pub struct Pycom {
    /// The board's flash.
    pub flash: EspOtaFlash,
    config: PycomConfig,
    globals: Globals,
    printed: String,
    reboot_requested: bool,
    busy: Duration,
    /// Every `pycom.ota_*` call, in order, for tests (`ota_write` shows its length).
    pub calls: Vec<String>,
}

/// A Pycom board behind its REPL, ready to put on a [`crate::line::SimLink`].
pub fn device(config: PycomConfig, firmware: Vec<u8>, paste: RawPasteSupport) -> ReplDevice<Pycom> {
    ReplDevice::new(Pycom::new(config, firmware), paste)
}

fn failed() -> PyErr {
    PyErr::new("OSError", "operation failed")
}

impl Pycom {
    /// A board running `firmware` from its first slot.
    pub fn new(config: PycomConfig, firmware: Vec<u8>) -> Self {
        Pycom {
            flash: EspOtaFlash::new(config.slot_size, firmware),
            config,
            globals: Globals::default(),
            printed: String::new(),
            reboot_requested: false,
            busy: Duration::ZERO,
            calls: Vec::new(),
        }
    }

    /// The Pycom release the running image reports (its app version without a leading `v`).
    pub fn release(&self) -> String {
        self.flash
            .running_version()
            .trim_start_matches('v')
            .to_string()
    }

    fn slot_address(&self, slot: usize) -> usize {
        0x10000 + slot * self.flash.slot_size
    }
}

impl Host for Pycom {
    fn import(&mut self, name: &str) -> Option<Value> {
        let name = name.strip_prefix('u').unwrap_or(name);
        matches!(name, "os" | "pycom" | "machine" | "binascii" | "sys")
            .then(|| Value::Module(name.to_string()))
    }

    fn getattr(&mut self, obj: &Value, attr: &str) -> Result<Value, PyErr> {
        let path = match obj {
            Value::Module(m) => format!("{m}.{attr}"),
            Value::Native(n) => format!("{n}.{attr}"),
            _ => String::new(),
        };
        const KNOWN: [&str; 10] = [
            "os.uname",
            "pycom.ota_start",
            "pycom.ota_write",
            "pycom.ota_verify",
            "pycom.ota_finish",
            "pycom.ota_slot",
            "machine.reset",
            "binascii.a2b_base64",
            "binascii.hexlify",
            "bytes.fromhex",
        ];
        if KNOWN.contains(&path.as_str()) {
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
        _kw: Vec<(String, Value)>,
    ) -> Result<Value, PyErr> {
        let Value::Native(path) = f else {
            return Err(PyErr::new("TypeError", "object isn't callable"));
        };
        match path.as_str() {
            "os.uname" => Ok(Value::Repr(format!(
                "(sysname='{b}', nodename='{b}', release='{r}', version='v1.11-c5a0a97 on \
                 2021-10-28; {b} with ESP32', machine='{b} with ESP32', pybytes='1.7.1')",
                b = self.config.board,
                r = self.release()
            ))),
            "pycom.ota_slot" => Ok(Value::Int(
                self.slot_address(self.flash.next_update()) as i64
            )),
            "pycom.ota_start" => {
                self.calls.push("ota_start()".into());
                self.flash.begin().map_err(|_| failed())?;
                Ok(Value::None)
            }
            "pycom.ota_write" => {
                let Some(Value::Bytes(data)) = args.first() else {
                    return Err(PyErr::new(
                        "TypeError",
                        "object with buffer protocol required",
                    ));
                };
                self.calls.push(format!("ota_write({})", data.len()));
                let index = self
                    .calls
                    .iter()
                    .filter(|c| c.starts_with("ota_write"))
                    .count()
                    - 1;
                if self.config.fail_write_at == Some(index) {
                    return Err(failed());
                }
                self.busy += self.config.write_time_per_kib * (data.len() as u32).div_ceil(1024);
                self.flash.append(data).map_err(|_| failed())?;
                Ok(Value::None)
            }
            "pycom.ota_verify" => {
                self.calls.push("ota_verify()".into());
                self.busy += Duration::from_millis(500);
                let ok = self
                    .flash
                    .update_data()
                    .is_some_and(crate::esp_ota::validates);
                Ok(Value::Repr(if ok { "True" } else { "False" }.into()))
            }
            "pycom.ota_finish" => {
                self.calls.push("ota_finish()".into());
                self.flash.set_boot_update().map_err(|_| failed())?;
                Ok(Value::None)
            }
            "machine.reset" => {
                self.reboot_requested = true;
                Ok(Value::None)
            }
            "binascii.a2b_base64" => mp_builtins::a2b_base64(&args),
            "binascii.hexlify" => match args.first() {
                Some(Value::Bytes(b)) => Ok(mp_builtins::hexlify(b)),
                _ => Err(PyErr::new(
                    "TypeError",
                    "object with buffer protocol required",
                )),
            },
            "bytes.fromhex" => mp_builtins::fromhex(&args),
            other => Err(PyErr::new("TypeError", format!("'{other}' isn't callable"))),
        }
    }

    fn print(&mut self, text: &str) {
        self.printed.push_str(text);
    }

    fn builtin(&mut self, name: &str) -> Option<Value> {
        (name == "bytes").then(|| Value::Native("bytes".into()))
    }
}

impl Interpreter for Pycom {
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
            "Pycom MicroPython {} [v1.11-c5a0a97] on 2021-10-28; {} with ESP32",
            self.release(),
            self.config.board
        )
    }

    fn reboot(&mut self) {
        self.globals.clear();
        self.flash.reset();
        // The Pycom bootloader checks a new image itself; the application never confirms it.
        self.flash.mark_valid();
    }

    fn soft_reset(&mut self) {
        self.globals.clear();
    }
}
