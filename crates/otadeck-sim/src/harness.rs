//! Runs a host-side [`Machine`] against a simulated link on a virtual clock, through the core's
//! sync [`Pump`]: the same order the browser and the CLI follow on real time, only instant. Used
//! by tests and benchmarks.

use std::time::Duration;

use otadeck_core::partition_state::PartitionState;
use otadeck_core::pump::{Port, PortError, Pump, Turn};
use otadeck_core::session::{
    FlashError, FlashOutcome, LogLevel, Machine, SessionEvent, SignalStep, Step,
};

use crate::line::{Device, SimLink};

/// What a run produced.
#[derive(Debug)]
pub struct Run {
    /// Every event, in order.
    pub events: Vec<SessionEvent>,
    /// The session's result, if it finished.
    pub result: Option<Result<FlashOutcome, FlashError>>,
    /// Virtual time when the run stopped.
    pub elapsed: Duration,
    /// When each step began (virtual time, from the start of the run), in order; filled by
    /// [`run`].
    pub steps: Vec<(Duration, Step)>,
}

impl Run {
    /// The error the session ended with.
    ///
    /// # Panics
    /// When the session succeeded or never finished.
    pub fn error(&self) -> &FlashError {
        match &self.result {
            Some(Err(e)) => e,
            other => panic!("expected a failed session, got {other:?}"),
        }
    }

    /// The outcome of a successful session.
    ///
    /// # Panics
    /// When the session failed or never finished.
    pub fn outcome(&self) -> &FlashOutcome {
        match &self.result {
            Some(Ok(o)) => o,
            other => panic!("expected a successful session, got {other:?}"),
        }
    }

    /// The outcome of a session that wrote `image` and restarted the module into `version`.
    ///
    /// # Panics
    /// When the session failed, did not restart, wrote another length or the module reported
    /// another version.
    pub fn restarted_into(&self, image: &[u8], version: &str) -> &FlashOutcome {
        let outcome = self.outcome();
        assert!(outcome.restarted, "the module was not restarted");
        assert_eq!(outcome.bytes, image.len() as u64);
        assert_eq!(self.module_version(), version);
        outcome
    }

    /// The firmware version the successful session's module reported.
    ///
    /// # Panics
    /// When the session failed or the module was not identified.
    pub fn module_version(&self) -> &str {
        let module = self.outcome().module.as_ref();
        &module.expect("the module was identified").firmware_version
    }

    /// Every progress figure reported (`done`), in order.
    pub fn progress(&self) -> Vec<u64> {
        self.events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Progress { done, .. } => Some(*done),
                _ => None,
            })
            .collect()
    }

    /// The last partition state the session reported.
    pub fn partitions(&self) -> Option<&PartitionState> {
        self.events.iter().rev().find_map(|e| match e {
            SessionEvent::Partitions(p) => Some(p),
            _ => None,
        })
    }

    /// Every log message, in order.
    pub fn logs(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Log { message, .. } => Some(message.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Whether a log line at `level` contains `part`.
    pub fn logged_at(&self, level: LogLevel, part: &str) -> bool {
        self.events.iter().any(|e| {
            matches!(e, SessionEvent::Log { level: l, message } if *l == level && message.contains(part))
        })
    }

    /// Whether any log line contains `part`.
    pub fn logged(&self, part: &str) -> bool {
        self.logs().iter().any(|m| m.contains(part))
    }
}

/// Something to do at a given virtual time during a run.
pub type Hook<'a, M, D> = &'a mut dyn FnMut(Duration, &mut M, &mut SimLink<D>);

/// A [`SimLink`] as a [`Port`] on a virtual clock that jumps to the next thing that happens.
/// Baud changes reach the line; the simulated line has no modem lines, so line changes only
/// take their time.
pub struct SimPort<'a, D> {
    /// The line.
    pub link: &'a mut SimLink<D>,
    now: Duration,
    end: Duration,
    dead_reported: bool,
    /// Re-enumeration: how long the port stays away at each hard reset of the module.
    away: Option<Duration>,
    /// The module's hard resets seen so far, and since when the port is away.
    resets: u64,
    away_since: Option<Duration>,
}

impl<'a, D: Device> SimPort<'a, D> {
    /// The line from `start`, for at most `limit` of virtual time.
    pub fn new(link: &'a mut SimLink<D>, start: Duration, limit: Duration) -> Self {
        let resets = link.device.hard_resets();
        SimPort {
            link,
            now: start,
            end: start + limit,
            dead_reported: false,
            away: None,
            resets,
            away_since: None,
        }
    }

    /// A port that goes away at each hard reset of the module, as one on native USB does:
    /// what was still on its way is lost, and a port is found again `away` later.
    pub fn reenumerating(mut self, away: Duration) -> Self {
        self.away = Some(away);
        self
    }
}

impl<D: Device> Port for SimPort<'_, D> {
    fn now(&mut self) -> Duration {
        self.now
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), PortError> {
        if self.away_since.is_some() {
            return Err(PortError::Gone("the port is gone".into()));
        }
        self.link.host_write(self.now, bytes);
        Ok(())
    }

    fn set_signals(&mut self, _step: SignalStep) -> Result<(), PortError> {
        Ok(())
    }

    fn set_baud(&mut self, baud: u32) -> Result<(), PortError> {
        self.link.set_baud(baud);
        Ok(())
    }

    fn reconnect(
        &mut self,
        _reset: bool,
        until: Duration,
    ) -> Result<Option<Vec<otadeck_core::session::UsbAlt>>, PortError> {
        let (Some(since), Some(away)) = (self.away_since, self.away) else {
            return Err(PortError::Gone("the port is gone".into()));
        };
        let back = since + away;
        // The module runs meanwhile; what it prints goes nowhere.
        self.now = back.min(until).max(self.now);
        self.link.advance(self.now);
        let _ = self.link.host_read(self.now);
        if back > until {
            return Ok(None);
        }
        self.away_since = None;
        self.link.replug(self.now);
        Ok(Some(Vec::new()))
    }

    fn read(&mut self, deadline: Option<Duration>, buf: &mut Vec<u8>) -> Result<(), PortError> {
        if self.now >= self.end {
            return Err(PortError::Stopped);
        }
        if self.away.is_some() && self.link.device.hard_resets() != self.resets {
            self.resets = self.link.device.hard_resets();
            // Off the bus at once: bytes still on their way are lost with the port.
            self.link.replug(self.now);
            self.away_since = Some(self.now);
            return Err(PortError::Gone("the port went away".into()));
        }
        if self.link.is_dead() && !self.dead_reported {
            self.dead_reported = true;
            return Err(PortError::Gone(String::new()));
        }
        let next = [deadline, self.link.next_event()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.end)
            .max(self.now);
        self.now = next.min(self.end);
        buf.extend(self.link.host_read(self.now));
        Ok(())
    }
}

/// Turn the pump until `machine` finishes or `port` stops the run, calling `before_turn` before
/// each turn: every event, and the result if it finished.
pub fn turn_to_end<M: Machine, P: Port>(
    machine: &mut M,
    port: &mut P,
    before_turn: impl FnMut(&mut M, &mut P),
) -> (Vec<SessionEvent>, Option<Result<FlashOutcome, FlashError>>) {
    let (events, result) = timed_turn_to_end(machine, port, before_turn);
    (events.into_iter().map(|(_, e)| e).collect(), result)
}

/// [`turn_to_end`], each event with the port's time of the turn it came in.
#[allow(clippy::type_complexity)]
fn timed_turn_to_end<M: Machine, P: Port>(
    machine: &mut M,
    port: &mut P,
    mut before_turn: impl FnMut(&mut M, &mut P),
) -> (
    Vec<(Duration, SessionEvent)>,
    Option<Result<FlashOutcome, FlashError>>,
) {
    let mut events = Vec::new();
    let mut pump = Pump::new();
    loop {
        before_turn(machine, port);
        let now = port.now();
        match pump.turn(machine, port, &mut |e| events.push((now, e))) {
            Turn::Waited => {}
            Turn::Finished(r) => return (events, r),
            Turn::Stopped => return (events, None),
        }
    }
}

/// [`run`] over a port that goes away for `away` at each hard reset of the module (native USB).
pub fn run_reenumerating<M: Machine, D: Device>(
    machine: &mut M,
    link: &mut SimLink<D>,
    start: Duration,
    limit: Duration,
    away: Duration,
) -> Run {
    let mut port = SimPort::new(link, start, limit).reenumerating(away);
    let (events, result) = turn_to_end(machine, &mut port, |_, _| {});
    Run {
        events,
        result,
        elapsed: port.now - start,
        steps: Vec::new(),
    }
}

/// Drive `machine` over `link` until it finishes or `limit` of virtual time passes. `hook` is
/// called before every wait of the pump (to cancel, cut power, and so on).
pub fn run<M: Machine, D: Device>(
    machine: &mut M,
    link: &mut SimLink<D>,
    start: Duration,
    limit: Duration,
    hook: Option<Hook<'_, M, D>>,
) -> Run {
    let mut hook = hook;
    let mut port = SimPort::new(link, start, limit);
    let (timed, result) = timed_turn_to_end(machine, &mut port, |m, p| {
        if let Some(h) = hook.as_mut() {
            h(p.now, m, p.link);
        }
    });
    let now = port.now;
    let steps = timed
        .iter()
        .filter_map(|(t, e)| match e {
            SessionEvent::Step(s) => Some((*t - start, *s)),
            _ => None,
        })
        .collect();
    let events = timed.into_iter().map(|(_, e)| e).collect();
    // Let the last bytes reach the module.
    if let Some(t) = link.next_event() {
        link.advance(t.max(now) + Duration::from_millis(50));
    }
    Run {
        events,
        result,
        elapsed: now - start,
        steps,
    }
}
