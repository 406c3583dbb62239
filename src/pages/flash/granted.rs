//! Ports and USB devices this site was granted before: listed with no chooser, named in words,
//! one click to connect again (after a reload, or when a module came back as a new port).

use gloo::events::EventListener;
use js_sys::{Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{SerialPort, UsbDevice};
use yew::prelude::*;

use crate::hooks::use_device;
use crate::services::device::LinkKind;
use crate::transport::web_serial::port_name;
use crate::transport::web_usb::{device_name, granted_dfu_devices, navigator_usb};

/// A port or device granted before.
#[derive(Clone, PartialEq)]
enum Granted {
    Serial(SerialPort),
    Usb(UsbDevice),
}

impl Granted {
    fn label(&self) -> String {
        match self {
            Granted::Serial(p) => port_name(p),
            Granted::Usb(d) => format!("{} (DFU)", device_name(d)),
        }
    }
}

fn navigator_serial() -> Option<web_sys::Serial> {
    let navigator = web_sys::window()?.navigator();
    let serial = Reflect::get(&navigator, &JsValue::from_str("serial")).ok()?;
    (!serial.is_undefined()).then(|| serial.unchecked_into())
}

async fn list() -> Vec<Granted> {
    let mut out = Vec::new();
    if let Some(serial) = navigator_serial() {
        if let Ok(ports) = JsFuture::from(serial.get_ports()).await {
            out.extend(
                Array::from(&ports)
                    .iter()
                    .map(|p| Granted::Serial(p.unchecked_into())),
            );
        }
    }
    if let Some(usb) = navigator_usb() {
        out.extend(
            granted_dfu_devices(&usb)
                .await
                .into_iter()
                .map(Granted::Usb),
        );
    }
    out
}

/// Properties of [`GrantedPorts`].
#[derive(Properties, PartialEq)]
pub struct GrantedProps {
    /// The rate to open a serial port at.
    pub baud: u32,
    /// Reset a serial port's ESP32 into its ROM loader.
    pub bootloader: bool,
}

/// The list of granted ports, with a connect button each; nothing when there are none.
#[component]
pub fn GrantedPorts(props: &GrantedProps) -> Html {
    let (device, s) = use_device();
    let granted = use_state(Vec::<Granted>::new);
    let refresh = use_state(|| 0u32);
    {
        let granted = granted.clone();
        use_effect_with((s.link.clone(), *refresh), move |_| {
            spawn_local(async move { granted.set(list().await) });
        });
    }
    {
        // A port plugged in or out: list again.
        let refresh = refresh.clone();
        use_effect_with((), move |_| {
            let mut listeners = Vec::new();
            let targets: Vec<web_sys::EventTarget> = [
                navigator_serial().map(|s| s.unchecked_into()),
                navigator_usb().map(|u| u.unchecked_into()),
            ]
            .into_iter()
            .flatten()
            .collect();
            for target in targets {
                for event in ["connect", "disconnect"] {
                    let refresh = refresh.clone();
                    listeners.push(EventListener::new(&target, event, move |_| {
                        refresh.set(*refresh + 1)
                    }));
                }
            }
            move || drop(listeners)
        });
    }
    if granted.is_empty() || s.link != LinkKind::None {
        return Html::default();
    }
    let items = granted.iter().enumerate().map(|(i, g)| {
        let (device, g2, baud, rom) = (device.clone(), g.clone(), props.baud, props.bootloader);
        let onclick = Callback::from(move |_: MouseEvent| {
            let (device, g) = (device.clone(), g2.clone());
            spawn_local(async move {
                match g {
                    Granted::Serial(p) => device.connect_serial_port(p, baud, rom).await,
                    Granted::Usb(d) => device.connect_usb(Some(d)).await,
                }
            });
        });
        html! {
            <li>
                <button id={format!("granted-{i}")} class="btn" {onclick} disabled={s.busy}>
                    {format!("Connect {}", g.label())}
                </button>
            </li>
        }
    });
    html! {
        <div class="granted">
            <div class="muted small">{"Allowed before on this site:"}</div>
            <ul class="granted-list">{ for items }</ul>
        </div>
    }
}
