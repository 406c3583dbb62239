//! The host in a dedicated worker: the demo's own wasm module (`otadeck-demo`), loaded the first
//! time a demo module is plugged in.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo::events::EventListener;
use gloo::timers::callback::Timeout;
use js_sys::{Array, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use super::wire::{
    DemoCommand, HostOutput, UsbAnswer, CABLE_PULLED, FAILED, READY, USB, WIRE_VERSION,
};
use super::{HostPort, Line};

/// The worker's script, next to the app's files.
const SCRIPT: &str = "otadeck-demo_loader.js";

/// The messages posted before the worker listens, held until it says it does.
type Pending = Rc<RefCell<Option<Vec<JsValue>>>>;

/// How long the worker may take to load and start listening.
const START_WITHIN_MS: u32 = 20_000;

struct InWorker {
    worker: web_sys::Worker,
    pending: Pending,
    _listeners: [EventListener; 2],
    _deadline: Timeout,
}

impl InWorker {
    fn post(&self, message: JsValue) {
        match &mut *self.pending.borrow_mut() {
            Some(held) => held.push(message),
            None => {
                let _ = self.worker.post_message(&message);
            }
        }
    }
}

impl HostPort for InWorker {
    fn send(&self, command: &DemoCommand) {
        if let Ok(text) = serde_json::to_string(command) {
            self.post(JsValue::from_str(&text));
        }
    }

    fn write(&self, data: &[u8]) {
        self.post(Uint8Array::from(data).into());
    }
}

impl Drop for InWorker {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

/// What stands in for the host when the worker cannot start.
struct Failed;

impl HostPort for Failed {
    fn send(&self, _: &DemoCommand) {}
    fn write(&self, _: &[u8]) {}
}

/// Start a worker handing its output to `line`.
pub(super) fn open(line: Weak<Line>) -> Box<dyn HostPort> {
    let url = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .map(|origin| format!("{origin}/{SCRIPT}"))
        .unwrap_or_else(|| SCRIPT.into());
    let worker = match web_sys::Worker::new(&url) {
        Ok(w) => w,
        Err(e) => {
            if let Some(line) = line.upgrade() {
                line.break_down(cannot_start(&format!("{e:?}")));
            }
            return Box::new(Failed);
        }
    };
    let pending: Pending = Rc::new(RefCell::new(Some(Vec::new())));
    let (held, ready_worker, to_line) = (pending.clone(), worker.clone(), line.clone());
    let on_message = EventListener::new(&worker, "message", move |event| {
        if let (Some(line), Some(event)) =
            (to_line.upgrade(), event.dyn_ref::<web_sys::MessageEvent>())
        {
            receive(&line, &event.data(), &held, &ready_worker);
        }
    });
    let (late, started) = (line.clone(), pending.clone());
    let deadline = Timeout::new(START_WITHIN_MS, move || {
        if let (Some(line), true) = (late.upgrade(), started.borrow().is_some()) {
            line.break_down(cannot_start("it did not start within 20 s"));
        }
    });
    let running = pending.clone();
    let on_error = EventListener::new(&worker, "error", move |event| {
        let why = event
            .dyn_ref::<web_sys::ErrorEvent>()
            .map(|e| e.message())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "its files did not load".into());
        if let Some(line) = line.upgrade() {
            line.break_down(match running.borrow().is_some() {
                true => cannot_start(&why),
                false => format!("the demo module stopped ({why}): connect it again"),
            });
        }
    });
    Box::new(InWorker {
        worker,
        pending,
        _listeners: [on_message, on_error],
        _deadline: deadline,
    })
}

/// One message from the worker: the module's bytes, the line's end, or the host's start.
fn receive(line: &Line, message: &JsValue, held: &Pending, worker: &web_sys::Worker) {
    let message: &Array = message.unchecked_ref();
    let epoch = message.get(0).as_f64().unwrap_or(-1.0) as u32;
    let payload = message.get(1);
    if let Some(bytes) = payload.dyn_ref::<Uint8Array>() {
        return line.deliver(epoch, HostOutput::Bytes(bytes.to_vec()));
    }
    let word = payload.as_string().unwrap_or_default();
    if let Some(answer) = word
        .strip_prefix(USB)
        .and_then(|json| serde_json::from_str::<UsbAnswer>(json).ok())
    {
        line.deliver(epoch, HostOutput::Usb(answer));
    } else if word == CABLE_PULLED {
        line.deliver(epoch, HostOutput::CablePulled);
    } else if let Some(version) = word.strip_prefix(READY) {
        let held = held.borrow_mut().take().unwrap_or_default();
        if version != WIRE_VERSION.to_string() {
            return line.break_down(cannot_start(
                "its files are from another release of otadeck",
            ));
        }
        for message in held {
            let _ = worker.post_message(&message);
        }
    } else if let Some(why) = word.strip_prefix(FAILED) {
        line.break_down(cannot_start(why));
    }
}

fn cannot_start(why: &str) -> String {
    format!("the demo module could not start ({why}): reload the page while online, then try again")
}
