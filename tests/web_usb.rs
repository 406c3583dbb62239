//! The WebUSB code path in a real browser: fake `USBDevice` objects (and a fake `navigator.usb`
//! that lists them) backed by the simulated DFU devices, flashed through `WebUsbTransport` and
//! the pump exactly as a device chosen by a person would be. A device that re-enumerates drops
//! its old object (every call on it then fails as Chrome's do) and is listed again as a new one.

#![cfg(target_arch = "wasm32")]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Reflect, Uint8Array};
use otadeck::clock::now;
use otadeck::pump::{drive, CancelFlag};
use otadeck::services::device::DeviceHandle;
use otadeck::services::log::SessionLog;
use otadeck::transport::web_usb::{interfaces, WebUsbTransport};
use otadeck::transport::Connection;
use otadeck_core::family::{self, Family, FlashOptions, Job, OpenOptions};
use otadeck_core::session::{
    ControlTransfer, FlashError, FlashErrorKind, FlashOutcome, RequestKind, SessionEvent, Step,
    TransferData, TransferError,
};
use otadeck_sim::demo::dfu_sample_file;
use otadeck_sim::dfu::{stm32_image, DfuDevice, DfuFault, ST_APP_PRODUCT};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
export function makeFakeUsbDevice(info, handler, generation) {
  const byInterface = new Map();
  for (const a of info.alts) {
    if (!byInterface.has(a.interface)) byInterface.set(a.interface, []);
    byInterface.get(a.interface).push(a);
  }
  const interfaces = [...byInterface.entries()].map(([n, alts]) => ({
    interfaceNumber: n, claimed: false,
    alternates: alts.map(a => ({ alternateSetting: a.alt, interfaceClass: a.class,
      interfaceSubclass: a.subclass, interfaceProtocol: a.protocol, interfaceName: a.name,
      endpoints: [] })),
  }));
  const configuration = { configurationValue: 1, interfaces };
  const state = { opened: false, claimed: [], resets: 0 };
  const lost = () => Promise.reject(new DOMException("The device was disconnected.", "NotFoundError"));
  const answer = (r) => r.status === "gone" ? lost() : Promise.resolve(r);
  const dev = {
    vendorId: info.vendorId, productId: info.productId, serialNumber: info.serialNumber,
    productName: info.productName, configuration: null, configurations: [configuration],
    get opened() { return state.opened; },
    open() {
      if (handler("alive", null, null, generation).status === "gone") return lost();
      state.opened = true; return Promise.resolve();
    },
    close() { state.opened = false; return Promise.resolve(); },
    selectConfiguration(v) {
      if (!state.opened) return Promise.reject(new DOMException("The device must be opened first.", "InvalidStateError"));
      dev.configuration = configuration; return Promise.resolve();
    },
    claimInterface(n) {
      if (!dev.configuration) return Promise.reject(new DOMException("No configuration.", "InvalidStateError"));
      if (!byInterface.has(n)) return Promise.reject(new DOMException("Invalid interface.", "NotFoundError"));
      state.claimed.push(n); return Promise.resolve();
    },
    releaseInterface(n) { state.claimed = state.claimed.filter(c => c !== n); return Promise.resolve(); },
    selectAlternateInterface(n, alt) {
      if (!state.claimed.includes(n)) return Promise.reject(new DOMException("The interface is not claimed.", "InvalidStateError"));
      return answer(handler("select", n, alt, generation)).then(() => undefined);
    },
    controlTransferIn(setup, length) {
      if (!state.opened) return Promise.reject(new DOMException("The device must be opened first.", "InvalidStateError"));
      if (setup.recipient === "interface" && !state.claimed.includes(setup.index & 0xff)) {
        return Promise.reject(new DOMException("The interface is not claimed.", "InvalidStateError"));
      }
      return answer(handler("in", setup, length, generation)).then(r =>
        ({ status: r.status, data: r.data ? new DataView(r.data.buffer) : undefined }));
    },
    controlTransferOut(setup, data) {
      if (!state.opened) return Promise.reject(new DOMException("The device must be opened first.", "InvalidStateError"));
      if (setup.recipient === "interface" && !state.claimed.includes(setup.index & 0xff)) {
        return Promise.reject(new DOMException("The interface is not claimed.", "InvalidStateError"));
      }
      const bytes = data === undefined ? new Uint8Array(0) : new Uint8Array(data.buffer ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data);
      return answer(handler("out", setup, bytes, generation)).then(r =>
        ({ status: r.status, bytesWritten: r.status === "ok" ? bytes.length : 0 }));
    },
    reset() { state.resets++; handler("reset", null, null, generation); return Promise.resolve(); },
    _state: state,
  };
  return dev;
}

export function makeFakeUsb(list) {
  return { getDevices() { return Promise.resolve(list()); } };
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = makeFakeUsbDevice)]
    fn make_fake_usb_device(info: &JsValue, handler: &js_sys::Function, generation: u32)
        -> JsValue;
    #[wasm_bindgen(js_name = makeFakeUsb)]
    fn make_fake_usb(list: &js_sys::Function) -> JsValue;
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

/// What every fake device object calls with `(operation, a, b, its enumeration)`: for a
/// transfer `a` is the setup and `b` the length or the data; for `select` the interface and alt.
type Handler = Closure<dyn FnMut(String, JsValue, JsValue, u32) -> JsValue>;

/// A simulated DFU device behind fake WebUSB objects: one object per enumeration.
struct Bench {
    device: Rc<RefCell<DfuDevice>>,
    generation: Rc<Cell<u32>>,
    current: Rc<RefCell<JsValue>>,
    _handler: Rc<Handler>,
    usb: JsValue,
    _list: Closure<dyn FnMut() -> Array>,
}

fn info(device: &DfuDevice) -> JsValue {
    let alts = Array::new();
    for a in device.alts() {
        alts.push(&obj(&[
            ("interface", a.interface.into()),
            ("alt", a.alt.into()),
            ("class", a.class.into()),
            ("subclass", a.subclass.into()),
            ("protocol", a.protocol.into()),
            ("name", a.name.as_str().into()),
        ]));
    }
    obj(&[
        ("vendorId", device.vendor.into()),
        ("productId", device.product().into()),
        ("serialNumber", device.serial.as_str().into()),
        ("productName", JsValue::from_str("STM32 BOOTLOADER")),
        ("alts", alts.into()),
    ])
}

/// What a fake call answers: `{status, data}`, or `{status: "gone"}` once the device left.
fn answer(result: Result<Vec<u8>, TransferError>) -> JsValue {
    match result {
        Ok(data) => obj(&[
            ("status", "ok".into()),
            ("data", Uint8Array::from(data.as_slice()).into()),
        ]),
        Err(TransferError::Stall) => obj(&[("status", "stall".into())]),
        Err(_) => obj(&[("status", "gone".into())]),
    }
}

fn transfer(setup: &JsValue, data: TransferData) -> ControlTransfer {
    let kind = match (
        get(setup, "requestType").as_string().as_deref(),
        get(setup, "recipient").as_string().as_deref(),
    ) {
        (Some("class"), _) => RequestKind::Class,
        (_, Some("interface")) => RequestKind::StandardInterface,
        _ => RequestKind::StandardDevice,
    };
    let n = |k: &str| get(setup, k).as_f64().unwrap_or(0.0) as u16;
    ControlTransfer {
        kind,
        request: n("request") as u8,
        value: n("value"),
        index: n("index"),
        data,
    }
}

impl Bench {
    fn new(device: DfuDevice) -> Self {
        let device = Rc::new(RefCell::new(device));
        let generation = Rc::new(Cell::new(0u32));
        let (d, g) = (device.clone(), generation.clone());
        let handler = Rc::new(
            Closure::<dyn FnMut(String, JsValue, JsValue, u32) -> JsValue>::new(
                move |op: String, a: JsValue, b: JsValue, gen: u32| {
                    let mut dev = d.borrow_mut();
                    // An object from an earlier enumeration, or a device off the bus, is gone.
                    if gen != g.get() || !dev.present(now()) {
                        if op == "reset" {
                            return JsValue::UNDEFINED;
                        }
                        return answer(Err(TransferError::Disconnected));
                    }
                    match op.as_str() {
                        "alive" => answer(Ok(Vec::new())),
                        "reset" => {
                            dev.usb_reset(now());
                            JsValue::UNDEFINED
                        }
                        "select" => {
                            let t = ControlTransfer {
                                kind: RequestKind::StandardInterface,
                                request: 11,
                                value: b.as_f64().unwrap_or(0.0) as u16,
                                index: a.as_f64().unwrap_or(0.0) as u16,
                                data: TransferData::Out(Vec::new()),
                            };
                            answer(dev.control(now(), &t))
                        }
                        "in" => {
                            let t =
                                transfer(&a, TransferData::In(b.as_f64().unwrap_or(0.0) as u16));
                            answer(dev.control(now(), &t))
                        }
                        _ => {
                            let bytes = b.unchecked_into::<Uint8Array>().to_vec();
                            let t = transfer(&a, TransferData::Out(bytes));
                            answer(dev.control(now(), &t))
                        }
                    }
                },
            ),
        );
        let first = make_fake_usb_device(
            &info(&device.borrow()),
            handler.as_ref().as_ref().unchecked_ref(),
            0,
        );
        let current = Rc::new(RefCell::new(first));
        let (d, g, c, h) = (
            device.clone(),
            generation.clone(),
            current.clone(),
            handler.clone(),
        );
        let away = Rc::new(Cell::new(false));
        let list = Closure::<dyn FnMut() -> Array>::new(move || {
            let mut dev = d.borrow_mut();
            if dev.back_at().is_some() {
                away.set(true);
            }
            if !dev.present(now()) {
                return Array::new();
            }
            if away.replace(false) {
                // Back on the bus: a new enumeration, a new object.
                g.set(g.get() + 1);
                let fresh =
                    make_fake_usb_device(&info(&dev), h.as_ref().as_ref().unchecked_ref(), g.get());
                *c.borrow_mut() = fresh;
            }
            Array::of1(&c.borrow())
        });
        let usb = make_fake_usb(list.as_ref().unchecked_ref());
        Bench {
            device,
            generation,
            current,
            _handler: handler,
            usb,
            _list: list,
        }
    }

    fn usb_device(&self) -> web_sys::UsbDevice {
        self.current.borrow().clone().unchecked_into()
    }

    async fn connect(&self) -> Connection {
        let t = WebUsbTransport::open(self.usb_device(), self.usb.clone().unchecked_into())
            .await
            .expect("opens");
        Connection::Usb(t)
    }
}

/// Flash `file` through the registry's DFU session over `conn`.
async fn flash(
    conn: &Connection,
    file: Vec<u8>,
) -> (Result<FlashOutcome, FlashError>, Vec<SessionEvent>) {
    let options = OpenOptions {
        usb: conn.usb_interfaces(),
        policy: otadeck_core::admission::Policy {
            allow_raw: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let job = Job::Flash {
        image: file,
        options: FlashOptions::default(),
    };
    let mut machine = family::open(Family::Dfu, job, options, now()).expect("opens");
    let mut events = Vec::new();
    let mut result = None;
    drive(&mut *machine, conn, &CancelFlag::default(), |e| {
        if let SessionEvent::Finished(r) = &e {
            result = Some(r.clone());
        }
        events.push(e);
    })
    .await;
    (result.expect("finished"), events)
}

fn logged(events: &[SessionEvent], part: &str) -> bool {
    events
        .iter()
        .any(|e| matches!(e, SessionEvent::Log { message, .. } if message.contains(part)))
}

#[wasm_bindgen_test]
async fn interfaces_are_read_from_the_usb_configuration() {
    let bench = Bench::new(DfuDevice::stm32());
    let alts = interfaces(&bench.usb_device());
    assert_eq!(alts, bench.device.borrow().alts());
    assert!(alts[0].name.starts_with("@Internal Flash"));
}

#[wasm_bindgen_test]
async fn a_multi_element_dfuse_file_is_written_read_back_and_the_device_comes_back_running_it() {
    let bench = Bench::new(DfuDevice::stm32());
    let conn = bench.connect().await;
    let file = dfu_sample_file();
    let image = stm32_image(otadeck_sim::firmware::SAMPLE_BODY_LEN);
    let (result, events) = flash(&conn, file).await;
    let outcome = result.expect("flashed");
    assert!(outcome.restarted);
    assert_eq!(outcome.bytes, image.len() as u64 + 1024);
    let dev = bench.device.borrow();
    assert_eq!(dev.read(0x0800_0000, image.len()), &image[..]);
    assert_eq!(dev.read(0x0802_0000, 1024), &image[..1024]);
    assert!(events.contains(&SessionEvent::Step(Step::Verify)));
    assert!(logged(
        &events,
        "The device came back running its application."
    ));
    // The device re-enumerated as its application: a new object, listed by getDevices.
    assert_eq!(bench.generation.get(), 1);
    assert_eq!(dev.product(), ST_APP_PRODUCT);
    let now_listed: web_sys::UsbDevice = bench.current.borrow().clone().unchecked_into();
    assert_eq!(now_listed.product_id(), ST_APP_PRODUCT);
}

#[wasm_bindgen_test]
async fn a_dfu_device_in_its_application_is_detached_and_found_again_as_a_new_object() {
    let mut device = DfuDevice::dfu11(vec![0x22; 5000], true, false);
    device.reenumerate = std::time::Duration::from_millis(300);
    let bench = Bench::new(device);
    let first = bench.usb_device();
    let conn = bench.connect().await;
    let image = stm32_image(20_000);
    let (result, events) = flash(&conn, image.clone()).await;
    assert!(result.expect("flashed").restarted, "{events:?}");
    assert!(logged(&events, "detaching it into DFU mode"));
    assert!(logged(&events, "The device came back in DFU mode."));
    assert_eq!(bench.device.borrow().memory, image);
    // Two re-enumerations (into DFU mode, back into the application), two USB resets asked of
    // the objects of the time.
    assert_eq!(bench.generation.get(), 2);
    assert_eq!(bench.device.borrow().resets, 2);
    assert_eq!(get(&get(&first, "_state"), "resets").as_f64(), Some(1.0));
}

#[wasm_bindgen_test]
async fn error_states_reach_the_page_in_words() {
    let cases: [(DfuFault, Step, &str); 3] = [
        (
            DfuFault::BlockFails { n: 2, status: 7 },
            Step::Write,
            "the device reports errVERIFY: flash verify failed",
        ),
        (
            DfuFault::EraseFails(4),
            Step::Prepare,
            "the device reports errERASE: memory erase failed",
        ),
        (
            DfuFault::CorruptAt(3000),
            Step::Verify,
            "the device holds other data than was written at byte 3000 (address 0x08000bb8)",
        ),
    ];
    for (fault, step, words) in cases {
        let mut device = DfuDevice::stm32();
        device.fault = Some(fault);
        let bench = Bench::new(device);
        let conn = bench.connect().await;
        let (result, _) = flash(&conn, dfu_sample_file()).await;
        let e = result.expect_err("fails");
        assert_eq!(e.step, step, "{e}");
        assert!(e.to_string().contains(words), "{e}");
        assert!(bench.device.borrow().in_loader());
    }
    // A device pulled mid-write.
    let bench = Bench::new(DfuDevice::stm32());
    let conn = bench.connect().await;
    let dev = bench.device.clone();
    wasm_bindgen_futures::spawn_local(async move {
        loop {
            gloo::timers::future::sleep(std::time::Duration::from_millis(5)).await;
            if dev.borrow().transfers > 40 {
                dev.borrow_mut().fault = Some(DfuFault::NeverReturns);
                dev.borrow_mut().usb_reset(now());
                break;
            }
        }
    });
    let (result, _) = flash(&conn, dfu_sample_file()).await;
    let e = result.expect_err("fails");
    assert_eq!(e.kind, FlashErrorKind::LinkLost);
    assert!(e.module_now().contains("DFU loader"), "{}", e.module_now());
}

#[wasm_bindgen_test]
async fn the_page_reads_a_usb_device_as_a_dfu_module() {
    let bench = Bench::new(DfuDevice::stm32());
    let device = DeviceHandle::new(SessionLog::default());
    device
        .connect_usb_device(bench.usb_device(), bench.usb.clone().unchecked_into())
        .await;
    assert_eq!(device.family(), Some(Family::Dfu));
    let module = device.view.get().module.clone().expect("identified");
    assert_eq!(module.model, "DfuSe device, Internal Flash");
    assert_eq!(module.runtime, "DFU 1.1a");
}
