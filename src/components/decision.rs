//! The accept / roll-back decision about firmware on trial, wherever it is offered (the result
//! of a flash, the Device page). Rolling back asks once more, naming what the module returns to;
//! while a decision runs its button says so and both are disabled.

use otadeck_core::family::Family;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::hooks::use_device;

/// Which decision the technician took last, to label its button while it runs.
#[derive(Clone, Copy, PartialEq)]
enum Taken {
    Accept,
    Rollback,
}

/// The decision buttons for the device the pages work on.
#[component]
pub fn TrialDecision() -> Html {
    let (device, s) = use_device();
    let confirming = use_state(|| false);
    let taken = use_state(|| None::<Taken>);
    let Some(p) = s.partitions.as_ref() else {
        return Html::default();
    };
    let on_trial = p.awaits_decision();
    let target = p.rollback_targets().first().map(|t| {
        let version = t
            .build
            .as_ref()
            .map(|b| b.version.clone())
            .unwrap_or_default();
        format!("{} {}", t.label, version).trim().to_string()
    });
    // A chip in its ROM loader runs no firmware: there is only the boot slot to choose.
    let rom = s.module.as_ref().map(|m| m.family) == Some(Family::EspRom);
    let run = |what: Taken| {
        let (device, taken, confirming) = (device.clone(), taken.clone(), confirming.clone());
        Callback::from(move |_: MouseEvent| {
            let device = device.clone();
            taken.set(Some(what));
            confirming.set(false);
            spawn_local(async move {
                match what {
                    Taken::Accept => device.accept().await,
                    Taken::Rollback => device.rollback().await,
                }
            });
        })
    };
    let ask = {
        let confirming = confirming.clone();
        Callback::from(move |_: MouseEvent| confirming.set(true))
    };
    let keep = {
        let confirming = confirming.clone();
        Callback::from(move |_: MouseEvent| confirming.set(false))
    };
    let busy = s.busy;
    let running = |what: Taken| busy && *taken == Some(what);
    let rollback_label = if rom {
        "Boot the other slot next"
    } else {
        "Roll back"
    };
    html! {
        <div class="decision">
            if *confirming {
                <div id="rollback-confirm" class="confirm" role="alertdialog" aria-label="Confirm the roll-back">
                    <p class="confirm-text">{ match &target {
                        Some(t) if rom => format!("Make {t} boot next? otadata is rewritten; the chip runs it after its next reset."),
                        Some(t) => format!("Return the module to {t}? It restarts into that firmware."),
                        None => "There is no other firmware to return to.".into(),
                    } }</p>
                    <div class="row">
                        <button id="rollback-yes" class="btn btn-danger btn-big" onclick={run(Taken::Rollback)}
                            disabled={busy || target.is_none()}>{"Yes, roll back"}</button>
                        <button id="rollback-keep" class="btn btn-quiet btn-big" onclick={keep}>{"Keep the current firmware"}</button>
                    </div>
                </div>
            } else {
                <div class="row">
                    if !rom {
                        <button id="device-accept" class="btn btn-primary btn-big" onclick={run(Taken::Accept)}
                            disabled={busy || !on_trial} aria-busy={running(Taken::Accept).to_string()}>
                            { if running(Taken::Accept) { "Accepting…" } else { "Accept this firmware" } }
                        </button>
                    }
                    <button id="device-rollback" class="btn btn-big" onclick={ask}
                        disabled={busy || target.is_none()} aria-busy={running(Taken::Rollback).to_string()}>
                        { if running(Taken::Rollback) { "Rolling back…" } else { rollback_label } }
                    </button>
                </div>
            }
        </div>
    }
}
