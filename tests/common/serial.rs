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
    #[wasm_bindgen(js_name = makeFakePort)]
    fn make_fake_port_js(on_write: &js_sys::Function, on_open: &js_sys::Function) -> JsValue;
}

/// Dispatch an event named `name` on `target` (an `EventTarget`).
fn fire(target: &JsValue, name: &str) {
    let target: web_sys::EventTarget = target.clone().unchecked_into();
    if let Ok(event) = web_sys::Event::new(name) {
        let _ = target.dispatch_event(&event);
    }
}

pub fn get(obj: &JsValue, path: &[&str]) -> JsValue {
    path.iter().fold(obj.clone(), |o, k| {
        Reflect::get(&o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
    })
}

/// A fake port wired to a simulated device: host writes go onto the simulated line, and a task
/// moves what the device sends into the port's readable stream.
pub struct Bench<D: Device> {
    /// The fake port of the device's current enumeration.
    pub fake: Rc<RefCell<JsValue>>,
    pub link: Rc<RefCell<SimLink<D>>>,
    /// Ports as `navigator.serial.getPorts()` lists them.
    serial: JsValue,
    _closures: Rc<Closures>,
}

/// The callbacks the fake ports and the fake `navigator.serial` call, kept alive with the bench.
struct Closures {
    _on_write: Closure<dyn FnMut(Uint8Array)>,
    _on_open: Closure<dyn FnMut(u32)>,
    _get_ports: Closure<dyn FnMut() -> js_sys::Array>,
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
    /// `device` behind a fake port that stays on the bus.
    pub fn with(device: D, baud: u32) -> Self {
        Self::build(device, baud, None)
    }

    /// `device` on native USB: at each hard reset its port errors (as Chrome's does when the
    /// device leaves the bus), and `away` later a new port object with the same USB ids is
    /// listed by [`Bench::serial`].
    pub fn reenumerating(device: D, baud: u32, away: Duration) -> Self {
        Self::build(device, baud, Some(away))
    }

    fn build(device: D, baud: u32, away: Option<Duration>) -> Self {
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
        let fake = Rc::new(RefCell::new(make_fake_port(&on_write, &on_open)));
        let present = Rc::new(std::cell::Cell::new(true));
        let (f, p) = (fake.clone(), present.clone());
        let get_ports = Closure::<dyn FnMut() -> js_sys::Array>::new(move || {
            let list = js_sys::Array::new();
            if p.get() {
                list.push(&get(&f.borrow(), &["port"]));
            }
            list
        });
        // An EventTarget, as `navigator.serial` is: it fires `disconnect` and `connect` as the
        // device leaves and comes back.
        let serial: JsValue = web_sys::EventTarget::new().expect("an EventTarget").into();
        Reflect::set(
            &serial,
            &"getPorts".into(),
            &js_sys::Function::new_with_args("", "return Promise.resolve(this._list());"),
        )
        .unwrap();
        Reflect::set(&serial, &"_list".into(), get_ports.as_ref()).unwrap();
        let closures = Rc::new(Closures {
            _on_write: on_write,
            _on_open: on_open,
            _get_ports: get_ports,
        });
        let (l, f, c, events) = (link.clone(), fake.clone(), closures.clone(), serial.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let mut resets = l.borrow().device.hard_resets();
            loop {
                let current = f.borrow().clone();
                let bytes = l.borrow_mut().host_read(now());
                if !bytes.is_empty() {
                    let push: js_sys::Function = get(&current, &["push"]).unchecked_into();
                    let _ = push.call1(&current, &Uint8Array::from(bytes.as_slice()));
                }
                if let Some(away) = away {
                    if l.borrow().device.hard_resets() != resets {
                        resets = l.borrow().device.hard_resets();
                        // Off the bus: the port errors and is no longer listed.
                        present.set(false);
                        let pull: js_sys::Function = get(&current, &["pull"]).unchecked_into();
                        let _ = pull.call0(&current);
                        fire(&events, "disconnect");
                        let back = now() + away;
                        while now() < back {
                            l.borrow_mut().host_read(now());
                            gloo::timers::future::sleep(Duration::from_millis(5)).await;
                        }
                        let on_write = c._on_write.as_ref().unchecked_ref::<js_sys::Function>();
                        let fresh =
                            make_fake_port_js(on_write, c._on_open.as_ref().unchecked_ref());
                        *f.borrow_mut() = fresh;
                        present.set(true);
                        fire(&events, "connect");
                        continue;
                    }
                }
                // Closed for a second (not reopened at another rate), or pulled: done.
                let closed_at = get(&current, &["state", "closedAt"]).as_f64();
                let closed = get(&current, &["state", "closed"]).is_truthy()
                    && closed_at.is_some_and(|t| now().as_secs_f64() * 1000.0 - t > 1000.0);
                let broken = get(&current, &["state", "broken"]).is_truthy();
                if (closed || broken) && away.is_none() {
                    break;
                }
                gloo::timers::future::sleep(Duration::from_millis(2)).await;
            }
        });
        Bench {
            fake,
            link,
            serial,
            _closures: closures,
        }
    }

    /// A stand-in for `navigator.serial`: `getPorts()` lists the port while it is on the bus.
    pub fn serial(&self) -> web_sys::Serial {
        self.serial.clone().unchecked_into()
    }

    /// The current fake port.
    pub fn port(&self) -> web_sys::SerialPort {
        get(&self.fake.borrow(), &["port"]).unchecked_into()
    }

    /// A field of the current fake port's state.
    pub fn state(&self, key: &str) -> JsValue {
        get(&self.fake.borrow(), &["state", key])
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
        let fake = self.fake.borrow();
        let pull: js_sys::Function = get(&fake, &["pull"]).unchecked_into();
        let _ = pull.call0(&fake);
    }
}
