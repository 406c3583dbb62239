//! The sync pump: drives a [`Machine`] over a blocking [`Port`] in the order the trait's doc
//! gives. The CLI runs it over a serial port, the simulator harness over a simulated line on a
//! virtual clock, the tests over a child process's pipes; the web app's async pump follows the
//! same order.

use std::time::Duration;

use crate::session::{
    ControlTransfer, FlashError, FlashOutcome, LogLevel, Machine, Next, SessionEvent, SignalStep,
    TransferError,
};

/// A blocking link to a module, with the clock the machine runs on.
pub trait Port {
    /// The time now, on the machine's time base.
    fn now(&mut self) -> Duration;
    /// Write `bytes` to the module.
    fn write(&mut self, bytes: &[u8]) -> Result<(), PortError>;
    /// Change the modem lines as `step` says (its hold is the pump's business).
    fn set_signals(&mut self, step: SignalStep) -> Result<(), PortError>;
    /// Switch the line to `baud`.
    fn set_baud(&mut self, baud: u32) -> Result<(), PortError>;
    /// Make a USB control transfer. Serial ports keep the default, which refuses.
    fn control(&mut self, transfer: &ControlTransfer) -> Result<Vec<u8>, TransferError> {
        let _ = transfer;
        Err(TransferError::Unsupported)
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
                    if !self.gone {
                        if let Err(e) = port.set_baud(baud) {
                            self.lose(machine, port, e, on_event);
                        }
                    }
                }
                Next::Control(transfer) => {
                    let result = port.control(&transfer);
                    machine.handle_transfer(port.now(), result);
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
