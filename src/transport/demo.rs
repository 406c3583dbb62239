//! The demo module: a simulated module of the chosen family running in the page, behind a simulated serial
//! line at a chosen baud rate, reached through the same [`Connection`](super::Connection) as a
//! real port so that a demo flash runs the real code path. Faults can be armed to see how
//! otadeck reports them.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use otadeck_core::family::Family;
use otadeck_sim::demo::{DemoFamily, DemoModule};
use otadeck_sim::line::{LineFault, SimLink};

use super::{Chunk, Inbox, TransportError};
use crate::clock::now;

/// The simulated line with the module at its far end.
pub type DemoLink = SimLink<DemoModule>;

/// Bytes on the wire after arming a fault before it strikes: about a third of a sample flash.
pub const FAULT_AFTER_BYTES: u64 = 40_000;

/// A fault to arm on the demo line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// A link to the in-page demo module.
#[derive(Clone)]
pub struct DemoTransport {
    link: Rc<RefCell<DemoLink>>,
    inbox: Inbox,
    open: Rc<Cell<bool>>,
}

impl DemoTransport {
    /// Power on a new demo module of `family` on a line of `baud`.
    pub fn open(family: Family, baud: u32) -> Self {
        Self::open_module(DemoModule::new(family).with_console_baud(baud), baud)
    }

    /// Power on `module` (a member of the demo fleet) on a line of `baud`.
    pub fn open_module(module: DemoModule, baud: u32) -> Self {
        let link = SimLink::new(module, baud);
        Self::start(Rc::new(RefCell::new(link)), baud)
    }

    /// The family of the module at the far end.
    pub fn family(&self) -> Family {
        self.link.borrow().device.family()
    }

    /// The simulated line's rate now.
    pub fn baud(&self) -> u32 {
        self.link.borrow().baud()
    }

    /// Switch the simulated line to `baud` (both ends change together).
    pub fn set_baud(&self, baud: u32) {
        self.link.borrow_mut().set_baud(baud);
    }

    /// Plug the same module back in (it is USB powered, so it restarts), at `baud`.
    pub fn replug(previous: &DemoTransport, baud: u32) -> Self {
        previous.close();
        {
            let mut l = previous.link.borrow_mut();
            let t = now();
            l.replug(t);
            l.set_baud(baud);
            l.device.power_cycle(t);
        }
        Self::start(previous.link.clone(), baud)
    }

    fn start(link: Rc<RefCell<DemoLink>>, baud: u32) -> Self {
        link.borrow_mut().set_baud(baud);
        let (tx, inbox) = Inbox::channel();
        let t = DemoTransport {
            link,
            inbox,
            open: Rc::new(Cell::new(true)),
        };
        wasm_bindgen_futures::spawn_local(run_line(t.link.clone(), t.open.clone(), tx));
        t
    }

    /// The simulated line, for tests.
    pub fn link(&self) -> Rc<RefCell<DemoLink>> {
        self.link.clone()
    }

    /// Arm `fault` to strike [`FAULT_AFTER_BYTES`] from now.
    pub fn arm(&self, fault: DemoFault) {
        let mut l = self.link.borrow_mut();
        let at = l.delivered() + FAULT_AFTER_BYTES;
        l.inject(match fault {
            DemoFault::CablePulled => LineFault::DropAfter(at),
            DemoFault::Stall => LineFault::StallAfter(at),
            DemoFault::Corrupt => LineFault::Corrupt {
                index: at,
                xor: 0x01,
            },
        });
    }

    /// Queue bytes on the simulated line.
    pub fn write(&self, data: &[u8]) -> Result<(), TransportError> {
        if !self.open.get() || self.link.borrow().is_dead() {
            return Err(TransportError("the demo module is disconnected".into()));
        }
        self.link.borrow_mut().host_write(now(), data);
        Ok(())
    }

    /// Where the module's bytes arrive.
    pub fn inbox(&self) -> Inbox {
        self.inbox.clone()
    }

    /// Disconnect.
    pub fn close(&self) {
        self.open.set(false);
    }

    /// For the header.
    pub fn describe(&self) -> String {
        format!("Demo {} · {} baud", self.family().demo_label(), self.baud())
    }
}

/// Move the simulated line forward in real time and hand what reaches the host to the inbox.
async fn run_line(link: Rc<RefCell<DemoLink>>, open: Rc<Cell<bool>>, tx: UnboundedSender<Chunk>) {
    while open.get() {
        let t = now();
        let (bytes, dead, next) = {
            let mut l = link.borrow_mut();
            let bytes = l.host_read(t);
            (bytes, l.is_dead(), l.next_event())
        };
        if !bytes.is_empty() && tx.unbounded_send(Ok(bytes)).is_err() {
            return;
        }
        if dead {
            let _ = tx.unbounded_send(Err(TransportError(
                "the demo module's cable was pulled".into(),
            )));
            return;
        }
        let wait = next
            .map(|n| n.saturating_sub(now()))
            .unwrap_or(Duration::from_millis(10))
            .clamp(Duration::from_millis(1), Duration::from_millis(10));
        gloo::timers::future::sleep(wait).await;
    }
    let _ = tx.unbounded_send(Err(TransportError("disconnected".into())));
}
