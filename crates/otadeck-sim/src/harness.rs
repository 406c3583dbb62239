//! Runs a host-side [`Machine`] against a simulated link on a virtual clock: the same loop the
//! browser and the CLI run on real time, only instant. Used by tests and benchmarks.

use std::time::Duration;

use otadeck_core::session::{FlashError, FlashOutcome, Machine, SessionEvent};

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
}

/// Something to do at a given virtual time during a run.
pub type Hook<'a, M, D> = &'a mut dyn FnMut(Duration, &mut M, &mut SimLink<D>);

/// Drive `machine` over `link` until it finishes or `limit` of virtual time passes. `hook` is
/// called on every turn of the loop (to cancel, cut power, and so on).
pub fn run<M: Machine, D: Device>(
    machine: &mut M,
    link: &mut SimLink<D>,
    start: Duration,
    limit: Duration,
    hook: Option<Hook<'_, M, D>>,
) -> Run {
    let mut hook = hook;
    let mut now = start;
    let mut events = Vec::new();
    let mut result = None;
    let mut link_reported = false;
    loop {
        if let Some(h) = hook.as_mut() {
            h(now, machine, link);
        }
        while let Some(tx) = machine.poll_transmit() {
            link.host_write(now, &tx);
        }
        while let Some(ev) = machine.poll_event() {
            if let SessionEvent::Finished(r) = &ev {
                result = Some(r.clone());
            }
            events.push(ev);
        }
        if machine.is_finished() || now >= start + limit {
            // Let the last bytes reach the module.
            if let Some(t) = link.next_event() {
                link.advance(t.max(now) + Duration::from_millis(50));
            }
            break;
        }
        if link.is_dead() && !link_reported {
            link_reported = true;
            machine.link_lost(now);
            continue;
        }
        let next = [machine.poll_timeout(), link.next_event()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(start + limit)
            .max(now);
        now = next.min(start + limit);
        let rx = link.host_read(now);
        if !rx.is_empty() {
            machine.handle_input(now, &rx);
        }
        if machine.poll_timeout().is_some_and(|t| t <= now) {
            machine.handle_timeout(now);
        }
    }
    Run {
        events,
        result,
        elapsed: now - start,
    }
}
