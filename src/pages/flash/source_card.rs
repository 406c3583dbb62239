//! "Install from a source": a manifest, job document or deployment loaded from a URL, a paste or
//! a file (its kind found from the content), shown with what it offers this module before a byte
//! is sent, then installed. `#/install?manifest=<url>` opens the page with it loaded.

use std::rc::Rc;

use otadeck_core::progress::format_size;
use otadeck_core::source::{Offer, Proposal};
use otadeck_core::version::UpdateKind;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use super::install_choices::InstallChoices;
use super::source_form::SourceForm;
use crate::components::trusted_keys::TrustedKeys;
use crate::hooks::use_device;
use crate::services::device::DeviceHandle;
use crate::services::device::LinkKind;
use crate::services::install::{resolve, Installed};
use crate::services::source::{Fetching, LoadedSource};
use otadeck_core::family::Family;
use otadeck_sim::sources::{ESP_WEB_TOOLS_MANIFEST, PYCOM_MANIFEST};

/// Properties of [`SourceCard`].
#[derive(Properties, PartialEq)]
pub struct SourceCardProps {
    /// A source to load at once (the deep link's `manifest`).
    #[prop_or_default]
    pub initial_url: Option<AttrValue>,
}

/// Where the card is.
#[derive(Debug, Clone, PartialEq, Default)]
enum Phase {
    #[default]
    Idle,
    Loading,
    Downloading {
        index: usize,
        of: usize,
        label: String,
        got: Fetching,
    },
    Installing,
    Done {
        report: Option<String>,
    },
    Failed {
        why: String,
        report: Option<String>,
    },
}

impl Phase {
    fn busy(&self) -> bool {
        matches!(
            self,
            Phase::Loading | Phase::Downloading { .. } | Phase::Installing
        )
    }
}

/// The source card.
#[component]
pub fn SourceCard(props: &SourceCardProps) -> Html {
    let (device, view) = use_device();
    let family = view.module.as_ref().map(|m| m.family);
    let loaded = use_state(|| None::<Rc<LoadedSource>>);
    let proposal = use_state(|| None::<Result<Proposal, String>>);
    // The document the proposal came from (a Pycom server asked again with the module's
    // version, a hawkBit deployment the base resource named).
    let resolved = use_state(|| None::<Rc<LoadedSource>>);
    let phase = use_state(Phase::default);
    let error = use_state(|| None::<String>);
    let unsigned_ok = use_state(|| false);
    let reason = use_state(String::new);
    let module_downloads = use_state(|| false);
    let needs_reason = use_state(|| false);
    let keys_changed = use_state(|| 0u32);

    // Take in a loaded source (or the reason it could not be loaded).
    let take = {
        let (loaded, error, phase) = (loaded.clone(), error.clone(), phase.clone());
        let (unsigned_ok, needs_reason) = (unsigned_ok.clone(), needs_reason.clone());
        let (resolved, proposal) = (resolved.clone(), proposal.clone());
        Callback::from(move |r: Result<LoadedSource, String>| {
            phase.set(Phase::Idle);
            resolved.set(None);
            proposal.set(None);
            unsigned_ok.set(false);
            needs_reason.set(false);
            match r {
                Ok(l) => {
                    error.set(None);
                    loaded.set(Some(Rc::new(l)));
                }
                Err(e) => {
                    loaded.set(None);
                    error.set(Some(e));
                }
            }
        })
    };
    // What it offers the module that answers now (again when the module or the keys change).
    {
        let (proposal, resolved) = (proposal.clone(), resolved.clone());
        let loaded_now = (*loaded).clone();
        let facts = device.facts();
        let deps = (loaded_now.clone(), view.module.clone(), *keys_changed);
        use_effect_with(deps, move |_| match loaded_now {
            None => proposal.set(None),
            Some(l) => spawn_local(async move {
                match resolve((*l).clone(), &facts).await {
                    Ok((doc, p)) => {
                        resolved.set(Some(Rc::new(doc)));
                        proposal.set(Some(Ok(p)));
                    }
                    Err(e) => {
                        resolved.set(None);
                        proposal.set(Some(Err(e)));
                    }
                }
            }),
        });
    }

    // The demo's own source for the demo module connected now, when it has one.
    let demo_source = match (&view.link, view.module.as_ref().map(|m| m.family)) {
        (LinkKind::Demo(_), Some(Family::EspRom)) => {
            Some(("ESP Web Tools manifest", ESP_WEB_TOOLS_MANIFEST))
        }
        (LinkKind::Demo(_), Some(Family::Pycom)) => Some(("Pycom manifest", PYCOM_MANIFEST)),
        _ => None,
    };
    let on_loading = {
        let phase = phase.clone();
        Callback::from(move |_| phase.set(Phase::Loading))
    };
    let offer: Option<Offer> = match &*proposal {
        Some(Ok(Proposal::Install(o))) => Some((**o).clone()),
        _ => None,
    };
    let older = offer
        .as_ref()
        .and_then(|o| o.version_check.as_ref())
        .is_some_and(|c| c.kind == UpdateKind::Downgrade)
        || *needs_reason;
    // The document that offers the install speaks for its signature and expiry.
    let shown = resolved.as_ref().or(loaded.as_ref()).cloned();
    let refused = shown.as_ref().and_then(|l| l.refusal.clone());
    let needs_consent = shown.as_ref().is_some_and(|l| l.signature.needs_consent());
    let blocked_why: Option<&str> = if view.busy || phase.busy() {
        Some("busy")
    } else if refused.is_some() {
        Some("refused")
    } else if offer.is_none() {
        Some("nothing to install")
    } else if needs_consent && !*unsigned_ok {
        Some("Tick \"Install it unsigned\" first")
    } else if older && reason.trim().is_empty() {
        Some("Type the reason for installing an older version first")
    } else {
        None
    };
    let on_install = {
        let (device, phase) = (device.clone(), phase.clone());
        let loaded = (*resolved).clone().or_else(|| (*loaded).clone());
        let (offer, reason, needs_reason) = (offer.clone(), reason.clone(), needs_reason.clone());
        let by_module = *module_downloads
            && offer
                .as_ref()
                .is_some_and(|o| o.module_can_download(family));
        Callback::from(move |_: MouseEvent| {
            let (Some(l), Some(o)) = (loaded.clone(), offer.clone()) else {
                return;
            };
            let (device, phase, needs_reason) =
                (device.clone(), phase.clone(), needs_reason.clone());
            let reason = Some((*reason).clone()).filter(|r| !r.trim().is_empty());
            spawn_local(run_install(
                device,
                l,
                o,
                reason,
                by_module,
                phase,
                needs_reason,
            ));
        })
    };
    let on_keys = {
        let keys_changed = keys_changed.clone();
        Callback::from(move |_| keys_changed.set(*keys_changed + 1))
    };
    let busy = phase.busy() || view.busy;
    html! {
        <section class="card" id="source-card">
            <h2>{"Install from a source"}</h2>
            <p class="muted">{"An ESP Web Tools or Pycom manifest, an AWS IoT job document or a hawkBit deployment: otadeck reads its kind from the content, checks every hash and signature, and shows what it will do before anything is sent."}</p>
            <SourceForm initial_url={props.initial_url.clone()} {busy} {demo_source}
                {on_loading} on_loaded={take} />
            if *phase == Phase::Loading {
                <p class="muted" id="source-loading">{"Loading and checking the source…"}</p>
            }
            if let Some(e) = &*error {
                <p class="bad" id="source-error" role="alert">{e}</p>
            }
            if let Some(l) = &shown {
                { summary(l, proposal.as_ref()) }
                if let Some(why) = &refused {
                    <p class="bad" id="source-refused" role="alert">{format!("Refused: {why}. Nothing will be sent to the module.")}</p>
                } else if let Some(o) = &offer {
                    <InstallChoices {busy} on_install={on_install}
                        blocked_why={blocked_why.map(AttrValue::from)}
                        unsigned_ok={needs_consent.then(|| unsigned_ok.clone())}
                        module_downloads={o.module_can_download(family).then(|| module_downloads.clone())}
                        reason={older.then(|| reason.clone())} />
                }
            }
            { progress(&phase) }
            <TrustedKeys on_change={on_keys} />
        </section>
    }
}

/// Install `o` from `l` on `device`, showing the downloads and the end in `phase`; a downgrade
/// refused for want of a reason sets `needs_reason`.
async fn run_install(
    device: DeviceHandle,
    l: Rc<LoadedSource>,
    o: Offer,
    reason: Option<String>,
    by_module: bool,
    phase: UseStateHandle<Phase>,
    needs_reason: UseStateHandle<bool>,
) {
    let of = o.items.len();
    let labels: Vec<String> = o.items.iter().map(|i| i.label.clone()).collect();
    let progress_phase = phase.clone();
    let result = device
        .install(&l, &o, reason, by_module, move |index, got| {
            // The last download complete: the module's part begins.
            let last_done = index + 1 == of && got.total == Some(got.done);
            progress_phase.set(if last_done {
                Phase::Installing
            } else {
                Phase::Downloading {
                    index,
                    of,
                    label: labels[index].clone(),
                    got,
                }
            })
        })
        .await;
    phase.set(match result {
        Installed::Done { aws_report } => Phase::Done { report: aws_report },
        Installed::Failed {
            why,
            needs_reason: n,
            aws_report,
        } => {
            needs_reason.set(n);
            Phase::Failed {
                why,
                report: aws_report,
            }
        }
    });
}

fn summary(l: &LoadedSource, proposal: Option<&Result<Proposal, String>>) -> Html {
    let badge_class = match l.signature.badge() {
        "signed" => "good",
        "bad signature" => "bad",
        _ => "warn",
    };
    html! {
        <div id="source-summary">
            <dl class="facts">
                <dt>{"Kind"}</dt><dd id="source-kind">{l.loaded.kind.name()}</dd>
                <dt>{"From"}</dt><dd class="wrap">{&l.origin}</dd>
                <dt>{"Signature"}</dt>
                <dd><span id="source-signature" class={classes!("badge", badge_class)}>{l.signature.badge()}</span>{" "}{l.signature.describe()}</dd>
                { offer_facts(proposal) }
            </dl>
            { offer_items(proposal) }
        </div>
    }
}

fn offer_facts(proposal: Option<&Result<Proposal, String>>) -> Html {
    match proposal {
        None => {
            html! { <><dt>{"Offers"}</dt><dd class="muted">{"Reading what it offers this module…"}</dd></> }
        }
        Some(Err(why)) => {
            html! { <><dt>{"Offers"}</dt><dd id="source-offer-problem" class="warn">{why}</dd></> }
        }
        Some(Ok(Proposal::UpToDate { why })) => {
            html! { <><dt>{"Offers"}</dt><dd id="source-up-to-date" class="good">{format!("Up to date: {why}")}</dd></> }
        }
        Some(Ok(Proposal::Wait { why, .. })) => {
            html! { <><dt>{"Offers"}</dt><dd class="warn">{format!("Nothing to install now: {why}")}</dd></> }
        }
        Some(Ok(Proposal::Fetch { why, .. })) => {
            html! { <><dt>{"Offers"}</dt><dd class="muted">{why}</dd></> }
        }
        Some(Ok(Proposal::Register { .. })) => html! {
            <><dt>{"Offers"}</dt><dd class="muted">{"Registering this module with the server…"}</dd></>
        },
        Some(Ok(Proposal::Install(o))) => html! {
            <>
                <dt>{"Offers"}</dt><dd id="source-title">{&o.title}</dd>
                if let Some(v) = &o.version { <dt>{"Version"}</dt><dd id="source-version">{v}</dd> }
                if let Some(c) = &o.version_check {
                    <dt>{"Against"}</dt>
                    <dd id="source-version-check" class={if c.kind == UpdateKind::Downgrade { "bad" } else { "" }}>{c.to_string()}</dd>
                }
            </>
        },
    }
}

fn offer_items(proposal: Option<&Result<Proposal, String>>) -> Html {
    let Some(Ok(Proposal::Install(o))) = proposal else {
        return html! {};
    };
    html! {
        <>
            <h3>{"What will happen"}</h3>
            <ol id="source-items" class="items">
                { for o.items.iter().map(|i| {
                    let size = i.size.map(format_size).unwrap_or_else(|| "size not declared".into());
                    html! {
                        <li>
                            <strong>{&i.label}</strong>{" → "}{i.target.describe()}
                            <span class="muted">{format!(" · {size}")}</span>
                            { for i.digests.iter().map(|d| html! {
                                <div class="mono small wrap">{format!("{} {}", d.algorithm(), d.hex())}</div>
                            }) }
                        </li>
                    }
                }) }
                { for o.delete.iter().map(|p| html! { <li>{format!("delete {p}")}</li> }) }
            </ol>
            if !o.notes.is_empty() {
                <ul class="notes">{ for o.notes.iter().map(|n| html! { <li>{n}</li> }) }</ul>
            }
        </>
    }
}

fn progress(phase: &Phase) -> Html {
    match phase {
        Phase::Downloading {
            index,
            of,
            label,
            got,
        } => {
            let total = got.total.map(format_size).unwrap_or_else(|| "?".into());
            let rate = got
                .rate
                .map(|r| format!(", {}/s", format_size(r as u64)))
                .unwrap_or_default();
            html! {
                <div id="source-progress" class="source-progress">
                    <div>{format!("Downloading {label} ({} of {of}): {} of {total}{rate}", index + 1, format_size(got.done))}</div>
                    if let Some(t) = got.total {
                        <progress max={t.to_string()} value={got.done.to_string()}></progress>
                    }
                </div>
            }
        }
        Phase::Installing => html! {
            <p id="source-installing" class="muted">{"Downloads checked: installing on the module (progress in the Flash card)…"}</p>
        },
        Phase::Done { report } => html! {
            <div id="source-done" class="good">
                {"Installed: every download passed its checks, and the module checked what it wrote. The result card says what it runs now."}
                { report_link(report.as_deref()) }
            </div>
        },
        Phase::Failed { why, report } => html! {
            <div id="source-failed" class="bad" role="alert">
                {format!("Not installed: {why}")}
                { report_link(report.as_deref()) }
            </div>
        },
        _ => html! {},
    }
}

/// A link that saves the AWS IoT job execution updates as a file.
fn report_link(report: Option<&str>) -> Html {
    let Some(text) = report else {
        return html! {};
    };
    let href = format!(
        "data:application/json;charset=utf-8,{}",
        js_sys::encode_uri_component(text)
    );
    html! {
        <div><a id="source-aws-report" class="btn" href={href} download="job-execution-updates.json">
            {"Save the AWS IoT job execution updates"}</a></div>
    }
}
