//! Transports to a module: Web Serial, a WebSocket bridge and the demo module (bytes, delivered
//! through a channel that a reader task fills, so that waiting for bytes can be raced against a
//! timer and abandoned without losing data), and WebUSB and the demo DFU device (control
//! transfers, and finding the device again after it re-enumerates).

pub mod demo;
pub mod web_serial;
pub mod web_socket;
pub mod web_usb;

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};
use std::time::Duration;

use otadeck_core::session::{ControlTransfer, SignalStep, TransferError, UsbAlt};

/// Why a transport stopped working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError(pub String);

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TransportError {
    /// From a JavaScript exception or rejection.
    pub fn from_js(context: &str, value: wasm_bindgen::JsValue) -> Self {
        let text = value
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| value.as_string())
            .unwrap_or_else(|| format!("{value:?}"));
        TransportError(format!("{context}: {text}"))
    }
}

use wasm_bindgen::JsCast as _;

/// What the reader task delivers: bytes, or the end of the link.
pub type Chunk = Result<Vec<u8>, TransportError>;

/// The receiving end of a transport, lent to one session at a time.
#[derive(Clone)]
pub struct Inbox(Rc<RefCell<Option<UnboundedReceiver<Chunk>>>>);

impl Inbox {
    /// A channel: the sender for the reader task, the inbox for sessions.
    pub fn channel() -> (UnboundedSender<Chunk>, Inbox) {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        (tx, Inbox(Rc::new(RefCell::new(Some(rx)))))
    }

    /// Borrow the receiver for a session.
    pub fn take(&self) -> Option<UnboundedReceiver<Chunk>> {
        self.0.borrow_mut().take()
    }

    /// Give the receiver back.
    pub fn put_back(&self, rx: UnboundedReceiver<Chunk>) {
        *self.0.borrow_mut() = Some(rx);
    }
}

/// A link to a module.
#[derive(Clone)]
pub enum Connection {
    /// The simulated module running in this page.
    Demo(demo::DemoTransport),
    /// A Web Serial port.
    Serial(web_serial::WebSerialTransport),
    /// A serial port behind a WebSocket bridge (`otadeck bridge`).
    Ws(web_socket::WsTransport),
    /// A WebUSB device (USB DFU).
    Usb(web_usb::WebUsbTransport),
    /// The simulated DFU device running in this page.
    DemoUsb(demo::usb::DemoUsbTransport),
}

/// What a USB link says to a serial request.
fn not_serial() -> TransportError {
    TransportError("a USB DFU device has no serial line".into())
}

impl Connection {
    /// Send bytes, waiting for the transport to take them (backpressure).
    pub async fn write(&self, data: &[u8]) -> Result<(), TransportError> {
        match self {
            Connection::Demo(d) => d.write(data),
            Connection::Serial(s) => s.write(data).await,
            Connection::Ws(w) => w.write(data).await,
            Connection::Usb(_) | Connection::DemoUsb(_) => Err(not_serial()),
        }
    }

    /// Set the modem lines (DTR, RTS) as `step` says; `None` leaves a line as it is. The
    /// demo module has no modem lines: it already waits in whatever loader it simulates.
    pub async fn set_signals(&self, step: SignalStep) -> Result<(), TransportError> {
        match self {
            Connection::Demo(_) => Ok(()),
            Connection::Serial(s) => s.set_signals(step).await,
            Connection::Ws(w) => w.set_signals(step),
            Connection::Usb(_) | Connection::DemoUsb(_) => Err(not_serial()),
        }
    }

    /// Switch the line to `baud` (the module agreed to it). A Web Serial port is closed and
    /// opened again at the new rate.
    pub async fn set_baud(&self, baud: u32) -> Result<(), TransportError> {
        match self {
            Connection::Demo(d) => {
                d.set_baud(baud);
                Ok(())
            }
            Connection::Serial(s) => s.set_baud(baud).await,
            Connection::Ws(w) => w.set_baud(baud),
            Connection::Usb(_) | Connection::DemoUsb(_) => Err(not_serial()),
        }
    }

    /// The link is gone: a port found again after the module's restart opens at `baud`.
    pub fn reopen_at(&self, baud: u32) {
        if let Connection::Serial(s) = self {
            s.reopen_at(baud);
        }
    }

    /// The serial line's rate now (`None` for USB).
    pub fn baud(&self) -> Option<u32> {
        match self {
            Connection::Demo(d) => Some(d.baud()),
            Connection::Serial(s) => Some(s.baud()),
            Connection::Ws(w) => Some(w.baud()),
            Connection::Usb(_) | Connection::DemoUsb(_) => None,
        }
    }

    /// Make a USB control transfer; serial links have no control pipe.
    pub async fn control(&self, t: &ControlTransfer) -> Result<Vec<u8>, TransferError> {
        match self {
            Connection::Usb(u) => u.control(t).await,
            Connection::DemoUsb(u) => u.control(t).await,
            Connection::Demo(_) | Connection::Serial(_) | Connection::Ws(_) => {
                Err(TransferError::Unsupported)
            }
        }
    }

    /// The module restarts: reset the USB device when asked, and find it again before
    /// `until`; `None` when it is not back (the demo and a bridge's port do not re-enumerate).
    pub async fn reconnect(&self, reset: bool, until: Duration) -> Option<Vec<UsbAlt>> {
        match self {
            Connection::Usb(u) => u.reconnect(reset, until).await,
            Connection::DemoUsb(u) => u.reconnect(reset, until).await,
            Connection::Serial(s) => s.reconnect(until).await.then(Vec::new),
            Connection::Demo(_) | Connection::Ws(_) => {
                let _ = reset;
                None
            }
        }
    }

    /// A USB device's interfaces (empty for a serial link).
    pub fn usb_interfaces(&self) -> Vec<UsbAlt> {
        match self {
            Connection::Usb(u) => u.interfaces(),
            Connection::DemoUsb(u) => u.interfaces(),
            Connection::Demo(_) | Connection::Serial(_) | Connection::Ws(_) => Vec::new(),
        }
    }

    /// Where received bytes arrive.
    pub fn inbox(&self) -> Inbox {
        match self {
            Connection::Demo(d) => d.inbox(),
            Connection::Serial(s) => s.inbox(),
            Connection::Ws(w) => w.inbox(),
            Connection::Usb(u) => u.inbox(),
            Connection::DemoUsb(u) => u.inbox(),
        }
    }

    /// Close the link.
    pub async fn close(&self) {
        match self {
            Connection::Demo(d) => d.close(),
            Connection::Serial(s) => s.close().await,
            Connection::Ws(w) => w.close(),
            Connection::Usb(u) => u.close().await,
            Connection::DemoUsb(_) => {}
        }
    }

    /// The link in a few words, for the header.
    pub fn describe(&self) -> String {
        match self {
            Connection::Demo(d) => d.describe(),
            Connection::Serial(s) => s.describe(),
            Connection::Ws(w) => w.describe(),
            Connection::Usb(u) => u.describe(),
            Connection::DemoUsb(u) => u.describe(),
        }
    }
}
