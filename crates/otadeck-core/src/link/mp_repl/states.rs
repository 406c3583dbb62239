//! The raw REPL's states, one handler each: what the machine does with the bytes received and
//! the clock in that state, and which state comes next.

use std::time::Duration;

use super::{
    find, PasteMode, RawRepl, ReplError, ReplEvent, State, CTRL_A, CTRL_D, FRIENDLY_PROMPT,
    RAW_BANNER,
};

impl RawRepl {
    /// Run the handler of the current state once.
    pub(super) fn step(&mut self) {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Idle => {
                // Nobody is listening: whatever arrives is stray output.
                self.rx.clear();
            }
            State::Ready => {
                self.rx.clear();
                self.state = State::Ready;
            }
            State::Draining {
                started,
                last_rx,
                tail,
            } => self.on_draining(started, last_rx, tail),
            State::Entering { deadline } => self.on_entering(deadline),
            State::PasteHandshake { code, deadline } => self.paste_handshake(code, deadline),
            State::PasteUpload {
                code,
                pos,
                window,
                credit,
                deadline,
            } => self.on_paste_upload(code, pos, window, credit, deadline),
            State::PasteAwaitAck { deadline } => self.on_paste_ack(deadline),
            State::PlainUpload { code, pos, next_at } => self.on_plain_upload(code, pos, next_at),
            State::PlainAwaitOk { deadline } => self.on_plain_ok(deadline),
            State::Output {
                stdout,
                stderr,
                deadline,
                timeout,
            } => self.on_output(stdout, stderr, deadline, timeout),
        }
    }

    fn on_draining(&mut self, started: Duration, last_rx: Duration, mut tail: Vec<u8>) {
        let now = self.now;
        let last_rx = if self.rx.is_empty() { last_rx } else { now };
        // Output that ends at the friendly prompt: the interrupt took, the module waits
        // for a line, and there is nothing left to wait out.
        tail.append(&mut self.rx);
        tail.drain(..tail.len().saturating_sub(FRIENDLY_PROMPT.len()));
        let at_prompt = tail == FRIENDLY_PROMPT;
        if at_prompt
            || now >= last_rx + self.config.drain_quiet
            || now >= started + self.config.drain_max
        {
            self.tx.push_back(vec![b'\r', CTRL_A]);
            self.state = State::Entering {
                deadline: now + self.config.enter_timeout,
            };
        } else {
            self.state = State::Draining {
                started,
                last_rx,
                tail,
            };
        }
    }

    fn on_entering(&mut self, deadline: Duration) {
        let now = self.now;
        if let Some(end) = find(&self.rx, RAW_BANNER) {
            self.rx.drain(..end + RAW_BANNER.len());
            self.state = State::Ready;
            self.events.push_back(ReplEvent::Ready);
        } else if now >= deadline {
            self.fail(ReplError::NoResponse {
                waiting_for: "entering the raw REPL",
            });
        } else {
            self.state = State::Entering { deadline };
        }
    }

    fn on_paste_upload(
        &mut self,
        code: Vec<u8>,
        mut pos: usize,
        window: u16,
        mut credit: usize,
        deadline: Duration,
    ) {
        let now = self.now;
        let link_timeout = self.config.link_timeout;
        let mut deadline = deadline;
        let mut early_end = false;
        for (i, byte) in self.rx.iter().enumerate() {
            match *byte {
                CTRL_A => credit += usize::from(window),
                CTRL_D => {
                    early_end = true;
                    self.rx.drain(..=i);
                    break;
                }
                _ => {
                    let got = self.rx[i..].to_vec();
                    self.fail(ReplError::Unexpected {
                        during: "sending code in raw-paste mode",
                        got,
                    });
                    return;
                }
            }
        }
        if early_end {
            // The module stopped reading (a syntax error, say): acknowledge, then read its
            // report as the output of the exec.
            self.tx.push_back(vec![CTRL_D]);
            self.start_output();
            return;
        }
        if !self.rx.is_empty() {
            self.rx.clear();
            deadline = now + link_timeout;
        }
        if credit > 0 && pos < code.len() {
            let end = (pos + credit).min(code.len());
            self.tx.push_back(code[pos..end].to_vec());
            credit -= end - pos;
            pos = end;
            deadline = now + link_timeout;
        }
        if pos == code.len() {
            self.tx.push_back(vec![CTRL_D]);
            self.state = State::PasteAwaitAck {
                deadline: now + link_timeout,
            };
        } else if now >= deadline {
            self.fail(ReplError::NoResponse {
                waiting_for: "taking in the data sent to it",
            });
        } else {
            self.state = State::PasteUpload {
                code,
                pos,
                window,
                credit,
                deadline,
            };
        }
    }

    fn on_paste_ack(&mut self, deadline: Duration) {
        let now = self.now;
        // Window credits may still arrive before the acknowledgement: skip them.
        while let Some(&byte) = self.rx.first() {
            self.rx.remove(0);
            match byte {
                CTRL_A => continue,
                CTRL_D => {
                    self.start_output();
                    return;
                }
                other => {
                    self.fail(ReplError::Unexpected {
                        during: "waiting for the end of the raw-paste upload",
                        got: vec![other],
                    });
                    return;
                }
            }
        }
        if now >= deadline {
            self.fail(ReplError::NoResponse {
                waiting_for: "compiling the code sent",
            });
        } else {
            self.state = State::PasteAwaitAck { deadline };
        }
    }

    fn on_plain_upload(&mut self, code: Vec<u8>, mut pos: usize, next_at: Duration) {
        let now = self.now;
        let link_timeout = self.config.link_timeout;
        self.rx.clear();
        if now < next_at {
            self.state = State::PlainUpload { code, pos, next_at };
            return;
        }
        let end = (pos + self.config.plain_chunk).min(code.len());
        if end > pos {
            self.tx.push_back(code[pos..end].to_vec());
            pos = end;
        }
        if pos == code.len() {
            self.tx.push_back(vec![CTRL_D]);
            self.state = State::PlainAwaitOk {
                deadline: now + link_timeout,
            };
        } else {
            self.state = State::PlainUpload {
                code,
                pos,
                next_at: now + self.config.plain_chunk_interval,
            };
        }
    }

    fn on_plain_ok(&mut self, deadline: Duration) {
        let now = self.now;
        if self.rx.len() >= 2 {
            if self.rx.starts_with(b"OK") {
                self.rx.drain(..2);
                self.start_output();
            } else {
                let got = std::mem::take(&mut self.rx);
                self.fail(ReplError::Unexpected {
                    during: "waiting for OK after sending code",
                    got,
                });
            }
        } else if now >= deadline {
            self.fail(ReplError::NoResponse {
                waiting_for: "taking in the data sent to it (no OK came back)",
            });
        } else {
            self.state = State::PlainAwaitOk { deadline };
        }
    }

    fn on_output(
        &mut self,
        mut stdout: Vec<u8>,
        mut stderr: Option<Vec<u8>>,
        deadline: Duration,
        timeout: Duration,
    ) {
        let now = self.now;
        while !self.rx.is_empty() {
            match stderr.as_mut() {
                None => {
                    let end = self.rx.iter().position(|&b| b == CTRL_D);
                    let new: Vec<u8> = self.rx.drain(..end.unwrap_or(self.rx.len())).collect();
                    if !new.is_empty() {
                        self.events.push_back(ReplEvent::Printed(new.clone()));
                    }
                    stdout.extend(new);
                    if end.is_some() {
                        self.rx.remove(0);
                        stderr = Some(Vec::new());
                    }
                }
                Some(err) => match self.rx.iter().position(|&b| b == CTRL_D) {
                    Some(i) => {
                        err.extend(self.rx.drain(..i));
                        if self.rx.len() < 2 {
                            // Wait for the prompt that follows the separator.
                            break;
                        }
                        if self.rx[1] != b'>' {
                            let got = self.rx.clone();
                            self.fail(ReplError::Unexpected {
                                during: "waiting for the prompt after the output",
                                got,
                            });
                            return;
                        }
                        self.rx.drain(..2);
                        let stderr = std::mem::take(err);
                        self.state = State::Ready;
                        self.events
                            .push_back(ReplEvent::ExecDone { stdout, stderr });
                        return;
                    }
                    None => err.append(&mut self.rx),
                },
            }
        }
        if now >= deadline {
            self.fail(ReplError::NoResponse {
                waiting_for: "running the code",
            });
        } else {
            self.state = State::Output {
                stdout,
                stderr,
                deadline,
                timeout,
            };
        }
    }

    fn paste_handshake(&mut self, code: Vec<u8>, deadline: Duration) {
        let now = self.now;
        let keep_waiting = |this: &mut Self, code: Vec<u8>| {
            if now >= deadline {
                this.fail(ReplError::NoResponse {
                    waiting_for: "answering the raw-paste request",
                });
            } else {
                this.state = State::PasteHandshake { code, deadline };
            }
        };
        if self.rx.len() < 2 {
            return keep_waiting(self, code);
        }
        match [self.rx[0], self.rx[1]] {
            [b'R', 0x01] => {
                if self.rx.len() < 5 {
                    return keep_waiting(self, code);
                }
                let window = u16::from_le_bytes([self.rx[2], self.rx[3]]);
                if window == 0 {
                    let got = self.rx[..4].to_vec();
                    return self.fail(ReplError::Unexpected {
                        during: "reading the raw-paste window size",
                        got,
                    });
                }
                // The window size itself grants one window; the `\x01` after it (left in rx and
                // counted by the upload state) grants a second.
                self.rx.drain(..4);
                self.mode = PasteMode::RawPaste { window };
                self.report_mode();
                self.state = State::PasteUpload {
                    code,
                    pos: 0,
                    window,
                    credit: usize::from(window),
                    deadline: now + self.config.link_timeout,
                };
            }
            [b'R', 0x00] => {
                // The module also prints `>` after R\x00; consume it before sending anything.
                if self.rx.len() < 3 {
                    return keep_waiting(self, code);
                }
                if self.rx[2] != b'>' {
                    let got = self.rx.clone();
                    return self.fail(ReplError::Unexpected {
                        during: "answering the raw-paste request",
                        got,
                    });
                }
                self.rx.drain(..3);
                self.mode = PasteMode::PlainUnsupported;
                self.start_plain(code);
            }
            [b'r', b'a'] => {
                // Old firmware treats \x05A\x01 as Ctrl-A again and reprints the banner.
                match find(&self.rx, RAW_BANNER) {
                    Some(i) => {
                        self.rx.drain(..i + RAW_BANNER.len());
                        self.mode = PasteMode::PlainOldFirmware;
                        self.start_plain(code);
                    }
                    None => keep_waiting(self, code),
                }
            }
            _ => {
                let got = self.rx.clone();
                self.fail(ReplError::Unexpected {
                    during: "answering the raw-paste request",
                    got,
                });
            }
        }
    }
}
