//! A simulated Pycom board (FiPy, LoPy4, ...) running Pycom's MicroPython 1.11 fork: `os.uname`
//! with Pycom's `release`, `pycom.ota_start / ota_write / ota_verify / ota_finish / ota_slot`,
//! `machine.reset` and `ubinascii` (no `deflate`: that fork predates it).
//!
//! `ota_start` erases the other slot, `ota_write` appends, `ota_verify` checks the written image,
//! `ota_finish` selects it. The Pycom bootloader checks a newly selected image at boot and keeps
//! it when it validates (no application-side accept), otherwise boots the previous one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use sha1::{Digest, Sha1};

use crate::esp_ota::EspOtaFlash;
use crate::interp::python::builtins::{self, ExecState, LineBoard};
use crate::interp::python::expr::{Host, Kwargs, PyErr, PyResult, Value};
use crate::mp_repl::{ExecResult, Interpreter, RawPasteSupport, ReplDevice};

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
    /// Fault knob: the `os.rename` call with this index raises `OSError` (a full file system).
    pub fail_rename_at: Option<usize>,
    /// The firmware has `binascii` (without it, data travels hex-encoded or as bytes literals).
    pub has_binascii: bool,
    /// What `gc.mem_free()` answers. An exec whose source is more than half of it fails with
    /// `MemoryError` (its literals stay on the heap until it ends).
    pub heap_free: usize,
}

impl Default for PycomConfig {
    fn default() -> Self {
        PycomConfig {
            board: "FiPy".into(),
            slot_size: 1536 * 1024,
            write_time_per_kib: Duration::from_millis(8),
            fail_write_at: None,
            fail_rename_at: None,
            has_binascii: true,
            // A board with 4 MB of PSRAM (FiPy, LoPy4, GPy): MicroPython's heap is in it.
            heap_free: 2_500_000,
        }
    }
}

/// The interpreter side of the simulated board.
#[derive(Debug)]
pub struct Pycom {
    /// The board's flash.
    pub flash: EspOtaFlash,
    config: PycomConfig,
    exec: ExecState,
    /// Every `pycom.ota_*` call, in order, for tests (`ota_write` shows its length).
    pub calls: Vec<String>,
    /// The file system (`/flash/...`, `/sd/...`): path to contents.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Directories made with `os.mkdir` (the mount points and the directories of `files` exist
    /// without being listed).
    pub dirs: BTreeSet<String>,
    handles: Vec<Handle>,
    hashes: Vec<Sha1>,
    renames: usize,
}

/// An open file: writes go to the file system at `close`, as FAT does when flushing.
#[derive(Debug)]
struct Handle {
    path: String,
    data: Vec<u8>,
    pos: usize,
    writing: bool,
    open: bool,
}

fn enoent() -> PyErr {
    PyErr::new("OSError", "[Errno 2] ENOENT")
}

fn handle_id(v: &Value, kind: &str) -> Option<usize> {
    match v {
        Value::Native(n) => n.strip_prefix(kind)?.split('.').next()?.parse().ok(),
        _ => None,
    }
}

fn str_arg(args: &[Value], i: usize) -> Result<String, PyErr> {
    match args.get(i) {
        Some(Value::Str(s)) => Ok(s.clone()),
        _ => Err(PyErr::new("TypeError", "expected a str")),
    }
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
            exec: ExecState::default(),
            calls: Vec::new(),
            files: BTreeMap::new(),
            dirs: BTreeSet::new(),
            handles: Vec::new(),
            hashes: Vec::new(),
            renames: 0,
        }
    }

    fn file_call(&mut self, id: usize, method: &str, args: &[Value]) -> PyResult {
        let h = self.handles.get_mut(id).ok_or_else(enoent)?;
        if !h.open {
            return Err(PyErr::new("ValueError", "I/O operation on closed file"));
        }
        match method {
            "write" if h.writing => {
                let Some(Value::Bytes(b)) = args.first() else {
                    return Err(PyErr::new(
                        "TypeError",
                        "object with buffer protocol required",
                    ));
                };
                h.data.extend_from_slice(b);
                Ok(Value::Int(b.len() as i64))
            }
            "read" if !h.writing => {
                let n = match args.first() {
                    Some(Value::Int(n)) => *n as usize,
                    _ => usize::MAX,
                };
                let end = h.pos.saturating_add(n).min(h.data.len());
                let out = h.data[h.pos..end].to_vec();
                h.pos = end;
                Ok(Value::Bytes(out))
            }
            "close" => {
                h.open = false;
                if h.writing {
                    let (path, data) = (h.path.clone(), std::mem::take(&mut h.data));
                    self.files.insert(path, data);
                }
                Ok(Value::None)
            }
            _ => Err(PyErr::new("OSError", "[Errno 22] EINVAL")),
        }
    }

    /// The Pycom release the running image reports (its app version without a leading `v`).
    pub fn release(&self) -> String {
        self.flash
            .running_version()
            .trim_start_matches('v')
            .to_string()
    }

    /// `path` is a directory: a mount point, made with `os.mkdir`, or holding a file.
    pub fn is_dir(&self, path: &str) -> bool {
        let below = format!("{path}/");
        matches!(path, "/" | "/flash" | "/sd")
            || self.dirs.contains(path)
            || self.files.keys().any(|f| f.starts_with(&below))
    }

    fn parent_exists(&self, path: &str) -> bool {
        path.rsplit_once('/')
            .is_some_and(|(parent, _)| parent.is_empty() || self.is_dir(parent))
    }

    fn slot_address(&self, slot: usize) -> usize {
        0x10000 + slot * self.flash.slot_size
    }
}

impl Pycom {
    /// `open` and the `os` file calls, on the simulated file system.
    fn fs_call(&mut self, path: &str, args: &[Value]) -> PyResult {
        let args = args.to_vec();
        match path {
            "open" => {
                let p = str_arg(&args, 0)?;
                let mode = str_arg(&args, 1).unwrap_or_else(|_| "r".into());
                let writing = mode.contains('w');
                // Like the firmware's VFS, `open` makes no directories.
                if writing && !self.parent_exists(&p) {
                    return Err(enoent());
                }
                let data = if writing {
                    Vec::new()
                } else {
                    self.files.get(&p).cloned().ok_or_else(enoent)?
                };
                self.handles.push(Handle {
                    path: p,
                    data,
                    pos: 0,
                    writing,
                    open: true,
                });
                Ok(Value::Native(format!("file#{}", self.handles.len() - 1)))
            }
            "os.rename" => {
                let (from, to) = (str_arg(&args, 0)?, str_arg(&args, 1)?);
                self.renames += 1;
                if self.config.fail_rename_at == Some(self.renames - 1) {
                    return Err(PyErr::new("OSError", "[Errno 28] ENOSPC"));
                }
                let data = self.files.remove(&from).ok_or_else(enoent)?;
                self.files.insert(to, data);
                Ok(Value::None)
            }
            "os.stat" => {
                let p = str_arg(&args, 0)?;
                if let Some(data) = self.files.get(&p) {
                    Ok(Value::Repr(format!(
                        "(32768, 0, 0, 0, 0, 0, {}, 0, 0, 0)",
                        data.len()
                    )))
                } else if self.is_dir(&p) {
                    Ok(Value::Repr("(16384, 0, 0, 0, 0, 0, 0, 0, 0, 0)".into()))
                } else {
                    Err(enoent())
                }
            }
            "os.mkdir" => {
                let p = str_arg(&args, 0)?;
                if self.files.contains_key(&p) || self.is_dir(&p) {
                    return Err(PyErr::new("OSError", "[Errno 17] EEXIST"));
                }
                if !self.parent_exists(&p) {
                    return Err(enoent());
                }
                self.dirs.insert(p);
                Ok(Value::None)
            }
            "os.rmdir" => {
                let p = str_arg(&args, 0)?;
                if !self.is_dir(&p) {
                    return Err(enoent());
                }
                let below = format!("{p}/");
                let occupied = self.files.keys().any(|f| f.starts_with(&below))
                    || self.dirs.iter().any(|d| d.starts_with(&below));
                if occupied {
                    return Err(PyErr::new("OSError", "[Errno 39] ENOTEMPTY"));
                }
                self.dirs.remove(&p);
                Ok(Value::None)
            }
            "os.remove" => {
                let p = str_arg(&args, 0)?;
                self.files
                    .remove(&p)
                    .map(|_| Value::None)
                    .ok_or_else(enoent)
            }
            other => Err(PyErr::new("TypeError", format!("'{other}' isn't callable"))),
        }
    }

    /// The `pycom.ota_*` calls, on the simulated OTA slots.
    fn ota_call(&mut self, path: &str, args: &[Value]) -> PyResult {
        match path {
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
                self.exec.busy +=
                    self.config.write_time_per_kib * (data.len() as u32).div_ceil(1024);
                self.flash.append(data).map_err(|_| failed())?;
                Ok(Value::None)
            }
            "pycom.ota_verify" => {
                self.calls.push("ota_verify()".into());
                self.exec.busy += Duration::from_millis(500);
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
            other => Err(PyErr::new("TypeError", format!("'{other}' isn't callable"))),
        }
    }
}

impl Host for Pycom {
    fn import(&mut self, name: &str) -> Option<Value> {
        let name = name.strip_prefix('u').unwrap_or(name);
        if name == "binascii" && !self.config.has_binascii {
            return None;
        }
        matches!(
            name,
            "os" | "pycom" | "machine" | "binascii" | "sys" | "hashlib" | "gc"
        )
        .then(|| Value::Module(name.to_string()))
    }

    fn getattr(&mut self, obj: &Value, attr: &str) -> PyResult {
        if handle_id(obj, "file#").is_some() || handle_id(obj, "sha1#").is_some() {
            return builtins::attr_path(obj, attr).map(Value::Native);
        }
        const KNOWN: [&str; 18] = [
            "gc.collect",
            "gc.mem_free",
            "os.rename",
            "os.remove",
            "os.stat",
            "os.mkdir",
            "os.rmdir",
            "hashlib.sha1",
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
        builtins::known_attr(obj, attr, &KNOWN)
    }

    fn call(&mut self, f: &Value, args: Vec<Value>, _kw: Kwargs) -> PyResult {
        let Value::Native(path) = f else {
            return Err(PyErr::new("TypeError", "object isn't callable"));
        };
        let method = path.rsplit('.').next().unwrap_or_default().to_string();
        if let Some(id) = handle_id(f, "file#") {
            return self.file_call(id, &method, &args);
        }
        if let Some(id) = handle_id(f, "sha1#") {
            return match method.as_str() {
                "update" => match args.first() {
                    Some(Value::Bytes(b)) => {
                        self.hashes[id].update(b);
                        Ok(Value::None)
                    }
                    _ => Err(PyErr::new(
                        "TypeError",
                        "object with buffer protocol required",
                    )),
                },
                "digest" => Ok(Value::Bytes(self.hashes[id].clone().finalize().to_vec())),
                _ => Err(PyErr::new("AttributeError", "no such attribute")),
            };
        }
        match path.as_str() {
            p if p == "open" || p.starts_with("os.") && p != "os.uname" => self.fs_call(p, &args),
            p if p.starts_with("pycom.") => self.ota_call(p, &args),
            "hashlib.sha1" => {
                self.hashes.push(Sha1::new());
                Ok(Value::Native(format!("sha1#{}", self.hashes.len() - 1)))
            }
            "os.uname" => Ok(Value::Repr(format!(
                "(sysname='{b}', nodename='{b}', release='{r}', version='v1.11-c5a0a97 on \
                 2021-10-28; {b} with ESP32', machine='{b} with ESP32', pybytes='1.7.1')",
                b = self.config.board,
                r = self.release()
            ))),
            "machine.reset" => {
                self.exec.reboot_requested = true;
                Ok(Value::None)
            }
            "gc.collect" => Ok(Value::None),
            "gc.mem_free" => Ok(Value::Int(self.config.heap_free as i64)),
            "binascii.a2b_base64" => builtins::a2b_base64(&args),
            "binascii.hexlify" => match args.first() {
                Some(Value::Bytes(b)) => Ok(builtins::hexlify(b)),
                _ => Err(PyErr::new(
                    "TypeError",
                    "object with buffer protocol required",
                )),
            },
            "bytes.fromhex" => builtins::fromhex(&args),
            other => Err(PyErr::new("TypeError", format!("'{other}' isn't callable"))),
        }
    }

    fn print(&mut self, text: &str) {
        self.exec.printed.push_str(text);
    }

    fn builtin(&mut self, name: &str) -> Option<Value> {
        matches!(name, "bytes" | "open").then(|| Value::Native(name.into()))
    }
}

impl LineBoard for Pycom {
    fn exec_state(&mut self) -> &mut ExecState {
        &mut self.exec
    }
    fn heap_free(&self) -> usize {
        self.config.heap_free
    }
}

impl Interpreter for Pycom {
    fn exec(&mut self, code: &str) -> ExecResult {
        builtins::exec_lines(self, code)
    }

    fn banner(&self) -> String {
        format!(
            "Pycom MicroPython {} [v1.11-c5a0a97] on 2021-10-28; {} with ESP32",
            self.release(),
            self.config.board
        )
    }

    fn reboot(&mut self) {
        self.exec.globals.clear();
        self.handles.clear();
        self.flash.reset();
        // The Pycom bootloader checks a new image itself; the application never confirms it.
        self.flash.mark_valid();
    }

    fn soft_reset(&mut self) {
        self.exec.globals.clear();
    }
}
