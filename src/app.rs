//! The app shell: routes, the devices service as a context, the header.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::header::Header;
use crate::components::recovery_banner::RecoveryBanner;
use crate::components::session_guard::SessionGuard;
use crate::components::support_banner::SupportBanner;
use crate::pages::{campaigns::CampaignsPage, device::DevicePage, flash::FlashPage, log::LogPage};
use crate::services::campaign::Campaigns;
use crate::services::devices::Devices;

/// The pages. Hash routes, so that any static host serves them.
#[derive(Clone, Routable, PartialEq)]
pub enum Route {
    #[at("/")]
    Flash,
    /// The Flash page with a source loaded: `#/install?manifest=<url>`.
    #[at("/install")]
    Install,
    #[at("/device")]
    Device,
    #[at("/campaigns")]
    Campaigns,
    /// The Campaigns page with a plan loaded: `#/campaign?plan=<url>`.
    #[at("/campaign")]
    Campaign,
    #[at("/log")]
    Log,
    #[not_found]
    #[at("/404")]
    NotFound,
}

/// Each page under its own `<h1>`.
fn switch(route: Route) -> Html {
    let (title, page) = match route {
        Route::Flash | Route::NotFound => ("Flash a module", html! { <FlashPage /> }),
        Route::Install => ("Install on a module", html! { <InstallPage /> }),
        Route::Device => ("Device", html! { <DevicePage /> }),
        Route::Campaigns => ("Campaigns", html! { <CampaignsPage /> }),
        Route::Campaign => ("Campaigns", html! { <CampaignPage /> }),
        Route::Log => ("Session log", html! { <LogPage /> }),
    };
    html! {
        <>
            <h1 class="page-title">{title}</h1>
            {page}
        </>
    }
}

/// The value of `key` in the route's query.
fn query_value(key: &str) -> Option<AttrValue> {
    let query = web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .and_then(|h| h.split_once('?').map(|(_, q)| q.to_string()))
        .unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| AttrValue::from(v.into_owned()))
}

/// The Campaigns page with the plan the link's `plan` parameter names.
#[component]
fn CampaignPage() -> Html {
    let _ = use_location();
    html! { <CampaignsPage plan={query_value("plan")} /> }
}

/// The Flash page with the source the link's `manifest` parameter names.
#[component]
fn InstallPage() -> Html {
    let location = use_location();
    let query = location
        .map(|l| l.query_str().to_string())
        .unwrap_or_default();
    let manifest = url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
        .find(|(k, _)| k == "manifest")
        .map(|(_, v)| AttrValue::from(v.into_owned()));
    html! { <FlashPage {manifest} /> }
}

/// The root component.
#[component]
pub fn App() -> Html {
    let devices = use_memo((), |_| Devices::default());
    let campaigns = use_memo((), |_| Campaigns::new((*devices).clone()));
    {
        // The log, the last flash and the campaign records kept before a reload come back once.
        let (devices, campaigns) = ((*devices).clone(), (*campaigns).clone());
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                devices.restore().await;
                campaigns.restore().await;
            });
        });
    }
    html! {
        <ContextProvider<Devices> context={(*devices).clone()}>
        <ContextProvider<Campaigns> context={(*campaigns).clone()}>
            <HashRouter>
                <Header />
                <SessionGuard />
                <SupportBanner />
                <RecoveryBanner />
                <main>
                    <Switch<Route> render={switch} />
                </main>
            </HashRouter>
        </ContextProvider<Campaigns>>
        </ContextProvider<Devices>>
    }
}
