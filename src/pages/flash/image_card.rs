//! Step 2: the image, from a file or the sample, or (for a module that downloads its package
//! itself) the package URL.

use std::rc::Rc;

use otadeck_core::family::JobKind;
use otadeck_core::session::{group_digits, LogLevel};
use otadeck_sim::demo::DemoFamily;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::DownloadForm;
use crate::components::download_source::DownloadSource;
use crate::hooks::use_device;
use crate::image::{load, LoadedImage};
use crate::services::device::{DeviceHandle, LinkKind};

/// Largest file accepted: the largest flash any family has.
const MAX_IMAGE: usize = otadeck_core::admission::MAX_IMAGE_BYTES;

/// Properties of [`ImageCard`].
#[derive(Properties, PartialEq)]
pub struct ImageCardProps {
    /// The download form the Flash card reads too.
    pub download: UseStateHandle<DownloadForm>,
}

/// Read `file`, hash and inspect it, and make it the device's image; what is wrong with it
/// goes to the log.
async fn load_file(device: DeviceHandle, file: gloo::file::File) {
    let bytes = match gloo::file::futures::read_as_bytes(&file).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let text = format!("Could not read {}: {e}", file.name());
            return device.log(LogLevel::Error, text);
        }
    };
    let img = load(file.name(), bytes).await;
    if img.bytes.is_empty() {
        let text = format!("{} is empty (0 bytes): choose the firmware file.", img.name);
        device.log(LogLevel::Error, text);
    } else if let Some(problem) = &img.problem {
        let text = format!(
            "{} is damaged ({problem}); it will not be flashed. Get a good copy of the file.",
            img.name
        );
        device.log(LogLevel::Error, text);
    }
    device.set_image(Some(Rc::new(img)));
}

fn summary(image: Option<&LoadedImage>, loading: bool) -> Html {
    match image {
        None if loading => {
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
    }
}

/// The image card.
#[component]
pub fn ImageCard(props: &ImageCardProps) -> Html {
    let (device, s) = use_device();
    let loading = use_state(|| false);
    let running = s.flashing;
    let family = s.module.as_ref().map(|m| m.family);
    let can_download = family.is_some_and(|f| f.can(JobKind::Download));
    let form = &props.download;
    let downloading = form.on && can_download;

    let on_sample = {
        let (device, loading) = (device.clone(), loading.clone());
        Callback::from(move |_: MouseEvent| {
            // The sample is built in the format the identified module takes.
            let Some(family) = family else { return };
            let (device, loading) = (device.clone(), loading.clone());
            loading.set(true);
            spawn_local(async move {
                let img = load(family.sample_name(), family.sample_image()).await;
                device.set_image(Some(Rc::new(img)));
                loading.set(false);
            });
        })
    };
    let on_file = {
        let (device, loading) = (device.clone(), loading.clone());
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            let file = gloo::file::File::from(file);
            if file.size() as usize > MAX_IMAGE {
                device.log(
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
            let (device, loading) = (device.clone(), loading.clone());
            loading.set(true);
            spawn_local(async move {
                load_file(device, file).await;
                loading.set(false);
            });
        })
    };
    let edit = |change: fn(&mut DownloadForm, String)| {
        let form = form.clone();
        Callback::from(move |v: String| {
            let mut next = (*form).clone();
            change(&mut next, v);
            form.set(next);
        })
    };
    let on_by_download = {
        let form = form.clone();
        Callback::from(move |on: bool| {
            form.set(DownloadForm {
                on,
                ..(*form).clone()
            })
        })
    };
    let demo_packages = match (&s.link, family) {
        (LinkKind::Demo(_), Some(f)) => f.download_packages(),
        _ => &[],
    };
    html! {
        <section class="card">
            <h2><span class="num">{"2"}</span>{"Choose the image"}</h2>
            if can_download {
                <DownloadSource download={downloading} on_download={on_by_download}
                    url1={AttrValue::from(form.url1.clone())} on_url1={edit(|f, v| f.url1 = v)}
                    url2={AttrValue::from(form.url2.clone())} on_url2={edit(|f, v| f.url2 = v)}
                    demo_packages={demo_packages} disabled={running} />
            }
            if !downloading {
                <div class="row">
                    <label class={classes!("btn", "file-btn", running.then_some("disabled"))}>{"Choose file…"}
                        <input id="file-input" type="file" onchange={on_file} disabled={running} />
                    </label>
                    <button id="use-sample" class="btn" onclick={on_sample} disabled={running || family.is_none()}
                        title={family.is_none().then_some("Connect a module first: the sample is built for its family")}>
                        { match family {
                            Some(f) => format!("Use {}", f.sample_name()),
                            None => format!("Use sample firmware {}", otadeck_sim::firmware::SAMPLE_VERSION),
                        } }
                    </button>
                </div>
                { summary(s.image.as_deref(), *loading) }
            }
        </section>
    }
}
