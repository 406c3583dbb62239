//! The flash progress and its end state: a bar with percent, bytes, speed and time left while it
//! runs; then an unmistakable result.

use otadeck_core::progress::{format_duration, format_rate};
use otadeck_core::session::{group_digits, FlashError, FlashErrorKind, FlashOutcome};
use yew::prelude::*;

use crate::clock::now;

use crate::components::decision::TrialDecision;
use crate::services::device::FlashView;

/// Properties of [`FlashProgress`].
#[derive(Properties, PartialEq)]
pub struct FlashProgressProps {
    pub view: FlashView,
    /// The version the image declares, to compare with what the module runs afterwards.
    pub expected_version: Option<String>,
    /// The module runs the new firmware on trial and waits for a decision.
    pub on_trial: bool,
    pub on_cancel: Callback<()>,
    /// Restart the module from here (`None`: its family cannot be restarted by otadeck).
    pub on_restart: Option<Callback<()>>,
    /// A session runs on the module (the restart button waits).
    pub busy: bool,
}

/// Progress while flashing, result afterwards. `#flash-state[data-state]` is `idle`, `running`,
/// `success`, `trial`, `restart-pending`, `failed` or `cancelled`.
#[component]
pub fn FlashProgress(props: &FlashProgressProps) -> Html {
    // Once a second while running, so that a step's elapsed time moves while the module works
    // silently (an erase, a verify).
    let redraw = use_force_update();
    let running = matches!(props.view, FlashView::Running { .. });
    use_effect_with(running, move |running| {
        let tick = running
            .then(|| gloo::timers::callback::Interval::new(1000, move || redraw.force_update()));
        move || drop(tick)
    });
    match &props.view {
        FlashView::Idle => html! { <div id="flash-state" data-state="idle"></div> },
        FlashView::Running {
            step,
            since,
            activity,
            done,
            total,
            percent_only,
            rate,
            eta,
        } => {
            let percent = if *total == 0 {
                0.0
            } else {
                *done as f64 * 100.0 / *total as f64
            };
            let elapsed = now().saturating_sub(*since);
            let on_cancel = props.on_cancel.reform(|_: MouseEvent| ());
            html! {
                <div id="flash-state" data-state="running" class="result result-running">
                    <div class="step-label">{step.label()}{"… "}
                        <span id="step-time" class="step-time">{format_duration(elapsed)}</span>
                    </div>
                    if let Some(a) = activity {
                        <div id="step-activity" class="muted">{a}</div>
                    }
                    <div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100"
                         aria-valuenow={format!("{percent:.0}")}>
                        <div id="progress-bar" class="bar-fill" style={format!("width: {percent:.1}%")}></div>
                    </div>
                    <div class="figures">
                        <span class="big">{format!("{percent:.0} %")}</span>
                        if *percent_only {
                            <span>{"as reported by the module"}</span>
                        } else {
                            <span>{format!("{} / {} bytes", group_digits(*done), group_digits(*total))}</span>
                            <span>{rate.map(format_rate).unwrap_or_else(|| "– kB/s".into())}</span>
                            <span>{eta.map(|e| format!("{} left", format_duration(e))).unwrap_or_default()}</span>
                        }
                    </div>
                    <button id="flash-cancel" class="btn btn-danger btn-big" onclick={on_cancel}>{"Cancel"}</button>
                </div>
            }
        }
        FlashView::Success(outcome) => success_card(outcome, props),
        FlashView::Failed(error) => failure_card(error),
    }
}

/// How a successful flash ended: running, on trial (the decision is right there), or waiting
/// for a restart; or restarted into another version than the image's. `#flash-state[data-state]`
/// is `success`, `trial`, `restart-pending` or `other-version`.
fn success_card(outcome: &FlashOutcome, props: &FlashProgressProps) -> Html {
    let running = outcome
        .module
        .as_ref()
        .map(|m| m.firmware_version.clone())
        .filter(|v| !v.is_empty());
    let written = if outcome.bytes == 0 {
        "The module downloaded the package itself; no image bytes crossed the cable.".to_string()
    } else {
        format!(
            "{} bytes written and verified.",
            group_digits(outcome.bytes)
        )
    };
    let version_note = match (&running, &props.expected_version) {
        (Some(r), Some(e)) if r != e => Some(format!(
            "The module runs firmware {r}, but the image declares {e}: check the module before accepting it."
        )),
        _ => None,
    };
    if !outcome.restarted {
        return html! {
            <div id="flash-state" data-state="restart-pending" class="result result-warn" role="status">
                <div class="result-icon" aria-hidden="true">{"↻"}</div>
                <div>
                    <div class="result-title">{"Verified — restart pending"}</div>
                    if let Some(on_restart) = &props.on_restart {
                        <div>{"The new firmware is in place, checked and selected to boot; the module runs it once restarted."}</div>
                        <div class="row">
                            <button id="flash-restart" class="btn btn-primary btn-big" disabled={props.busy}
                                onclick={on_restart.reform(|_: MouseEvent| ())}>
                                { if props.busy { "Restarting…" } else { "Restart into the new firmware" } }
                            </button>
                        </div>
                    } else {
                        <div>{"The new firmware is in place and checked; the module runs it after its next restart. \
                              Power-cycle the module or press its reset button."}</div>
                    }
                    <div class="muted">{written}</div>
                </div>
            </div>
        };
    }
    if props.on_trial {
        return html! {
            <div id="flash-state" data-state="trial" class="result result-warn" role="status">
                <div class="result-icon" aria-hidden="true">{"⚠"}</div>
                <div>
                    <div class="result-title">{"Running on trial — accept or roll back"}</div>
                    <div>{ match &running {
                        Some(r) => format!("The module runs firmware {r} on trial. Accept it once the module works as it should; \
                                            until then, its next restart returns it to the previous firmware."),
                        None => "The module runs the new firmware on trial. Accept it once the module works as it should.".into(),
                    } }</div>
                    if let Some(note) = version_note { <div class="advice">{note}</div> }
                    <TrialDecision />
                    <div class="muted">{written}</div>
                </div>
            </div>
        };
    }
    if let (Some(r), Some(e)) = (&running, &props.expected_version) {
        if r != e {
            return html! {
                <div id="flash-state" data-state="other-version" class="result result-warn" role="status">
                    <div class="result-icon" aria-hidden="true">{"⚠"}</div>
                    <div>
                        <div class="result-title">{"Restarted — into another version"}</div>
                        <div>{format!("The module runs firmware {r}, and the image written declares {e}.")}</div>
                        <div class="advice">{"Check which slot it boots on the Device page before relying on it."}</div>
                        <div class="muted">{written}</div>
                    </div>
                </div>
            };
        }
    }
    html! {
        <div id="flash-state" data-state="success" class="result result-ok" role="status">
            <div class="result-icon" aria-hidden="true">{"✔"}</div>
            <div>
                <div class="result-title">{"Verified and running"}</div>
                <div>{ match (&running, &props.expected_version) {
                    (Some(r), Some(_)) => format!("The module now runs firmware {r}, the version in the image."),
                    (Some(r), None) => format!("The module now runs firmware {r}."),
                    (None, _) => "The module restarted into the new firmware.".into(),
                } }</div>
                <div class="muted">{written}</div>
            </div>
        </div>
    }
}

/// A failed or cancelled flash: the plain cause, what the module holds and boots now, and the
/// one thing to do (the protocol detail is in the log).
fn failure_card(error: &FlashError) -> Html {
    let cancelled = error.kind == FlashErrorKind::Cancelled;
    let (state, title, class) = if cancelled {
        ("cancelled", "Cancelled", "result result-warn")
    } else {
        ("failed", "Flash failed", "result result-bad")
    };
    html! {
        <div id="flash-state" data-state={state} class={class} role="alert">
            <div class="result-icon" aria-hidden="true">{ if cancelled { "■" } else { "✖" } }</div>
            <div>
                <div class="result-title">{title}</div>
                <div id="flash-error">{error.headline()}{"."}</div>
                <div id="flash-module-state" class="module-now">{error.module_now()}</div>
                <div class="advice">{error.advice()}</div>
                if error.detail().is_some() {
                    <div class="muted">{"The protocol detail is in the log."}</div>
                }
            </div>
        </div>
    }
}
