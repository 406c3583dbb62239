//! The flash progress and its end state: a bar with percent, bytes, speed and time left while it
//! runs; then an unmistakable result.

use otadeck_core::progress::{format_duration, format_rate};
use otadeck_core::session::{group_digits, FlashErrorKind, Step};
use yew::prelude::*;

use crate::services::device::FlashView;

/// Properties of [`FlashProgress`].
#[derive(Properties, PartialEq)]
pub struct FlashProgressProps {
    pub view: FlashView,
    /// The version the image declares, to compare with what the module runs afterwards.
    pub expected_version: Option<String>,
    pub on_cancel: Callback<()>,
}

/// Progress while flashing, result afterwards. `#flash-state[data-state]` is `idle`, `running`,
/// `success`, `failed` or `cancelled`.
#[component]
pub fn FlashProgress(props: &FlashProgressProps) -> Html {
    match &props.view {
        FlashView::Idle => html! { <div id="flash-state" data-state="idle"></div> },
        FlashView::Running {
            step,
            done,
            total,
            rate,
            eta,
        } => {
            let percent = if *total == 0 {
                0.0
            } else {
                *done as f64 * 100.0 / *total as f64
            };
            let on_cancel = props.on_cancel.reform(|_: MouseEvent| ());
            html! {
                <div id="flash-state" data-state="running" class="result result-running">
                    <div class="step-label">{step.label()}{"…"}</div>
                    <div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100"
                         aria-valuenow={format!("{percent:.0}")}>
                        <div id="progress-bar" class="bar-fill" style={format!("width: {percent:.1}%")}></div>
                    </div>
                    <div class="figures">
                        <span class="big">{format!("{percent:.0} %")}</span>
                        if *step == Step::Download {
                            <span>{"as reported by the module"}</span>
                        } else {
                            <span>{format!("{} / {} bytes", group_digits(*done), group_digits(*total))}</span>
                            <span>{rate.map(format_rate).unwrap_or_else(|| "– kB/s".into())}</span>
                        }
                        <span>{eta.map(|e| format!("{} left", format_duration(e))).unwrap_or_default()}</span>
                    </div>
                    <button id="flash-cancel" class="btn btn-danger" onclick={on_cancel}>{"Cancel"}</button>
                </div>
            }
        }
        FlashView::Success(outcome) => {
            let running = outcome.module.as_ref().map(|m| m.firmware_version.clone());
            let headline = if outcome.restarted {
                "Verified and restarted"
            } else {
                "Verified — restart pending"
            };
            let detail = match (&running, &props.expected_version, outcome.restarted) {
                (Some(r), Some(e), true) if r == e => {
                    format!("The module now runs firmware {r}, the version in the image.")
                }
                (Some(r), Some(e), true) => format!(
                    "The module runs firmware {r}, but the image declares {e}: check the module before accepting it."
                ),
                (Some(r), None, true) => format!("The module now runs firmware {r}."),
                (_, _, false) => "The module verified the image; it runs it after its next restart.".into(),
                (None, _, true) => "The module restarted.".into(),
            };
            html! {
                <div id="flash-state" data-state="success" class="result result-ok" role="status">
                    <div class="result-icon">{"✔"}</div>
                    <div>
                        <div class="result-title">{headline}</div>
                        <div>{detail}</div>
                        <div class="muted">{ if outcome.bytes == 0 {
                            "The module downloaded the package itself; no image bytes crossed the cable.".to_string()
                        } else {
                            format!("{} bytes written.", group_digits(outcome.bytes))
                        } }</div>
                    </div>
                </div>
            }
        }
        FlashView::Failed(error) => {
            let cancelled = error.kind == FlashErrorKind::Cancelled;
            let (state, title, class) = if cancelled {
                ("cancelled", "Cancelled", "result result-warn")
            } else {
                ("failed", "Flash failed", "result result-bad")
            };
            html! {
                <div id="flash-state" data-state={state} class={class} role="alert">
                    <div class="result-icon">{ if cancelled { "■" } else { "✖" } }</div>
                    <div>
                        <div class="result-title">{title}</div>
                        <div id="flash-error">{error.to_string()}</div>
                        <div class="advice">{error.advice()}</div>
                    </div>
                </div>
            }
        }
    }
}
