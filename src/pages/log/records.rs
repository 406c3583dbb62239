//! Every update kept in this browser (each module's attempt in a campaign, each flash from the
//! Flash page), filtered by campaign, module and result, and
//! exported as JSON (every field) or CSV (one row per attempt). The export links are ready
//! before the click, so that a right-click "Save link as" works too.

use otadeck_core::campaign::export::{rfc3339, to_csv, to_json};
use otadeck_core::campaign::record::{Attempt, AttemptState};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::hooks::use_campaigns;
use crate::services::records;

/// The results a filter offers, with their labels.
const RESULTS: [(&str, &str); 7] = [
    ("", "Any result"),
    ("verified", "Verified"),
    ("failed", "Failed"),
    ("interrupted", "Interrupted"),
    ("not eligible", "Not eligible"),
    ("rejected", "Rejected"),
    ("open", "Still open"),
];

/// The records card.
#[component]
pub fn RecordsCard() -> Html {
    let campaigns = use_campaigns();
    let campaign = use_state(|| ALL.to_string());
    let module = use_state(String::new);
    let result = use_state(String::new);
    // Read from the browser's records each time the page is shown and whenever a campaign
    // record changes, so flashes from the Flash page are listed too.
    let kept = use_state(Vec::<Attempt>::new);
    {
        let kept = kept.clone();
        let changes = campaigns
            .view
            .get()
            .attempts
            .iter()
            .map(|a| a.updated_ms)
            .max();
        use_effect_with(changes, move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(all) = records::all().await {
                    kept.set(all);
                }
            });
        });
    }
    let all: Vec<Attempt> = (*kept).clone();
    let mut ids: Vec<String> = all.iter().map(|a| a.campaign.clone()).collect();
    ids.dedup();
    otadeck_core::order::sort(&mut ids);
    ids.dedup();
    let shown: Vec<Attempt> = all
        .into_iter()
        .filter(|a| campaign.as_str() == ALL || a.campaign == *campaign)
        .filter(|a| module.is_empty() || a.module.contains(module.trim()))
        .filter(|a| match result.as_str() {
            "" => true,
            "open" => !a.state.is_final(),
            r => a.state.label() == r,
        })
        .collect();
    let csv = use_blob_url(to_csv(&shown), "text/csv");
    let json = use_blob_url(to_json(&shown), "application/json");
    let set = |s: &UseStateHandle<String>| {
        let s = s.clone();
        Callback::from(move |e: Event| s.set(e.target_unchecked_into::<HtmlInputElement>().value()))
    };
    let on_module = {
        let module = module.clone();
        Callback::from(move |e: InputEvent| {
            module.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    html! {
        <section class="card" id="records-card">
            <h2>{"Records"}</h2>
            <div class="row">
                <label class="field">{"Campaign"}
                    <select id="records-campaign" onchange={set(&campaign)}>
                        <option value={ALL} selected={campaign.as_str() == ALL}>{"Everything"}</option>
                        { for ids.iter().map(|id| html! { <option value={id.clone()} selected={*id == *campaign}>{campaign_name(id)}</option> }) }
                    </select>
                </label>
                <label class="field">{"Module"}
                    <input id="records-module" class="input" type="search" placeholder="IMEI or name"
                        value={(*module).clone()} oninput={on_module} />
                </label>
                <label class="field">{"Result"}
                    <select id="records-result" onchange={set(&result)}>
                        { for RESULTS.iter().map(|(v, l)| html! { <option value={*v} selected={*v == result.as_str()}>{*l}</option> }) }
                    </select>
                </label>
            </div>
            <div class="row">
                <a id="records-csv" class="btn" href={csv.clone()} download="otadeck-records.csv">{format!("Download CSV ({} row{})", shown.len(), if shown.len() == 1 { "" } else { "s" })}</a>
                <a id="records-json" class="btn" href={json.clone()} download="otadeck-records.json">{"Download JSON"}</a>
            </div>
            if shown.is_empty() {
                <p class="muted">{"No attempt matches."}</p>
            } else {
                <table class="slots" id="records-table">
                    <thead><tr><th>{"Started (UTC)"}</th><th>{"Campaign"}</th><th>{"Image"}</th><th>{"Module"}</th><th>{"Result"}</th><th>{"Versions"}</th><th>{"What happened"}</th></tr></thead>
                    <tbody>
                        { for shown.iter().rev().map(row) }
                    </tbody>
                </table>
            }
        </section>
    }
}

/// The filter value for every record.
const ALL: &str = "*";

/// A campaign's id, or what a flash outside any campaign is called.
fn campaign_name(id: &str) -> String {
    if id.is_empty() {
        "Flash page".into()
    } else {
        id.to_string()
    }
}

fn row(a: &Attempt) -> Html {
    let versions = match &a.running_after {
        Some(after) => format!("{} → {after}", a.from_version),
        None if a.state == AttemptState::NotEligible => a.from_version.clone(),
        None => format!("{} (target {})", a.from_version, a.to_version),
    };
    let what = if a.reasons.is_empty() {
        a.message.clone().unwrap_or_default()
    } else {
        a.reasons
            .iter()
            .map(|r| r.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    html! {
        <tr data-state={a.state.label().replace(' ', "-")}>
            <td class="slot-label">{rfc3339(a.started_ms).replace('T', " ").trim_end_matches('Z').to_string()}</td>
            <td data-label="Campaign">{campaign_name(&a.campaign)}</td>
            <td data-label="Image">{&a.image}</td>
            <td data-label="Module" class="mono">{&a.module}</td>
            <td data-label="Result">{a.state.label()}</td>
            <td data-label="Versions">{versions}</td>
            <td data-label="What happened">{what}</td>
        </tr>
    }
}

/// A `blob:` URL holding `text`, replaced (and the old one freed) when `text` changes.
#[hook]
fn use_blob_url(text: String, kind: &'static str) -> String {
    let url = use_state(String::new);
    {
        let url = url.clone();
        use_effect_with(text, move |text| {
            let made = blob_url(text, kind);
            url.set(made.clone().unwrap_or_default());
            move || {
                if let Some(u) = made {
                    let _ = web_sys::Url::revoke_object_url(&u);
                }
            }
        });
    }
    (*url).clone()
}

fn blob_url(text: &str, kind: &str) -> Option<String> {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(kind);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}
