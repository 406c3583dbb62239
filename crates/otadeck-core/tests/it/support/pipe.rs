//! A session pumped on real time over a byte pipe (a child process's stdin and stdout): the loop
//! the CLI runs over a serial port, for tests against real peers.

use std::io::Write;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use otadeck_core::session::{Machine, SessionEvent};
use otadeck_sim::harness::Run;

/// Drive `machine` until it finishes: write what it sends to `to_peer`, feed it what arrives on
/// `from_peer`, and the time since the start. Panics after `limit`.
pub fn pump<M: Machine>(
    machine: &mut M,
    start: Instant,
    to_peer: &mut impl Write,
    from_peer: &Receiver<Vec<u8>>,
    limit: Duration,
) -> Run {
    let mut events = Vec::new();
    let mut result = None;
    loop {
        while let Some(tx) = machine.poll_transmit() {
            if to_peer
                .write_all(&tx)
                .and_then(|_| to_peer.flush())
                .is_err()
            {
                machine.link_lost(start.elapsed());
            }
        }
        while let Some(ev) = machine.poll_event() {
            if let SessionEvent::Finished(r) = &ev {
                result = Some(r.clone());
            }
            events.push(ev);
        }
        let now = start.elapsed();
        if machine.is_finished() {
            return Run {
                events,
                result,
                elapsed: now,
            };
        }
        assert!(now < limit, "the session did not finish in {limit:?}");
        let wait = machine
            .poll_timeout()
            .map_or(Duration::from_millis(50), |t| t.saturating_sub(now))
            .min(Duration::from_millis(50));
        match from_peer.recv_timeout(wait) {
            Ok(bytes) => machine.handle_input(start.elapsed(), &bytes),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => machine.link_lost(start.elapsed()),
        }
        let now = start.elapsed();
        if machine.poll_timeout().is_some_and(|t| t <= now) {
            machine.handle_timeout(now);
        }
    }
}
