//! The Log page: the whole session log, with wire-level detail on demand, and a JSON export.

use otadeck_core::session::LogLevel;
use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::log_view::LogView;
use crate::runner::Ctx;

fn level_name(l: LogLevel) -> &'static str {
    match l {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The Log page.
#[component]
pub fn LogPage() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    let detail = use_state(|| false);
    let on_detail = {
        let detail = detail.clone();
        Callback::from(move |e: Event| {
            detail.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    let on_export = {
        let log = ctx.state.log.clone();
        Callback::from(move |_: MouseEvent| {
            let body: Vec<String> = log
                .iter()
                .map(|e| {
                    format!(
                        "{{\"t\":{:.3},\"clock\":\"{}\",\"level\":\"{}\",\"message\":\"{}\"}}",
                        e.at,
                        e.clock,
                        level_name(e.level),
                        json_escape(&e.message)
                    )
                })
                .collect();
            let json = format!("[\n{}\n]\n", body.join(",\n"));
            download("otadeck-log.json", &json);
        })
    };
    html! {
        <div class="page">
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
