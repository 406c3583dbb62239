//! Where a QuecPython module gets its package: an image file sent over the cable, or a URL the
//! module downloads itself (`fota.httpDownload`), with a second URL for a two-stage mini FOTA.

use otadeck_core::driver::quecpython::download::check_url;
use otadeck_sim::demo::DemoPackage;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Properties of [`DownloadSource`].
#[derive(Properties, PartialEq)]
pub struct DownloadSourceProps {
    /// The module downloads the package (true) or otadeck sends a file (false).
    pub download: bool,
    pub on_download: Callback<bool>,
    /// The package URL (`url1`).
    pub url1: AttrValue,
    pub on_url1: Callback<String>,
    /// The mini FOTA second stage (`url2`), empty for a one-stage package.
    pub url2: AttrValue,
    pub on_url2: Callback<String>,
    /// URLs the demo module serves (empty on a real module).
    pub demo_packages: &'static [DemoPackage],
    pub disabled: bool,
}

/// The source choice and, for a download, the URL fields with their checks shown as typed.
#[component]
pub fn DownloadSource(props: &DownloadSourceProps) -> Html {
    let on_mode = |download: bool| {
        let cb = props.on_download.clone();
        Callback::from(move |_: Event| cb.emit(download))
    };
    let text = |cb: &Callback<String>| {
        let cb = cb.clone();
        Callback::from(move |e: InputEvent| {
            cb.emit(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let on_demo = {
        let (on1, on2) = (props.on_url1.clone(), props.on_url2.clone());
        Callback::from(move |e: Event| {
            let select: HtmlInputElement = e.target_unchecked_into();
            let url = select.value();
            if url.is_empty() {
                return;
            }
            // The second mini FOTA stage goes in the second field; anything else replaces the
            // package and clears it.
            if url.contains("stage2") {
                on2.emit(url);
            } else {
                on1.emit(url);
                on2.emit(String::new());
            }
        })
    };
    let problem = |url: &str| -> Html {
        match check_url(url) {
            Err(why) if !url.is_empty() => {
                html! { <div class="bad field-note">{format!("This URL cannot be used: {why}.")}</div> }
            }
            Ok(()) if url.starts_with("http://") => html! {
                <div class="warn field-note">{"Plain http: the module cannot tell whether the package was altered on the way."}</div>
            },
            _ => html! {},
        }
    };
    html! {
        <div class="source">
            <div class="row" role="radiogroup" aria-label="Where the package comes from">
                <label class="check">
                    <input id="source-file" type="radio" name="source" checked={!props.download}
                        onchange={on_mode(false)} disabled={props.disabled} />
                    {"Send an image file over the cable"}
                </label>
                <label class="check">
                    <input id="source-download" type="radio" name="source" checked={props.download}
                        onchange={on_mode(true)} disabled={props.disabled} />
                    {"The module downloads it from a URL"}
                </label>
            </div>
            if props.download {
                <label class="field field-wide">{"Package URL"}
                    <input id="url1" type="url" class="input" placeholder="https://…/firmware.bin"
                        value={props.url1.clone()} oninput={text(&props.on_url1)} disabled={props.disabled} />
                </label>
                { problem(&props.url1) }
                <label class="field field-wide">{"Second stage URL (mini FOTA only; leave empty otherwise)"}
                    <input id="url2" type="url" class="input" placeholder="optional"
                        value={props.url2.clone()} oninput={text(&props.on_url2)} disabled={props.disabled} />
                </label>
                { problem(&props.url2) }
                if !props.demo_packages.is_empty() {
                    <label class="field">{"Packages the demo module can reach"}
                        <select id="demo-package" onchange={on_demo} disabled={props.disabled}>
                            <option value="" selected=true>{"Choose a demo package…"}</option>
                            { for props.demo_packages.iter().map(|p| html! { <option value={p.url}>{p.label}</option> }) }
                        </select>
                    </label>
                }
                <p class="muted">{"The module fetches the package over its own network connection, checks it, and installs it at its restart. Its progress is shown as it reports it."}</p>
            }
        </div>
    }
}
