//! The connected module against the plan: what it reports, eligible or every reason it is not,
//! the release notes and the confirmation in manual mode, the install's progress, the result,
//! and the next module. `#campaign-module[data-state]` is `none` or the attempt's state.

use otadeck_core::campaign::record::{Attempt, AttemptState};
use otadeck_core::manifest::plan::CampaignPlan;
use otadeck_core::session::group_digits;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::hooks::{use_campaigns, use_progress, use_store};
use crate::services::campaign::Campaigns;
use crate::services::device::{DeviceHandle, FlashView, LinkKind};
use futures::future::LocalBoxFuture;

/// What a button starts on the campaign and the device.
type Action = fn(Campaigns, DeviceHandle) -> LocalBoxFuture<'static, ()>;

/// The element ids of one card: as named for the first slot, with `-N` after them for slot N.
#[derive(Clone, Copy)]
struct Ids {
    slot: usize,
}

impl Ids {
    fn of(self, base: &str) -> String {
        match self.slot {
            1 => base.to_string(),
            n => format!("{base}-{n}"),
        }
    }
}

/// Properties of [`ModuleCard`].
#[derive(Properties, PartialEq)]
pub struct ModuleCardProps {
    /// The bench slot's device.
    pub device: DeviceHandle,
    /// It may be let go (not the first slot).
    #[prop_or_default]
    pub on_remove: Option<Callback<()>>,
}

/// The module card of one bench slot.
#[component]
pub fn ModuleCard(props: &ModuleCardProps) -> Html {
    let campaigns = use_campaigns();
    let device = props.device.clone();
    use_store(&device.view);
    let s = device.view.get().clone();
    let progress = use_progress(&device);
    let language = use_state(browser_language);
    let ids = Ids { slot: device.slot };
    let (plan, attempt, slot) = {
        let v = campaigns.view.get();
        let attempt = v.current(device.slot).cloned();
        (v.plan.clone(), attempt, v.slot(device.slot))
    };
    let (working, error, fetching) = (slot.working, slot.error, slot.fetching);
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
            c.forget_current(&d);
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
            <section class="card" id={ids.of("campaign-module")} data-state="none">
                <h2><span class="num">{"2"}</span>{title(device.slot)}</h2>
                <p class="muted">{"Load a campaign plan first: the demo plan shows the whole flow with no hardware."}</p>
            </section>
        };
    };
    let connected = s.link != LinkKind::None;
    let state = attempt.as_ref().map_or("none", |a| a.state.label());
    let ended = attempt.as_ref().is_none_or(|a| a.state.is_final());
    html! {
        <section class="card" id={ids.of("campaign-module")} data-state={state.replace(' ', "-")}>
            <h2><span class="num">{"2"}</span>{title(device.slot)}
                if let Some(remove) = props.on_remove.clone() {
                    <button class="btn small btn-quiet" id={ids.of("remove-slot")} onclick={remove.reform(|_: MouseEvent| ())} disabled={busy}>{"Remove"}</button>
                }
            </h2>
            <div class="row">
                <button id={ids.of("next-module")} class={classes!("btn", "btn-big", ended.then_some("btn-primary"))}
                    onclick={on_next} disabled={busy || !ended}>{"Next demo module"}</button>
                <button id={ids.of("campaign-serial")} class="btn" onclick={on_serial} disabled={busy || !ended}>{"Connect serial port"}</button>
                if connected && attempt.is_none() {
                    <button id={ids.of("check-module")} class="btn btn-primary" onclick={on_check.clone()} disabled={busy}>{"Check this module"}</button>
                }
            </div>
            if let Some(w) = &working {
                <p class="muted" id={ids.of("campaign-working")}>{format!("{w}…")}</p>
            }
            if let Some(e) = &error {
                <div class="result result-bad verdict" id={ids.of("campaign-error")} role="alert"><p>{e}</p></div>
            }
            if let Some(a) = &attempt {
                { reported(a, ids) }
                { match a.state {
                    AttemptState::NotEligible => not_eligible(a, ids),
                    AttemptState::AwaitingConfirmation => confirmation(a, &open.plan, ids, &language, on_language, Answers { accept: on_accept, reject: on_reject }, busy),
                    AttemptState::Installing => installing(&progress.get().view, fetching, ids),
                    _ => ended_view(a, ids, on_check.clone(), busy),
                } }
            }
        </section>
    }
}

fn title(slot: usize) -> String {
    if slot == 1 {
        "Module".into()
    } else {
        format!("Module on slot {slot}")
    }
}

/// The browser's first language, e.g. `de-DE`.
fn browser_language() -> String {
    web_sys::window()
        .and_then(|w| w.navigator().language())
        .unwrap_or_else(|| "en".into())
}

fn reported(a: &Attempt, ids: Ids) -> Html {
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
        <dl class="facts" id={ids.of("module-facts")}>
            <dt>{"Module"}</dt><dd id={ids.of("module-key")} class="mono">{&a.module}</dd>
            <dt>{"Model"}</dt><dd>{&a.model}</dd>
            <dt>{"Runs"}</dt><dd>{format!("{} (the plan brings {})", a.from_version, a.to_version)}</dd>
            <dt>{"Battery"}</dt><dd>{battery}</dd>
            <dt>{"Signal"}</dt><dd>{signal}</dd>
            <dt>{"Free space"}</dt><dd>{free}</dd>
        </dl>
    }
}

fn not_eligible(a: &Attempt, ids: Ids) -> Html {
    html! {
        <div class="result result-bad verdict" id={ids.of("eligibility")} data-eligible="false">
            <p class="result-title">{"Not eligible: this module is left as it is"}</p>
            <ul id={ids.of("reasons")}>
                { for a.reasons.iter().map(|r| html! { <li data-code={format!("{:?}", r.code)}>{&r.message}</li> }) }
            </ul>
        </div>
    }
}

/// The technician's two answers in manual mode.
struct Answers {
    accept: Callback<MouseEvent>,
    reject: Callback<MouseEvent>,
}

fn confirmation(
    a: &Attempt,
    plan: &CampaignPlan,
    ids: Ids,
    language: &UseStateHandle<String>,
    on_language: Callback<Event>,
    answers: Answers,
    busy: bool,
) -> Html {
    let notes = plan.notes_for(&[language.as_str()]);
    let shown = notes.map(|(tag, _)| tag.to_string()).unwrap_or_default();
    html! {
        <div class="result result-ok verdict" id={ids.of("eligibility")} data-eligible="true">
            <p class="result-title">{"Eligible"}</p>
            <ul>
                { for a.results.iter().map(|r| html! { <li>{format!("{}: {} → {}", r.component, r.from_version, r.to_version)}</li> }) }
            </ul>
            if let Some((_, text)) = notes {
                <label class="field">{"Release notes in"}
                    <select id={ids.of("notes-lang")} onchange={on_language}>
                        { for plan.release_notes.keys().map(|t| html! { <option value={t.clone()} selected={*t == shown}>{t}</option> }) }
                    </select>
                </label>
                <p id={ids.of("release-notes")} lang={shown.clone()}>{text}</p>
            }
            <div class="row">
                <button id={ids.of("confirm-accept")} class="btn btn-primary btn-big" onclick={answers.accept} disabled={busy}>{"Install on this module"}</button>
                <button id={ids.of("confirm-reject")} class="btn btn-big" onclick={answers.reject} disabled={busy}>{"Reject"}</button>
            </div>
        </div>
    }
}

fn installing(
    view: &FlashView,
    fetching: Option<crate::services::source::Fetching>,
    ids: Ids,
) -> Html {
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
        <div class="result result-running" id={ids.of("campaign-progress")} data-percent={percent.to_string()}>
            <p class="result-title">{format!("{label}: {percent} %")}</p>
            <div class="bar"><div class="bar-fill" style={format!("width: {percent}%")}></div></div>
            <p class="muted">{format!("{} of {} bytes", group_digits(done), group_digits(total))}</p>
        </div>
    }
}

fn ended_view(a: &Attempt, ids: Ids, on_retry: Callback<MouseEvent>, busy: bool) -> Html {
    let (class, title) = match a.state {
        AttemptState::Verified => ("result result-ok", "Verified"),
        AttemptState::Rejected => ("result result-warn", "Rejected"),
        _ => ("result result-bad", "Not updated"),
    };
    let retry = matches!(a.state, AttemptState::Failed | AttemptState::Interrupted);
    html! {
        <div class={format!("{class} verdict")} id={ids.of("attempt-result")}>
            <p class="result-title">{title}</p>
            <p>{a.message.clone().unwrap_or_default()}</p>
            if retry {
                <button id={ids.of("retry-module")} class="btn" onclick={on_retry} disabled={busy}>{"Check this module again"}</button>
            }
        </div>
    }
}
