//! Step 3: the flash options, the Flash button with what still stands in its way, and the
//! progress and result. The only card redrawn on every progress event.

use otadeck_core::admission::{admit_with, Policy, Refusal};
use otadeck_core::family::{Family, JobKind};
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::DownloadForm;
use crate::components::progress::FlashProgress;
use crate::components::signing_key::{ChosenKey, SigningKey};
use crate::hooks::{use_device, use_progress};
use crate::image::LoadedImage;
use crate::services::device::{DeviceView, LinkKind};
use crate::services::jobs::{DownloadChoice, FlashChoice};

/// Properties of [`FlashCard`].
#[derive(Properties, PartialEq)]
pub struct FlashCardProps {
    /// The download form of the image card.
    pub download: UseStateHandle<DownloadForm>,
}

/// What keeps the Flash button disabled, in words; empty when nothing does. `refusal`: why the
/// chosen image may not be written to this module.
fn hint(s: &DeviceView, download: Option<&DownloadChoice>, refusal: Option<&Refusal>) -> String {
    let image = s.image.as_ref();
    let text = if s.link == LinkKind::None {
        "Connect a module first."
    } else if s.module.is_none() && !s.busy {
        "The module was not identified: check the log, then reconnect."
    } else if s.busy && !s.flashing {
        "Wait: otadeck is talking to the module (see the log); the Flash button is ready after."
    } else if let Some(d) = download {
        if d.url1.is_empty() {
            "Enter the package URL."
        } else {
            ""
        }
    } else if image.is_none() {
        "Choose an image."
    } else if let Some(refusal) = refusal {
        return format!("Cannot flash: {refusal}.");
    } else {
        ""
    };
    text.to_string()
}

/// Whether the chosen image may be written to a module of `family`, by the core's admission
/// check (the one the flash itself runs), at the family's default address.
fn admission(
    image: Option<&LoadedImage>,
    family: Option<Family>,
    policy: &Policy,
) -> Option<Refusal> {
    let (image, family) = (image?, family?);
    admit_with(family, &image.bytes, None, policy, image.inner_sha256).err()
}

fn checkbox(state: &UseStateHandle<bool>) -> Callback<Event> {
    let state = state.clone();
    Callback::from(move |e: Event| {
        state.set(e.target_unchecked_into::<HtmlInputElement>().checked());
    })
}

/// The Flash card.
#[component]
pub fn FlashCard(props: &FlashCardProps) -> Html {
    let (device, s) = use_device();
    let progress = use_progress(&device);
    let restart = use_state(|| true);
    let keep_on_trial = use_state(|| false);
    let erase_all = use_state(|| false);
    let allow_raw = use_state(|| false);
    let signing_key = use_state(|| None::<ChosenKey>);
    let require_signed = use_state(|| false);
    let running = s.flashing;
    let family = s.module.as_ref().map(|m| m.family);
    let policy = Policy {
        allow_raw: *allow_raw,
        keys: signing_key.iter().map(|k| k.key.clone()).collect(),
        require_signature: *require_signed,
    };
    // Checked once per image, family and choice, not on every progress redraw.
    let refusal = {
        let image = s.image.clone();
        let key = s.image.as_ref().map(|i| i.sha256.clone());
        use_memo((key, family, policy.clone()), move |(_, family, policy)| {
            admission(image.as_deref(), *family, policy)
        })
    };
    let on_key = {
        let (signing_key, device) = (signing_key.clone(), device.clone());
        Callback::from(move |chosen: Result<ChosenKey, String>| match chosen {
            Ok(k) => signing_key.set(Some(k)),
            Err(e) => {
                device.log(otadeck_core::session::LogLevel::Error, e);
                signing_key.set(None);
            }
        })
    };
    let on_required = {
        let require_signed = require_signed.clone();
        Callback::from(move |on: bool| require_signed.set(on))
    };
    // Consent is given for one file: choosing another asks again.
    {
        let allow_raw = allow_raw.clone();
        let key = s.image.as_ref().map(|i| i.sha256.clone());
        use_effect_with(key, move |_| allow_raw.set(false));
    }
    let asks_raw_consent = matches!(*refusal, Some(Refusal::RawNeedsConsent { .. })) || *allow_raw;
    let downloading = props.download.on && family.is_some_and(|f| f.can(JobKind::Download));
    let download_source = downloading.then(|| DownloadChoice {
        url1: props.download.url1.trim().to_string(),
        url2: Some(props.download.url2.trim().to_string()).filter(|u| !u.is_empty()),
    });
    let on_flash = {
        let choice = FlashChoice {
            restart: *restart,
            keep_on_trial: *keep_on_trial,
            erase_all: *erase_all && family == Some(Family::Dfu),
            policy: policy.clone(),
        };
        let (device, image, source) = (device.clone(), s.image.clone(), download_source.clone());
        Callback::from(move |_: MouseEvent| {
            let device = device.clone();
            let choice = choice.clone();
            if let Some(source) = source.clone() {
                spawn_local(async move { device.download(source, choice).await });
            } else if let Some(image) = image.clone() {
                spawn_local(async move { device.flash(image, choice).await });
            }
        })
    };
    let on_cancel = {
        let device = device.clone();
        Callback::from(move |_| device.cancel())
    };
    let source_ready = match &download_source {
        Some(d) => !d.url1.is_empty(),
        None => s.image.is_some() && refusal.is_none(),
    };
    let connected = s.link != LinkKind::None;
    let can_flash = connected && !s.busy && source_ready && s.module.is_some();
    let expected_version = if downloading {
        None
    } else {
        s.image.as_ref().and_then(|i| i.version.clone())
    };
    let view = progress.get().view.clone();
    let on_trial = s.partitions.as_ref().is_some_and(|p| p.awaits_decision());
    let on_restart = family.filter(|f| f.can(JobKind::Restart)).map(|_| {
        let device = device.clone();
        Callback::from(move |_| {
            let device = device.clone();
            spawn_local(async move { device.restart().await });
        })
    });
    let busy = s.busy;
    html! {
        <section class="card">
            <h2><span class="num">{"3"}</span>{"Flash"}</h2>
            if family == Some(Family::QuecPython) {
                <div class="row">
                    <label class="check">
                        <input id="restart-after" type="checkbox" checked={*restart} onchange={checkbox(&restart)} disabled={running} />
                        { if downloading { "Restart the module once it has downloaded and checked the package" } else { "Restart the module after a passing verify" } }
                    </label>
                </div>
            }
            if family.is_some_and(|f| f.capabilities().trial) {
                <div class="row">
                    <label class="check">
                        <input id="keep-on-trial" type="checkbox" checked={*keep_on_trial} onchange={checkbox(&keep_on_trial)} disabled={running} />
                        {"Leave the new firmware on trial: accept or roll back on the Device page"}
                    </label>
                </div>
            }
            if family == Some(Family::Dfu) {
                <div class="row">
                    <label class="check">
                        <input id="erase-all" type="checkbox" checked={*erase_all} onchange={checkbox(&erase_all)} disabled={running} />
                        {"Erase the whole flash first (DfuSe mass erase), not only the pages the file covers"}
                    </label>
                </div>
            }
            if family == Some(Family::McuBoot) {
                <SigningKey chosen={(*signing_key).clone()} {on_key} required={*require_signed} {on_required} disabled={running} />
            }
            if asks_raw_consent && !downloading {
                <div class="row">
                    <label class="check">
                        <input id="allow-raw" type="checkbox" checked={*allow_raw} onchange={checkbox(&allow_raw)} disabled={running} />
                        {"Write raw data: I know this file is right for the module (the loader does not check it)"}
                    </label>
                </div>
            }
            <div class="row">
                <button id="flash-start" class="btn btn-primary btn-huge" onclick={on_flash} disabled={!can_flash}>
                    { if downloading { "Update from URL" } else { "Flash" } }
                </button>
                <span id="flash-hint" class={classes!(if refusal.is_some() && !downloading { "refusal" } else { "muted" })}>{hint(&s, download_source.as_ref(), if downloading { None } else { refusal.as_ref().as_ref() })}</span>
            </div>
            <FlashProgress {view} {expected_version} {on_trial} {on_cancel} {on_restart} {busy} />
        </section>
    }
}
