//! Step 1: connect a serial port or the demo module, and arm a demo fault.

use otadeck_core::family::Family;
use otadeck_sim::demo::DemoFamily;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::granted::GrantedPorts;
use crate::hooks::use_device;
use crate::services::device::LinkKind;
use crate::support::detect;
use crate::transport::demo::DemoFault;

/// Baud rates offered for serial ports and the demo line.
const BAUDS: [u32; 4] = [115_200, 230_400, 460_800, 921_600];

/// The value of the `<select>` or `<input>` an event came from.
fn value_of(e: &Event) -> String {
    e.target_unchecked_into::<HtmlInputElement>().value()
}

/// The Connect card.
#[component]
pub fn ConnectCard() -> Html {
    let (device, s) = use_device();
    let baud = use_state(|| 115_200u32);
    // A demo already connected keeps its family in the menu when the page is shown again.
    let demo_family = {
        let shown = matches!(s.link, LinkKind::Demo(_))
            .then(|| device.family())
            .flatten();
        use_state(move || shown.unwrap_or(Family::QuecPython))
    };
    let serial_rom = use_state(|| false);
    let support = use_memo((), |_| detect());
    let running = s.flashing;
    let connected = s.link != LinkKind::None;

    let on_baud = {
        let baud = baud.clone();
        Callback::from(move |e: Event| baud.set(value_of(&e).parse().unwrap_or(115_200)))
    };
    let on_demo = {
        let (device, baud, family) = (device.clone(), *baud, *demo_family);
        Callback::from(move |_: MouseEvent| {
            let device = device.clone();
            spawn_local(async move { device.connect_demo(family, baud).await });
        })
    };
    let on_demo_family = {
        let demo_family = demo_family.clone();
        Callback::from(move |e: Event| {
            if let Some(f) = Family::from_key(&value_of(&e)) {
                demo_family.set(f);
            }
        })
    };
    let on_serial = {
        let (device, baud, rom) = (device.clone(), *baud, *serial_rom);
        Callback::from(move |_: MouseEvent| {
            let device = device.clone();
            spawn_local(async move { device.connect_serial(baud, rom).await });
        })
    };
    let on_usb = {
        let device = device.clone();
        Callback::from(move |_: MouseEvent| {
            let device = device.clone();
            spawn_local(async move { device.connect_usb(None).await });
        })
    };
    let bridge = use_state(String::new);
    let on_bridge_input = {
        let bridge = bridge.clone();
        Callback::from(move |e: InputEvent| {
            bridge.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let on_bridge = {
        let (device, address, rom, baud) = (device.clone(), (*bridge).clone(), *serial_rom, *baud);
        Callback::from(move |_: MouseEvent| {
            let (device, address) = (device.clone(), address.clone());
            spawn_local(async move { device.connect_bridge(&address, baud, rom).await });
        })
    };
    let on_serial_rom = {
        let serial_rom = serial_rom.clone();
        Callback::from(move |e: Event| {
            serial_rom.set(e.target_unchecked_into::<HtmlInputElement>().checked());
        })
    };
    let on_disconnect = {
        let device = device.clone();
        Callback::from(move |_: MouseEvent| {
            let device = device.clone();
            spawn_local(async move { device.disconnect().await });
        })
    };
    let on_fault = {
        let device = device.clone();
        Callback::from(move |e: Event| {
            let select: HtmlInputElement = e.target_unchecked_into();
            let fault = match select.value().as_str() {
                "cable" => Some(DemoFault::CablePulled),
                "stall" => Some(DemoFault::Stall),
                "corrupt" => Some(DemoFault::Corrupt),
                _ => None,
            };
            if let Some(f) = fault {
                device.arm_demo_fault(f);
            }
            select.set_value("");
        })
    };
    html! {
        <section class="card">
            <h2><span class="num">{"1"}</span>{"Connect"}</h2>
            <div class="row">
                <label class="field">{"Baud rate"}
                    <select id="baud" onchange={on_baud} disabled={running}>
                        { for BAUDS.iter().map(|b| html! { <option value={b.to_string()} selected={*b == *baud}>{b}</option> }) }
                    </select>
                </label>
                <button id="connect-serial" class={classes!("btn", (!connected).then_some("btn-primary"))} onclick={on_serial}
                    disabled={running || connected || support.problem().is_some()}>{"Connect serial port"}</button>
                <label class="check">
                    <input id="serial-rom" type="checkbox" checked={*serial_rom} onchange={on_serial_rom} disabled={running} />
                    {"ESP32 bootloader: reset the chip into download mode (DTR/RTS)"}
                </label>
                <button id="connect-usb" class="btn" onclick={on_usb}
                    disabled={running || connected || !support.usb}>{"Connect USB DFU device"}</button>
            </div>
            <div class="row">
                <label class="field field-grow">{"Serial port on another machine (otadeck bridge)"}
                    <input id="bridge-url" class="input" type="text" inputmode="url" placeholder="ws://192.168.1.20:8765"
                        value={(*bridge).clone()} oninput={on_bridge_input} disabled={running || connected} />
                </label>
                <button id="connect-bridge" class="btn" onclick={on_bridge}
                    disabled={running || connected || bridge.trim().is_empty()}>{"Connect bridge"}</button>
            </div>
            <div class="row">
                <label class="field">{"Demo module"}
                    <select id="demo-family" onchange={on_demo_family} disabled={running}>
                        { for Family::ALL.iter().chain(&Family::USB).map(|f| html! { <option value={f.key()} selected={*f == *demo_family}>{f.demo_label()}</option> }) }
                    </select>
                </label>
                <button id="connect-demo" class="btn" onclick={on_demo} disabled={running || connected}>{"Use demo module"}</button>
                if connected {
                    <button id="disconnect" class="btn btn-danger" onclick={on_disconnect} disabled={running}>{"Disconnect"}</button>
                }
            </div>
            <GrantedPorts baud={*baud} bootloader={*serial_rom} />
            if matches!(s.link, LinkKind::Demo(_)) && device.family() != Some(Family::Dfu) {
                <div class="row">
                    <label class="field">{"Try a fault on the demo module"}
                        <select id="demo-fault" onchange={on_fault}>
                            <option value="" selected=true>{"Choose a fault…"}</option>
                            <option value="cable">{"Pull the cable mid-flash"}</option>
                            <option value="stall">{"Module stops answering mid-flash"}</option>
                            <option value="corrupt">{"Corrupt one byte on the wire"}</option>
                        </select>
                    </label>
                </div>
            }
        </section>
    }
}
