//! The technician's choices before an install from a source: accepting an unsigned source, having
//! the module download the image itself, the reason for an older version, and the button.

use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Properties of [`InstallChoices`]. A choice is offered when its handle is given.
#[derive(Properties, PartialEq)]
pub struct InstallChoicesProps {
    /// "Install it unsigned": the source carries no signature otadeck could check.
    pub unsigned_ok: Option<UseStateHandle<bool>>,
    /// "The module downloads it itself": the module can fetch the image (QuecPython).
    pub module_downloads: Option<UseStateHandle<bool>>,
    /// The reason for installing an older version.
    pub reason: Option<UseStateHandle<String>>,
    /// A session or a download runs.
    pub busy: bool,
    /// Why the button waits, when it does.
    pub blocked_why: Option<AttrValue>,
    /// The button was pressed.
    pub on_install: Callback<MouseEvent>,
}

fn toggle(state: &UseStateHandle<bool>) -> Callback<Event> {
    let state = state.clone();
    Callback::from(move |e: Event| {
        state.set(e.target_unchecked_into::<HtmlInputElement>().checked())
    })
}

/// The choices and the Install button.
#[component]
pub fn InstallChoices(props: &InstallChoicesProps) -> Html {
    let busy = props.busy;
    let on_reason = props.reason.clone().map(|reason| {
        Callback::from(move |e: InputEvent| {
            reason.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    });
    html! {
        <>
            if let Some(ok) = &props.unsigned_ok {
                <label class="check warn-box">
                    <input id="source-unsigned-ok" type="checkbox" checked={**ok} onchange={toggle(ok)} disabled={busy} />
                    {"Install it unsigned: I trust where it came from (the record says so)"}
                </label>
            }
            if let Some(on) = &props.module_downloads {
                <label class="check">
                    <input id="source-module-downloads" type="checkbox" checked={**on} onchange={toggle(on)} disabled={busy} />
                    {"The module downloads it itself, over its own network, once otadeck checked it"}
                </label>
            }
            if let Some(reason) = &props.reason {
                <label class="field field-wide">{"Reason for installing an older version (kept in the record)"}
                    <input id="source-reason" class="input" value={(**reason).clone()} oninput={on_reason} disabled={busy} />
                </label>
            }
            <div class="source-install">
                <button id="source-install" class="btn btn-primary btn-huge" onclick={props.on_install.clone()}
                    disabled={props.blocked_why.is_some()} title={props.blocked_why.clone()}>{"Install on this module"}</button>
            </div>
        </>
    }
}
