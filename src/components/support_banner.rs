//! Says plainly when this browser cannot reach real ports, and what to do.

use yew::prelude::*;

use crate::support::detect;

/// A warning strip, shown only when something is missing.
#[component]
pub fn SupportBanner() -> Html {
    let support = use_memo((), |_| detect());
    match support.problem() {
        Some(text) => {
            html! { <div id="support-banner" class="banner banner-warn" role="alert">{text}</div> }
        }
        None => html! {},
    }
}
