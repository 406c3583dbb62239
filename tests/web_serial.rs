//! The Web Serial code path in a real browser: a fake `SerialPort` object with real
//! `ReadableStream` / `WritableStream`s, backed by the simulated QuecPython module, is flashed
//! through `WebSerialTransport` and the pump, exactly as a port chosen by a person would be.

#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use js_sys::{Reflect, Uint8Array};
use otadeck::clock::now;
use otadeck::pump::{drive, CancelFlag};
use otadeck::transport::web_serial::{WebSerialTransport, BUFFER_SIZE};
use otadeck::transport::Connection;
use otadeck_core::driver::quecpython::{FotaOptions, QuecPythonSession};
use otadeck_core::session::{FlashError, FlashErrorKind, FlashOutcome, SessionEvent};
use otadeck_sim::firmware::{demo_image, demo_running_image, DEMO_RUNNING_VERSION};
use otadeck_sim::line::SimLink;
use otadeck_sim::mp_repl::{RawPasteSupport, ReplDevice};
use otadeck_sim::quecpython::{device, QuecPython, QuecPythonConfig};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
export function makeFakePort(onWrite) {
  const state = { openOptions: null, closed: false, writes: 0, bytes: 0, readerCancelled: false,
                  writerClosed: false, controller: null, inFlight: 0, maxInFlight: 0 };
  const readable = new ReadableStream({
    start(c) { state.controller = c; },
    cancel() { state.readerCancelled = true; },
  });
  const writable = new WritableStream({
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
  const port = {
    open(options) {
      if (state.openOptions) { return Promise.reject(new DOMException("The port is already open.", "InvalidStateError")); }
      state.openOptions = options; return Promise.resolve();
    },
    get readable() { return readable; },
    get writable() { return writable; },
    getInfo() { return { usbVendorId: 0x1a86, usbProductId: 0x7523 }; },
    close() {
      if (readable.locked || writable.locked) { return Promise.reject(new TypeError("Cannot close a locked stream")); }
      state.closed = true; return Promise.resolve();
    },
  };
  return {
    port, state,
    push(bytes) { if (!state.broken) state.controller.enqueue(bytes); },
    pull() { state.broken = true; state.controller.error(new DOMException("The device has been lost.", "NetworkError")); },
  };
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = makeFakePort)]
    fn make_fake_port(on_write: &Closure<dyn FnMut(Uint8Array)>) -> JsValue;
}

fn get(obj: &JsValue, path: &[&str]) -> JsValue {
    path.iter().fold(obj.clone(), |o, k| {
        Reflect::get(&o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
    })
}

type Module = SimLink<ReplDevice<QuecPython>>;

/// A fake port wired to a simulated module: host writes go onto the simulated line, and a task
/// moves what the module sends into the port's readable stream.
struct Bench {
    fake: JsValue,
    link: Rc<RefCell<Module>>,
    _on_write: Closure<dyn FnMut(Uint8Array)>,
}

impl Bench {
    fn new(baud: u32) -> Bench {
        let link = Rc::new(RefCell::new(SimLink::new(
            device(
                QuecPythonConfig::default(),
                demo_running_image(),
                RawPasteSupport::Window(128),
            ),
            baud,
        )));
        let l = link.clone();
        let on_write = Closure::<dyn FnMut(Uint8Array)>::new(move |chunk: Uint8Array| {
            l.borrow_mut().host_write(now(), &chunk.to_vec());
        });
        let fake = make_fake_port(&on_write);
        let (l, f) = (link.clone(), fake.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let push: js_sys::Function = get(&f, &["push"]).unchecked_into();
            loop {
                let bytes = l.borrow_mut().host_read(now());
                if !bytes.is_empty() {
                    let _ = push.call1(&f, &Uint8Array::from(bytes.as_slice()));
                }
                if get(&f, &["state", "closed"]).is_truthy()
                    || get(&f, &["state", "broken"]).is_truthy()
                {
                    break;
                }
                gloo::timers::future::sleep(Duration::from_millis(2)).await;
            }
        });
        Bench {
            fake,
            link,
            _on_write: on_write,
        }
    }

    fn port(&self) -> web_sys::SerialPort {
        get(&self.fake, &["port"]).unchecked_into()
    }

    fn state(&self, key: &str) -> JsValue {
        get(&self.fake, &["state", key])
    }
}

async fn flash(
    conn: &Connection,
    image: Vec<u8>,
    cancel: &CancelFlag,
) -> (Result<FlashOutcome, FlashError>, Vec<SessionEvent>) {
    let mut machine = QuecPythonSession::flash(now(), image, FotaOptions::default());
    let mut events = Vec::new();
    drive(&mut machine, conn, cancel, |e| events.push(e)).await;
    let result = events
        .iter()
        .find_map(|e| match e {
            SessionEvent::Finished(r) => Some(r.clone()),
            _ => None,
        })
        .expect("the session finished");
    (result, events)
}

#[wasm_bindgen_test]
async fn flashes_the_module_through_a_web_serial_port() {
    let bench = Bench::new(921_600);
    let transport = WebSerialTransport::open(bench.port(), 921_600)
        .await
        .expect("port opens");
    assert_eq!(
        get(&bench.state("openOptions"), &["baudRate"]).as_f64(),
        Some(921_600.0)
    );
    assert_eq!(
        get(&bench.state("openOptions"), &["bufferSize"]).as_f64(),
        Some(f64::from(BUFFER_SIZE))
    );
    assert!(
        transport.describe().contains("1a86:7523"),
        "{}",
        transport.describe()
    );
    let conn = Connection::Serial(transport.clone());

    let image = demo_image("3.0.0", 24 * 1024);
    let (result, events) = flash(&conn, image.clone(), &CancelFlag::default()).await;
    let outcome = result.expect("the flash succeeds");
    assert!(outcome.restarted);
    assert_eq!(outcome.module.unwrap().firmware_version, "3.0.0");
    assert_eq!(
        bench.link.borrow().device.interpreter.running_version(),
        "3.0.0"
    );
    assert_eq!(
        bench.link.borrow().device.interpreter.flash.running_image(),
        &image[..]
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, SessionEvent::Progress { done, .. } if *done == image.len() as u64)));
    // The image went out in many writes, each one waiting for the stream to be ready.
    assert!(bench.state("writes").as_f64().unwrap() > 20.0);
    assert_eq!(bench.state("maxInFlight").as_f64(), Some(1.0));
    assert!(bench.state("bytes").as_f64().unwrap() > image.len() as f64);

    transport.close().await;
    assert!(
        bench.state("readerCancelled").is_truthy(),
        "reader cancelled"
    );
    assert!(bench.state("writerClosed").is_truthy(), "writer closed");
    assert!(
        bench.state("closed").is_truthy(),
        "port closed after the locks were released"
    );
}

#[wasm_bindgen_test]
async fn a_pulled_cable_ends_the_flash_and_the_module_keeps_its_firmware() {
    let bench = Bench::new(921_600);
    let transport = WebSerialTransport::open(bench.port(), 921_600)
        .await
        .expect("port opens");
    let conn = Connection::Serial(transport.clone());
    // Pull the cable once a third of the image has gone out.
    let (f, l) = (bench.fake.clone(), bench.link.clone());
    wasm_bindgen_futures::spawn_local(async move {
        while l.borrow().delivered() < 12_000 {
            gloo::timers::future::sleep(Duration::from_millis(2)).await;
        }
        let pull: js_sys::Function = get(&f, &["pull"]).unchecked_into();
        let _ = pull.call0(&f);
    });
    let (result, _) = flash(
        &conn,
        demo_image("3.0.0", 24 * 1024),
        &CancelFlag::default(),
    )
    .await;
    let error = result.expect_err("the flash fails");
    assert_eq!(error.kind, FlashErrorKind::LinkLost);
    assert!(error.offset.unwrap() > 0);
    assert!(
        error
            .to_string()
            .contains("still runs its previous firmware"),
        "{error}"
    );
    // Power-cycle the module: it boots what it ran before.
    bench.link.borrow_mut().device.interpreter.flash.boot();
    assert_eq!(
        bench.link.borrow().device.interpreter.running_version(),
        DEMO_RUNNING_VERSION
    );
    transport.close().await;
}

#[wasm_bindgen_test]
async fn cancel_stops_the_flash_and_releases_the_module() {
    let bench = Bench::new(921_600);
    let transport = WebSerialTransport::open(bench.port(), 921_600)
        .await
        .expect("port opens");
    let conn = Connection::Serial(transport.clone());
    let cancel = CancelFlag::default();
    let (c, l) = (cancel.clone(), bench.link.clone());
    wasm_bindgen_futures::spawn_local(async move {
        while l.borrow().delivered() < 8_000 {
            gloo::timers::future::sleep(Duration::from_millis(2)).await;
        }
        c.cancel();
    });
    let (result, _) = flash(&conn, demo_image("3.0.0", 24 * 1024), &cancel).await;
    let error = result.expect_err("cancelled");
    assert_eq!(error.kind, FlashErrorKind::Cancelled);
    // Let Ctrl-C and Ctrl-B reach the module, then check it is back at its friendly prompt and
    // still boots its old firmware.
    gloo::timers::future::sleep(Duration::from_millis(100)).await;
    bench.link.borrow_mut().advance(now());
    bench.link.borrow_mut().device.interpreter.flash.boot();
    assert_eq!(
        bench.link.borrow().device.interpreter.running_version(),
        DEMO_RUNNING_VERSION
    );
    transport.close().await;
    assert!(bench.state("closed").is_truthy());
}

#[wasm_bindgen_test]
async fn a_port_that_will_not_open_gives_a_clear_error() {
    let bench = Bench::new(115_200);
    let first = WebSerialTransport::open(bench.port(), 115_200).await;
    assert!(first.is_ok());
    let second = WebSerialTransport::open(bench.port(), 115_200).await;
    let err = second.err().expect("a second open fails");
    assert!(
        err.to_string().contains("could not open the serial port"),
        "{err}"
    );
    assert!(err.to_string().contains("already open"), "{err}");
}
