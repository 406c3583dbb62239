//! The Campaigns page: a plan worked through a fleet. The plan, the module connected now against
//! it, the counts and the chart, and every module seen with the log of each attempt. The records
//! are kept in the browser as each state changes, so a reload loses none of them.

mod counts_card;
mod module_card;
mod monitor;
mod plan_card;
mod reports_card;

use otadeck_core::campaign::tally::tally;
use yew::prelude::*;

use crate::components::log_view::LogView;
use crate::components::offline_cache::OfflineCache;
use crate::hooks::{use_campaigns, use_devices, use_store};
use counts_card::CountsCard;
use module_card::ModuleCard;
use monitor::MonitorTable;
use plan_card::PlanCard;
use reports_card::ReportsCard;
use wasm_bindgen_futures::spawn_local;

/// Properties of [`CampaignsPage`].
#[derive(Properties, PartialEq, Default)]
pub struct CampaignsPageProps {
    /// A plan to load at once (`#/campaign?plan=<url>`).
    #[prop_or_default]
    pub plan: Option<AttrValue>,
}

/// The Campaigns page.
#[component]
pub fn CampaignsPage(props: &CampaignsPageProps) -> Html {
    let campaigns = use_campaigns();
    let devices = use_devices();
    use_store(devices.list());
    let list = devices.list().get().clone();
    let has_plan = campaigns.view.get().plan.is_some();
    let report_to = campaigns
        .view
        .get()
        .plan
        .as_ref()
        .map(|p| p.plan.report.clone())
        .filter(|r| r.url.is_some() || r.hawkbit.is_some());
    let on_add = {
        let devices = devices.clone();
        Callback::from(move |_: MouseEvent| {
            devices.add();
        })
    };
    let (t, attempts, interrupted) = {
        let v = campaigns.view.get();
        let attempts = v.of_plan();
        let t = v.plan.as_ref().map(|p| tally(&p.plan, &attempts));
        (t, attempts, campaigns.interrupted())
    };
    html! {
        <div class="page page-split">
            <div class="col">
                if !interrupted.is_empty() {
                    <div class="banner banner-bad" id="campaign-interrupted" role="alert">
                        <p class="banner-title">{"Interrupted by a reload or a closed page"}</p>
                        { for interrupted.iter().map(|a| html! { <p>{format!("Module {}: {}", a.module, a.message.clone().unwrap_or_default())}</p> }) }
                    </div>
                }
                <PlanCard initial_url={props.plan.clone()} />
                { for list.iter().map(|d| {
                    let on_remove = (d.slot > 1).then(|| {
                        let (devices, d) = (devices.clone(), d.clone());
                        Callback::from(move |_: ()| {
                            let (devices, d) = (devices.clone(), d.clone());
                            spawn_local(async move { devices.remove(&d).await });
                        })
                    });
                    html! { <ModuleCard key={d.slot} device={d.clone()} {on_remove} /> }
                }) }
                if has_plan {
                    <button id="add-slot" class="btn" onclick={on_add}>{"Add a module slot (several modules at once)"}</button>
                }
            </div>
            <div class="col">
                if let Some(t) = &t {
                    <CountsCard counts={t.counts.clone()} series={t.series.clone()} />
                    <MonitorTable rows={t.rows.clone()} attempts={attempts.clone()} />
                }
                if let Some(to) = report_to {
                    <ReportsCard {to} />
                }
                <section class="card">
                    <h2>{"Log"}</h2>
                    <LogView limit={Some(10)} />
                </section>
                <OfflineCache />
            </div>
        </div>
    }
}
