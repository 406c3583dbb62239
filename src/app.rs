//! The app shell: routes, the devices service as a context, the header.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::header::Header;
use crate::components::recovery_banner::RecoveryBanner;
use crate::components::session_guard::SessionGuard;
use crate::components::support_banner::SupportBanner;
use crate::pages::{campaigns::CampaignsPage, device::DevicePage, flash::FlashPage, log::LogPage};
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
        Route::Log => ("Session log", html! { <LogPage /> }),
    };
    html! {
        <>
            <h1 class="page-title">{title}</h1>
            {page}
        </>
    }
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
    {
        // The log and the last flash kept before a reload come back once.
        let devices = (*devices).clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move { devices.restore().await });
        });
    }
    html! {
        <ContextProvider<Devices> context={(*devices).clone()}>
            <HashRouter>
                <Header />
                <SessionGuard />
                <SupportBanner />
                <RecoveryBanner />
                <main>
                    <Switch<Route> render={switch} />
                </main>
            </HashRouter>
        </ContextProvider<Devices>>
    }
}
