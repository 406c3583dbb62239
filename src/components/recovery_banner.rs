//! After a reload that cut a flash off: what happened and what the module holds now, until the
//! technician dismisses it.

use yew::prelude::*;

use crate::hooks::{use_devices, use_store};

/// The banner, or nothing.
#[component]
pub fn RecoveryBanner() -> Html {
    let devices = use_devices();
    use_store(devices.recovery());
    let Some(text) = devices.recovery().get().clone() else {
        return Html::default();
    };
    let on_dismiss = {
        let recovery = devices.recovery().clone();
        Callback::from(move |_: MouseEvent| recovery.update(|r| *r = None))
    };
    html! {
        <div id="recovery" class="banner banner-bad" role="alert">
            <div class="banner-title">{"A flash was interrupted"}</div>
            <div>{text}</div>
            <div class="row">
                <button id="recovery-dismiss" class="btn btn-quiet" onclick={on_dismiss}>{"Understood"}</button>
            </div>
        </div>
    }
}
