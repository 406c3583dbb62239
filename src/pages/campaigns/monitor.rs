//! Every module of the campaign: its state, versions before and after, when, and the log of each
//! attempt.

use otadeck_core::campaign::export::rfc3339;
use otadeck_core::campaign::record::Attempt;
use otadeck_core::campaign::tally::Row;
use yew::prelude::*;

/// Properties of [`MonitorTable`].
#[derive(Properties, PartialEq)]
pub struct MonitorTableProps {
    /// One row per module.
    pub rows: Vec<Row>,
    /// The attempts the rows name.
    pub attempts: Vec<Attempt>,
}

/// The monitoring table.
#[component]
pub fn MonitorTable(props: &MonitorTableProps) -> Html {
    if props.rows.is_empty() {
        return html! {};
    }
    let attempt = |id: &String| props.attempts.iter().find(|a| &a.id == id);
    html! {
        <section class="card" id="campaign-monitor">
            <h2>{"Modules seen"}</h2>
            <table class="slots monitor">
                <thead><tr><th>{"Module"}</th><th>{"State"}</th><th>{"Before"}</th><th>{"After"}</th><th>{"Last seen (UTC)"}</th></tr></thead>
                <tbody>
                    { for props.rows.iter().map(|r| html! {
                        <tr data-module={r.module.clone()} data-state={r.state.label().replace(' ', "-")}>
                            <td class="slot-label mono">{&r.module}</td>
                            <td data-label="State">{format!("{}{}", r.state.label(), if r.attempts > 1 { format!(" ({} attempts)", r.attempts) } else { String::new() })}</td>
                            <td data-label="Before">{&r.version_before}</td>
                            <td data-label="After">{r.version_after.clone().unwrap_or_default()}</td>
                            <td data-label="Last seen">{rfc3339(r.last_ms).replace('T', " ").trim_end_matches('Z').to_string()}</td>
                        </tr>
                    }) }
                </tbody>
            </table>
            { for props.rows.iter().map(|r| html! {
                <details class="more attempt-log">
                    <summary>{format!("Log of {}", r.module)}</summary>
                    { for r.attempt_ids.iter().filter_map(&attempt).map(|a| html! {
                        <div>
                            <p class="small"><b>{format!("{} · {}", rfc3339(a.started_ms), a.state.label())}</b>{a.message.clone().map(|m| format!(": {m}")).unwrap_or_default()}</p>
                            <pre class="log-text small">{a.log.join("\n")}</pre>
                        </div>
                    }) }
                </details>
            }) }
        </section>
    }
}
