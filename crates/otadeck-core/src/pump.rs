//! The sync pump: drives a [`Machine`] over a blocking [`Port`] in the order the trait's doc
//! gives. The CLI runs it over a serial port, the simulator harness over a simulated line on a
//! virtual clock, the tests over a child process's pipes; the web app's async pump follows the
//! same order.

use std::time::Duration;

use crate::session::{
    ControlTransfer, FlashError, FlashOutcome, LogLevel, Machine, Next, SessionEvent, SignalStep,
    TransferError, UsbAlt,
};

/// A blocking link to a module, with the clock the machine runs on.
pub trait Port {
    /// The time now, on the machine's time base.
    fn now(&mut self) -> Duration;
    /// Write `bytes` to the module.
    fn write(&mut self, bytes: &[u8]) -> Result<(), PortError>;
    /// Change the modem lines as `step` says (its hold is the pump's business).
    fn set_signals(&mut self, step: SignalStep) -> Result<(), PortError>;
    /// Switch the line to `baud`. Also called once the link is gone (the error is then
    /// ignored): the port found again after a restart opens at this rate.
    fn set_baud(&mut self, baud: u32) -> Result<(), PortError>;
    /// Make a USB control transfer. Serial ports keep the default, which refuses.
    fn control(&mut self, transfer: &ControlTransfer) -> Result<Vec<u8>, TransferError> {
        let _ = transfer;
        Err(TransferError::Unsupported)
    }
    /// The module restarts ([`Next::Reconnect`]): reset the USB device first when `reset`, then
    /// find the module again, open it, and return its USB interfaces (empty for a serial
    /// port); `Ok(None)` when it is not back by `until`. Ports that cannot find a module again
    /// keep the default, which reports the link gone.
    fn reconnect(
        &mut self,
        reset: bool,
        until: Duration,
    ) -> Result<Option<Vec<UsbAlt>>, PortError> {
        let _ = (reset, until);
        Err(PortError::Gone(String::new()))
    }
    /// Wait for bytes from the module until `deadline` at the latest (`None`: no deadline) and
    /// append them to `buf`. A port may return sooner with nothing, so that its owner can look
    /// at a cancel flag or a signal between turns.
    fn read(&mut self, deadline: Option<Duration>, buf: &mut Vec<u8>) -> Result<(), PortError>;
}

/// Why a [`Port`] could not do what the pump asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortError {
    /// The link is gone (cable pulled, port closed, peer ended); the text says how.
    Gone(String),
    /// The port's owner ended the run (a time limit, an interrupt): the pump stops where it is.
    Stopped,
}

/// What one [`Pump::turn`] ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// The pump waited for the module or the clock once; call again.
    Waited,
    /// The machine finished, with the result it reported.
    Finished(Option<Result<FlashOutcome, FlashError>>),
    /// The port's owner stopped the run before the machine finished.
    Stopped,
}

/// The state a pump keeps between turns.
#[derive(Debug, Default)]
pub struct Pump {
    /// No timeout is due before this instant: a line change's hold has not passed yet.
    hold_until: Duration,
    /// The link went away; further writes are dropped.
    gone: bool,
    received: Vec<u8>,
    result: Option<Result<FlashOutcome, FlashError>>,
}

impl Pump {
    /// A pump for a new session.
    pub fn new() -> Self {
        Self::default()
    }

    /// Run `machine` over `port` until it finishes or the port stops the run, handing every
    /// event to `on_event`. `None` when the run was stopped.
    pub fn run<M: Machine + ?Sized, P: Port>(
        machine: &mut M,
        port: &mut P,
        mut on_event: impl FnMut(SessionEvent),
    ) -> Option<Result<FlashOutcome, FlashError>> {
        let mut pump = Pump::new();
        loop {
            match pump.turn(machine, port, &mut on_event) {
                Turn::Waited => {}
                Turn::Finished(result) => return result,
                Turn::Stopped => return None,
            }
        }
    }

    /// Do what the machine asks until it has to wait once (for bytes or the clock), or it
    /// finishes. Callers that act between waits (a test cutting the power, a cancel) loop on
    /// this; the others use [`Pump::run`].
    pub fn turn<M: Machine + ?Sized, P: Port>(
        &mut self,
        machine: &mut M,
        port: &mut P,
        on_event: &mut dyn FnMut(SessionEvent),
    ) -> Turn {
        loop {
            self.drain(machine, on_event);
            match machine.poll_next() {
                Next::Transmit(bytes) => {
                    if !self.gone {
                        if let Err(e) = port.write(&bytes) {
                            self.lose(machine, port, e, on_event);
                        }
                    }
                }
                Next::Signals(step) => {
                    if !self.gone {
                        match port.set_signals(step) {
                            Ok(()) => self.hold_until = port.now() + step.hold,
                            Err(e) => self.lose(machine, port, e, on_event),
                        }
                    }
                }
                Next::Baud(baud) => {
                    // Once the link is gone the port still takes the rate, for the port
                    // found again after a restart.
                    let switched = port.set_baud(baud);
                    if let (false, Err(e)) = (self.gone, switched) {
                        self.lose(machine, port, e, on_event);
                    }
                }
                Next::Control(transfer) => {
                    let result = port.control(&transfer);
                    machine.handle_transfer(port.now(), result);
                }
                Next::Reconnect { reset, until } => {
                    self.drain(machine, on_event);
                    match port.reconnect(reset, until) {
                        Ok(Some(interfaces)) => {
                            self.gone = false;
                            machine.handle_reconnected(port.now(), interfaces);
                        }
                        Ok(None) => machine.handle_timeout(port.now()),
                        Err(PortError::Stopped) => return Turn::Stopped,
                        Err(e) => self.lose(machine, port, e, on_event),
                    }
                    return Turn::Waited;
                }
                Next::Wait { until } => {
                    let due = until.map(|t| t.max(self.hold_until));
                    let now = port.now();
                    if due.is_some_and(|t| t <= now) {
                        machine.handle_timeout(now);
                        continue;
                    }
                    return self.wait(machine, port, due, on_event);
                }
                Next::Finished => {
                    self.drain(machine, on_event);
                    return Turn::Finished(self.result.take());
                }
            }
        }
    }

    /// Wait for bytes until `due` and feed what came.
    fn wait<M: Machine + ?Sized, P: Port>(
        &mut self,
        machine: &mut M,
        port: &mut P,
        due: Option<Duration>,
        on_event: &mut dyn FnMut(SessionEvent),
    ) -> Turn {
        match port.read(due, &mut self.received) {
            Ok(()) => {
                if !self.received.is_empty() {
                    machine.handle_input(port.now(), &self.received);
                    self.received.clear();
                }
                Turn::Waited
            }
            Err(PortError::Stopped) => {
                self.drain(machine, on_event);
                Turn::Stopped
            }
            Err(e) => {
                if !self.gone {
                    self.lose(machine, port, e, on_event);
                }
                Turn::Waited
            }
        }
    }

    /// The link failed: say why in the log and tell the machine.
    fn lose<M: Machine + ?Sized, P: Port>(
        &mut self,
        machine: &mut M,
        port: &mut P,
        error: PortError,
        on_event: &mut dyn FnMut(SessionEvent),
    ) {
        self.gone = true;
        if let PortError::Gone(why) = error {
            if !why.is_empty() {
                on_event(SessionEvent::Log {
                    level: LogLevel::Warn,
                    message: why,
                });
            }
        }
        machine.link_lost(port.now());
    }

    fn drain<M: Machine + ?Sized>(
        &mut self,
        machine: &mut M,
        on_event: &mut dyn FnMut(SessionEvent),
    ) {
        while let Some(event) = machine.poll_event() {
            if let SessionEvent::Finished(r) = &event {
                self.result = Some(r.clone());
            }
            on_event(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::session::{FlashErrorKind, FlashOutcome, Step, TransferData};

    /// A machine that asks for a scripted list of things, then waits for one byte, then
    /// finishes; it records what it was told.
    #[derive(Default)]
    struct Scripted {
        script: VecDeque<Next>,
        told: Vec<String>,
        events: VecDeque<SessionEvent>,
        timeout: Option<Duration>,
        finished: bool,
    }

    impl Scripted {
        fn finish(&mut self, result: Result<FlashOutcome, FlashError>) {
            self.finished = true;
            self.events.push_back(SessionEvent::Finished(result));
        }
    }

    impl Machine for Scripted {
        fn handle_input(&mut self, now: Duration, data: &[u8]) {
            self.told
                .push(format!("input {data:?} at {}", now.as_millis()));
            let outcome = FlashOutcome {
                bytes: data.len() as u64,
                restarted: false,
                module: None,
            };
            self.finish(Ok(outcome));
        }
        fn handle_timeout(&mut self, now: Duration) {
            self.told.push(format!("timeout at {}", now.as_millis()));
            self.timeout = None;
        }
        fn poll_transmit(&mut self) -> Option<Vec<u8>> {
            None
        }
        fn poll_timeout(&self) -> Option<Duration> {
            self.timeout
        }
        fn poll_event(&mut self) -> Option<SessionEvent> {
            self.events.pop_front()
        }
        fn cancel(&mut self, _now: Duration) {}
        fn link_lost(&mut self, now: Duration) {
            self.told.push(format!("link lost at {}", now.as_millis()));
            let error = FlashError {
                step: Step::Write,
                offset: None,
                total: None,
                kind: FlashErrorKind::LinkLost,
                module_state: "is unchanged",
            };
            self.finish(Err(error));
        }
        fn is_finished(&self) -> bool {
            self.finished
        }
        fn handle_transfer(&mut self, _now: Duration, result: Result<Vec<u8>, TransferError>) {
            self.told.push(format!("transfer {result:?}"));
        }
        fn poll_next(&mut self) -> Next {
            if let Some(next) = self.script.pop_front() {
                return next;
            }
            if self.finished {
                return Next::Finished;
            }
            Next::Wait {
                until: self.timeout,
            }
        }
    }

    /// A port on a clock that moves only when it is read: each read jumps to the deadline
    /// (or by 10 ms) and then delivers what `incoming` holds for that turn.
    #[derive(Default)]
    struct Fake {
        now: Duration,
        did: Vec<String>,
        incoming: VecDeque<Result<Vec<u8>, PortError>>,
        write_fails: bool,
    }

    impl Port for Fake {
        fn now(&mut self) -> Duration {
            self.now
        }
        fn write(&mut self, bytes: &[u8]) -> Result<(), PortError> {
            self.did.push(format!("write {bytes:?}"));
            if self.write_fails {
                return Err(PortError::Gone("the cable is out".into()));
            }
            Ok(())
        }
        fn set_signals(&mut self, step: SignalStep) -> Result<(), PortError> {
            self.did.push(format!("signals dtr {:?}", step.dtr));
            Ok(())
        }
        fn set_baud(&mut self, baud: u32) -> Result<(), PortError> {
            self.did.push(format!("baud {baud}"));
            Ok(())
        }
        fn read(&mut self, deadline: Option<Duration>, buf: &mut Vec<u8>) -> Result<(), PortError> {
            self.now = deadline.unwrap_or(self.now + Duration::from_millis(10));
            self.did.push(format!("read at {}", self.now.as_millis()));
            match self.incoming.pop_front() {
                Some(Ok(bytes)) => {
                    buf.extend(bytes);
                    Ok(())
                }
                Some(Err(e)) => Err(e),
                None => Ok(()),
            }
        }
    }

    fn hold(ms: u64) -> SignalStep {
        SignalStep {
            dtr: Some(true),
            rts: None,
            hold: Duration::from_millis(ms),
        }
    }

    #[test]
    fn each_instruction_is_done_in_order_and_a_hold_delays_the_timeout() {
        let mut m = Scripted {
            script: VecDeque::from([
                Next::Signals(hold(100)),
                Next::Transmit(vec![1, 2]),
                Next::Baud(921_600),
            ]),
            timeout: Some(Duration::from_millis(20)),
            ..Scripted::default()
        };
        let mut port = Fake {
            incoming: VecDeque::from([Ok(vec![]), Ok(vec![7])]),
            ..Fake::default()
        };
        let mut events = Vec::new();
        let result = Pump::run(&mut m, &mut port, |e| events.push(e));
        assert_eq!(result.unwrap().unwrap().bytes, 1);
        assert_eq!(
            port.did,
            [
                "signals dtr Some(true)",
                "write [1, 2]",
                "baud 921600",
                // The machine wanted the clock at 20 ms; the line change holds until 100 ms.
                "read at 100",
                "read at 110",
            ]
        );
        assert_eq!(m.told, ["timeout at 100", "input [7] at 110"]);
        assert!(matches!(events.last(), Some(SessionEvent::Finished(Ok(_)))));
    }

    #[test]
    fn a_failed_write_is_a_lost_link_said_in_the_log_and_later_writes_are_dropped() {
        let mut m = Scripted {
            script: VecDeque::from([Next::Transmit(vec![1]), Next::Transmit(vec![2])]),
            ..Scripted::default()
        };
        let mut port = Fake {
            write_fails: true,
            ..Fake::default()
        };
        let mut events = Vec::new();
        let result = Pump::run(&mut m, &mut port, |e| events.push(e));
        assert!(matches!(result, Some(Err(e)) if e.kind == FlashErrorKind::LinkLost));
        assert_eq!(port.did, ["write [1]"]);
        assert!(events.iter().any(|e| matches!(
            e,
            SessionEvent::Log { message, .. } if message == "the cable is out"
        )));
    }

    #[test]
    fn a_port_that_goes_away_while_waiting_ends_the_session() {
        let mut m = Scripted::default();
        let mut port = Fake {
            incoming: VecDeque::from([Err(PortError::Gone(String::new()))]),
            ..Fake::default()
        };
        let result = Pump::run(&mut m, &mut port, |_| {});
        assert!(matches!(result, Some(Err(e)) if e.kind == FlashErrorKind::LinkLost));
        assert_eq!(m.told, ["link lost at 10"]);
    }

    #[test]
    fn a_stopped_run_returns_no_result() {
        let mut m = Scripted::default();
        let mut port = Fake {
            incoming: VecDeque::from([Err(PortError::Stopped)]),
            ..Fake::default()
        };
        assert_eq!(Pump::run(&mut m, &mut port, |_| {}), None);
        assert!(!m.finished);
    }

    #[test]
    fn a_serial_port_refuses_usb_control_transfers() {
        let transfer = ControlTransfer {
            kind: crate::session::RequestKind::Class,
            request: 3,
            value: 0,
            index: 0,
            data: TransferData::In(6),
        };
        let mut m = Scripted {
            script: VecDeque::from([Next::Control(transfer)]),
            ..Scripted::default()
        };
        let mut port = Fake {
            incoming: VecDeque::from([Ok(vec![9])]),
            ..Fake::default()
        };
        Pump::run(&mut m, &mut port, |_| {});
        assert_eq!(m.told[0], "transfer Err(Unsupported)");
    }
}
