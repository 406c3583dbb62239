//! The header: brand, navigation, the theme switch, and always the connection and the module
//! identity.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::app::Route;
use crate::hooks::{use_device, use_online};
use crate::services::device::LinkKind;
use crate::theme::{self, Theme};

/// The top bar.
#[component]
pub fn Header() -> Html {
    let (_, s) = use_device();
    let online = use_online();
    let route = use_route::<Route>().unwrap_or(Route::Flash);
    let theme = use_state(theme::current);
    let (link_class, link_text) = match &s.link {
        LinkKind::None => ("chip chip-off", "Not connected".to_string()),
        LinkKind::Demo(d) => ("chip chip-demo", d.clone()),
        LinkKind::Serial(d) | LinkKind::Usb(d) => ("chip chip-on", d.clone()),
    };
    let identity = match (&s.module, &s.link, s.busy) {
        (Some(m), _, busy) => {
            let mut t = format!("{} {}", m.family.name(), m.model);
            if !m.firmware_version.is_empty() {
                t.push_str(&format!(" · {}", m.firmware_version));
            } else if busy {
                t.push_str(" · reading…");
            }
            t
        }
        (None, LinkKind::None, _) => "No module".into(),
        (None, _, true) => "Identifying the module…".into(),
        (None, _, false) => "Module not identified".into(),
    };
    let tab = |r: Route, id: &'static str, label: &'static str| {
        let here = route == r || (route == Route::NotFound && r == Route::Flash);
        let class = if here { "tab active" } else { "tab" };
        html! {
            <a href={format!("#{}", r.to_path())} class={class} aria-current={here.then_some("page")}>
                <span id={id}>{label}</span>
            </a>
        }
    };
    let on_theme = {
        let theme = theme.clone();
        Callback::from(move |_: MouseEvent| {
            let next = theme.other();
            theme::apply(next, true);
            theme.set(next);
        })
    };
    let (icon, switch_to) = match *theme {
        Theme::Light => ("☾", "Switch to the dark theme"),
        Theme::Dark => ("☀", "Switch to the light theme"),
    };
    html! {
        <header class="topbar">
            <div class="brand">{"otadeck"}</div>
            <nav class="tabs" aria-label="Pages">
                { tab(Route::Flash, "nav-flash", "Flash") }
                { tab(Route::Device, "nav-device", "Device") }
                { tab(Route::Campaigns, "nav-campaigns", "Campaigns") }
                { tab(Route::Log, "nav-log", "Log") }
            </nav>
            <div class="status">
                <span id="network-status" class={if online { "chip chip-on" } else { "chip chip-off" }}
                    data-online={online.to_string()}>{if online { "Online" } else { "Offline" }}</span>
                <span id="connection-status" class={link_class} title={link_text.clone()}>{link_text}</span>
                <span id="module-identity" class="identity" title={identity.clone()}>{identity}</span>
                <button id="theme-toggle" class="theme-btn" onclick={on_theme} aria-label={switch_to} title={switch_to}>{icon}</button>
            </div>
        </header>
    }
}
