//! The app shell: routes, the devices service as a context, the header.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::header::Header;
use crate::components::support_banner::SupportBanner;
use crate::pages::{campaigns::CampaignsPage, device::DevicePage, flash::FlashPage, log::LogPage};
use crate::services::devices::Devices;

/// The pages. Hash routes, so that any static host serves them.
#[derive(Clone, Routable, PartialEq)]
pub enum Route {
    #[at("/")]
    Flash,
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

fn switch(route: Route) -> Html {
    match route {
        Route::Flash | Route::NotFound => html! { <FlashPage /> },
        Route::Device => html! { <DevicePage /> },
        Route::Campaigns => html! { <CampaignsPage /> },
        Route::Log => html! { <LogPage /> },
    }
}

/// The root component.
#[component]
pub fn App() -> Html {
    let devices = use_memo((), |_| Devices::default());
    html! {
        <ContextProvider<Devices> context={(*devices).clone()}>
            <HashRouter>
                <Header />
                <SupportBanner />
                <main>
                    <Switch<Route> render={switch} />
                </main>
            </HashRouter>
        </ContextProvider<Devices>>
    }
}
