//! A session pumped on real time over a byte pipe (a child process's stdin and stdout), through
//! the core's sync pump: what the CLI does over a serial port, for tests against real peers.

use std::io::Write;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use otadeck_core::pump::{Port, PortError, Pump};
use otadeck_core::session::{Machine, SignalStep};
use otadeck_sim::harness::Run;

/// The longest one read waits.
const SLICE: Duration = Duration::from_millis(50);

struct PipePort<'a, W> {
    start: Instant,
    to_peer: &'a mut W,
    from_peer: &'a Receiver<Vec<u8>>,
    limit: Duration,
}

impl<W: Write> Port for PipePort<'_, W> {
    fn now(&mut self) -> Duration {
        self.start.elapsed()
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), PortError> {
        self.to_peer
            .write_all(bytes)
            .and_then(|_| self.to_peer.flush())
            .map_err(|e| PortError::Gone(e.to_string()))
    }

    fn set_signals(&mut self, _step: SignalStep) -> Result<(), PortError> {
        Ok(())
    }

    fn set_baud(&mut self, _baud: u32) -> Result<(), PortError> {
        Ok(())
    }

    fn read(&mut self, deadline: Option<Duration>, buf: &mut Vec<u8>) -> Result<(), PortError> {
        let now = self.start.elapsed();
        assert!(
            now < self.limit,
            "the session did not finish in {:?}",
            self.limit
        );
        let wait = deadline.map_or(SLICE, |t| t.saturating_sub(now)).min(SLICE);
        match self.from_peer.recv_timeout(wait) {
            Ok(bytes) => {
                buf.extend(bytes);
                Ok(())
            }
            Err(RecvTimeoutError::Timeout) => Ok(()),
            Err(RecvTimeoutError::Disconnected) => Err(PortError::Gone("the peer ended".into())),
        }
    }
}

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
    let mut port = PipePort {
        start,
        to_peer,
        from_peer,
        limit,
    };
    let result = Pump::run(machine, &mut port, |e| events.push(e));
    Run {
        events,
        result,
        elapsed: start.elapsed(),
    }
}
