//! "Install from a source": a manifest, job document or deployment loaded from a URL, a paste or
//! a file (its kind found from the content), shown with what it offers this module before a byte
//! is sent, then installed. `#/install?manifest=<url>` opens the page with it loaded.

use std::rc::Rc;

use otadeck_core::progress::format_size;
use otadeck_core::source::{Offer, Proposal};
use otadeck_core::version::UpdateKind;
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::components::trusted_keys::TrustedKeys;
use crate::hooks::use_device;
use crate::services::device::LinkKind;
use crate::services::install::{resolve, Installed};
use crate::services::source::{self, Fetching, LoadedSource};
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
    let url = use_state(|| {
        props
            .initial_url
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_default()
    });
    let paste = use_state(String::new);
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
    // A hawkBit security token, sent as `TargetToken` or `GatewayToken` with every request
    // that follows from the source (kept only while the page is open).
    let token = use_state(String::new);
    let gateway = use_state(|| false);
    let auth = Some(token.trim().to_string())
        .filter(|t| !t.is_empty())
        .map(|t| {
            format!(
                "{} {t}",
                if *gateway {
                    "GatewayToken"
                } else {
                    "TargetToken"
                }
            )
        });
    let load_url = {
        let (take, phase, auth) = (take.clone(), phase.clone(), auth.clone());
        Callback::from(move |u: String| {
            let u = u.trim().to_string();
            if u.is_empty() {
                return;
            }
            phase.set(Phase::Loading);
            let (take, auth) = (take.clone(), auth.clone());
            spawn_local(async move { take.emit(source::load_url_with(&u, auth).await) });
        })
    };
    let on_token = {
        let token = token.clone();
        Callback::from(move |e: InputEvent| {
            token.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let on_gateway = {
        let gateway = gateway.clone();
        Callback::from(move |e: Event| {
            gateway.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    // The deep link loads its source once, at first draw.
    {
        let (load_url, initial) = (load_url.clone(), props.initial_url.clone());
        use_effect_with(initial, move |u| {
            if let Some(u) = u {
                load_url.emit(u.to_string());
            }
        });
    }
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

    let on_url = {
        let url = url.clone();
        Callback::from(move |e: InputEvent| {
            url.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let on_load = {
        let (load_url, url) = (load_url.clone(), url.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            load_url.emit((*url).clone());
        })
    };
    // The demo's own source for the demo module connected now, when it has one.
    let demo_source = match (&view.link, view.module.as_ref().map(|m| m.family)) {
        (LinkKind::Demo(_), Some(Family::EspRom)) => {
            Some(("ESP Web Tools manifest", ESP_WEB_TOOLS_MANIFEST))
        }
        (LinkKind::Demo(_), Some(Family::Pycom)) => Some(("Pycom manifest", PYCOM_MANIFEST)),
        _ => None,
    };
    let on_demo = {
        let (load_url, url) = (load_url.clone(), url.clone());
        Callback::from(move |path: &'static str| {
            let origin = web_sys::window()
                .and_then(|w| w.location().origin().ok())
                .unwrap_or_default();
            let u = format!("{origin}/demo/{path}");
            url.set(u.clone());
            load_url.emit(u);
        })
    };
    let on_paste = {
        let paste = paste.clone();
        Callback::from(move |e: InputEvent| {
            paste.set(e.target_unchecked_into::<HtmlTextAreaElement>().value())
        })
    };
    let on_read_paste = {
        let (take, paste) = (take.clone(), paste.clone());
        Callback::from(move |_: MouseEvent| {
            take.emit(source::check(
                paste.as_bytes(),
                None,
                None,
                "pasted text".into(),
            ))
        })
    };
    let on_file = {
        let take = take.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            let file = gloo::file::File::from(file);
            let take = take.clone();
            spawn_local(async move {
                let name = file.name();
                let r = match gloo::file::futures::read_as_bytes(&file).await {
                    Ok(bytes) => source::check(&bytes, None, None, format!("the file {name}")),
                    Err(e) => Err(format!("cannot read {name}: {e}")),
                };
                take.emit(r);
            });
        })
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
    let refused = loaded.as_ref().and_then(|l| l.refusal.clone());
    let needs_consent = loaded.as_ref().is_some_and(|l| l.signature.needs_consent());
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
            let of = o.items.len();
            spawn_local(async move {
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
            });
        })
    };
    let on_unsigned = {
        let unsigned_ok = unsigned_ok.clone();
        Callback::from(move |e: Event| {
            unsigned_ok.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    let on_module_downloads = {
        let module_downloads = module_downloads.clone();
        Callback::from(move |e: Event| {
            module_downloads.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    let on_reason = {
        let reason = reason.clone();
        Callback::from(move |e: InputEvent| {
            reason.set(e.target_unchecked_into::<HtmlInputElement>().value())
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
            <form class="source-form" onsubmit={on_load}>
                <label class="field">{"Source URL"}
                    <input id="source-url" type="url" class="input" placeholder="https://…/manifest.json"
                        value={(*url).clone()} oninput={on_url} disabled={busy} />
                </label>
                <button id="source-load" class="btn" type="submit" disabled={busy}>{"Load"}</button>
            </form>
            if let Some((what, path)) = demo_source {
                <button id="source-demo" class="btn small" disabled={busy}
                    onclick={let on_demo = on_demo.clone(); move |_: MouseEvent| on_demo.emit(path)}>
                    {format!("Use the demo's {what}")}</button>
            }
            <details class="more">
                <summary>{"hawkBit security token"}</summary>
                <p class="muted">{"For a hawkBit controller URL (…/TENANT/controller/v1/CONTROLLER): sent with every request to the server, never kept."}</p>
                <label class="field">{"Token"}
                    <input id="source-token" type="password" class="input" autocomplete="off"
                        value={(*token).clone()} oninput={on_token} disabled={busy} />
                </label>
                <label class="check">
                    <input id="source-gateway" type="checkbox" checked={*gateway} onchange={on_gateway} disabled={busy} />
                    {"A gateway token (one for the whole tenant), not this controller's own"}
                </label>
            </details>
            <details class="more">
                <summary>{"Paste it, or open a file"}</summary>
                <textarea id="source-paste" class="input" rows="4" placeholder="{ \"builds\": … }"
                    value={(*paste).clone()} oninput={on_paste} disabled={busy} />
                <div class="row">
                    <button id="source-read" class="btn" onclick={on_read_paste} disabled={busy || paste.trim().is_empty()}>{"Read the pasted text"}</button>
                    <label class={classes!("btn", "file-btn", busy.then_some("disabled"))}>{"Open a file…"}
                        <input id="source-file" type="file" accept=".json,application/json" onchange={on_file} disabled={busy} />
                    </label>
                </div>
            </details>
            if *phase == Phase::Loading {
                <p class="muted" id="source-loading">{"Loading and checking the source…"}</p>
            }
            if let Some(e) = &*error {
                <p class="bad" id="source-error" role="alert">{e}</p>
            }
            if let Some(l) = resolved.as_ref().or(loaded.as_ref()) {
                { summary(l, proposal.as_ref()) }
                if let Some(why) = &refused {
                    <p class="bad" id="source-refused" role="alert">{format!("Refused: {why}. Nothing will be sent to the module.")}</p>
                } else if offer.is_some() {
                    if needs_consent {
                        <label class="check warn-box">
                            <input id="source-unsigned-ok" type="checkbox" checked={*unsigned_ok} onchange={on_unsigned} disabled={busy} />
                            {"Install it unsigned: I trust where it came from (the record says so)"}
                        </label>
                    }
                    if offer.as_ref().is_some_and(|o| o.module_can_download(family)) {
                        <label class="check">
                            <input id="source-module-downloads" type="checkbox" checked={*module_downloads}
                                onchange={on_module_downloads} disabled={busy} />
                            {"The module downloads it itself, over its own network, once otadeck checked it"}
                        </label>
                    }
                    if older {
                        <label class="field field-wide">{"Reason for installing an older version (kept in the record)"}
                            <input id="source-reason" class="input" value={(*reason).clone()} oninput={on_reason} disabled={busy} />
                        </label>
                    }
                    <div class="source-install">
                        <button id="source-install" class="btn btn-primary btn-huge" onclick={on_install}
                            disabled={blocked_why.is_some()} title={blocked_why}>{"Install on this module"}</button>
                    </div>
                }
            }
            { progress(&phase) }
            <TrustedKeys on_change={on_keys} />
        </section>
    }
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
