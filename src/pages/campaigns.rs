//! The Campaigns page.

use yew::prelude::*;

/// The Campaigns page. Plans and manifests are not supported yet, and the page says so.
#[component]
pub fn CampaignsPage() -> Html {
    html! {
        <div class="page">
            <section class="card">
                <h2>{"Campaigns"}</h2>
                <p>{"Campaign plans and update manifests cannot be loaded yet. For now, flash from a local file or the sample image on the Flash page."}</p>
            </section>
        </div>
    }
}
