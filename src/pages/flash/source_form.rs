//! Where a source comes from: a URL (with a hawkBit security token when the server asks for
//! one), the demo's own source, a paste or a file. The kind is read from the content by the
//! core; this form only fetches or reads the bytes and hands the checked source on.

use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::paste_or_file::{demo_url, PasteOrFile, Pasted};
use crate::services::source::{self, LoadedSource};

/// Properties of [`SourceForm`].
#[derive(Properties, PartialEq)]
pub struct SourceFormProps {
    /// A source to load at once (the deep link's `manifest`).
    #[prop_or_default]
    pub initial_url: Option<AttrValue>,
    /// A session or a load runs: the fields wait.
    pub busy: bool,
    /// The demo's own source for the demo module connected now: its name and its path under
    /// `/demo/`.
    pub demo_source: Option<(&'static str, &'static str)>,
    /// A fetch began.
    pub on_loading: Callback<()>,
    /// The source read and checked, or why it could not be.
    pub on_loaded: Callback<Result<LoadedSource, String>>,
}

/// The source form.
#[component]
pub fn SourceForm(props: &SourceFormProps) -> Html {
    let busy = props.busy;
    let demo_source = props.demo_source;
    let take = props.on_loaded.clone();
    let url = use_state(|| {
        props
            .initial_url
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_default()
    });
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
        let (take, loading, auth) = (take.clone(), props.on_loading.clone(), auth.clone());
        Callback::from(move |u: String| {
            let u = u.trim().to_string();
            if u.is_empty() {
                return;
            }
            loading.emit(());
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
    let on_demo = {
        let (load_url, url) = (load_url.clone(), url.clone());
        Callback::from(move |path: &'static str| {
            let u = demo_url(path);
            url.set(u.clone());
            load_url.emit(u);
        })
    };
    let on_read = {
        let take = take.clone();
        Callback::from(move |read: Pasted| {
            take.emit(read.and_then(|(bytes, origin)| source::check(&bytes, None, None, origin)))
        })
    };
    html! {
        <>
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
            <PasteOrFile prefix="source" placeholder="{ \"builds\": … }" read_label="Read the pasted text"
                {busy} on_read={on_read} />
        </>
    }
}
