//! The Log page: the campaign records with their filters and exports, then the whole session
//! log, with wire-level detail on demand, and a JSON export.

mod records;

use wasm_bindgen::JsCast;
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
        Callback::from(move |_: MouseEvent| download("otadeck-log.json", &log::to_json(&log)))
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

/// Offer `text` as a file download.
fn download(name: &str, text: &str) {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/json");
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
        if let Ok(a) = doc.create_element("a") {
            let a: web_sys::HtmlElement = a.unchecked_into();
            let _ = a.set_attribute("href", &url);
            let _ = a.set_attribute("download", name);
            a.click();
        }
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}
