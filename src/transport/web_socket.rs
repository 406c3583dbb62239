//! A serial port on another machine, through `otadeck bridge` (or a simulated module through
//! `otadeck sim … --ws`) over WebSocket: binary messages carry the bytes, text messages the
//! bridge's control messages (baud rate, DTR/RTS with their hold, hello, errors).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use futures::channel::oneshot;
use js_sys::{ArrayBuffer, Uint8Array};
use otadeck_core::link::ws_bridge::Control;
use otadeck_core::session::SignalStep;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use super::{Inbox, TransportError};

/// Bytes the browser may hold unsent before a write waits (backpressure on a slow network).
const SEND_BUFFER: u32 = 64 * 1024;
/// How long to wait for the bridge to answer the connection.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// The handlers the socket calls, kept alive as long as the transport.
struct Handlers {
    _message: Closure<dyn FnMut(MessageEvent)>,
    _close: Closure<dyn FnMut(CloseEvent)>,
}

/// An open connection to a bridge.
#[derive(Clone)]
pub struct WsTransport {
    socket: WebSocket,
    inbox: Inbox,
    url: String,
    /// The port the bridge serves, from its hello.
    port: Rc<RefCell<String>>,
    baud: Rc<Cell<u32>>,
    _handlers: Rc<Handlers>,
}

/// The address as typed, made a WebSocket URL (`host:port` becomes `ws://host:port`).
pub fn bridge_url(typed: &str) -> Result<String, TransportError> {
    let t = typed.trim();
    let url = if t.contains("://") {
        t.to_string()
    } else {
        format!("ws://{t}")
    };
    match url::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "ws" | "wss") && u.host().is_some() => Ok(url),
        Ok(u) => Err(TransportError(format!(
            "{typed} is not a bridge address: it must start with ws:// or wss://, not {}://",
            u.scheme()
        ))),
        Err(e) => Err(TransportError(format!(
            "{typed} is not a bridge address ({e}): type it as ws://host:port"
        ))),
    }
}

impl WsTransport {
    /// Connect to the bridge at `url` and wait for its hello.
    pub async fn open(url: &str) -> Result<Self, TransportError> {
        let socket = WebSocket::new(url)
            .map_err(|e| TransportError::from_js("cannot connect to the bridge", e))?;
        socket.set_binary_type(BinaryType::Arraybuffer);
        let (tx, inbox) = Inbox::channel();
        let port = Rc::new(RefCell::new(String::new()));
        let baud = Rc::new(Cell::new(0));
        let (hello_tx, hello_rx) = oneshot::channel::<Result<(), String>>();
        let hello_tx = Rc::new(RefCell::new(Some(hello_tx)));
        let message = {
            let (tx, port, baud, hello_tx) =
                (tx.clone(), port.clone(), baud.clone(), hello_tx.clone());
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let data = e.data();
                if let Some(buffer) = data.dyn_ref::<ArrayBuffer>() {
                    let _ = tx.unbounded_send(Ok(Uint8Array::new(buffer).to_vec()));
                    return;
                }
                let Some(text) = data.as_string() else { return };
                let answer = match Control::parse(&text) {
                    Ok(Control::Hello { port: p, baud: b }) => {
                        *port.borrow_mut() = p;
                        baud.set(b);
                        Ok(())
                    }
                    Ok(Control::Error { message }) => Err(message),
                    Ok(_) | Err(_) => return,
                };
                match hello_tx.borrow_mut().take() {
                    Some(waiting) => drop(waiting.send(answer)),
                    None => {
                        if let Err(message) = answer {
                            let _ = tx.unbounded_send(Err(TransportError(format!(
                                "the bridge reports: {message}"
                            ))));
                        }
                    }
                }
            })
        };
        let close = {
            let hello_tx = hello_tx.clone();
            Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
                let why = if e.reason().is_empty() {
                    format!("code {}", e.code())
                } else {
                    e.reason()
                };
                let text = format!("the bridge closed the connection ({why})");
                if let Some(waiting) = hello_tx.borrow_mut().take() {
                    let _ = waiting.send(Err(text.clone()));
                }
                let _ = tx.unbounded_send(Err(TransportError(text)));
            })
        };
        socket.set_onmessage(Some(message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(close.as_ref().unchecked_ref()));
        let timeout = gloo::timers::future::sleep(OPEN_TIMEOUT);
        let hello = match futures::future::select(hello_rx, timeout).await {
            futures::future::Either::Left((Ok(r), _)) => r,
            futures::future::Either::Left((Err(_), _)) => Err("the bridge went away".into()),
            futures::future::Either::Right(_) => {
                Err(format!("no answer within {} s", OPEN_TIMEOUT.as_secs()))
            }
        };
        if let Err(message) = hello {
            let _ = socket.close();
            return Err(TransportError(format!(
                "cannot use the bridge at {url}: {message}"
            )));
        }
        Ok(WsTransport {
            socket,
            inbox,
            url: url.to_string(),
            port,
            baud,
            _handlers: Rc::new(Handlers {
                _message: message,
                _close: close,
            }),
        })
    }

    fn send_text(&self, control: &Control) -> Result<(), TransportError> {
        self.socket
            .send_with_str(&control.to_text())
            .map_err(|e| TransportError::from_js("the bridge connection failed", e))
    }

    /// Send bytes, once the browser's send buffer has room.
    pub async fn write(&self, data: &[u8]) -> Result<(), TransportError> {
        while self.socket.buffered_amount() > SEND_BUFFER {
            gloo::timers::future::sleep(Duration::from_millis(2)).await;
        }
        if self.socket.ready_state() != WebSocket::OPEN {
            return Err(TransportError("the bridge connection is closed".into()));
        }
        self.socket
            .send_with_u8_array(data)
            .map_err(|e| TransportError::from_js("the bridge connection failed", e))
    }

    /// Set DTR/RTS on the bridge's port; the bridge keeps them for the step's hold.
    pub fn set_signals(&self, step: SignalStep) -> Result<(), TransportError> {
        self.send_text(&Control::Signals {
            dtr: step.dtr,
            rts: step.rts,
            hold_ms: step.hold.as_millis().min(u32::MAX as u128) as u32,
        })
    }

    /// Switch the bridge's port to `baud`.
    pub fn set_baud(&self, baud: u32) -> Result<(), TransportError> {
        self.send_text(&Control::Baud { baud })?;
        self.baud.set(baud);
        Ok(())
    }

    /// The rate the bridge's port runs at.
    pub fn baud(&self) -> u32 {
        self.baud.get()
    }

    /// Where received bytes arrive.
    pub fn inbox(&self) -> Inbox {
        self.inbox.clone()
    }

    /// Close the connection (the bridge lets go of its port).
    pub fn close(&self) {
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }

    /// For the header: the port and where it is.
    pub fn describe(&self) -> String {
        let host = url::Url::parse(&self.url)
            .ok()
            .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
            .unwrap_or_else(|| self.url.clone());
        format!(
            "{} on {host} · {} baud",
            self.port.borrow(),
            self.baud.get()
        )
    }
}
