//! A faster console for the write: NodeMCU's `uart.setup` switches the console UART at once, so
//! the session asks for the fast rate after the checks, follows it once the line's echo is back
//! (its prompt already comes at the new rate), and waits for a prompt there. At the restart the
//! module boots at its usual rate again, and the session follows it back as soon as the restart
//! line is echoed. A firmware without the `uart` module, or a module that does not answer at the
//! fast rate, is written at the usual rate. A session that finds no prompt at the usual rate
//! tries the fast one, where a write cut short may have left the console.

use super::*;

/// The console's usual rate and the rate to write at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastBaud {
    /// The rate the console runs at after a boot, and the port's rate when the session starts.
    pub console: u32,
    /// The rate to switch to for the write.
    pub fast: u32,
}

/// Asks whether the firmware has the `uart` module (`nil` when it does not).
pub const UART_CHECK_LINE: &str = "=uart";

/// The line that switches the console to `baud`, echo on (8N1).
pub fn uart_setup_line(baud: u32) -> String {
    format!("uart.setup(0,{baud},8,0,1,1)")
}

impl NodeMcuSession {
    /// The checks passed: switch to the fast rate first when asked to, then erase the slot.
    pub(super) fn speed_up_then_prepare(&mut self) {
        match self.config.fast_baud {
            Some(f) if f.fast != f.console && !self.fast => {
                self.stage = Stage::UartCheck;
                let timeout = self.config.lua.line_timeout;
                self.send(Step::Prepare, "=uart", UART_CHECK_LINE, timeout);
            }
            _ => self.prepare(),
        }
    }

    /// Erase the slot: the first line of the write.
    pub(super) fn prepare(&mut self) {
        self.stage = Stage::Prepare;
        let timeout = self.config.erase_timeout;
        self.send(Step::Prepare, "otaupgrade.commence", PREPARE_LINE, timeout);
    }

    /// `=uart` ran: switch when the module is there.
    pub(super) fn after_uart_check(&mut self, output: &str) {
        let Some(f) = self.config.fast_baud else {
            return self.prepare();
        };
        if output.trim() == "nil" {
            self.report.log(
                LogLevel::Info,
                format!(
                    "The firmware has no uart module: writing at {} baud",
                    f.console
                ),
            );
            return self.prepare();
        }
        self.report.log(
            LogLevel::Info,
            format!("Switching the console to {} baud for the write", f.fast),
        );
        self.stage = Stage::UartSetup;
        let timeout = self.config.lua.line_timeout;
        self.send(
            Step::Prepare,
            "uart.setup",
            &uart_setup_line(f.fast),
            timeout,
        );
    }

    /// Follow the module's rate changes the moment a line that makes one is echoed (called from
    /// `pump`).
    pub(super) fn follow_rate(&mut self) {
        let Some(f) = self.config.fast_baud else {
            return;
        };
        if !self.repl.can_queue() || self.finished {
            return;
        }
        match self.stage {
            Stage::UartSetup => {
                // Its prompt comes at the new rate: ask for one there.
                self.repl.reset();
                self.stage = Stage::FastSync;
                self.fast = true;
                self.rate_change = Some(f.fast);
            }
            Stage::Restart | Stage::Rollback if self.fast => {
                // It boots at its usual rate.
                self.fast = false;
                self.rate_change = Some(f.console);
            }
            _ => {}
        }
    }

    /// After a restart that was not seen (the port went first): back to the usual rate.
    /// True when a change is due; the prompt is asked for once it is made.
    pub(super) fn back_to_console_rate(&mut self) -> bool {
        match (self.fast, self.config.fast_baud) {
            (true, Some(f)) => {
                self.fast = false;
                self.rate_change = Some(f.console);
                true
            }
            _ => false,
        }
    }

    /// The rate change asked for, once; a change that needs a prompt at the new rate asks for
    /// it now, so the line end goes out at that rate.
    pub(super) fn take_rate_change(&mut self) -> Option<u32> {
        let rate = self.rate_change.take()?;
        let syncing = matches!(
            self.stage,
            Stage::FastSync | Stage::SlowSync | Stage::Connect
        );
        let booted = matches!(self.stage, Stage::Restart | Stage::Rollback | Stage::Boot)
            && self.repl.is_idle();
        if (syncing || booted) && !self.finished {
            self.repl.connect(self.now);
        }
        Some(rate)
    }

    /// No prompt at the new rate: try the other one once. True when it does.
    pub(super) fn try_other_rate(&mut self) -> bool {
        let Some(f) = self.config.fast_baud else {
            return false;
        };
        match self.stage {
            Stage::FastSync => {
                self.report.log(
                    LogLevel::Warn,
                    format!(
                        "No prompt at {} baud: writing at {} baud",
                        f.fast, f.console
                    ),
                );
                self.fast = false;
                self.stage = Stage::SlowSync;
                self.rate_change = Some(f.console);
                // The prompt is asked for once the port is back at the usual rate.
                self.repl.reset();
                true
            }
            Stage::Connect if !self.tried_fast && f.fast != f.console => {
                self.tried_fast = true;
                self.report.log(
                    LogLevel::Warn,
                    format!(
                        "No prompt at {} baud; trying {} baud, where a write cut short may \
                         have left the console",
                        f.console, f.fast
                    ),
                );
                self.fast = true;
                self.rate_change = Some(f.fast);
                true
            }
            _ => false,
        }
    }

    /// The session fails with the port at the fast rate: go back to the usual one, where the
    /// module is after its next restart (and where the next session looks first).
    /// At the fast rate, bytes no console prints (the lines and their output are ASCII), in the
    /// echo or instead of the prompt, mean the console no longer runs at that rate: the module
    /// restarted, and its boot put the console back at its usual rate. Said so, rather than as
    /// a byte garbled on the wire or a module gone silent.
    pub(super) fn restarted_at_fast_rate(&self, error: &LuaError) -> Option<FlashErrorKind> {
        let f = self.config.fast_baud.filter(|_| self.fast)?;
        let garbage = match error {
            LuaError::EchoMismatch { got, .. } => got.iter().any(|b| !b.is_ascii()),
            LuaError::NoResponse { .. } => self.repl.heard_garbage(),
            _ => false,
        };
        garbage.then(|| FlashErrorKind::ModuleState {
            why: format!(
                "the module's answer came back garbled at {} baud, as when the module restarts: \
                 a boot sets its console back to {} baud (was its power or reset line touched?)",
                f.fast, f.console
            ),
            then: "Keep the module powered and its reset line still, then flash again.",
        })
    }

    pub(super) fn slow_down_on_failure(&mut self) {
        if let (true, Some(f)) = (self.fast, self.config.fast_baud) {
            self.fast = false;
            self.rate_change = Some(f.console);
            self.report.log(
                LogLevel::Warn,
                format!(
                    "The module's console may still run at {} baud until it restarts",
                    f.fast
                ),
            );
        }
    }
}
