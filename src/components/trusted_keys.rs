//! The keys sources are checked against: imported by pasting (PEM, or the 32 key bytes as base64
//! or hex), kept in this browser, shown by fingerprint, removable.

use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use crate::services::source;

/// Properties of [`TrustedKeys`].
#[derive(Properties, PartialEq)]
pub struct TrustedKeysProps {
    /// Called after a key was added or removed.
    pub on_change: Callback<()>,
}

/// The list of trusted keys and the import field.
#[component]
pub fn TrustedKeys(props: &TrustedKeysProps) -> Html {
    let text = use_state(String::new);
    let message = use_state(|| None::<Result<String, String>>);
    let redraw = use_force_update();
    let keys = source::keys();
    let on_text = {
        let text = text.clone();
        Callback::from(move |e: InputEvent| {
            text.set(e.target_unchecked_into::<HtmlTextAreaElement>().value())
        })
    };
    let on_import = {
        let (text, message, on_change) = (text.clone(), message.clone(), props.on_change.clone());
        Callback::from(move |_: MouseEvent| {
            match source::import_key(&text) {
                Ok(k) => {
                    message.set(Some(Ok(format!("Imported {}", k.fingerprint()))));
                    text.set(String::new());
                }
                Err(e) => message.set(Some(Err(e))),
            }
            on_change.emit(());
        })
    };
    html! {
        <details class="more" id="trusted-keys">
            <summary>{format!("Signing keys you trust ({})", keys.len())}</summary>
            if keys.is_empty() {
                <p class="muted">{"No key imported: signed sources cannot be checked, and run only as unsigned."}</p>
            }
            <ul class="keys">
                { for keys.iter().map(|k| {
                    let fp = k.fingerprint();
                    let (on_change, redraw) = (props.on_change.clone(), redraw.clone());
                    let remove = {
                        let fp = fp.clone();
                        Callback::from(move |_: MouseEvent| {
                            source::remove_key(&fp);
                            redraw.force_update();
                            on_change.emit(());
                        })
                    };
                    html! { <li><span class="mono">{"ed25519 "}{fp}</span>{" "}<button class="btn small" onclick={remove}>{"Remove"}</button></li> }
                }) }
            </ul>
            <textarea id="key-input" class="input" rows="3" placeholder="-----BEGIN PUBLIC KEY----- … or 64 hex characters"
                value={(*text).clone()} oninput={on_text} />
            <button id="key-import" class="btn" onclick={on_import} disabled={text.trim().is_empty()}>{"Import key"}</button>
            if let Some(m) = &*message {
                { match m {
                    Ok(t) => html! { <p class="good" id="key-message">{t}</p> },
                    Err(t) => html! { <p class="bad" id="key-message">{t}</p> },
                } }
            }
        </details>
    }
}
