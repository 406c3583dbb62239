//! Web Serial: open a port with a baud rate and a large buffer, a reader task that feeds the
//! inbox, writes that wait for `writer.ready` (backpressure), and a close that releases the
//! stream locks before closing the port.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::channel::mpsc::UnboundedSender;

use js_sys::{Reflect, Uint8Array};
use otadeck_core::session::SignalStep;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    ReadableStreamDefaultReader, SerialOptions, SerialOutputSignals, SerialPort,
    WritableStreamDefaultWriter,
};

use super::{Chunk, Inbox, TransportError};

/// The receive buffer asked of the browser. The default is 255 bytes, which overflows at
/// 921600 baud while the page is busy.
pub const BUFFER_SIZE: u32 = 64 * 1024;

/// An open Web Serial port.
#[derive(Clone)]
pub struct WebSerialTransport {
    /// The port; replaced by the new one when the module comes back after a restart.
    port: Rc<RefCell<SerialPort>>,
    /// Where granted ports are listed again (`navigator.serial`, or a test's stand-in).
    serial: Option<web_sys::Serial>,
    writer: Rc<RefCell<Option<WritableStreamDefaultWriter>>>,
    reader: Rc<RefCell<Option<ReadableStreamDefaultReader>>>,
    inbox: Inbox,
    /// Where the reader task delivers; a new task after a baud change keeps feeding it.
    tx: UnboundedSender<Chunk>,
    /// Bumped when the port is reopened: a reader task of an older opening stops quietly.
    opening: Rc<Cell<u32>>,
    name: String,
    baud: Rc<Cell<u32>>,
}

/// A port in words: its USB-serial chip and ids when the browser gives them.
pub fn port_name(port: &SerialPort) -> String {
    match usb_ids(port) {
        Some((v, p)) => otadeck_core::link::usb_names::describe(v, p),
        None => "Serial port".to_string(),
    }
}

/// A port's USB vendor and product ids, when the browser gives them.
pub fn usb_ids(port: &SerialPort) -> Option<(u16, u16)> {
    let info: JsValue = port.get_info().into();
    let id = |k: &str| {
        Reflect::get(&info, &JsValue::from_str(k))
            .ok()
            .and_then(|v| v.as_f64())
            .map(|v| v as u16)
    };
    Some((id("usbVendorId")?, id("usbProductId")?))
}

impl WebSerialTransport {
    /// Set DTR and RTS (`SerialPort.setSignals`), for a reset into a bootloader.
    pub async fn set_signals(&self, step: SignalStep) -> Result<(), TransportError> {
        let signals = SerialOutputSignals::new();
        if let Some(dtr) = step.dtr {
            signals.set_data_terminal_ready(dtr);
        }
        if let Some(rts) = step.rts {
            signals.set_request_to_send(rts);
        }
        let port = self.port();
        JsFuture::from(port.set_signals_with_signals(&signals))
            .await
            .map(|_| ())
            .map_err(|e| TransportError::from_js("could not set the DTR/RTS lines", e))
    }

    /// Open `port` at `baud`, start reading.
    pub async fn open(port: SerialPort, baud: u32) -> Result<Self, TransportError> {
        open_port(&port, baud).await?;
        let (tx, inbox) = Inbox::channel();
        let serial = web_sys::window().and_then(|w| {
            let s = Reflect::get(&w.navigator(), &JsValue::from_str("serial")).ok()?;
            (!s.is_undefined()).then(|| s.unchecked_into())
        });
        let t = WebSerialTransport {
            name: port_name(&port),
            port: Rc::new(RefCell::new(port)),
            serial,
            writer: Rc::new(RefCell::new(None)),
            reader: Rc::new(RefCell::new(None)),
            inbox,
            tx,
            opening: Rc::new(Cell::new(0)),
            baud: Rc::new(Cell::new(baud)),
        };
        t.start_streams()?;
        Ok(t)
    }

    /// Take the port's streams and start the reader task of this opening.
    fn start_streams(&self) -> Result<(), TransportError> {
        let reader: ReadableStreamDefaultReader =
            self.port().readable().get_reader().unchecked_into();
        let writer = self
            .port()
            .writable()
            .get_writer()
            .map_err(|e| TransportError::from_js("could not write to the serial port", e))?;
        *self.writer.borrow_mut() = Some(writer);
        *self.reader.borrow_mut() = Some(reader.clone());
        let (tx, opening) = (self.tx.clone(), self.opening.clone());
        let mine = opening.get();
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                let read = JsFuture::from(reader.read()).await;
                if opening.get() != mine {
                    // The port was reopened at another rate: this reader's end is no loss.
                    break;
                }
                let chunk = read_chunk(read);
                let end = chunk.is_err();
                if tx.unbounded_send(chunk).is_err() || end {
                    break;
                }
            }
        });
        Ok(())
    }

    fn port(&self) -> SerialPort {
        self.port.borrow().clone()
    }

    /// List granted ports from `serial` (a test's stand-in for `navigator.serial`) when the
    /// module comes back after a restart.
    pub fn find_ports_in(mut self, serial: web_sys::Serial) -> Self {
        self.serial = Some(serial);
        self
    }

    /// The module restarted and its port went away: wait until `until` for a port with the same
    /// USB ids to be granted again (Chrome lists a re-enumerated device as a new port object),
    /// open it at the rate the line ran at, and carry on reading into the same inbox.
    pub async fn reconnect(&self, until: std::time::Duration) -> bool {
        let old = self.port();
        let ids = usb_ids(&old);
        let Some(serial) = self.serial.clone() else {
            return false;
        };
        self.opening.set(self.opening.get() + 1);
        self.release_streams().await;
        let _ = JsFuture::from(old.close()).await;
        while crate::clock::now() < until {
            gloo::timers::future::sleep(std::time::Duration::from_millis(100)).await;
            let Ok(list) = JsFuture::from(serial.get_ports()).await else {
                continue;
            };
            let found = js_sys::Array::from(&list)
                .iter()
                .map(|p| p.unchecked_into::<SerialPort>())
                .find(|p| {
                    !JsValue::from(p).loose_eq(&JsValue::from(&old))
                        && ids.is_some()
                        && usb_ids(p) == ids
                });
            let Some(port) = found else { continue };
            if open_port(&port, self.baud.get()).await.is_err() {
                continue;
            }
            *self.port.borrow_mut() = port;
            return self.start_streams().is_ok();
        }
        false
    }

    /// Switch to `baud` by closing the port and opening it again at that rate (Web Serial
    /// cannot change the rate of an open port), as esptool-js does.
    pub async fn set_baud(&self, baud: u32) -> Result<(), TransportError> {
        if baud == self.baud.get() {
            return Ok(());
        }
        self.opening.set(self.opening.get() + 1);
        self.release_streams().await;
        let _ = JsFuture::from(self.port().close()).await;
        open_port(&self.port(), baud)
            .await
            .map_err(|e| TransportError(format!("{e} (while switching to {baud} baud)")))?;
        self.baud.set(baud);
        self.start_streams()
    }

    /// The port is gone: the one found again opens at `baud`.
    pub fn reopen_at(&self, baud: u32) {
        self.baud.set(baud);
    }

    /// The rate the port runs at.
    pub fn baud(&self) -> u32 {
        self.baud.get()
    }

    /// Send bytes once the stream is ready for them.
    pub async fn write(&self, data: &[u8]) -> Result<(), TransportError> {
        let writer = self
            .writer
            .borrow()
            .clone()
            .ok_or_else(|| TransportError("the serial port is closed".into()))?;
        JsFuture::from(writer.ready())
            .await
            .map_err(|e| TransportError::from_js("the serial port stopped", e))?;
        let chunk = Uint8Array::from(data);
        JsFuture::from(writer.write_with_chunk(&chunk))
            .await
            .map_err(|e| TransportError::from_js("writing to the serial port failed", e))?;
        Ok(())
    }

    /// Where received bytes arrive.
    pub fn inbox(&self) -> Inbox {
        self.inbox.clone()
    }

    /// Let go of the streams (a reader's pending read ends).
    async fn release_streams(&self) {
        let reader = self.reader.borrow_mut().take();
        if let Some(reader) = reader {
            let _ = JsFuture::from(reader.cancel()).await;
            reader.release_lock();
        }
        let writer = self.writer.borrow_mut().take();
        if let Some(writer) = writer {
            let _ = JsFuture::from(writer.close()).await;
            writer.release_lock();
        }
    }

    /// Release the streams and close the port. Errors are ignored: the port may already be gone.
    pub async fn close(&self) {
        self.release_streams().await;
        let _ = JsFuture::from(self.port().close()).await;
    }

    /// For the header.
    pub fn describe(&self) -> String {
        format!("{} · {} baud", self.name, self.baud.get())
    }
}

/// Open `port` at `baud` with a large receive buffer.
async fn open_port(port: &SerialPort, baud: u32) -> Result<(), TransportError> {
    let options = SerialOptions::new(baud);
    options.set_buffer_size(BUFFER_SIZE);
    JsFuture::from(port.open(&options))
        .await
        .map(|_| ())
        .map_err(|e| TransportError::from_js("could not open the serial port", e))
}

/// What one `reader.read()` gave: bytes, or the end of the port.
fn read_chunk(read: Result<JsValue, JsValue>) -> Chunk {
    match read {
        Ok(result) => {
            let done = Reflect::get(&result, &JsValue::from_str("done"))
                .ok()
                .and_then(|d| d.as_bool())
                .unwrap_or(true);
            if done {
                Err(TransportError("the serial port was closed".into()))
            } else {
                let value = Reflect::get(&result, &JsValue::from_str("value"))
                    .unwrap_or(JsValue::UNDEFINED);
                Ok(value
                    .dyn_into::<Uint8Array>()
                    .map(|a| a.to_vec())
                    .unwrap_or_default())
            }
        }
        Err(e) => Err(TransportError::from_js(
            "the serial port stopped (was the cable pulled?)",
            e,
        )),
    }
}
