//! What the NodeMCU session does when a console line has run: one handler per stage.

use super::*;

impl NodeMcuSession {
    /// A line ran; decide what comes next.
    pub(super) fn on_done(
        &mut self,
        output: &str,
        error: Option<String>,
    ) -> Result<(), FlashErrorKind> {
        if let Some(kind) = self.draining.take() {
            let ran = match (&error, output.trim()) {
                (Some(msg), _) => Err(format!("Lua error: {msg}")),
                (None, "") => Ok(()),
                (None, out) => Err(format!("it printed {out:?}")),
            };
            let (note, state) = after_failure(ran);
            let note = format!("The write line sent before the failure {note}");
            self.report.log(LogLevel::Warn, note);
            self.after_failure = Some(state);
            return Err(kind);
        }
        let writing = matches!(self.stage, Stage::Prepare | Stage::Write);
        let kind = match &error {
            Some(msg) => Some(FlashErrorKind::Traceback {
                last_line: format!("Lua error: {msg} (in {})", self.call),
            }),
            None if writing && !output.trim().is_empty() => Some(bad_answer(self.call, output)),
            None => None,
        };
        if let Some(kind) = kind {
            if error.is_some() {
                self.report
                    .log(LogLevel::Debug, format!("Console output:\n{output}"));
            }
            if !self.queued_behind() {
                return Err(kind);
            }
            // The next line is in the module's buffer and runs: read what it does first.
            self.draining = Some(kind);
            return Ok(());
        }
        if self.cancel_requested && !writing {
            return Err(FlashErrorKind::Cancelled);
        }
        match self.stage {
            Stage::ReadInfo => self.after_info(output)?,
            Stage::UartCheck => self.after_uart_check(output),
            Stage::Prepare | Stage::Write => self.after_write()?,
            Stage::Complete => {
                self.selected = true;
                self.report.log(
                    LogLevel::Info,
                    "The module verified the image and selected it; restarting",
                );
                self.restart_line(Stage::Restart, "node.restart", RESTART_LINE);
            }
            Stage::Restart | Stage::Rollback | Stage::Boot => self.after_restart(output),
            Stage::ConfirmInfo => self.after_confirm(output)?,
            Stage::Accept => {
                self.report
                    .log(LogLevel::Info, "The running firmware is accepted");
                self.send_info(Step::Confirm, Stage::FinalInfo);
            }
            Stage::FinalInfo => {
                self.on_info(output)?;
                self.finish();
            }
            Stage::Connect | Stage::UartSetup | Stage::FastSync | Stage::SlowSync | Stage::Done => {
            }
        }
        Ok(())
    }

    /// The slots were read at the start: check the job against them and send its first line.
    fn after_info(&mut self, output: &str) -> Result<(), FlashErrorKind> {
        let total = self.image().len();
        let info = self.on_info(output)?;
        match self.job.clone() {
            Job::Inspect => self.finish(),
            Job::Flash { .. } => {
                let slot_size = self.config.slot_size;
                let target = match check_image(self.image(), &info.state, slot_size) {
                    Ok(t) => t,
                    Err(kind) => {
                        self.set_step(Step::Prepare);
                        return Err(kind);
                    }
                };
                self.report.log(
                    LogLevel::Info,
                    format!(
                        "Erasing slot {target} and writing {} bytes in {CHUNK}-byte lines",
                        group_digits(total as u64)
                    ),
                );
                self.target = Some(target);
                self.speed_up_then_prepare();
            }
            Job::Accept => {
                self.stage = Stage::Accept;
                let timeout = self.config.lua.line_timeout;
                self.send(Step::Confirm, "otaupgrade.accept", ACCEPT_LINE, timeout);
            }
            Job::Rollback => {
                if info.state.rollback_targets().is_empty() {
                    self.set_step(Step::Prepare);
                    return Err(FlashErrorKind::ModuleState {
                        why: "the other slot holds no bootable firmware to return to".into(),
                        then: "There is nothing to roll back to: keep the firmware it runs, or flash another one.",
                    });
                }
                self.report
                    .log(LogLevel::Info, "Marking the running firmware invalid");
                self.restart_line(Stage::Rollback, "otaupgrade.rollback", ROLLBACK_LINE);
            }
        }
        Ok(())
    }

    /// A write line (or the prepare line) ran: count it, then verify once all is written.
    fn after_write(&mut self) -> Result<(), FlashErrorKind> {
        let total = self.image().len();
        if self.stage == Stage::Write {
            self.written += self.next_ack();
        } else {
            self.stage = Stage::Write;
        }
        self.report.progress(self.written as u64, total as u64);
        if self.cancel_requested && self.sent == self.written {
            return Err(FlashErrorKind::Cancelled);
        }
        if self.written < total {
            // The next line goes from `pump`, once every event is read.
        } else {
            self.report.log(
                LogLevel::Info,
                "All bytes written; the module verifies the image",
            );
            self.stage = Stage::Complete;
            let timeout = self.config.verify_timeout;
            self.send(Step::Verify, "otaupgrade.complete", COMPLETE_LINE, timeout);
        }
        Ok(())
    }

    /// The restart line ran: wait for the boot when the prompt came back first, else read the
    /// slots the module booted with.
    fn after_restart(&mut self, output: &str) {
        if output.trim().is_empty() && self.stage != Stage::Boot {
            // The prompt came back before the restart: wait for the boot.
            self.stage = Stage::Boot;
            let timeout = self.config.reboot_timeout;
            self.repl.await_boot(self.now, timeout);
            return;
        }
        self.restarted = true;
        self.report
            .log(LogLevel::Info, "The module is back after its restart");
        let stage = if self.job == Job::Rollback {
            Stage::FinalInfo
        } else {
            Stage::ConfirmInfo
        };
        self.send_info(Step::Confirm, stage);
    }

    /// The slots after the restart: the new slot must run the new version; accept it unless
    /// the technician decides later.
    fn after_confirm(&mut self, output: &str) -> Result<(), FlashErrorKind> {
        let info = self.on_info(output)?;
        let running = info.state.running_slot();
        let version = running.and_then(|s| s.build.as_ref()).map(|b| &b.version);
        let want = self.image_version();
        if Some(&info.state.running) != self.target.as_ref() || version != Some(&want) {
            return Err(FlashErrorKind::Mismatch(format!(
                "the module came back on slot {} running {} instead of {} with {want}: \
                 its bootloader refused the firmware or rolled it back",
                info.state.running,
                version.map_or("nothing readable", |v| v.as_str()),
                self.target.clone().unwrap_or_default(),
            )));
        }
        let on_trial = running.and_then(|s| s.state) == Some(SlotState::Testing);
        let accept = matches!(self.job, Job::Flash { accept: true, .. });
        if accept && on_trial {
            self.report
                .log(LogLevel::Info, "Accepting the new firmware");
            self.stage = Stage::Accept;
            let timeout = self.config.lua.line_timeout;
            self.send(Step::Confirm, "otaupgrade.accept", ACCEPT_LINE, timeout);
        } else {
            if on_trial {
                self.report.log(
                    LogLevel::Warn,
                    "The new firmware runs on trial: accept it, or it returns to the \
                     previous firmware at the next restart",
                );
            }
            self.finish();
        }
        Ok(())
    }
}
