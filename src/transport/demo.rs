//! The demo module: a simulated QuecPython module running in the page, behind a simulated serial
//! line at a chosen baud rate, reached through the same [`Connection`](super::Connection) as a
//! real port so that a demo flash runs the real code path.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use otadeck_sim::firmware::demo_running_image;
use otadeck_sim::line::SimLink;
use otadeck_sim::mp_repl::{RawPasteSupport, ReplDevice};
use otadeck_sim::quecpython::{device, QuecPython, QuecPythonConfig};

use super::{Chunk, Inbox, TransportError};
use crate::clock::now;

type DemoLink = SimLink<ReplDevice<QuecPython>>;

/// A link to the in-page demo module.
#[derive(Clone)]
pub struct DemoTransport {
    link: Rc<RefCell<DemoLink>>,
    inbox: Inbox,
    open: Rc<Cell<bool>>,
    baud: u32,
}

impl DemoTransport {
    /// Power on a demo module on a line of `baud` and start its line clock.
    pub fn open(baud: u32) -> Self {
        let link = SimLink::new(
            device(
                QuecPythonConfig::default(),
                demo_running_image(),
                RawPasteSupport::Window(128),
            ),
            baud,
        );
        let (tx, inbox) = Inbox::channel();
        let t = DemoTransport {
            link: Rc::new(RefCell::new(link)),
            inbox,
            open: Rc::new(Cell::new(true)),
            baud,
        };
        wasm_bindgen_futures::spawn_local(run_line(t.link.clone(), t.open.clone(), tx));
        t
    }

    /// The simulated line, for tests and fault injection.
    pub fn link(&self) -> Rc<RefCell<DemoLink>> {
        self.link.clone()
    }

    /// Queue bytes on the simulated line.
    pub fn write(&self, data: &[u8]) -> Result<(), TransportError> {
        if !self.open.get() {
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
        format!("Demo module · {} baud", self.baud)
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
