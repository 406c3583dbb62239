//! The public key an MCUboot image's signature must verify with, read from a PEM or DER file
//! (what `imgtool getpub` writes), and whether a signature is required.

use otadeck_core::image::PublicKey;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// A key the technician chose: its file name and the key.
#[derive(Debug, Clone, PartialEq)]
pub struct ChosenKey {
    /// The file it came from.
    pub name: String,
    /// The key.
    pub key: PublicKey,
}

/// Properties of [`SigningKey`].
#[derive(Properties, PartialEq)]
pub struct SigningKeyProps {
    /// The key chosen so far.
    pub chosen: Option<ChosenKey>,
    /// A key was chosen (or none, when the file was no key: `error` says why).
    pub on_key: Callback<Result<ChosenKey, String>>,
    /// Refuse an image no key verifies.
    pub required: bool,
    /// The technician ticked or unticked "require".
    pub on_required: Callback<bool>,
    /// A flash runs.
    pub disabled: bool,
}

/// The key row of the Flash card.
#[component]
pub fn SigningKey(props: &SigningKeyProps) -> Html {
    let on_file = {
        let on_key = props.on_key.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            let file = gloo::file::File::from(file);
            let on_key = on_key.clone();
            spawn_local(async move {
                let name = file.name();
                let read = gloo::file::futures::read_as_bytes(&file).await;
                on_key.emit(match read {
                    Ok(bytes) => PublicKey::parse(&bytes)
                        .map(|key| ChosenKey {
                            name: name.clone(),
                            key,
                        })
                        .map_err(|e| format!("{name} is not a public key: {e}")),
                    Err(e) => Err(format!("Could not read {name}: {e}")),
                });
            });
        })
    };
    let on_required = {
        let cb = props.on_required.clone();
        Callback::from(move |e: Event| {
            cb.emit(e.target_unchecked_into::<HtmlInputElement>().checked());
        })
    };
    let chosen = match &props.chosen {
        Some(k) => format!("Key: {} ({})", k.name, k.key.algorithm()),
        None => "No key: the image hash is checked, not its signature.".to_string(),
    };
    html! {
        <div class="row">
            <label class={classes!("btn", "file-btn", props.disabled.then_some("disabled"))}>{"Signing key…"}
                <input id="key-input" type="file" accept=".pem,.der,.pub" onchange={on_file} disabled={props.disabled} />
            </label>
            <span id="key-summary" class="muted">{chosen}</span>
            <label class="check">
                <input id="require-signed" type="checkbox" checked={props.required} onchange={on_required} disabled={props.disabled} />
                {"Refuse an image this key does not sign"}
            </label>
        </div>
    }
}
