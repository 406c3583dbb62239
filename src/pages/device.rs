//! The Device page: what the connected module is and runs, its update slots, and the accept or
//! roll-back decision after an update.

use otadeck_core::family::{Family, JobKind};
use otadeck_core::partition_state::{PartitionState, SlotState};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::components::backup::BackupCard;
use crate::components::decision::TrialDecision;
use crate::components::serial_monitor::SerialMonitor;
use crate::hooks::use_device;
use crate::services::device::LinkKind;

/// The slots as a table; on a phone each row reflows to a card whose cells carry their labels.
fn slots_table(p: &PartitionState, family: Family) -> Html {
    // Build date, ESP-IDF and secure version are ESP-IDF app descriptor fields: shown only when
    // some slot has them (an MCUboot header carries none of them).
    let esp_fields = p.slots.iter().any(|s| {
        s.build
            .as_ref()
            .is_some_and(|b| !b.idf_version.is_empty() || !b.date.is_empty())
    });
    html! {
        <table id="device-slots" class="slots">
            <thead><tr>
                <th>{"Slot"}</th><th>{"Role"}</th><th>{"State"}</th><th>{"Firmware"}</th>
                if esp_fields {
                    <th>{"Built"}</th><th>{"ESP-IDF"}</th><th>{"Secure version"}</th>
                }
            </tr></thead>
            <tbody>
            { for p.slots.iter().map(|s| {
                let mut roles = Vec::new();
                if s.label == p.running { roles.push("running"); }
                if s.label == p.next_boot { roles.push("boots next"); }
                let build = s.build.clone().unwrap_or_default();
                let firmware = match &s.build {
                    Some(b) => format!("{} {}", b.name, b.version).trim().to_string(),
                    None => "empty".into(),
                };
                // An empty slot has no state to tell: say what it holds instead of "unknown".
                let (words, tone) = match (&s.build, s.state) {
                    (None, None) => ("no image", otadeck_core::partition_state::Tone::Neutral),
                    _ => SlotState::words(s.state, family),
                };
                html! {
                    <tr data-slot={s.label.clone()}>
                        <td class="mono slot-label">{&s.label}</td>
                        <td data-label="Role">{roles.join(", ")}</td>
                        <td class={tone.name()} data-label="State" data-state={s.state.map_or("unknown", SlotState::name)}>
                            {words}
                        </td>
                        <td data-label="Firmware">
                            {firmware}
                            if let Some(problem) = &s.problem {
                                <div class="bad slot-problem">{format!("Not bootable: {problem}")}</div>
                            }
                        </td>
                        if esp_fields {
                            <td data-label="Built">{format!("{} {}", build.date, build.time)}</td>
                            <td data-label="ESP-IDF">{&build.idf_version}</td>
                            <td data-label="Secure version">{ if s.build.is_some() { build.secure_version.to_string() } else { String::new() } }</td>
                        }
                    </tr>
                }
            }) }
            </tbody>
        </table>
    }
}

/// The Device page.
#[component]
pub fn DevicePage() -> Html {
    let (device, view) = use_device();
    let s = &view;
    let on_refresh = {
        let device = device.clone();
        Callback::from(move |_: MouseEvent| {
            let device = device.clone();
            spawn_local(async move { device.identify().await });
        })
    };
    let slots_note = match s.module.as_ref().map(|m| m.family) {
        Some(Family::QuecPython) => {
            "QuecPython does not report its update slots; it applies a verified package at restart."
        }
        Some(Family::Pycom) => "Pycom's bootloader checks a new image at boot and keeps it when it is valid; there is nothing to accept.",
        _ => "",
    };
    let body = match (&s.link, &s.module) {
        (LinkKind::None, _) => {
            html! { <p class="muted">{"No module connected. Connect one on the Flash page."}</p> }
        }
        (_, None) => {
            html! { <p class="muted">{ if s.busy { "Reading the module…" } else { "The module has not been identified: read it again, or check the log." } }</p> }
        }
        (_, Some(m)) => html! {
            <dl class="facts facts-big">
                <dt>{"Family"}</dt><dd id="device-family">{m.family.name()}</dd>
                <dt>{"Model"}</dt><dd id="device-model">{&m.model}</dd>
                <dt>{"Firmware version"}</dt>
                if m.firmware_version.is_empty() {
                    <dd id="device-firmware-version" class="muted">{"not reported by this device"}</dd>
                } else {
                    <dd id="device-firmware-version">{&m.firmware_version}</dd>
                }
                <dt>{"Runtime"}</dt><dd id="device-runtime">{&m.runtime}</dd>
                if s.partitions.is_none() && !slots_note.is_empty() {
                    <dt>{"Slots"}</dt><dd class="muted">{slots_note}</dd>
                }
            </dl>
        },
    };
    let family = s.module.as_ref().map_or(Family::MicroPython, |m| m.family);
    let on_restart = {
        let device = device.clone();
        Callback::from(move |_: MouseEvent| {
            let device = device.clone();
            spawn_local(async move { device.restart().await });
        })
    };
    let can_restart = s.module.is_some() && family.can(JobKind::Restart);
    let asking_erase = use_state(|| false);
    let erase = family.can(JobKind::EraseUpdateSlot).then(|| {
        let ask = {
            let asking = asking_erase.clone();
            Callback::from(move |_: MouseEvent| asking.set(true))
        };
        let keep = {
            let asking = asking_erase.clone();
            Callback::from(move |_: MouseEvent| asking.set(false))
        };
        let yes = {
            let (device, asking) = (device.clone(), asking_erase.clone());
            Callback::from(move |_: MouseEvent| {
                asking.set(false);
                let device = device.clone();
                spawn_local(async move { device.erase_update_slot().await });
            })
        };
        let update_slot = s.partitions.as_ref().and_then(|p| {
            let other = p.slots.iter().find(|sl| sl.label != p.running)?;
            let holds = other
                .build
                .as_ref()
                .map_or("nothing".to_string(), |b| format!("firmware {}", b.version));
            Some(format!("{} (it holds {holds})", other.label))
        });
        html! {
            if *asking_erase {
                <p id="erase-confirm" class="banner banner-warn">
                    {format!("Erase {}? The running firmware stays; an update waiting there is lost.",
                             update_slot.unwrap_or_else(|| "the update slot".into()))}
                </p>
                <div class="row">
                    <button id="erase-yes" class="btn btn-danger" onclick={yes} disabled={s.busy}>{"Erase it"}</button>
                    <button id="erase-no" class="btn" onclick={keep}>{"Keep it"}</button>
                </div>
            } else {
                <div class="row">
                    <button id="device-erase" class="btn" onclick={ask} disabled={s.busy}>{"Erase the update slot"}</button>
                </div>
            }
        }
    });
    let decision = s.partitions.as_ref().map(|p| {
        let on_trial = p.awaits_decision();
        html! {
            <section class="card">
                <h2>{"Update slots"}</h2>
                { slots_table(p, family) }
                if on_trial {
                    <p id="device-trial" class="banner banner-warn">
                        {"The running firmware is on trial. Accept it once the module works as it should; \
                          otherwise roll back. If nothing is decided, the module returns to the previous \
                          firmware at its next restart."}
                    </p>
                }
                <TrialDecision />
                { erase.clone().unwrap_or_default() }
            </section>
        }
    });
    html! {
        <div class="page">
            <section class="card">
                <h2>{"Device"}</h2>
                { body }
                <div class="row">
                    <button id="device-refresh" class="btn" onclick={on_refresh}
                        disabled={s.busy || s.link == LinkKind::None}>{"Read again"}</button>
                    if can_restart {
                        <button id="device-restart" class="btn" onclick={on_restart} disabled={s.busy}
                            title="Restart into the firmware that boots next">
                            { if family == Family::Dfu { "Leave DFU mode and run the application" } else { "Restart the module" } }
                        </button>
                    }
                </div>
            </section>
            { decision.unwrap_or_default() }
            <BackupCard />
            <SerialMonitor />
        </div>
    }
}
