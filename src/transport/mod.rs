//! Byte transports to a module: Web Serial, and the in-page demo module. Both deliver received
//! bytes through a channel that a reader task fills, so that waiting for bytes can be raced
//! against a timer and abandoned without losing data.

pub mod demo;
pub mod web_serial;

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};
use otadeck_core::session::SignalStep;

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
}

impl Connection {
    /// Send bytes, waiting for the transport to take them (backpressure).
    pub async fn write(&self, data: &[u8]) -> Result<(), TransportError> {
        match self {
            Connection::Demo(d) => d.write(data),
            Connection::Serial(s) => s.write(data).await,
        }
    }

    /// Set the modem lines (DTR, RTS) as `step` says; `None` leaves a line as it is. The
    /// demo module has no modem lines: it already waits in whatever loader it simulates.
    pub async fn set_signals(&self, step: SignalStep) -> Result<(), TransportError> {
        match self {
            Connection::Demo(_) => Ok(()),
            Connection::Serial(s) => s.set_signals(step).await,
        }
    }

    /// Switch the line to `baud` (the module agreed to it).
    pub fn set_baud(&self, baud: u32) -> Result<(), TransportError> {
        match self {
            Connection::Demo(d) => {
                d.set_baud(baud);
                Ok(())
            }
            Connection::Serial(_) => Err(TransportError(format!(
                "this browser port cannot change to {baud} baud while open"
            ))),
        }
    }

    /// Where received bytes arrive.
    pub fn inbox(&self) -> Inbox {
        match self {
            Connection::Demo(d) => d.inbox(),
            Connection::Serial(s) => s.inbox(),
        }
    }

    /// Close the link.
    pub async fn close(&self) {
        match self {
            Connection::Demo(d) => d.close(),
            Connection::Serial(s) => s.close().await,
        }
    }

    /// The link in a few words, for the header.
    pub fn describe(&self) -> String {
        match self {
            Connection::Demo(d) => d.describe(),
            Connection::Serial(s) => s.describe(),
        }
    }
}
