//! A simulated ESP32 board running MicroPython: `os`, `esp32.Partition` over two OTA slots and an
//! otadata partition with ESP-IDF's rollback rules ([`EspOtaFlash`]), `machine.reset`,
//! `binascii`, `hashlib.sha256`, `io.BytesIO`, `deflate.DeflateIO` and `bytes.fromhex`, as far as
//! an update needs them. Which of the decoding modules exist is configurable, to exercise the
//! host's encoding probe.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::esp_ota::{EspOtaFlash, OtaError};
use crate::interp::python::builtins::{self, ExecState, LineBoard};
use crate::interp::python::expr::{Host, Kwargs, PyErr, PyResult, Value};
use crate::mp_repl::{ExecResult, Interpreter, RawPasteSupport, ReplDevice};

/// The simulated board's fixed facts and fault knobs.
#[derive(Debug, Clone)]
pub struct Esp32Config {
    /// MicroPython release, as `os.uname().release`.
    pub release: String,
    /// Bytes per OTA slot.
    pub slot_size: usize,
    /// The firmware has `deflate` (MicroPython 1.21 and later).
    pub has_deflate: bool,
    /// The firmware has `binascii`.
    pub has_binascii: bool,
    /// The firmware has an `otadata` partition (rollback-capable partition table).
    pub has_otadata: bool,
    /// Fault knob: flash corrupts one byte of this block when it is written.
    pub corrupt_block: Option<usize>,
    /// Time one `writeblocks` takes (erase and write of 4 KiB).
    pub block_write_time: Duration,
    /// Fault knob: `writeblocks` of this block raises `OSError` (a flash operation failed).
    pub fail_block: Option<usize>,
    /// What `gc.mem_free()` answers. An exec whose source is more than half of it fails with
    /// `MemoryError`: its literals stay on the heap until it ends, and the lexer holds a copy of
    /// the one it reads.
    pub heap_free: usize,
}

impl Default for Esp32Config {
    fn default() -> Self {
        Esp32Config {
            release: "1.24.1".into(),
            slot_size: 1536 * 1024,
            has_deflate: true,
            has_binascii: true,
            has_otadata: true,
            corrupt_block: None,
            block_write_time: Duration::from_millis(45),
            fail_block: None,
            // A generic ESP32 (no PSRAM) after boot, MicroPython 1.2x.
            heap_free: 110_000,
        }
    }
}

#[derive(Debug)]
enum Obj {
    /// An OTA slot (0 or 1).
    Slot(usize),
    Otadata,
    Buffer(Vec<u8>),
    BytesIo(Vec<u8>),
    Reader(Vec<u8>),
    Hash(Sha256),
}

/// The interpreter side of the simulated board.
#[derive(Debug)]
pub struct Esp32MicroPython {
    /// The board's flash.
    pub flash: EspOtaFlash,
    config: Esp32Config,
    exec: ExecState,
    objects: Vec<Obj>,
    /// Blocks written since power-on, for tests.
    pub blocks_written: usize,
}

/// An ESP32 MicroPython board behind its REPL, ready to put on a [`crate::line::SimLink`].
pub fn device(
    config: Esp32Config,
    firmware: Vec<u8>,
    paste: RawPasteSupport,
) -> ReplDevice<Esp32MicroPython> {
    ReplDevice::new(Esp32MicroPython::new(config, firmware), paste)
}

fn os_error(e: OtaError) -> PyErr {
    PyErr::new("OSError", format!("(-{}, '{}')", e.code(), e.name()))
}

fn type_error(what: &str) -> PyErr {
    PyErr::new("TypeError", what.to_string())
}

fn int(args: &[Value], i: usize) -> Result<i64, PyErr> {
    match args.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        _ => Err(type_error("can't convert to int")),
    }
}

impl Esp32MicroPython {
    /// A board whose `ota_0` runs `firmware`.
    pub fn new(config: Esp32Config, firmware: Vec<u8>) -> Self {
        Esp32MicroPython {
            flash: EspOtaFlash::new(config.slot_size, firmware),
            config,
            exec: ExecState::default(),
            objects: Vec::new(),
            blocks_written: 0,
        }
    }

    fn new_obj(&mut self, obj: Obj) -> Value {
        self.objects.push(obj);
        Value::Native(format!("obj#{}", self.objects.len() - 1))
    }

    fn obj_id(v: &Value) -> Option<usize> {
        match v {
            Value::Native(n) => n.strip_prefix("obj#")?.split('.').next()?.parse().ok(),
            _ => None,
        }
    }

    /// The bytes behind a `bytes`, `bytearray` or buffer-protocol argument.
    fn buffer(&self, v: Option<&Value>) -> Result<Vec<u8>, PyErr> {
        match v {
            Some(Value::Bytes(b)) => Ok(b.clone()),
            Some(v) => match Self::obj_id(v).and_then(|i| self.objects.get(i)) {
                Some(Obj::Buffer(b)) => Ok(b.clone()),
                _ => Err(type_error("object with buffer protocol required")),
            },
            None => Err(type_error("function missing required positional argument")),
        }
    }

    fn slot_info(&self, slot: usize) -> String {
        let size = self.flash.slot_size;
        format!(
            "(0, {}, {}, {size}, 'ota_{slot}', False)",
            16 + slot,
            0x10000 + slot * size
        )
    }

    fn call_method(&mut self, id: usize, method: &str, args: Vec<Value>) -> PyResult {
        let obj = self
            .objects
            .get(id)
            .ok_or_else(|| type_error("bad object"))?;
        match (obj, method) {
            (Obj::Slot(s), "info") => Ok(Value::Repr(self.slot_info(*s))),
            (Obj::Otadata, "info") => {
                Ok(Value::Repr("(1, 0, 53248, 8192, 'otadata', False)".into()))
            }
            (Obj::Slot(_), "get_next_update") => {
                let next = self.flash.next_update();
                Ok(self.new_obj(Obj::Slot(next)))
            }
            (Obj::Slot(_) | Obj::Otadata, "readblocks") => {
                let block = int(&args, 0)? as usize;
                let off = if args.len() > 2 {
                    int(&args, 2)? as usize
                } else {
                    0
                };
                let target = Self::obj_id(args.get(1).unwrap_or(&Value::None))
                    .ok_or_else(|| type_error("object with buffer protocol required"))?;
                let len = match self.objects.get(target) {
                    Some(Obj::Buffer(b)) => b.len(),
                    _ => return Err(type_error("object with buffer protocol required")),
                };
                let at = block * 4096 + off;
                let data = match &self.objects[id] {
                    Obj::Slot(s) => self.flash.read(*s, at, len),
                    _ => {
                        let od = self.flash.otadata();
                        (at..at + len)
                            .map(|i| od.get(i).copied().unwrap_or(0xFF))
                            .collect()
                    }
                };
                self.objects[target] = Obj::Buffer(data);
                Ok(Value::None)
            }
            (Obj::Slot(s), "writeblocks") => {
                let slot = *s;
                let block = int(&args, 0)? as usize;
                let mut data = self.buffer(args.get(1))?;
                if args.len() == 2 && data.len() % 4096 != 0 {
                    // esp_partition_erase_range needs whole sectors.
                    return Err(os_error(OtaError::InvalidSize));
                }
                if self.config.fail_block == Some(block) {
                    return Err(PyErr::new("OSError", "[Errno 5] EIO"));
                }
                if self.config.corrupt_block == Some(block) && !data.is_empty() {
                    let mid = data.len() / 2;
                    data[mid] ^= 0x40;
                }
                self.flash
                    .raw_write(slot, block * 4096, &data)
                    .map_err(os_error)?;
                self.blocks_written += 1;
                self.exec.busy += self.config.block_write_time;
                Ok(Value::None)
            }
            (Obj::Slot(s), "set_boot") => {
                let slot = *s;
                self.exec.busy += Duration::from_millis(300);
                self.flash.set_boot(slot).map_err(os_error)?;
                Ok(Value::None)
            }
            (Obj::Hash(_), "update") => {
                let data = self.buffer(args.first())?;
                if let Some(Obj::Hash(h)) = self.objects.get_mut(id) {
                    h.update(&data);
                }
                Ok(Value::None)
            }
            (Obj::Hash(h), "digest") => Ok(Value::Bytes(h.clone().finalize().to_vec())),
            (Obj::Reader(data), "read") => Ok(Value::Bytes(data.clone())),
            _ => Err(PyErr::new(
                "AttributeError",
                format!("object has no attribute '{method}'"),
            )),
        }
    }
}

impl Host for Esp32MicroPython {
    fn import(&mut self, name: &str) -> Option<Value> {
        let known = match name {
            "os" | "esp32" | "machine" | "hashlib" | "io" | "sys" | "gc" => true,
            "binascii" => self.config.has_binascii,
            "deflate" => self.config.has_deflate,
            _ => false,
        };
        known.then(|| Value::Module(name.to_string()))
    }

    fn getattr(&mut self, obj: &Value, attr: &str) -> PyResult {
        let path = builtins::attr_path(obj, attr)?;
        match path.as_str() {
            "esp32.Partition.BOOT" | "deflate.AUTO" | "esp32.Partition.TYPE_APP" => {
                Ok(Value::Int(0))
            }
            "esp32.Partition.RUNNING" | "deflate.RAW" | "esp32.Partition.TYPE_DATA" => {
                Ok(Value::Int(1))
            }
            "os.uname"
            | "esp32.Partition"
            | "esp32.Partition.mark_app_valid_cancel_rollback"
            | "machine.reset"
            | "hashlib.sha256"
            | "io.BytesIO"
            | "deflate.DeflateIO"
            | "binascii.hexlify"
            | "binascii.a2b_base64"
            | "bytes.fromhex"
            | "gc.collect"
            | "gc.mem_free" => Ok(Value::Native(path)),
            _ if Self::obj_id(obj).is_some() => Ok(Value::Native(path)),
            _ => Err(builtins::no_attribute(obj, attr)),
        }
    }

    fn call(&mut self, f: &Value, args: Vec<Value>, _kw: Kwargs) -> PyResult {
        let Value::Native(path) = f else {
            return Err(type_error("object isn't callable"));
        };
        if let Some(id) = Self::obj_id(f) {
            let method = path.rsplit('.').next().unwrap_or_default().to_string();
            return self.call_method(id, &method, args);
        }
        match path.as_str() {
            "os.uname" => Ok(Value::Repr(format!(
                "(sysname='esp32', nodename='esp32', release='{r}', version='v{r} on 2024-11-29', \
                 machine='Generic ESP32 module with ESP32')",
                r = self.config.release
            ))),
            "esp32.Partition" => match args.first() {
                Some(Value::Int(1)) => Ok(self.new_obj(Obj::Slot(self.flash.running()))),
                Some(Value::Int(0)) => Ok(self.new_obj(Obj::Slot(self.flash.next_boot()))),
                Some(Value::Str(l)) if l == "otadata" && self.config.has_otadata => {
                    Ok(self.new_obj(Obj::Otadata))
                }
                Some(Value::Str(l)) if l == "ota_0" || l == "ota_1" => {
                    Ok(self.new_obj(Obj::Slot(usize::from(l == "ota_1"))))
                }
                _ => Err(PyErr::new("ValueError", "partition not found")),
            },
            "esp32.Partition.mark_app_valid_cancel_rollback" => {
                self.flash.mark_valid();
                Ok(Value::None)
            }
            "machine.reset" => {
                self.exec.reboot_requested = true;
                Ok(Value::None)
            }
            "gc.collect" => Ok(Value::None),
            "gc.mem_free" => Ok(Value::Int(self.config.heap_free as i64)),
            "bytearray" => {
                let n = int(&args, 0)?;
                let n =
                    usize::try_from(n).map_err(|_| PyErr::new("ValueError", "negative count"))?;
                Ok(self.new_obj(Obj::Buffer(vec![0; n.min(1 << 20)])))
            }
            "hashlib.sha256" => Ok(self.new_obj(Obj::Hash(Sha256::new()))),
            "io.BytesIO" => {
                let data = self.buffer(args.first())?;
                Ok(self.new_obj(Obj::BytesIo(data)))
            }
            "deflate.DeflateIO" => {
                let source = args.first().and_then(Self::obj_id);
                let Some(Obj::BytesIo(packed)) = source.and_then(|i| self.objects.get(i)) else {
                    return Err(type_error("stream expected"));
                };
                // `DeflateIO(stream, format, wbits)`: MicroPython allocates a window of 2^wbits
                // bytes and fails on a back-reference beyond it. Output no longer than the
                // window cannot reach further; longer output may, so it is refused (stricter
                // than the firmware, never more lenient).
                let wbits = match args.get(2) {
                    Some(Value::Int(w)) => *w,
                    _ => 8,
                };
                if !(5..=15).contains(&wbits) {
                    return Err(PyErr::new("ValueError", "wbits"));
                }
                let data = miniz_oxide::inflate::decompress_to_vec(packed)
                    .ok()
                    .filter(|d| d.len() <= 1 << wbits)
                    .ok_or_else(|| PyErr::new("OSError", "[Errno 22] EINVAL"))?;
                Ok(self.new_obj(Obj::Reader(data)))
            }
            "binascii.hexlify" => Ok(builtins::hexlify(&self.buffer(args.first())?)),
            "binascii.a2b_base64" => builtins::a2b_base64(&args),
            "bytes.fromhex" => builtins::fromhex(&args),
            other => Err(type_error(&format!("'{other}' isn't callable"))),
        }
    }

    fn print(&mut self, text: &str) {
        self.exec.printed.push_str(text);
    }

    fn builtin(&mut self, name: &str) -> Option<Value> {
        match name {
            "bytes" => Some(Value::Native("bytes".into())),
            "bytearray" => Some(Value::Native("bytearray".into())),
            _ => None,
        }
    }
}

impl LineBoard for Esp32MicroPython {
    fn exec_state(&mut self) -> &mut ExecState {
        &mut self.exec
    }
    fn heap_free(&self) -> usize {
        self.config.heap_free
    }
}

impl Interpreter for Esp32MicroPython {
    fn exec(&mut self, code: &str) -> ExecResult {
        builtins::exec_lines(self, code)
    }

    fn banner(&self) -> String {
        format!(
            "MicroPython v{} on 2024-11-29; Generic ESP32 module with ESP32",
            self.config.release
        )
    }

    fn reboot(&mut self) {
        self.exec.globals.clear();
        self.objects.clear();
        self.flash.reset();
    }

    fn soft_reset(&mut self) {
        self.exec.globals.clear();
        self.objects.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn inflate(wbits: u32) -> ExecResult {
        let data: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
        let packed = miniz_oxide::deflate::compress_to_vec(&data, 9);
        let b64 = base64::engine::general_purpose::STANDARD.encode(packed);
        let mut board = Esp32MicroPython::new(Esp32Config::default(), Vec::new());
        board.exec(&format!(
            "from binascii import a2b_base64 as A\nfrom io import BytesIO as B\n\
             from deflate import DeflateIO as D,RAW as R\n\
             from esp32 import Partition as P\np=P(P.RUNNING).get_next_update()\n\
             p.writeblocks(0,D(B(A(b'{b64}')),R,{wbits}).read())\nprint(1)"
        ))
    }

    #[test]
    fn deflate_io_refuses_data_longer_than_its_window() {
        // A 512-byte window (wbits 9, as mpremote's romfs uses) cannot inflate a 4 KiB block
        // compressed with a 32 KiB window: MicroPython raises OSError(EINVAL).
        let small = inflate(9);
        assert!(small.stderr.contains("EINVAL"), "{small:?}");
        let fits = inflate(12);
        assert_eq!(fits.stdout.trim(), "1", "{fits:?}");
    }
}
