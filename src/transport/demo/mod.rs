//! The demo module: a simulated module of the chosen family behind a simulated serial line at a
//! chosen baud rate, reached through the same [`Connection`](super::Connection) as a real port
//! so that a demo flash runs the real code path. Faults can be armed to see how otadeck reports
//! them.
//!
//! The module and its line run in a [`host`]: in the app, a dedicated worker with a wasm module
//! of its own, fetched the first time the demo is chosen (the simulators are not part of the
//! app's first load and never take the page's thread); in the browser tests, the page itself
//! ([`run_in_this_page`]).

pub mod host;
mod in_page;
pub mod usb;
pub mod wire;
mod worker;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use futures::channel::mpsc::UnboundedSender;
use futures::channel::oneshot;
use otadeck_core::family::Family;
use serde::{Deserialize, Serialize};

use super::{Chunk, Inbox, TransportError};
use wire::{DemoCommand, DemoSpec, HostOutput, UsbAnswer, UsbRequest};

/// Bytes on the wire after arming a fault before it strikes: about a third of a sample flash.
pub const FAULT_AFTER_BYTES: u64 = 40_000;

/// A fault to arm on the demo line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DemoFault {
    /// The USB cable is pulled.
    CablePulled,
    /// The module hangs and stops answering.
    Stall,
    /// One byte is corrupted on the wire.
    Corrupt,
}

impl DemoFault {
    /// The fault in words.
    pub fn describe(self) -> &'static str {
        match self {
            DemoFault::CablePulled => "the cable will be pulled",
            DemoFault::Stall => "the module will stop answering",
            DemoFault::Corrupt => "one byte will be corrupted",
        }
    }
}

/// The way to a host: commands and the page's writes go through it.
trait HostPort {
    /// Send a command.
    fn send(&self, command: &DemoCommand);
    /// Put the page's bytes on the line.
    fn write(&self, data: &[u8]);
}

/// Opens a port to a host that hands its output to the line.
type PortMaker = fn(std::rc::Weak<Line>) -> Box<dyn HostPort>;

thread_local! {
    /// Set by [`run_in_this_page`]; otherwise the host is a worker.
    static IN_PAGE: Cell<Option<PortMaker>> = const { Cell::new(None) };
}

/// Run demo modules in this page instead of a worker (the browser tests, which have no worker
/// script to load).
pub fn run_in_this_page() {
    IN_PAGE.with(|p| p.set(Some(in_page::open as PortMaker)));
}

/// The page's end of one demo module's line, shared by the transports that plugged it in.
struct Line {
    port: RefCell<Option<Box<dyn HostPort>>>,
    family: Family,
    baud: Cell<u32>,
    /// The plug-in whose output is wanted; older output is dropped.
    epoch: Cell<u32>,
    receiver: RefCell<Option<UnboundedSender<Chunk>>>,
    /// Why the host cannot run, once it cannot.
    broken: RefCell<Option<String>>,
    /// The demo STM32's requests waiting for their answer, by id.
    usb_waiting: RefCell<HashMap<u32, oneshot::Sender<UsbAnswer>>>,
    last_usb_id: Cell<u32>,
}

impl Line {
    /// A line to a new host powering `spec` on (the host loads in the background), with its
    /// first plug-in begun: its epoch and inbox.
    fn open(spec: &DemoSpec) -> (Rc<Line>, u32, Inbox) {
        let line = Rc::new(Line {
            port: RefCell::new(None),
            family: spec.family(),
            baud: Cell::new(0),
            epoch: Cell::new(0),
            receiver: RefCell::new(None),
            broken: RefCell::new(None),
            usb_waiting: RefCell::new(HashMap::new()),
            last_usb_id: Cell::new(0),
        });
        let (epoch, inbox) = DemoTransport::begin(&line);
        let maker = IN_PAGE.with(Cell::get).unwrap_or(worker::open);
        *line.port.borrow_mut() = Some(maker(Rc::downgrade(&line)));
        (line, epoch, inbox)
    }

    /// Ask the demo STM32; `None` when the host is gone.
    async fn usb(&self, request: UsbRequest) -> Option<UsbAnswer> {
        let (tx, rx) = oneshot::channel();
        if self.broken.borrow().is_none() {
            let id = self.last_usb_id.get().wrapping_add(1);
            self.last_usb_id.set(id);
            self.usb_waiting.borrow_mut().insert(id, tx);
            self.send(&DemoCommand::Usb { id, request });
        }
        rx.await.ok()
    }

    fn send(&self, command: &DemoCommand) {
        if let Some(port) = &*self.port.borrow() {
            port.send(command);
        }
    }

    /// What the host handed back: to the current transport's inbox.
    fn deliver(&self, epoch: u32, output: HostOutput) {
        if let HostOutput::Usb(answer) = output {
            let waiting = self.usb_waiting.borrow_mut().remove(&answer.id);
            if let Some(tx) = waiting {
                let _ = tx.send(answer);
            }
            return;
        }
        if epoch != self.epoch.get() {
            return;
        }
        let mut receiver = self.receiver.borrow_mut();
        let Some(tx) = receiver.as_ref() else {
            return;
        };
        match output {
            HostOutput::Bytes(bytes) => {
                let _ = tx.unbounded_send(Ok(bytes));
            }
            HostOutput::CablePulled => {
                let _ = tx.unbounded_send(Err(TransportError(
                    "the demo module's cable was pulled".into(),
                )));
                receiver.take();
            }
            HostOutput::Usb(_) => {}
        }
    }

    /// The end of the current plug-in: its inbox says why.
    fn fail(&self, why: String) {
        if let Some(tx) = self.receiver.borrow_mut().take() {
            let _ = tx.unbounded_send(Err(TransportError(why)));
        }
    }

    /// The host cannot run (any more): this plug-in and every later one fail with `why`.
    fn break_down(&self, why: String) {
        self.fail(why.clone());
        *self.broken.borrow_mut() = Some(why);
        // Their answers never come.
        self.usb_waiting.borrow_mut().clear();
    }
}

/// A link to a demo module.
#[derive(Clone)]
pub struct DemoTransport {
    line: Rc<Line>,
    epoch: u32,
    inbox: Inbox,
}

impl DemoTransport {
    /// Power on a new demo module of `family` on a line of `baud`.
    pub fn open(family: Family, baud: u32) -> Self {
        Self::open_module(
            DemoSpec::Family {
                family,
                console_baud: baud,
            },
            baud,
        )
    }

    /// Power on the module `spec` names (a member of the demo fleet, say) on a line of `baud`.
    pub fn open_module(spec: DemoSpec, baud: u32) -> Self {
        let (line, epoch, inbox) = Line::open(&spec);
        line.baud.set(baud);
        line.send(&DemoCommand::Open {
            module: spec,
            baud,
            epoch,
        });
        DemoTransport { line, epoch, inbox }
    }

    /// Plug the same module back in (it is USB powered, so it restarts), at `baud`.
    pub fn replug(previous: &DemoTransport, baud: u32) -> Self {
        previous.close();
        previous.line.baud.set(baud);
        Self::plug(previous.line.clone(), |epoch| DemoCommand::Replug {
            baud,
            epoch,
        })
    }

    fn plug(line: Rc<Line>, command: impl FnOnce(u32) -> DemoCommand) -> Self {
        let (epoch, inbox) = Self::begin(&line);
        let broken = line.broken.borrow().clone();
        match broken {
            Some(why) => line.fail(why),
            None => line.send(&command(epoch)),
        }
        DemoTransport { line, epoch, inbox }
    }

    /// True when the module's host stopped for good (a new module must be plugged in).
    pub fn broken(&self) -> bool {
        self.line.broken.borrow().is_some()
    }

    /// A new plug-in of `line`: its epoch, and the inbox its output goes to from now on.
    fn begin(line: &Line) -> (u32, Inbox) {
        let epoch = line.epoch.get() + 1;
        line.epoch.set(epoch);
        let (tx, inbox) = Inbox::channel();
        *line.receiver.borrow_mut() = Some(tx);
        (epoch, inbox)
    }

    fn current(&self) -> bool {
        self.line.epoch.get() == self.epoch && self.line.receiver.borrow().is_some()
    }

    /// The family of the module at the far end.
    pub fn family(&self) -> Family {
        self.line.family
    }

    /// The simulated line's rate now.
    pub fn baud(&self) -> u32 {
        self.line.baud.get()
    }

    /// Switch the simulated line to `baud` (both ends change together).
    pub fn set_baud(&self, baud: u32) {
        self.line.baud.set(baud);
        self.line.send(&DemoCommand::SetBaud(baud));
    }

    /// Arm `fault` to strike [`FAULT_AFTER_BYTES`] from now.
    pub fn arm(&self, fault: DemoFault) {
        self.line.send(&DemoCommand::Arm(fault));
    }

    /// Queue bytes on the simulated line.
    pub fn write(&self, data: &[u8]) -> Result<(), TransportError> {
        if !self.current() {
            return Err(TransportError("the demo module is disconnected".into()));
        }
        if let Some(port) = &*self.line.port.borrow() {
            port.write(data);
        }
        Ok(())
    }

    /// Where the module's bytes arrive.
    pub fn inbox(&self) -> Inbox {
        self.inbox.clone()
    }

    /// Disconnect.
    pub fn close(&self) {
        if self.line.epoch.get() != self.epoch {
            return;
        }
        self.line.fail("disconnected".into());
        self.line.send(&DemoCommand::Close);
    }

    /// For the header.
    pub fn describe(&self) -> String {
        use otadeck_sim::demo::DemoFamily as _;
        format!("Demo {} · {} baud", self.family().demo_label(), self.baud())
    }
}
