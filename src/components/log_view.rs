//! The session log, newest last.

use otadeck_core::session::LogLevel;
use yew::prelude::*;

use crate::hooks::use_log;

/// Properties of [`LogView`].
#[derive(Properties, PartialEq)]
pub struct LogViewProps {
    /// Show only the last `limit` lines (`None`: all).
    #[prop_or_default]
    pub limit: Option<usize>,
    /// Hide wire-level detail.
    #[prop_or(true)]
    pub hide_debug: bool,
}

/// The log lines.
#[component]
pub fn LogView(props: &LogViewProps) -> Html {
    let log = use_log();
    let log = log.get();
    let lines: Vec<_> = log
        .iter()
        .filter(|e| !props.hide_debug || e.level > LogLevel::Debug)
        .collect();
    let skip = props.limit.map_or(0, |l| lines.len().saturating_sub(l));
    html! {
        <ol id="log" class="log" aria-live="polite">
            { for lines.iter().skip(skip).map(|e| {
                let class = match e.level {
                    LogLevel::Debug => "log-debug",
                    LogLevel::Info => "log-info",
                    LogLevel::Warn => "log-warn",
                    LogLevel::Error => "log-error",
                };
                html! {
                    <li class={class}>
                        <span class="log-time">{&e.clock}</span>
                        <span class="log-text">{&e.message}</span>
                    </li>
                }
            }) }
        </ol>
    }
}
