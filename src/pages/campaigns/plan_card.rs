//! The plan: load it (URL, paste, file, the demo's), then what it says at a glance.

use otadeck_core::manifest::plan::{CampaignPlan, Mode, PackageType};
use otadeck_core::session::group_digits;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::paste_or_file::{demo_url, PasteOrFile, Pasted};
use crate::hooks::use_campaigns;

/// Properties of [`PlanCard`].
#[derive(Properties, PartialEq)]
pub struct PlanCardProps {
    /// Load this plan at once (`#/campaign?plan=<url>`).
    #[prop_or_default]
    pub initial_url: Option<AttrValue>,
}

/// The plan card.
#[component]
pub fn PlanCard(props: &PlanCardProps) -> Html {
    let campaigns = use_campaigns();
    let url = use_state(|| {
        props
            .initial_url
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_default()
    });
    let (plan, busy, allow_unsigned, error) = {
        let v = campaigns.view.get();
        (v.plan.clone(), v.loading, v.allow_unsigned, v.error.clone())
    };
    let on_unsigned = {
        let campaigns = campaigns.clone();
        Callback::from(move |e: Event| {
            let allow = e.target_unchecked_into::<HtmlInputElement>().checked();
            let campaigns = campaigns.clone();
            spawn_local(async move { campaigns.allow_unsigned(allow).await });
        })
    };
    let load_url = {
        let campaigns = campaigns.clone();
        Callback::from(move |u: String| {
            let campaigns = campaigns.clone();
            spawn_local(async move { campaigns.load_url(u.trim()).await });
        })
    };
    {
        let (load_url, initial) = (load_url.clone(), props.initial_url.clone());
        use_effect_with(initial, move |u| {
            if let Some(u) = u {
                load_url.emit(u.to_string());
            }
        });
    }
    let on_submit = {
        let (load_url, url) = (load_url.clone(), url.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            load_url.emit((*url).clone());
        })
    };
    let on_url = {
        let url = url.clone();
        Callback::from(move |e: InputEvent| {
            url.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let on_demo = {
        let (load_url, url) = (load_url.clone(), url.clone());
        Callback::from(move |_: MouseEvent| {
            let u = demo_url(otadeck_sim::fleet::DEMO_PLAN_PATH);
            url.set(u.clone());
            load_url.emit(u);
        })
    };
    let on_read = {
        let campaigns = campaigns.clone();
        Callback::from(move |read: Pasted| {
            let campaigns = campaigns.clone();
            spawn_local(async move {
                match read {
                    Ok((bytes, origin)) => {
                        let text = String::from_utf8_lossy(&bytes).into_owned();
                        campaigns.load_text(text, origin).await
                    }
                    Err(e) => campaigns.fail(format!("The plan could not be read: {e}")),
                }
            });
        })
    };
    html! {
        <section class="card" id="plan-card">
            <h2><span class="num">{"1"}</span>{"Campaign plan"}</h2>
            <form class="source-form" onsubmit={on_submit}>
                <label class="field">{"Plan URL"}
                    <input id="plan-url" type="url" class="input" placeholder="https://…/plan.json"
                        value={(*url).clone()} oninput={on_url} disabled={busy} />
                </label>
                <button id="plan-load" class="btn" type="submit" disabled={busy}>{"Load"}</button>
                <button id="plan-demo" class="btn" type="button" onclick={on_demo} disabled={busy}>{"Demo plan"}</button>
            </form>
            <PasteOrFile prefix="plan" placeholder="{ \"format\": \"otadeck-campaign-plan\", … }"
                read_label="Read the pasted plan" {busy} on_read={on_read} />
            if let Some(e) = error {
                <div class="result result-bad verdict" id="plan-error" role="alert"><p>{e}</p></div>
            }
            if let Some(open) = plan {
                { summary(&open.plan, open.source.signature.badge(), &open.source.origin) }
                if open.source.signature.needs_consent() {
                    <label class="warn-box check">
                        <input id="plan-allow-unsigned" type="checkbox" checked={allow_unsigned} onchange={on_unsigned} />
                        {format!("Run this plan although it is {}: nothing proves who wrote it (every file is still checked against its hashes)", open.source.signature.badge())}
                    </label>
                }
            }
        </section>
    }
}

fn summary(plan: &CampaignPlan, badge: &str, origin: &str) -> Html {
    let window = match &plan.push_window {
        Some(w) => {
            let dates = match (w.from, w.until) {
                (Some(f), Some(u)) => format!(", {f} to {u}"),
                (Some(f), None) => format!(", from {f}"),
                (None, Some(u)) => format!(", until {u}"),
                (None, None) => String::new(),
            };
            let tz = plan.timezone.to_string();
            let tz = if tz == "UTC" { tz } else { format!("UTC{tz}") };
            format!("{} to {} ({tz}){dates}", w.start, w.end)
        }
        None => "any time".into(),
    };
    let strategy = {
        let s = &plan.strategy;
        let mut parts = Vec::new();
        if let Some(b) = s.min_battery_percent {
            parts.push(format!("battery ≥ {b} %"));
        }
        if let Some(d) = s.min_signal_dbm {
            parts.push(format!("signal ≥ {d} dBm"));
        }
        if let Some(f) = s.min_free_bytes {
            parts.push(format!("free space ≥ {} bytes", group_digits(f)));
        }
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        }
    };
    let lists = format!(
        "{} on the whitelist{}, {} on the blacklist",
        plan.whitelist.len(),
        if plan.whitelist.is_empty() {
            " (any module)"
        } else {
            ""
        },
        plan.blacklist.len()
    );
    html! {
        <div id="plan-summary">
            <h3 id="plan-name">{&plan.name}</h3>
            <p class="muted wrap small">{format!("{} · {origin} · ", plan.id)}<span class="badge">{badge}</span></p>
            <dl class="facts">
                <dt>{"Target version"}</dt><dd id="plan-target">{&plan.target_version}</dd>
                <dt>{"Models"}</dt><dd>{if plan.models.is_empty() { "any".to_string() } else { plan.models.join(", ") }}</dd>
                <dt>{"Mode"}</dt><dd id="plan-mode">{match plan.mode { Mode::Silent => "silent: installs without asking", Mode::Manual => "manual: the technician confirms each module" }}</dd>
                <dt>{"Window"}</dt><dd>{window}</dd>
                <dt>{"Strategy"}</dt><dd>{strategy}</dd>
                <dt>{"Modules"}</dt><dd>{lists}</dd>
            </dl>
            <ol class="items">
                { for plan.packages.iter().map(|p| {
                    let kind = match (p.kind, &p.source_version) {
                        (PackageType::Delta, Some(v)) => format!("delta from {v}"),
                        _ => "full".into(),
                    };
                    let size: u64 = p.files.iter().map(|f| f.size).sum();
                    html! { <li>{format!("{}: {kind}, {} file{}, {} bytes", p.component, p.files.len(), if p.files.len() == 1 { "" } else { "s" }, group_digits(size))}</li> }
                }) }
            </ol>
        </div>
    }
}
