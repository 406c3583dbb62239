//! The header: brand, navigation, and always the connection and the module identity.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::app::Route;
use crate::hooks::use_device;
use crate::services::device::LinkKind;

/// The top bar.
#[component]
pub fn Header() -> Html {
    let (_, s) = use_device();
    let route = use_route::<Route>().unwrap_or(Route::Flash);
    let (link_class, link_text) = match &s.link {
        LinkKind::None => ("chip chip-off", "Not connected".to_string()),
        LinkKind::Demo(d) => ("chip chip-demo", d.clone()),
        LinkKind::Serial(d) => ("chip chip-on", d.clone()),
    };
    let identity = match (&s.module, &s.link, s.busy) {
        (Some(m), _, _) => format!("{} {} · {}", m.family.name(), m.model, m.firmware_version),
        (None, LinkKind::None, _) => "No module".into(),
        (None, _, true) => "Identifying…".into(),
        (None, _, false) => "Module not identified".into(),
    };
    let tab = |r: Route, id: &'static str, label: &'static str| {
        let class = if route == r { "tab active" } else { "tab" };
        html! { <Link<Route> to={r} classes={classes!(class)}><span id={id}>{label}</span></Link<Route>> }
    };
    html! {
        <header class="topbar">
            <div class="brand">{"otadeck"}</div>
            <nav class="tabs">
                { tab(Route::Flash, "nav-flash", "Flash") }
                { tab(Route::Device, "nav-device", "Device") }
                { tab(Route::Campaigns, "nav-campaigns", "Campaigns") }
                { tab(Route::Log, "nav-log", "Log") }
            </nav>
            <div class="status">
                <span id="connection-status" class={link_class}>{link_text}</span>
                <span id="module-identity" class="identity">{identity}</span>
            </div>
        </header>
    }
}
