//! Modules on native USB (ESP32-S2/S3/C3 USB-serial, STM32 VCP, QuecPython's USB ports) drop off
//! the bus when they restart and come back as a new port. [`Reconnecting`] wraps a serial
//! session so that a link lost while the module restarts (the session is in its restart or
//! confirm step) is not a failure: the caller is asked to find the module again
//! ([`Next::Reconnect`]), and the session carries on once it is back, as if the line had only
//! been quiet. A module that does not come back in time ends the session with what is known.

use std::collections::VecDeque;
use std::time::Duration;

use crate::session::{
    LogLevel, Machine, Next, SessionEvent, SignalStep, Step, TransferError, UsbAlt,
};

/// How long a restarting module may stay away by default.
pub const RECONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// A session whose module may re-enumerate while it restarts.
pub struct Reconnecting<M> {
    inner: M,
    limit: Duration,
    step: Option<Step>,
    /// The link went away during a restart: look for the module until this instant.
    away_until: Option<Duration>,
    /// [`Next::Reconnect`] was handed out and not answered yet.
    asked: bool,
    events: VecDeque<SessionEvent>,
}

impl<M: Machine> Reconnecting<M> {
    /// Wrap `inner`; a module away for longer than `limit` is given up.
    pub fn new(inner: M, limit: Duration) -> Self {
        Reconnecting {
            inner,
            limit,
            step: None,
            away_until: None,
            asked: false,
            events: VecDeque::new(),
        }
    }

    fn restarting(&self) -> bool {
        matches!(self.step, Some(Step::Restart | Step::Confirm))
    }

    fn log(&mut self, level: LogLevel, message: String) {
        self.events.push_back(SessionEvent::Log { level, message });
    }
}

impl<M: Machine> Machine for Reconnecting<M> {
    fn handle_input(&mut self, now: Duration, data: &[u8]) {
        self.inner.handle_input(now, data)
    }

    fn handle_timeout(&mut self, now: Duration) {
        if self.asked {
            // Not back in time: the session fails as on any lost link, in its own words.
            self.asked = false;
            self.away_until = None;
            let waited = self.limit.as_secs();
            self.log(
                LogLevel::Warn,
                format!("The module did not come back within {waited} s of its restart."),
            );
            return self.inner.link_lost(now);
        }
        self.inner.handle_timeout(now)
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.inner.poll_transmit()
    }

    fn poll_timeout(&self) -> Option<Duration> {
        self.inner.poll_timeout()
    }

    fn poll_event(&mut self) -> Option<SessionEvent> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        let event = self.inner.poll_event()?;
        if let SessionEvent::Step(step) = event {
            self.step = Some(step);
        }
        Some(event)
    }

    fn cancel(&mut self, now: Duration) {
        if self.away_until.take().is_some() {
            self.asked = false;
            self.log(
                LogLevel::Warn,
                "Cancelled while waiting for the module to come back after its restart.".into(),
            );
            return self.inner.link_lost(now);
        }
        self.inner.cancel(now)
    }

    fn link_lost(&mut self, now: Duration) {
        if self.restarting() && !self.inner.is_finished() && self.away_until.is_none() {
            self.away_until = Some(now + self.limit);
            self.log(
                LogLevel::Info,
                "The module's port went away as it restarted: waiting for it to come back.".into(),
            );
            return;
        }
        self.inner.link_lost(now)
    }

    fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    fn poll_signals(&mut self) -> Option<SignalStep> {
        self.inner.poll_signals()
    }

    fn poll_baud(&mut self) -> Option<u32> {
        self.inner.poll_baud()
    }

    fn handle_transfer(&mut self, now: Duration, result: Result<Vec<u8>, TransferError>) {
        self.inner.handle_transfer(now, result)
    }

    fn handle_reconnected(&mut self, now: Duration, interfaces: Vec<UsbAlt>) {
        if self.away_until.take().is_some() {
            self.asked = false;
            self.log(LogLevel::Info, "The module is back: carrying on.".into());
        }
        self.inner.handle_reconnected(now, interfaces)
    }

    fn poll_next(&mut self) -> Next {
        if let Some(until) = self.away_until {
            if !self.asked {
                self.asked = true;
                return Next::Reconnect {
                    reset: false,
                    until,
                };
            }
            return Next::Wait { until: Some(until) };
        }
        self.inner.poll_next()
    }
}
