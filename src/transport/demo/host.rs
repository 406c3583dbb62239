//! The demo module's host: the simulated module at the far end of a simulated line, run forward
//! in real time. The app runs it in a worker of its own ([`serve_in_worker`]), so that the demo
//! and its simulators load only when chosen and never take the page's thread; the browser tests
//! run it in the page.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use js_sys::{Array, Uint8Array};
use otadeck_sim::demo::DemoModule;
use otadeck_sim::dfu::{stm32_image, DfuDevice};
use otadeck_sim::fleet::DEMO_FLEET;
use otadeck_sim::line::{LineFault, SimLink};
use wasm_bindgen::JsCast;

use super::wire::{
    DemoCommand, DemoSpec, HostOutput, UsbAnswer, UsbRequest, CABLE_PULLED, READY, USB,
    WIRE_VERSION,
};
use super::{DemoFault, FAULT_AFTER_BYTES};
use crate::clock::now;

/// The simulated line with the module at its far end.
pub type DemoLink = SimLink<DemoModule>;

/// Where the host hands what reaches the page: the epoch it belongs to and the output.
pub type Deliver = Rc<dyn Fn(u32, HostOutput)>;

/// A demo module on its line, obeying [`DemoCommand`]s.
pub struct DemoHost {
    link: Option<Rc<RefCell<DemoLink>>>,
    stm32: Option<DfuDevice>,
    running: Rc<Cell<bool>>,
    deliver: Deliver,
}

impl DemoHost {
    /// A host with no module yet, handing what the module sends to `deliver`.
    pub fn new(deliver: Deliver) -> Self {
        DemoHost {
            link: None,
            stm32: None,
            running: Rc::new(Cell::new(false)),
            deliver,
        }
    }

    /// Obey `command`.
    pub fn handle(&mut self, command: DemoCommand) {
        match command {
            DemoCommand::Open {
                module: DemoSpec::Stm32Dfu,
                ..
            } => self.stm32 = Some(demo_stm32()),
            DemoCommand::Open {
                module,
                baud,
                epoch,
            } => {
                self.stop();
                let link = Rc::new(RefCell::new(SimLink::new(power_on(&module), baud)));
                self.link = Some(link);
                self.start(epoch);
            }
            DemoCommand::SetBaud(baud) => self.with_link(|l| l.set_baud(baud)),
            DemoCommand::Arm(fault) => self.with_link(|l| arm(l, fault)),
            DemoCommand::Replug { baud, epoch } => {
                self.stop();
                self.with_link(|l| {
                    let t = now();
                    l.replug(t);
                    l.set_baud(baud);
                    l.device.power_cycle(t);
                });
                self.start(epoch);
            }
            DemoCommand::Close => self.stop(),
            DemoCommand::Usb { id, request } => self.usb(id, request),
        }
    }

    /// Answer a request to the demo STM32.
    fn usb(&mut self, id: u32, request: UsbRequest) {
        let Some(device) = &mut self.stm32 else {
            return;
        };
        let t = now();
        let result = match request {
            UsbRequest::Control(transfer) => Some(device.control(t, &transfer)),
            UsbRequest::Reset => {
                device.usb_reset(t);
                None
            }
            UsbRequest::Present => None,
        };
        let answer = UsbAnswer {
            id,
            result,
            present: device.present(t),
            alts: device.alts(),
            vendor: device.vendor,
            product: device.product(),
        };
        (self.deliver)(0, HostOutput::Usb(answer));
    }

    /// The page wrote `data` on the line.
    pub fn write(&self, data: &[u8]) {
        if self.running.get() {
            self.with_link(|l| l.host_write(now(), data));
        }
    }

    fn with_link(&self, f: impl FnOnce(&mut DemoLink)) {
        if let Some(link) = &self.link {
            f(&mut link.borrow_mut());
        }
    }

    fn stop(&mut self) {
        self.running.set(false);
    }

    fn start(&mut self, epoch: u32) {
        let Some(link) = self.link.clone() else {
            return;
        };
        let running = Rc::new(Cell::new(true));
        self.running = running.clone();
        wasm_bindgen_futures::spawn_local(run_line(link, running, epoch, self.deliver.clone()));
    }
}

/// The demo STM32: its DfuSe loader, with an older application at the start of its flash.
fn demo_stm32() -> DfuDevice {
    let mut device = DfuDevice::stm32();
    device.load(0x0800_0000, &stm32_image(40 * 1024));
    device
}

/// The module `spec` names, powered on (a serial one: the STM32 has no line).
fn power_on(spec: &DemoSpec) -> DemoModule {
    match spec {
        DemoSpec::Family {
            family,
            console_baud,
        } => DemoModule::new(*family).with_console_baud(*console_baud),
        DemoSpec::FleetMember { imei } => DEMO_FLEET
            .iter()
            .find(|m| m.imei == imei)
            .unwrap_or(&DEMO_FLEET[0])
            .module(),
        DemoSpec::Stm32Dfu => DemoModule::new(otadeck_core::family::Family::Dfu),
    }
}

/// Arm `fault` to strike [`FAULT_AFTER_BYTES`] from now.
fn arm(link: &mut DemoLink, fault: DemoFault) {
    let at = link.delivered() + FAULT_AFTER_BYTES;
    link.inject(match fault {
        DemoFault::CablePulled => LineFault::DropAfter(at),
        DemoFault::Stall => LineFault::StallAfter(at),
        DemoFault::Corrupt => LineFault::Corrupt {
            index: at,
            xor: 0x01,
        },
    });
}

/// Move the line forward in real time and deliver what reaches the page, until stopped.
async fn run_line(
    link: Rc<RefCell<DemoLink>>,
    running: Rc<Cell<bool>>,
    epoch: u32,
    deliver: Deliver,
) {
    while running.get() {
        let t = now();
        let (bytes, dead, next) = {
            let mut l = link.borrow_mut();
            let bytes = l.host_read(t);
            (bytes, l.is_dead(), l.next_event())
        };
        if !bytes.is_empty() {
            deliver(epoch, HostOutput::Bytes(bytes));
        }
        if dead {
            deliver(epoch, HostOutput::CablePulled);
            return;
        }
        let wait = next
            .map(|n| n.saturating_sub(now()))
            .unwrap_or(Duration::from_millis(10))
            .clamp(Duration::from_millis(1), Duration::from_millis(10));
        gloo::timers::future::sleep(wait).await;
    }
}

/// Serve the demo module in this dedicated worker: commands come as JSON text, the page's
/// writes as byte arrays; the module's bytes go back as `[epoch, bytes]`, a pulled cable as
/// `[epoch, "cable-pulled"]`, the STM32's answers as `[0, "usb <json>"]`, and
/// `[0, "ready <version>"]` says it listens.
pub fn serve_in_worker() {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let out = scope.clone();
    let deliver: Deliver = Rc::new(move |epoch, output| {
        let payload = match output {
            HostOutput::Bytes(bytes) => Uint8Array::from(bytes.as_slice()).into(),
            HostOutput::CablePulled => wasm_bindgen::JsValue::from_str(CABLE_PULLED),
            HostOutput::Usb(answer) => match serde_json::to_string(&answer) {
                Ok(json) => format!("{USB}{json}").into(),
                Err(_) => return,
            },
        };
        let _ = out.post_message(&Array::of2(&epoch.into(), &payload));
    });
    let host = RefCell::new(DemoHost::new(deliver));
    gloo::events::EventListener::new(&scope, "message", move |event| {
        let Some(event) = event.dyn_ref::<web_sys::MessageEvent>() else {
            return;
        };
        let data = event.data();
        if let Some(bytes) = data.dyn_ref::<Uint8Array>() {
            host.borrow().write(&bytes.to_vec());
        } else if let Some(command) = data
            .as_string()
            .and_then(|text| serde_json::from_str::<DemoCommand>(&text).ok())
        {
            host.borrow_mut().handle(command);
        }
    })
    .forget();
    let ready = format!("{READY}{WIRE_VERSION}");
    let _ = scope.post_message(&Array::of2(&0.into(), &ready.into()));
}
