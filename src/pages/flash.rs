//! The Flash page: connect, choose an image, flash, watch, read the result.

use std::rc::Rc;

use otadeck_core::family::{Family, JobKind};
use otadeck_core::session::{group_digits, LogLevel};
use otadeck_sim::demo::DemoFamily;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::download_source::DownloadSource;
use crate::components::log_view::LogView;
use crate::components::progress::FlashProgress;
use crate::image::load;
use crate::runner::{Ctx, DownloadChoice, FlashChoice};
use crate::state::{Action, FlashView, LinkKind};
use crate::support::detect;
use crate::transport::demo::DemoFault;

/// Baud rates offered for serial ports and the demo line.
const BAUDS: [u32; 4] = [115_200, 230_400, 460_800, 921_600];
/// Largest file accepted: larger than any module's update area.
const MAX_IMAGE: usize = 32 * 1024 * 1024;

/// The sample image in the format the connected module takes.
fn sample_for(family: Option<Family>) -> Vec<u8> {
    family.map_or_else(
        otadeck_sim::firmware::sample_image,
        DemoFamily::sample_image,
    )
}

/// The Flash page.
#[component]
pub fn FlashPage() -> Html {
    let ctx = use_context::<Ctx>().expect("context");
    let baud = use_state(|| 115_200u32);
    let restart = use_state(|| true);
    let keep_on_trial = use_state(|| false);
    let demo_family = use_state(|| Family::QuecPython);
    let by_download = use_state(|| false);
    let serial_rom = use_state(|| false);
    let url1 = use_state(String::new);
    let url2 = use_state(String::new);
    let loading = use_state(|| false);
    let support = use_memo((), |_| detect());
    let s = &*ctx.state;
    let running = matches!(s.flash, FlashView::Running { .. });
    let connected = s.link != LinkKind::None;

    let on_baud = {
        let baud = baud.clone();
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlInputElement>().value();
            baud.set(v.parse().unwrap_or(115_200));
        })
    };
    let on_demo = {
        let (ctx, baud, family) = (ctx.clone(), *baud, *demo_family);
        Callback::from(move |_: MouseEvent| {
            let ctx = ctx.clone();
            spawn_local(async move { ctx.connect_demo(family, baud).await });
        })
    };
    let on_demo_family = {
        let demo_family = demo_family.clone();
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlInputElement>().value();
            if let Some(f) = Family::from_key(&v) {
                demo_family.set(f);
            }
        })
    };
    let on_keep_on_trial = {
        let keep_on_trial = keep_on_trial.clone();
        Callback::from(move |e: Event| {
            keep_on_trial.set(e.target_unchecked_into::<HtmlInputElement>().checked());
        })
    };
    let on_serial = {
        let (ctx, baud, rom) = (ctx.clone(), *baud, *serial_rom);
        Callback::from(move |_: MouseEvent| {
            let ctx = ctx.clone();
            spawn_local(async move { ctx.connect_serial(baud, rom).await });
        })
    };
    let on_serial_rom = {
        let serial_rom = serial_rom.clone();
        Callback::from(move |e: Event| {
            serial_rom.set(e.target_unchecked_into::<HtmlInputElement>().checked());
        })
    };
    let on_disconnect = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            let ctx = ctx.clone();
            spawn_local(async move { ctx.disconnect().await });
        })
    };
    let on_sample = {
        let (ctx, loading) = (ctx.clone(), loading.clone());
        let family = s.module.as_ref().map(|m| m.family);
        Callback::from(move |_: MouseEvent| {
            let (ctx, loading) = (ctx.clone(), loading.clone());
            loading.set(true);
            spawn_local(async move {
                let img = load(
                    format!("sample firmware {}", otadeck_sim::firmware::SAMPLE_VERSION),
                    sample_for(family),
                )
                .await;
                ctx.state.dispatch(Action::Image(Some(Rc::new(img))));
                loading.set(false);
            });
        })
    };
    let on_file = {
        let (ctx, loading) = (ctx.clone(), loading.clone());
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            let file = gloo::file::File::from(file);
            let (ctx, loading) = (ctx.clone(), loading.clone());
            if file.size() as usize > MAX_IMAGE {
                ctx.log(
                    LogLevel::Error,
                    format!(
                        "{} is {} bytes: larger than any module's update area ({} bytes). Choose the firmware file itself, not an archive or a full flash dump.",
                        file.name(),
                        group_digits(file.size()),
                        group_digits(MAX_IMAGE as u64)
                    ),
                );
                return;
            }
            loading.set(true);
            spawn_local(async move {
                match gloo::file::futures::read_as_bytes(&file).await {
                    Ok(bytes) => {
                        let img = load(file.name(), bytes).await;
                        if img.bytes.is_empty() {
                            ctx.log(
                                LogLevel::Error,
                                format!(
                                    "{} is empty (0 bytes): choose the firmware file.",
                                    img.name
                                ),
                            );
                        } else if let Some(problem) = &img.problem {
                            ctx.log(
                                LogLevel::Error,
                                format!(
                                    "{} is damaged ({problem}); it will not be flashed. Get a good copy of the file.",
                                    img.name
                                ),
                            );
                        }
                        ctx.state.dispatch(Action::Image(Some(Rc::new(img))));
                    }
                    Err(e) => ctx.log(
                        LogLevel::Error,
                        format!("Could not read {}: {e}", file.name()),
                    ),
                }
                loading.set(false);
            });
        })
    };
    let on_restart = {
        let restart = restart.clone();
        Callback::from(move |e: Event| {
            restart.set(e.target_unchecked_into::<HtmlInputElement>().checked());
        })
    };
    let family = s.module.as_ref().map(|m| m.family);
    let can_download = family.is_some_and(|f| f.can(JobKind::Download));
    let downloading = *by_download && can_download;
    let download_source = downloading.then(|| DownloadChoice {
        url1: url1.trim().to_string(),
        url2: Some(url2.trim().to_string()).filter(|u| !u.is_empty()),
    });
    let on_flash = {
        let choice = FlashChoice {
            restart: *restart,
            keep_on_trial: *keep_on_trial,
        };
        let ctx = ctx.clone();
        let image = s.image.clone();
        let source = download_source.clone();
        Callback::from(move |_: MouseEvent| {
            let ctx = ctx.clone();
            if let Some(source) = source.clone() {
                spawn_local(async move { ctx.download(source, choice).await });
            } else if let Some(image) = image.clone() {
                spawn_local(async move { ctx.flash(image, choice).await });
            }
        })
    };
    let setter = |state: &UseStateHandle<String>| {
        let state = state.clone();
        Callback::from(move |v: String| state.set(v))
    };
    let on_by_download = {
        let by_download = by_download.clone();
        Callback::from(move |v: bool| by_download.set(v))
    };
    let demo_packages = match &s.link {
        LinkKind::Demo(_) => demo_family.download_packages(),
        _ => &[],
    };
    let on_fault = {
        let ctx = ctx.clone();
        Callback::from(move |e: Event| {
            let select: HtmlInputElement = e.target_unchecked_into();
            let fault = match select.value().as_str() {
                "cable" => Some(DemoFault::CablePulled),
                "stall" => Some(DemoFault::Stall),
                "corrupt" => Some(DemoFault::Corrupt),
                _ => None,
            };
            if let Some(f) = fault {
                ctx.arm_demo_fault(f);
            }
            select.set_value("");
        })
    };
    let on_cancel = {
        let ctx = ctx.clone();
        Callback::from(move |_| ctx.cancel())
    };

    let image_summary = match &s.image {
        None if *loading => {
            html! { <div id="image-summary" class="muted">{"Reading and hashing…"}</div> }
        }
        None => html! { <div id="image-summary" class="muted">{"No image chosen yet."}</div> },
        Some(img) => html! {
            <dl id="image-summary" class="facts">
                <dt>{"File"}</dt><dd>{&img.name}</dd>
                <dt>{"Size"}</dt><dd>{format!("{} bytes", group_digits(img.bytes.len() as u64))}</dd>
                <dt>{"SHA-256"}</dt><dd class="mono">{&img.sha256}</dd>
                <dt>{"Contents"}</dt><dd>{&img.kind}</dd>
                if let Some(problem) = &img.problem {
                    <dt>{"Problem"}</dt><dd id="image-problem" class="bad">{format!("damaged: {problem}")}</dd>
                }
            </dl>
        },
    };
    let source_ready = match &download_source {
        Some(d) => !d.url1.is_empty(),
        None => s
            .image
            .as_ref()
            .is_some_and(|i| !i.bytes.is_empty() && i.problem.is_none()),
    };
    let can_flash = connected && !s.busy && source_ready && s.module.is_some();
    let flash_hint = if !connected {
        "Connect a module first."
    } else if s.module.is_none() && !s.busy {
        "The module was not identified: check the log, then reconnect."
    } else if let Some(d) = &download_source {
        if d.url1.is_empty() {
            "Enter the package URL."
        } else {
            ""
        }
    } else if s.image.is_none() {
        "Choose an image."
    } else if s.image.as_ref().is_some_and(|i| i.bytes.is_empty()) {
        "The chosen file is empty."
    } else if s.image.as_ref().is_some_and(|i| i.problem.is_some()) {
        "The image is damaged: get a good copy of the file."
    } else {
        ""
    };

    html! {
        <div class="page page-split">
            <div class="col">
            <section class="card">
                <h2><span class="num">{"1"}</span>{"Connect"}</h2>
                <div class="row">
                    <label class="field">{"Baud rate"}
                        <select id="baud" onchange={on_baud} disabled={running}>
                            { for BAUDS.iter().map(|b| html! { <option value={b.to_string()} selected={*b == *baud}>{b}</option> }) }
                        </select>
                    </label>
                    <button id="connect-serial" class="btn btn-primary" onclick={on_serial}
                        disabled={running || support.problem().is_some()}>{"Connect serial port"}</button>
                    <label class="check">
                        <input id="serial-rom" type="checkbox" checked={*serial_rom} onchange={on_serial_rom} disabled={running} />
                        {"ESP32 bootloader: reset the chip into download mode (DTR/RTS)"}
                    </label>
                    <label class="field">{"Demo module"}
                        <select id="demo-family" onchange={on_demo_family} disabled={running}>
                            { for Family::ALL.iter().map(|f| html! { <option value={f.key()} selected={*f == *demo_family}>{f.demo_label()}</option> }) }
                        </select>
                    </label>
                    <button id="connect-demo" class="btn" onclick={on_demo} disabled={running}>{"Use demo module"}</button>
                    if connected {
                        <button id="disconnect" class="btn btn-quiet" onclick={on_disconnect} disabled={running}>{"Disconnect"}</button>
                    }
                </div>
                if matches!(s.link, LinkKind::Demo(_)) {
                    <div class="row">
                        <label class="field">{"Try a fault on the demo module"}
                            <select id="demo-fault" onchange={on_fault}>
                                <option value="" selected=true>{"Choose a fault…"}</option>
                                <option value="cable">{"Pull the cable mid-flash"}</option>
                                <option value="stall">{"Module stops answering mid-flash"}</option>
                                <option value="corrupt">{"Corrupt one byte on the wire"}</option>
                            </select>
                        </label>
                    </div>
                }
            </section>
            <section class="card">
                <h2><span class="num">{"2"}</span>{"Choose the image"}</h2>
                if can_download {
                    <DownloadSource download={downloading} on_download={on_by_download}
                        url1={AttrValue::from((*url1).clone())} on_url1={setter(&url1)}
                        url2={AttrValue::from((*url2).clone())} on_url2={setter(&url2)}
                        demo_packages={demo_packages} disabled={running} />
                }
                if !downloading {
                <div class="row">
                    <label class={classes!("btn", "file-btn", running.then_some("disabled"))}>{"Choose file…"}
                        <input id="file-input" type="file" onchange={on_file} disabled={running} />
                    </label>
                    <button id="use-sample" class="btn" onclick={on_sample} disabled={running}>
                        {format!("Use sample firmware {}", otadeck_sim::firmware::SAMPLE_VERSION)}
                    </button>
                </div>
                { image_summary }
                }
            </section>
            </div>
            <div class="col">
            <section class="card">
                <h2><span class="num">{"3"}</span>{"Flash"}</h2>
                if family == Some(Family::QuecPython) {
                    <div class="row">
                        <label class="check">
                            <input id="restart-after" type="checkbox" checked={*restart} onchange={on_restart} disabled={running} />
                            { if downloading { "Restart the module once it has downloaded and checked the package" } else { "Restart the module after a passing verify" } }
                        </label>
                    </div>
                }
                if family.is_some_and(|f| f.capabilities().trial) {
                    <div class="row">
                        <label class="check">
                            <input id="keep-on-trial" type="checkbox" checked={*keep_on_trial} onchange={on_keep_on_trial} disabled={running} />
                            {"Leave the new firmware on trial: accept or roll back on the Device page"}
                        </label>
                    </div>
                }
                <div class="row">
                    <button id="flash-start" class="btn btn-primary btn-huge" onclick={on_flash} disabled={!can_flash}>
                        { if downloading { "Update from URL" } else { "Flash" } }
                    </button>
                    <span class="muted">{flash_hint}</span>
                </div>
                <FlashProgress view={s.flash.clone()}
                    expected_version={if downloading { None } else { s.image.as_ref().and_then(|i| i.version.clone()) }}
                    on_cancel={on_cancel} />
            </section>
            <section class="card">
                <h2>{"Log"}</h2>
                <LogView limit={Some(12)} />
            </section>
            </div>
        </div>
    }
}
