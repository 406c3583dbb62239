//! "Paste it, or open a file": a document typed or pasted, or read from a file, handed on as
//! bytes with where they came from in words. Used for sources and for campaign plans.

use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

/// A document's bytes and where they came from ("pasted text", "the file x.json"), or why the
/// file could not be read.
pub type Pasted = Result<(Vec<u8>, String), String>;

/// Properties of [`PasteOrFile`].
#[derive(Properties, PartialEq)]
pub struct PasteOrFileProps {
    /// The ids are `<prefix>-paste`, `<prefix>-read` and `<prefix>-file`.
    pub prefix: AttrValue,
    /// What the empty text area shows.
    pub placeholder: AttrValue,
    /// The read button's words.
    pub read_label: AttrValue,
    /// Something runs: the fields wait.
    pub busy: bool,
    /// The document, once read.
    pub on_read: Callback<Pasted>,
}

/// The paste-or-file fold.
#[component]
pub fn PasteOrFile(props: &PasteOrFileProps) -> Html {
    let paste = use_state(String::new);
    let busy = props.busy;
    let id = |what: &str| format!("{}-{what}", props.prefix);
    let on_paste = {
        let paste = paste.clone();
        Callback::from(move |e: InputEvent| {
            paste.set(e.target_unchecked_into::<HtmlTextAreaElement>().value())
        })
    };
    let on_read = {
        let (take, paste) = (props.on_read.clone(), paste.clone());
        Callback::from(move |_: MouseEvent| {
            take.emit(Ok((paste.as_bytes().to_vec(), "pasted text".into())))
        })
    };
    let on_file = {
        let take = props.on_read.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            let (file, take) = (gloo::file::File::from(file), take.clone());
            spawn_local(async move {
                let name = file.name();
                take.emit(match gloo::file::futures::read_as_bytes(&file).await {
                    Ok(bytes) => Ok((bytes, format!("the file {name}"))),
                    Err(e) => Err(format!("cannot read {name}: {e}")),
                });
            });
        })
    };
    html! {
        <details class="more">
            <summary>{"Paste it, or open a file"}</summary>
            <textarea id={id("paste")} class="input" rows="4" placeholder={props.placeholder.clone()}
                value={(*paste).clone()} oninput={on_paste} disabled={busy} />
            <div class="row">
                <button id={id("read")} class="btn" onclick={on_read} disabled={busy || paste.trim().is_empty()}>{props.read_label.clone()}</button>
                <label class={classes!("btn", "file-btn", busy.then_some("disabled"))}>{"Open a file…"}
                    <input id={id("file")} type="file" accept=".json,application/json" onchange={on_file} disabled={busy} />
                </label>
            </div>
        </details>
    }
}

/// The URL of `path` in the demo's folder on this site.
pub fn demo_url(path: &str) -> String {
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    format!("{origin}/demo/{path}")
}
