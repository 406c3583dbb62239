//! The app shell: routes, the shared context, the header.

use std::cell::Cell;
use std::rc::Rc;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::header::Header;
use crate::components::support_banner::SupportBanner;
use crate::pages::{campaigns::CampaignsPage, device::DevicePage, flash::FlashPage, log::LogPage};
use crate::pump::CancelFlag;
use crate::runner::Ctx;
use crate::state::AppState;

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
    let state = use_reducer(AppState::default);
    let conn = use_mut_ref(|| None);
    let cancel = use_memo((), |_| CancelFlag::default());
    let demo = use_mut_ref(|| None);
    let family = use_memo((), |_| Rc::new(Cell::new(None)));
    let bootloader = use_memo((), |_| Rc::new(Cell::new(false)));
    let ctx = Ctx {
        state,
        conn,
        cancel: (*cancel).clone(),
        demo,
        family: (*family).clone(),
        bootloader: (*bootloader).clone(),
    };
    html! {
        <ContextProvider<Ctx> context={ctx}>
            <HashRouter>
                <Header />
                <SupportBanner />
                <main>
                    <Switch<Route> render={switch} />
                </main>
            </HashRouter>
        </ContextProvider<Ctx>>
    }
}
