//! Where the plan's results go, and how far they got: sent, waiting (with no network, or the
//! server failing for now) and refused, with the hawkBit Management API login when the plan
//! records modules in hawkBit. `#reports[data-waiting]` counts the reports still to be sent.

use otadeck_core::campaign::outbox::{Delivery, ReportKind};
use otadeck_core::manifest::plan::ReportTo;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::hooks::use_campaigns;

/// Properties of [`ReportsCard`].
#[derive(Properties, PartialEq)]
pub struct ReportsCardProps {
    /// Where the plan reports.
    pub to: ReportTo,
}

/// The reports card.
#[component]
pub fn ReportsCard(props: &ReportsCardProps) -> Html {
    let campaigns = use_campaigns();
    let login = use_state(String::new);
    let outbox = campaigns.view.get().outbox.clone();
    let count = |f: fn(&Delivery) -> bool| outbox.iter().filter(|r| f(&r.delivery)).count();
    let sent = count(|d| matches!(d, Delivery::Sent { .. }));
    let waiting = count(|d| matches!(d, Delivery::Pending { .. }));
    let refused = count(|d| matches!(d, Delivery::Refused { .. }));
    let on_send = {
        let campaigns = campaigns.clone();
        Callback::from(move |_: MouseEvent| {
            let c = campaigns.clone();
            spawn_local(async move { c.send_reports().await });
        })
    };
    let on_login_input = {
        let login = login.clone();
        Callback::from(move |e: InputEvent| {
            login.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let on_login = {
        let (campaigns, login) = (campaigns.clone(), login.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (c, l) = (campaigns.clone(), (*login).clone());
            spawn_local(async move { c.set_hawkbit_login(&l).await });
        })
    };
    let problems: Vec<Html> = outbox
        .iter()
        .filter_map(|r| {
            let what = match &r.delivery {
                Delivery::Refused { status, why } => format!("refused, HTTP {status} {why}"),
                Delivery::Pending {
                    tries,
                    last: Some(last),
                } => format!("waiting after {tries} tries: {last}"),
                Delivery::Pending { .. }
                    if r.kind == ReportKind::HawkbitOffline && !campaigns.has_hawkbit_login() =>
                {
                    "waiting for the hawkBit login".into()
                }
                _ => return None,
            };
            Some(html! { <li class="wrap">{format!("{}: {what}", r.id)}</li> })
        })
        .collect();
    html! {
        <section class="card" id="reports" data-waiting={waiting.to_string()} data-sent={sent.to_string()}>
            <h2>{"Reports"}</h2>
            <dl class="facts">
                if let Some(url) = &props.to.url {
                    <dt>{"Results to"}</dt><dd class="wrap">{url}</dd>
                }
                if let Some(h) = &props.to.hawkbit {
                    <dt>{"hawkBit"}</dt><dd class="wrap">{format!("{}, distribution set {}: updated modules recorded as offline updates", h.base, h.distribution_set)}</dd>
                }
            </dl>
            <p id="reports-count">{format!("{sent} sent, {waiting} waiting, {refused} refused")}</p>
            if !problems.is_empty() {
                <ul class="notes">{ for problems }</ul>
            }
            if props.to.hawkbit.is_some() && !campaigns.has_hawkbit_login() {
                <form class="source-form" onsubmit={on_login}>
                    <label class="field">{"hawkBit Management API login (user:password, not kept)"}
                        <input id="hawkbit-login" type="password" class="input" autocomplete="off"
                            value={(*login).clone()} oninput={on_login_input} />
                    </label>
                    <button class="btn" type="submit">{"Use this login"}</button>
                </form>
            }
            <button id="reports-send" class="btn" onclick={on_send} disabled={waiting == 0}>{"Send the waiting reports now"}</button>
        </section>
    }
}
