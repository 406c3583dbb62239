//! A session pumped on real time over a byte pipe (a child process's stdin and stdout), through
//! the core's sync pump: what the CLI does over a serial port, for tests against real peers.

use std::io::Write;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use otadeck_core::pump::{Port, PortError, Pump};

use super::hard_reset_at;
use otadeck_core::session::{Machine, SignalStep};
use otadeck_sim::harness::Run;

/// The longest one read waits.
const SLICE: Duration = Duration::from_millis(50);

struct PipePort<'a, W> {
    start: Instant,
    to_peer: &'a mut W,
    from_peer: &'a Receiver<Vec<u8>>,
    limit: Duration,
    /// The peer plays a module on native USB: at a hard reset its port goes away this long.
    reenumerate: Option<Duration>,
    /// The port went away at this instant; what the peer prints until it is back is lost.
    away_since: Option<Instant>,
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

    fn reconnect(
        &mut self,
        _reset: bool,
        _until: Duration,
    ) -> Result<Option<Vec<otadeck_core::session::UsbAlt>>, PortError> {
        let (Some(since), Some(away)) = (self.away_since.take(), self.reenumerate) else {
            return Err(PortError::Gone("this pipe cannot come back".into()));
        };
        while since.elapsed() < away {
            let _ = self.from_peer.recv_timeout(SLICE);
        }
        while self.from_peer.try_recv().is_ok() {}
        Ok(Some(Vec::new()))
    }

    fn read(&mut self, deadline: Option<Duration>, buf: &mut Vec<u8>) -> Result<(), PortError> {
        if self.away_since.is_some() {
            return Err(PortError::Gone("the port went away".into()));
        }
        let now = self.start.elapsed();
        assert!(
            now < self.limit,
            "the session did not finish in {:?}",
            self.limit
        );
        let wait = deadline.map_or(SLICE, |t| t.saturating_sub(now)).min(SLICE);
        match self.from_peer.recv_timeout(wait) {
            Ok(bytes) => {
                let reset_at = self.reenumerate.and_then(|_| hard_reset_at(&bytes));
                match reset_at {
                    Some(at) => {
                        buf.extend(&bytes[..at]);
                        self.away_since = Some(Instant::now());
                    }
                    None => buf.extend(bytes),
                }
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
    pump_port(machine, start, to_peer, from_peer, limit, None)
}

/// [`pump`], with the peer on native USB: at its hard reset (the ESP32 boot ROM's `rst:0x`) the
/// port goes away for `away`, what the peer prints meanwhile is lost, and the session must find
/// it again.
pub fn pump_reenumerating<M: Machine>(
    machine: &mut M,
    start: Instant,
    to_peer: &mut impl Write,
    from_peer: &Receiver<Vec<u8>>,
    limit: Duration,
    away: Duration,
) -> Run {
    pump_port(machine, start, to_peer, from_peer, limit, Some(away))
}

fn pump_port<M: Machine>(
    machine: &mut M,
    start: Instant,
    to_peer: &mut impl Write,
    from_peer: &Receiver<Vec<u8>>,
    limit: Duration,
    reenumerate: Option<Duration>,
) -> Run {
    let mut port = PipePort {
        start,
        to_peer,
        from_peer,
        limit,
        reenumerate,
        away_since: None,
    };
    let mut events = Vec::new();
    let result = Pump::run(machine, &mut port, |e| events.push(e));
    Run {
        events,
        result,
        elapsed: start.elapsed(),
        steps: Vec::new(),
    }
}
