//! A simulated NodeMCU (ESP32) board: the Lua console of `linput.c` / `lua.c` in front of
//! [`crate::interp::lua`], with `otaupgrade`, `encoder.fromBase64` and `node.restart` over two OTA slots
//! with ESP-IDF's rollback rules ([`EspOtaFlash`]).
//!
//! Console: every byte is echoed (CR and LF, and CR LF / LF CR pairs, as one LF); a line that
//! reaches 255 bytes is silently discarded; an empty line reprints the prompt; an unfinished
//! statement gets `>> ` and the next line continues it; errors print `Lua error: <msg>`; stdout
//! lines end CRLF. While a line runs, input waits in a 256-byte RX buffer and what does not fit
//! is lost. Error texts are NodeMCU's (`components/modules/otaupgrade.c`).

use std::collections::VecDeque;
use std::time::Duration;

use base64::Engine as _;
use otadeck_core::image::esp;

use crate::esp_ota::{EspOtaFlash, OtaError};
use crate::interp::lua::{self, Globals, Host, LuaFail, Value};
use crate::line::Device;

/// Bytes at which the line editor discards a line.
pub const LINE_DISCARD: usize = 255;
/// The console's UART RX buffer.
pub const RX_BUFFER: usize = 256;
/// What the board prints when it boots, up to its prompt.
pub const BOOT_LOG: &str = "ets Jun  8 2016 00:22:57\r\n\r\nrst:0xc (SW_CPU_RESET),boot:0x13 \
(SPI_FAST_FLASH_BOOT)\r\nI (29) boot: ESP-IDF v5.3.1 2nd stage bootloader\r\n\r\nNodeMCU ESP32 \
build 2026-11-20 powered by Lua 5.3.6 on ESP-IDF v5.3.1\r\n> ";

/// The simulated board's fixed facts and fault knobs.
#[derive(Debug, Clone)]
pub struct NodeMcuConfig {
    /// Bytes per OTA slot.
    pub slot_size: usize,
    /// Time to erase one 4 KiB sector (`commence` erases the whole slot).
    pub sector_erase_time: Duration,
    /// Time one `otaupgrade.write` call takes.
    pub write_time: Duration,
    /// Time `complete` takes to verify.
    pub verify_time: Duration,
    /// From reset to the prompt.
    pub boot_time: Duration,
    /// Fault knob: the `otaupgrade.write` call with this index (from 0) raises `ota error`.
    pub fail_write: Option<usize>,
    /// Fault knob: `otaupgrade.info()` cannot read this slot's state (it gets an empty table).
    pub unreadable_slot: Option<usize>,
    /// The console's rate at boot (`CONFIG_ESP_CONSOLE_UART_BAUDRATE`).
    pub console_baud: u32,
    /// Fault knob: the firmware was built without the `uart` module.
    pub no_uart_module: bool,
    /// Fault knob: the console keeps its rate whatever `uart.setup` asks (it is not on UART 0;
    /// to the host this looks like a bridge that cannot carry the new rate).
    pub fixed_console_rate: bool,
}

impl Default for NodeMcuConfig {
    fn default() -> Self {
        NodeMcuConfig {
            slot_size: 1536 * 1024,
            sector_erase_time: Duration::from_millis(20),
            write_time: Duration::from_millis(1),
            verify_time: Duration::from_millis(400),
            boot_time: Duration::from_millis(900),
            fail_write: None,
            unreadable_slot: None,
            console_baud: 115_200,
            no_uart_module: false,
            fixed_console_rate: false,
        }
    }
}

/// What a running line leaves for when it ends.
#[derive(Debug)]
struct Pending {
    until: Duration,
    output: Vec<u8>,
    /// The board restarts when the line ends (and has already been reset when `reset_done`).
    restart: bool,
    /// The console switches to this rate when the line ends (`uart.setup`), before its prompt.
    rate: Option<u32>,
    reset_done: bool,
    /// The board is booting: input is lost, not buffered.
    booting: bool,
}

/// The simulated board.
#[derive(Debug)]
pub struct NodeMcu {
    /// The board's flash.
    pub flash: EspOtaFlash,
    config: NodeMcuConfig,
    globals: Globals,
    line: Vec<u8>,
    /// An unfinished statement waiting for its continuation lines.
    chunk: Option<String>,
    last_eol: Option<u8>,
    rx: VecDeque<u8>,
    out: Vec<u8>,
    pending: Option<Pending>,
    // Per-line effects of the host calls.
    printed: Vec<u8>,
    busy: Duration,
    restart: bool,
    reset_done: bool,
    /// The rate the running line set with `uart.setup`.
    new_rate: Option<u32>,
    /// The console UART's rate now.
    pub uart_rate: u32,
    /// `otaupgrade.write` calls since power-on.
    pub writes: usize,
    /// Input bytes lost to a full RX buffer.
    pub rx_overflow: usize,
    /// The most bytes that ever waited in the RX buffer.
    pub rx_peak: usize,
    /// Lines discarded for reaching 255 bytes.
    pub discarded_lines: usize,
    /// Boots since power-on (restarts and power cycles).
    pub resets: u64,
}

fn ota_text(e: OtaError) -> &'static str {
    match e {
        OtaError::RollbackInvalidState => "can't upgrade from unconfirmed firmware",
        OtaError::ValidateFailed => "validation failed",
        OtaError::RollbackFailed => "no other firmware to roll back to",
        OtaError::InvalidState => "write not possible, use otaupgrade.commence() first",
        OtaError::InvalidSize => "ota error",
    }
}

impl NodeMcu {
    /// A board whose `ota_0` runs (and has accepted) `firmware`, at its prompt.
    pub fn new(config: NodeMcuConfig, firmware: Vec<u8>) -> Self {
        let uart_rate = config.console_baud;
        NodeMcu {
            flash: EspOtaFlash::new(config.slot_size, firmware),
            config,
            globals: Globals::new(),
            line: Vec::new(),
            chunk: None,
            last_eol: None,
            rx: VecDeque::new(),
            out: Vec::new(),
            pending: None,
            printed: Vec::new(),
            busy: Duration::ZERO,
            restart: false,
            reset_done: false,
            new_rate: None,
            uart_rate,
            writes: 0,
            rx_overflow: 0,
            rx_peak: 0,
            discarded_lines: 0,
            resets: 0,
        }
    }

    /// Run the console at `baud`, now and after every boot.
    pub fn set_console_baud(&mut self, baud: u32) {
        self.config.console_baud = baud;
        self.uart_rate = baud;
    }

    /// Cut the power and restore it: an update in progress is abandoned, the bootloader rules
    /// apply, and the board boots to its prompt.
    pub fn power_cycle(&mut self, now: Duration) {
        self.flash.reset();
        self.boot(now);
    }

    fn boot(&mut self, now: Duration) {
        self.resets += 1;
        self.uart_rate = self.config.console_baud;
        self.globals.clear();
        self.line.clear();
        self.chunk = None;
        self.rx.clear();
        self.pending = Some(Pending {
            until: now + self.config.boot_time,
            output: BOOT_LOG.as_bytes().to_vec(),
            restart: false,
            rate: None,
            reset_done: true,
            booting: true,
        });
    }

    fn feed(&mut self, now: Duration, byte: u8) {
        match byte {
            b'\r' | b'\n' => {
                if self.last_eol.is_some_and(|e| e != byte) {
                    // The second half of a CR LF or LF CR pair.
                    self.last_eol = None;
                    return;
                }
                self.last_eol = Some(byte);
                self.out.push(b'\n');
                let line = std::mem::take(&mut self.line);
                self.execute(now, &String::from_utf8_lossy(&line));
            }
            0x08 | 0x7F => {
                self.last_eol = None;
                if self.line.pop().is_some() {
                    self.out.extend_from_slice(b"\x08 \x08");
                }
            }
            _ => {
                self.last_eol = None;
                self.out.push(byte);
                self.line.push(byte);
                if self.line.len() >= LINE_DISCARD {
                    self.line.clear();
                    self.discarded_lines += 1;
                }
            }
        }
    }

    fn execute(&mut self, now: Duration, line: &str) {
        let src = match self.chunk.take() {
            Some(mut c) => {
                c.push('\n');
                c.push_str(line);
                c
            }
            None if line.trim().is_empty() => {
                self.out.extend_from_slice(b"> ");
                return;
            }
            None => line.to_string(),
        };
        self.printed.clear();
        self.busy = Duration::ZERO;
        self.restart = false;
        self.reset_done = false;
        self.new_rate = None;
        let mut globals = std::mem::take(&mut self.globals);
        let result = lua::run(&src, &mut globals, self);
        self.globals = globals;
        let mut output = std::mem::take(&mut self.printed);
        match result {
            Ok(()) => output.extend_from_slice(b"> "),
            Err(LuaFail::Incomplete) => {
                self.chunk = Some(src);
                output.extend_from_slice(b">> ");
            }
            Err(LuaFail::Error(msg)) => {
                output.extend_from_slice(format!("Lua error: {msg}\r\n> ").as_bytes());
            }
        }
        if self.restart {
            // The output up to the restart, then the boot log; the prompt never comes.
            output.truncate(output.len().saturating_sub(2));
        }
        self.pending = Some(Pending {
            until: now + self.busy,
            output,
            restart: self.restart,
            rate: self.new_rate.take(),
            reset_done: self.reset_done,
            booting: false,
        });
    }

    fn info(&self) -> Vec<Value> {
        let slots = self
            .flash
            .slots
            .iter()
            .enumerate()
            .map(|(i, slot)| {
                let mut t = Vec::new();
                if self.config.unreadable_slot != Some(i) {
                    if let Some(state) = slot.state {
                        t.push(("state".to_string(), Value::str(state.name())));
                    }
                    if let Some(d) = esp::app_descriptor(&slot.data) {
                        let s = |k: &str, v: &str| (k.to_string(), Value::str(v));
                        t.push(s("name", &d.project_name));
                        t.push(s("version", &d.version));
                        t.push((
                            "secure_version".into(),
                            Value::Int(i64::from(d.secure_version)),
                        ));
                        t.push(s("date", &d.date));
                        t.push(s("time", &d.time));
                        t.push(s("idf_version", &d.idf_version));
                    }
                }
                (slot.label.clone(), Value::Table(t))
            })
            .collect();
        let label = |i: usize| Value::str(self.flash.slots[i].label.as_str());
        vec![
            label(self.flash.running()),
            label(self.flash.next_boot()),
            Value::Table(slots),
        ]
    }
}

impl Host for NodeMcu {
    fn has_library(&self, name: &str) -> bool {
        matches!(name, "otaupgrade" | "encoder" | "node" | "tostring")
            || (name == "uart" && !self.config.no_uart_module)
    }

    fn call(&mut self, path: &str, args: Vec<Value>) -> Result<Vec<Value>, String> {
        let int_arg = |i: usize| match args.get(i) {
            Some(Value::Int(n)) => *n,
            _ => 0,
        };
        match path {
            "otaupgrade.commence" => {
                self.flash.begin().map_err(|e| ota_text(e).to_string())?;
                let sectors = self.config.slot_size.div_ceil(4096) as u32;
                self.busy += self.config.sector_erase_time * sectors;
                Ok(vec![])
            }
            "otaupgrade.write" => {
                let Some(Value::Str(data)) = args.first() else {
                    return Err("bad argument #1 to 'write' (string expected, got no value)".into());
                };
                let started = self
                    .flash
                    .update_data()
                    .ok_or_else(|| ota_text(OtaError::InvalidState).to_string())?;
                if started.is_empty() && data.first() != Some(&esp::IMAGE_MAGIC) {
                    return Err("not a valid ota image".into());
                }
                let n = self.writes;
                self.writes += 1;
                self.busy += self.config.write_time;
                if self.config.fail_write == Some(n) {
                    return Err("ota error".into());
                }
                self.flash
                    .append(data)
                    .map_err(|e| ota_text(e).to_string())?;
                Ok(vec![])
            }
            "otaupgrade.complete" => {
                match self.flash.update_data() {
                    None => return Err("no upgrade in progress".into()),
                    Some([]) => return Err("empty firmware image".into()),
                    Some(_) => {}
                }
                self.busy += self.config.verify_time;
                self.flash
                    .set_boot_update()
                    .map_err(|e| ota_text(e).to_string())?;
                if int_arg(0) != 0 {
                    self.restart = true;
                }
                Ok(vec![])
            }
            "otaupgrade.accept" => {
                self.flash.mark_valid();
                Ok(vec![])
            }
            "otaupgrade.rollback" => {
                self.flash
                    .mark_invalid_and_reboot()
                    .map_err(|e| ota_text(e).to_string())?;
                self.restart = true;
                self.reset_done = true;
                Ok(vec![])
            }
            "otaupgrade.info" => Ok(self.info()),
            "encoder.fromBase64" => match args.first() {
                Some(Value::Str(s)) => base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map(|d| vec![Value::Str(d)])
                    .map_err(|_| "failed base64 decode".to_string()),
                _ => Err("bad argument #1 to 'fromBase64' (string expected)".into()),
            },
            // uart.setup(id, baud, databits, parity, stopbits, echo): the console's rate
            // changes once the line has run, so its prompt comes at the new rate.
            "uart.setup" if !self.config.no_uart_module => {
                if int_arg(0) != 0 {
                    return Err("invalid uart id".into());
                }
                let baud = u32::try_from(int_arg(1)).map_err(|_| "invalid baud".to_string())?;
                if !self.config.fixed_console_rate {
                    self.new_rate = Some(baud);
                }
                self.busy += Duration::from_millis(1);
                Ok(vec![Value::Int(i64::from(baud))])
            }
            "node.restart" => {
                self.restart = true;
                Ok(vec![])
            }
            "tostring" => Ok(vec![Value::str(
                args.first().unwrap_or(&Value::Nil).to_text(),
            )]),
            other => Err(format!(
                "stdin:1: attempt to call a nil value (field '{}')",
                other.rsplit('.').next().unwrap_or(other)
            )),
        }
    }

    fn print(&mut self, line: &str) {
        self.printed.extend_from_slice(line.as_bytes());
        self.printed.extend_from_slice(b"\r\n");
    }
}

impl Device for NodeMcu {
    fn receive(&mut self, now: Duration, data: &[u8]) {
        self.tick(now);
        for &b in data {
            if self.pending.as_ref().is_some_and(|p| p.booting) {
                continue;
            }
            if self.pending.is_some() || !self.rx.is_empty() {
                if self.rx.len() < RX_BUFFER {
                    self.rx.push_back(b);
                    self.rx_peak = self.rx_peak.max(self.rx.len());
                } else {
                    self.rx_overflow += 1;
                }
            } else {
                self.feed(now, b);
            }
        }
    }

    fn transmit(&mut self, _now: Duration) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    fn next_wakeup(&self) -> Option<Duration> {
        self.pending.as_ref().map(|p| p.until)
    }

    fn hard_resets(&self) -> u64 {
        self.resets
    }

    fn uart_rate(&self) -> Option<u32> {
        Some(self.uart_rate)
    }

    fn tick(&mut self, now: Duration) {
        loop {
            match &self.pending {
                Some(p) if p.until <= now => {}
                Some(_) => return,
                None => {
                    // Work off what waited in the RX buffer.
                    match self.rx.pop_front() {
                        Some(b) => {
                            self.feed(now, b);
                            continue;
                        }
                        None => return,
                    }
                }
            }
            let p = self.pending.take().expect("checked");
            if let Some(rate) = p.rate {
                self.uart_rate = rate;
            }
            self.out.extend_from_slice(&p.output);
            if p.restart {
                if !p.reset_done {
                    self.flash.reset();
                }
                self.boot(p.until);
            }
        }
    }
}
