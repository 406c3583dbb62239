//! The Device page: what the connected module is and runs.

use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::runner::Ctx;
use crate::state::LinkKind;

/// The Device page.
#[component]
pub fn DevicePage() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    let s = &*ctx.state;
    let on_refresh = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            let ctx = ctx.clone();
            spawn_local(async move { ctx.identify().await });
        })
    };
    let body = match (&s.link, &s.module) {
        (LinkKind::None, _) => {
            html! { <p class="muted">{"No module connected. Connect one on the Flash page."}</p> }
        }
        (_, None) => {
            html! { <p class="muted">{ if s.busy { "Reading the module…" } else { "The module has not been identified: read it again, or check the log." } }</p> }
        }
        (_, Some(m)) => html! {
            <dl class="facts facts-big">
                <dt>{"Family"}</dt><dd id="device-family">{m.family.name()}</dd>
                <dt>{"Model"}</dt><dd id="device-model">{&m.model}</dd>
                <dt>{"Firmware version"}</dt><dd id="device-firmware-version">{&m.firmware_version}</dd>
                <dt>{"Runtime"}</dt><dd id="device-runtime">{&m.runtime}</dd>
                <dt>{"Slots"}</dt><dd class="muted">{"QuecPython does not report its update slots; it applies a verified package at restart."}</dd>
            </dl>
        },
    };
    html! {
        <div class="page">
            <section class="card">
                <h2>{"Device"}</h2>
                { body }
                <div class="row">
                    <button id="device-refresh" class="btn" onclick={on_refresh}
                        disabled={s.busy || s.link == LinkKind::None}>{"Read again"}</button>
                </div>
            </section>
        </div>
    }
}
