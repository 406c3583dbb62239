//! Shared by the driver tests: a recording wrapper around any session and the checks every
//! failure report must pass.
#![allow(dead_code)]

pub mod pipe;

use std::time::Duration;

use otadeck_core::session::{
    group_digits, FlashError, FlashErrorKind, LogLevel, Machine, SessionEvent, Step,
};
use otadeck_sim::harness::Run;

/// Where an ESP32's boot ROM starts printing after a hard reset (`rst:0x…`) in `bytes`: the
/// moment a module on native USB drops off the bus.
pub fn hard_reset_at(bytes: &[u8]) -> Option<usize> {
    const MARK: &[u8] = b"rst:0x";
    bytes.windows(MARK.len()).position(|w| w == MARK)
}

/// A session with a record of every byte it sent and the progress and steps it reported.
pub struct Recorder<M> {
    pub inner: M,
    pub sent: Vec<u8>,
    pub done: u64,
    pub steps: Vec<Step>,
}

impl<M: Machine> Recorder<M> {
    pub fn new(inner: M) -> Self {
        Recorder {
            inner,
            sent: Vec::new(),
            done: 0,
            steps: Vec::new(),
        }
    }
}

impl<M: Machine> Machine for Recorder<M> {
    fn handle_input(&mut self, now: Duration, data: &[u8]) {
        self.inner.handle_input(now, data)
    }
    fn handle_timeout(&mut self, now: Duration) {
        self.inner.handle_timeout(now)
    }
    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        let tx = self.inner.poll_transmit()?;
        self.sent.extend_from_slice(&tx);
        Some(tx)
    }
    fn poll_timeout(&self) -> Option<Duration> {
        self.inner.poll_timeout()
    }
    fn poll_event(&mut self) -> Option<SessionEvent> {
        let ev = self.inner.poll_event()?;
        match &ev {
            SessionEvent::Progress { done, .. } => self.done = *done,
            SessionEvent::Step(step) => self.steps.push(*step),
            _ => {}
        }
        Some(ev)
    }
    fn cancel(&mut self, now: Duration) {
        self.inner.cancel(now)
    }
    fn link_lost(&mut self, now: Duration) {
        self.inner.link_lost(now)
    }
    fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

/// What every failure must tell the technician, and the log must hold: the step, the offset
/// when there is one, what the module holds (`state`), and the same words in the log.
pub fn check_report(r: &Run, e: &FlashError, state: &str) {
    let text = e.to_string();
    eprintln!("{text}");
    let verb = if e.kind == FlashErrorKind::Cancelled {
        "stopped"
    } else {
        "failed"
    };
    assert!(
        text.starts_with(&format!("{} {verb}", e.step.label())),
        "{text}"
    );
    if let (Some(offset), Some(total)) = (e.offset, e.total) {
        assert!(
            text.contains(&format!(
                "at byte {} of {}",
                group_digits(offset),
                group_digits(total)
            )),
            "{text}"
        );
    }
    assert!(text.contains(state), "{text}");
    let level = if e.kind == FlashErrorKind::Cancelled {
        LogLevel::Warn
    } else {
        LogLevel::Error
    };
    assert!(
        r.events.iter().any(|ev| matches!(
            ev,
            SessionEvent::Log { level: l, message } if *l == level && *message == text
        )),
        "the error is not in the log: {text}"
    );
    assert_eq!(
        r.events.last(),
        Some(&SessionEvent::Finished(Err(e.clone()))),
        "the session must end with the error"
    );
}
