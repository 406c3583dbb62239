//! What the device's state and status mean at each point of a session (GETSTATUS answers), and
//! finding the device again after it detached or left DFU mode.

use std::time::Duration;

use super::ops::{Goal, Op};
use super::wire::{self, DeviceStatus, State, Status};
use super::{DfuSession, Job};
use crate::session::{FlashErrorKind, LogLevel, SessionEvent, UsbAlt};

impl DfuSession {
    pub(super) fn on_status(&mut self, goal: Goal, st: DeviceStatus) {
        let state = st.state();
        let failed = st.status != Status::OK;
        if let Goal::Explain(what) = goal {
            return self.explain(what, st);
        }
        if failed && !matches!(goal, Goal::Start(_) | Goal::Idle) {
            return self.device_error(st.status, goal_words(goal));
        }
        match goal {
            Goal::Start(tries) => self.at_start(tries, st),
            Goal::Idle => match state {
                Some(State::DfuIdle) => {}
                Some(State::DfuError) => self
                    .queue
                    .push_all_front([Op::ClrStatus, Op::Status(Goal::Idle)]),
                _ => self.unexpected_state(st, "dfuIDLE"),
            },
            Goal::Busy(what) => match state {
                Some(State::DnBusy | State::DnloadSync) => {
                    self.poll_again(st, Goal::Busy(what), what)
                }
                Some(State::DnloadIdle) => self.busy_since = None,
                _ => self.unexpected_state(st, "dfuDNLOAD-IDLE"),
            },
            Goal::Manifest => match state {
                // DfuSe starts the application from dfuMANIFEST without a reset.
                Some(State::Manifest) if self.is_dfuse() => self.left(),
                Some(State::ManifestSync | State::Manifest | State::DnBusy) => {
                    self.poll_again(st, Goal::Manifest, "writing the last blocks")
                }
                Some(State::DfuIdle | State::ManifestWaitReset) => {
                    if state == Some(State::ManifestWaitReset)
                        && self.queue.iter().any(|o| matches!(o, Op::Read { .. }))
                    {
                        self.log(
                            LogLevel::Warn,
                            "The device waits for a reset after manifestation and cannot be read \
                             back: what it wrote is not compared."
                                .into(),
                        );
                        self.queue.retain(|o| {
                            !matches!(o, Op::Read { .. } | Op::Abort | Op::Status(Goal::Idle))
                        });
                    }
                    self.busy_since = None;
                }
                _ => self.unexpected_state(st, "dfuIDLE"),
            },
            Goal::Explain(_) => {}
        }
    }

    fn left(&mut self) {
        self.log(LogLevel::Info, "The device left DFU mode.".into());
        self.restarted = true;
    }

    /// Wait `bwPollTimeout`, then ask again; fail when the device stays busy too long.
    fn poll_again(&mut self, st: DeviceStatus, goal: Goal, waiting_for: &'static str) {
        let since = *self.busy_since.get_or_insert(self.now);
        if self.now.saturating_sub(since) > self.config.busy_limit {
            return self.fail(FlashErrorKind::NoResponse { waiting_for });
        }
        self.wake = Some(self.now + st.poll_timeout.max(Duration::from_millis(1)));
        self.queue.push_front(Op::Status(goal));
    }

    fn at_start(&mut self, tries: u8, st: DeviceStatus) {
        let Some(state) = st.state() else {
            return self.unexpected_state(st, "dfuIDLE");
        };
        if tries >= 3 && state != State::DfuIdle && state != State::AppIdle {
            return self.unexpected_state(st, "dfuIDLE");
        }
        let again = Op::Status(Goal::Start(tries + 1));
        match state {
            State::DfuIdle => self.plan(),
            State::AppIdle if self.job == Job::Inspect => {
                self.log(LogLevel::Info, "The device runs its application.".into());
                self.events
                    .push_back(SessionEvent::Identified(self.module_info()));
            }
            State::AppIdle | State::AppDetach => {
                let reset = !self.functional.is_some_and(|f| f.will_detach);
                self.log(
                    LogLevel::Info,
                    "The device runs its application: detaching it into DFU mode.".into(),
                );
                let reconnect = Op::Reconnect {
                    reset,
                    leaving: false,
                };
                if state == State::AppIdle {
                    self.queue.push_all_front([Op::Detach, reconnect]);
                } else {
                    self.queue.push_front(reconnect);
                }
            }
            State::DfuError => {
                self.log(
                    LogLevel::Warn,
                    format!("The device was in dfuERROR ({}); cleared.", st.status),
                );
                self.queue.push_all_front([Op::ClrStatus, again]);
            }
            _ => {
                self.log(
                    LogLevel::Info,
                    format!("The device was in {}; returning it to idle.", state.name()),
                );
                self.queue.push_all_front([Op::Abort, again]);
            }
        }
    }

    fn explain(&mut self, what: &'static str, st: DeviceStatus) {
        if st.status != Status::OK {
            return self.device_error(st.status, what);
        }
        let state = st.state().map_or("an unknown state", State::name);
        self.fail(FlashErrorKind::Protocol(format!(
            "the device refused {what} in state {state}"
        )));
    }

    fn device_error(&mut self, status: Status, during: &'static str) {
        self.fail(FlashErrorKind::DeviceStatus {
            status: status.to_string(),
            during,
        });
    }

    fn unexpected_state(&mut self, st: DeviceStatus, wanted: &'static str) {
        let state = st.state().map_or("an unknown state", State::name);
        self.fail(FlashErrorKind::Protocol(format!(
            "the device is in {state} (code {}), where {wanted} was expected",
            st.state_code
        )));
    }

    /// The device came back after a detach or after leaving DFU mode.
    pub(super) fn reconnected(&mut self, interfaces: Vec<UsbAlt>) {
        if self.leaving {
            let in_loader = interfaces
                .iter()
                .any(|a| a.is_dfu() && a.protocol == wire::PROTOCOL_DFU_MODE);
            if in_loader {
                self.log(
                    LogLevel::Warn,
                    "The device came back in DFU mode: it did not start the new application \
                     (is its boot pin or button still held?)."
                        .into(),
                );
            } else {
                self.restarted = true;
                self.log(
                    LogLevel::Info,
                    "The device came back running its application.".into(),
                );
            }
            self.alts = interfaces;
            return;
        }
        self.detached = true;
        self.alts = interfaces;
        self.log(LogLevel::Info, "The device came back in DFU mode.".into());
        self.attach();
        if self
            .target
            .as_ref()
            .is_some_and(|t| t.protocol != wire::PROTOCOL_DFU_MODE)
        {
            self.fail(FlashErrorKind::ModuleState {
                why: "the device came back still running its application".into(),
                then: "Put it into DFU mode by hand (hold its boot button while plugging it in), \
                       then connect again.",
            });
        }
    }

    /// The device did not come back in time.
    pub(super) fn reconnect_timed_out(&mut self) {
        let waited = self.config.reconnect_timeout.as_secs();
        if self.leaving {
            self.restarted = true;
            self.log(
                LogLevel::Warn,
                format!(
                    "The device left DFU mode and did not come back over USB within {waited} s; \
                     its application may not use USB."
                ),
            );
            return;
        }
        self.fail(FlashErrorKind::NoResponse {
            waiting_for: "coming back in DFU mode after the detach",
        });
    }
}

fn goal_words(goal: Goal) -> &'static str {
    match goal {
        Goal::Busy(what) | Goal::Explain(what) => what,
        Goal::Manifest => "ending the download",
        Goal::Start(_) | Goal::Idle => "reading the status",
    }
}

/// `push_front` for several, in order.
trait PushAllFront<T> {
    fn push_all_front<const N: usize>(&mut self, items: [T; N]);
}

impl<T> PushAllFront<T> for std::collections::VecDeque<T> {
    fn push_all_front<const N: usize>(&mut self, items: [T; N]) {
        for item in items.into_iter().rev() {
            self.push_front(item);
        }
    }
}
