//! A fake Web Serial `SerialPort` with real `ReadableStream` / `WritableStream`s (new ones at
//! each opening, so that a port reopened at another rate works as a real one), wired to a
//! simulated device on a simulated line that follows the rate the port is opened at.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use js_sys::{Reflect, Uint8Array};
use otadeck::clock::now;
use otadeck_sim::firmware::quecpython_running_package;
use otadeck_sim::line::{Device, SimLink};
use otadeck_sim::mp_repl::{RawPasteSupport, ReplDevice};
use otadeck_sim::quecpython::{device, QuecPython, QuecPythonConfig};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
export function makeFakePort(onWrite, onOpen) {
  const state = { openOptions: null, opens: [], isOpen: false, closed: false, writes: 0, bytes: 0,
                  readerCancelled: false, writerClosed: false, controller: null, inFlight: 0,
                  maxInFlight: 0, signals: [], failSignalsAt: -1, broken: false };
  let readable = null, writable = null;
  // Each opening has its own streams, as a real port's do.
  function makeStreams() {
    readable = new ReadableStream({
      start(c) { state.controller = c; },
      cancel() { state.readerCancelled = true; },
    });
    writable = new WritableStream({
      write(chunk) {
        if (state.broken) { return Promise.reject(new DOMException("The device has been lost.", "NetworkError")); }
        state.writes++; state.bytes += chunk.length;
        state.inFlight++; state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
        onWrite(chunk);
        // The "UART" takes a moment per chunk, so writer.ready really waits.
        return new Promise(r => setTimeout(() => { state.inFlight--; r(); }, 0));
      },
      close() { state.writerClosed = true; },
    }, new CountQueuingStrategy({ highWaterMark: 1 }));
  }
  const port = {
    open(options) {
      if (state.isOpen) { return Promise.reject(new DOMException("The port is already open.", "InvalidStateError")); }
      if (state.broken) { return Promise.reject(new DOMException("The device has been lost.", "NetworkError")); }
      state.openOptions = options; state.opens.push(options.baudRate);
      state.isOpen = true; state.closed = false;
      makeStreams(); onOpen(options.baudRate);
      return Promise.resolve();
    },
    get readable() { return readable; },
    get writable() { return writable; },
    getInfo() { return { usbVendorId: 0x1a86, usbProductId: 0x7523 }; },
    // Each call is recorded (with `ok: false` when it rejects), stamped with performance.now().
    setSignals(signals) {
      const call = { dtr: signals.dataTerminalReady, rts: signals.requestToSend,
                     t: performance.now(), ok: false };
      state.signals.push(call);
      if (!state.isOpen) {
        return Promise.reject(new DOMException("The port is closed.", "InvalidStateError"));
      }
      if (state.broken) {
        return Promise.reject(new DOMException("The device has been lost.", "NetworkError"));
      }
      if (state.signals.length - 1 === state.failSignalsAt) {
        return Promise.reject(new DOMException("Failed to set control signals.", "NetworkError"));
      }
      call.ok = true; return Promise.resolve();
    },
    close() {
      if (readable.locked || writable.locked) { return Promise.reject(new TypeError("Cannot close a locked stream")); }
      state.closed = true; state.isOpen = false; state.closedAt = performance.now();
      return Promise.resolve();
    },
  };
  return {
    port, state,
    push(bytes) { if (!state.broken && state.isOpen) state.controller.enqueue(bytes); },
    pull() { state.broken = true; state.controller.error(new DOMException("The device has been lost.", "NetworkError")); },
  };
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = makeFakePort)]
    fn make_fake_port(
        on_write: &Closure<dyn FnMut(Uint8Array)>,
        on_open: &Closure<dyn FnMut(u32)>,
    ) -> JsValue;
}

pub fn get(obj: &JsValue, path: &[&str]) -> JsValue {
    path.iter().fold(obj.clone(), |o, k| {
        Reflect::get(&o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
    })
}

/// A fake port wired to a simulated device: host writes go onto the simulated line, and a task
/// moves what the device sends into the port's readable stream.
pub struct Bench<D: Device> {
    pub fake: JsValue,
    pub link: Rc<RefCell<SimLink<D>>>,
    _on_write: Closure<dyn FnMut(Uint8Array)>,
    _on_open: Closure<dyn FnMut(u32)>,
}

impl Bench<ReplDevice<QuecPython>> {
    /// The simulated QuecPython module, running the demo firmware.
    pub fn new(baud: u32) -> Self {
        Bench::with(
            device(
                QuecPythonConfig::default(),
                quecpython_running_package(),
                RawPasteSupport::Window(128),
            ),
            baud,
        )
    }
}

impl<D: Device + 'static> Bench<D> {
    pub fn with(device: D, baud: u32) -> Self {
        let link = Rc::new(RefCell::new(SimLink::new(device, baud)));
        let l = link.clone();
        let on_write = Closure::<dyn FnMut(Uint8Array)>::new(move |chunk: Uint8Array| {
            l.borrow_mut().host_write(now(), &chunk.to_vec());
        });
        // The far end follows the rate the port is opened at (a USB-UART bridge does).
        let l = link.clone();
        let on_open = Closure::<dyn FnMut(u32)>::new(move |baud: u32| {
            l.borrow_mut().set_baud(baud);
        });
        let fake = make_fake_port(&on_write, &on_open);
        let (l, f) = (link.clone(), fake.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let push: js_sys::Function = get(&f, &["push"]).unchecked_into();
            loop {
                let bytes = l.borrow_mut().host_read(now());
                if !bytes.is_empty() {
                    let _ = push.call1(&f, &Uint8Array::from(bytes.as_slice()));
                }
                // Closed for a second (not reopened at another rate), or pulled: done.
                let closed_at = get(&f, &["state", "closedAt"]).as_f64();
                let closed = get(&f, &["state", "closed"]).is_truthy()
                    && closed_at.is_some_and(|t| now().as_secs_f64() * 1000.0 - t > 1000.0);
                if closed || get(&f, &["state", "broken"]).is_truthy() {
                    break;
                }
                gloo::timers::future::sleep(Duration::from_millis(2)).await;
            }
        });
        Bench {
            fake,
            link,
            _on_write: on_write,
            _on_open: on_open,
        }
    }

    pub fn port(&self) -> web_sys::SerialPort {
        get(&self.fake, &["port"]).unchecked_into()
    }

    pub fn state(&self, key: &str) -> JsValue {
        get(&self.fake, &["state", key])
    }

    /// The recorded `setSignals` calls: (DTR, RTS, performance.now() in ms, resolved).
    pub fn signal_calls(&self) -> Vec<(Option<bool>, Option<bool>, f64, bool)> {
        let calls: js_sys::Array = self.state("signals").unchecked_into();
        calls
            .iter()
            .map(|c| {
                (
                    get(&c, &["dtr"]).as_bool(),
                    get(&c, &["rts"]).as_bool(),
                    get(&c, &["t"]).as_f64().unwrap(),
                    get(&c, &["ok"]).is_truthy(),
                )
            })
            .collect()
    }

    /// Pull the cable.
    pub fn pull(&self) {
        let pull: js_sys::Function = get(&self.fake, &["pull"]).unchecked_into();
        let _ = pull.call0(&self.fake);
    }
}
