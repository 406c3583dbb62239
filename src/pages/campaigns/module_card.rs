//! The connected module against the plan: what it reports, eligible or every reason it is not,
//! the release notes and the confirmation in manual mode, the install's progress, the result,
//! and the next module. `#campaign-module[data-state]` is `none` or the attempt's state.

use otadeck_core::campaign::record::{Attempt, AttemptState};
use otadeck_core::manifest::plan::CampaignPlan;
use otadeck_core::session::group_digits;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::hooks::{use_campaigns, use_device, use_progress};
use crate::services::campaign::Campaigns;
use crate::services::device::{DeviceHandle, FlashView, LinkKind};
use futures::future::LocalBoxFuture;

/// What a button starts on the campaign and the device.
type Action = fn(Campaigns, DeviceHandle) -> LocalBoxFuture<'static, ()>;

/// The module card.
#[component]
pub fn ModuleCard() -> Html {
    let campaigns = use_campaigns();
    let (device, s) = use_device();
    let progress = use_progress(&device);
    let language = use_state(browser_language);
    let (plan, attempt, working, error, fetching) = {
        let v = campaigns.view.get();
        let attempt = v.current.as_deref().and_then(|id| v.attempt(id)).cloned();
        (
            v.plan.clone(),
            attempt,
            v.working.clone(),
            v.error.clone(),
            v.fetching,
        )
    };
    let busy = working.is_some() || s.busy;
    let act = |f: Action| {
        let (campaigns, device) = (campaigns.clone(), device.clone());
        Callback::from(move |_: MouseEvent| spawn_local(f(campaigns.clone(), device.clone())))
    };
    let on_next = act(|c, d| Box::pin(async move { c.next_module(&d).await }));
    let on_check = act(|c, d| Box::pin(async move { c.check(&d).await }));
    let on_accept = act(|c, d| Box::pin(async move { c.decide(&d, true).await }));
    let on_reject = act(|c, d| Box::pin(async move { c.decide(&d, false).await }));
    let on_serial = act(|c, d| {
        Box::pin(async move {
            c.forget_current();
            d.connect_serial(115_200, false).await;
            if d.view.get().module.is_some() {
                c.check(&d).await;
            }
        })
    });
    let on_language = {
        let language = language.clone();
        Callback::from(move |e: Event| {
            language.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let Some(open) = plan else {
        return html! {
            <section class="card" id="campaign-module" data-state="none">
                <h2><span class="num">{"2"}</span>{"Modules"}</h2>
                <p class="muted">{"Load a campaign plan first: the demo plan shows the whole flow with no hardware."}</p>
            </section>
        };
    };
    let connected = s.link != LinkKind::None;
    let state = attempt.as_ref().map_or("none", |a| a.state.label());
    let ended = attempt.as_ref().is_none_or(|a| a.state.is_final());
    html! {
        <section class="card" id="campaign-module" data-state={state.replace(' ', "-")}>
            <h2><span class="num">{"2"}</span>{"Modules"}</h2>
            <div class="row">
                <button id="next-module" class={classes!("btn", "btn-big", ended.then_some("btn-primary"))}
                    onclick={on_next} disabled={busy || !ended}>{"Next demo module"}</button>
                <button id="campaign-serial" class="btn" onclick={on_serial} disabled={busy || !ended}>{"Connect serial port"}</button>
                if connected && attempt.is_none() {
                    <button id="check-module" class="btn btn-primary" onclick={on_check.clone()} disabled={busy}>{"Check this module"}</button>
                }
            </div>
            if let Some(w) = &working {
                <p class="muted" id="campaign-working">{format!("{w}…")}</p>
            }
            if let Some(e) = &error {
                <div class="result result-bad verdict" id="campaign-error" role="alert"><p>{e}</p></div>
            }
            if let Some(a) = &attempt {
                { reported(a) }
                { match a.state {
                    AttemptState::NotEligible => not_eligible(a),
                    AttemptState::AwaitingConfirmation => confirmation(a, &open.plan, &language, on_language, on_accept, on_reject, busy),
                    AttemptState::Installing => installing(&progress.get().view, fetching),
                    _ => ended_view(a, on_check.clone(), busy),
                } }
            }
        </section>
    }
}

/// The browser's first language, e.g. `de-DE`.
fn browser_language() -> String {
    web_sys::window()
        .and_then(|w| w.navigator().language())
        .unwrap_or_else(|| "en".into())
}

fn reported(a: &Attempt) -> Html {
    let battery = a.battery_percent.map_or("not reported".into(), |b| {
        format!("{b} % (from the cell voltage)")
    });
    let signal = a
        .signal_dbm
        .map_or("not reported".into(), |d| format!("{d} dBm"));
    let free = a.free_bytes.map_or("not reported".into(), |f| {
        format!("{} bytes", group_digits(f))
    });
    html! {
        <dl class="facts" id="module-facts">
            <dt>{"Module"}</dt><dd id="module-key" class="mono">{&a.module}</dd>
            <dt>{"Model"}</dt><dd>{&a.model}</dd>
            <dt>{"Runs"}</dt><dd>{format!("{} (the plan brings {})", a.from_version, a.to_version)}</dd>
            <dt>{"Battery"}</dt><dd>{battery}</dd>
            <dt>{"Signal"}</dt><dd>{signal}</dd>
            <dt>{"Free space"}</dt><dd>{free}</dd>
        </dl>
    }
}

fn not_eligible(a: &Attempt) -> Html {
    html! {
        <div class="result result-bad verdict" id="eligibility" data-eligible="false">
            <p class="result-title">{"Not eligible: this module is left as it is"}</p>
            <ul id="reasons">
                { for a.reasons.iter().map(|r| html! { <li data-code={format!("{:?}", r.code)}>{&r.message}</li> }) }
            </ul>
        </div>
    }
}

fn confirmation(
    a: &Attempt,
    plan: &CampaignPlan,
    language: &UseStateHandle<String>,
    on_language: Callback<Event>,
    on_accept: Callback<MouseEvent>,
    on_reject: Callback<MouseEvent>,
    busy: bool,
) -> Html {
    let notes = plan.notes_for(&[language.as_str()]);
    let shown = notes.map(|(tag, _)| tag.to_string()).unwrap_or_default();
    html! {
        <div class="result result-ok verdict" id="eligibility" data-eligible="true">
            <p class="result-title">{"Eligible"}</p>
            <ul>
                { for a.results.iter().map(|r| html! { <li>{format!("{}: {} → {}", r.component, r.from_version, r.to_version)}</li> }) }
            </ul>
            if let Some((_, text)) = notes {
                <label class="field">{"Release notes in"}
                    <select id="notes-lang" onchange={on_language}>
                        { for plan.release_notes.keys().map(|t| html! { <option value={t.clone()} selected={*t == shown}>{t}</option> }) }
                    </select>
                </label>
                <p id="release-notes" lang={shown.clone()}>{text}</p>
            }
            <div class="row">
                <button id="confirm-accept" class="btn btn-primary btn-big" onclick={on_accept} disabled={busy}>{"Install on this module"}</button>
                <button id="confirm-reject" class="btn btn-big" onclick={on_reject} disabled={busy}>{"Reject"}</button>
            </div>
        </div>
    }
}

fn installing(view: &FlashView, fetching: Option<crate::services::source::Fetching>) -> Html {
    let (label, done, total) = match (view, fetching) {
        (
            FlashView::Running {
                step, done, total, ..
            },
            _,
        ) => (step.label().to_string(), *done, *total),
        (_, Some(f)) => (
            "Downloading the package".into(),
            f.done,
            f.total.unwrap_or(0),
        ),
        _ => ("Starting".into(), 0, 0),
    };
    let percent = (done * 100).checked_div(total).unwrap_or(0);
    html! {
        <div class="result result-running" id="campaign-progress" data-percent={percent.to_string()}>
            <p class="result-title">{format!("{label}: {percent} %")}</p>
            <div class="bar"><div class="bar-fill" style={format!("width: {percent}%")}></div></div>
            <p class="muted">{format!("{} of {} bytes", group_digits(done), group_digits(total))}</p>
        </div>
    }
}

fn ended_view(a: &Attempt, on_retry: Callback<MouseEvent>, busy: bool) -> Html {
    let (class, title) = match a.state {
        AttemptState::Verified => ("result result-ok", "Verified"),
        AttemptState::Rejected => ("result result-warn", "Rejected"),
        _ => ("result result-bad", "Not updated"),
    };
    let retry = matches!(a.state, AttemptState::Failed | AttemptState::Interrupted);
    html! {
        <div class={format!("{class} verdict")} id="attempt-result">
            <p class="result-title">{title}</p>
            <p>{a.message.clone().unwrap_or_default()}</p>
            if retry {
                <button id="retry-module" class="btn" onclick={on_retry} disabled={busy}>{"Check this module again"}</button>
            }
        </div>
    }
}
