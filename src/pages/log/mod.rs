//! The Log page: the campaign records with their filters and exports, then the whole session
//! log, with wire-level detail on demand, and a JSON export.

mod records;

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::log_view::LogView;
use crate::hooks::use_devices;
use crate::services::log;

/// The Log page.
#[component]
pub fn LogPage() -> Html {
    let devices = use_devices();
    let detail = use_state(|| false);
    let on_detail = {
        let detail = detail.clone();
        Callback::from(move |e: Event| {
            detail.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    let on_export = {
        let log = devices.log().clone();
        Callback::from(move |_: MouseEvent| {
            crate::download::offer_text("otadeck-log.json", &log::to_json(&log), "application/json")
        })
    };
    html! {
        <div class="page">
            <records::RecordsCard />
            <section class="card">
                <h2>{"Session log"}</h2>
                <div class="row">
                    <label class="check">
                        <input type="checkbox" checked={*detail} onchange={on_detail} />
                        {"Show wire-level detail"}
                    </label>
                    <button id="log-export" class="btn" onclick={on_export}>{"Download as JSON"}</button>
                </div>
                <LogView hide_debug={!*detail} />
            </section>
        </div>
    }
}
