//! How far the campaign is: the counts, and the progress over time as an inline SVG chart.

use otadeck_core::campaign::tally::{Counts, Point};
use yew::prelude::*;

/// Properties of [`CountsCard`].
#[derive(Properties, PartialEq)]
pub struct CountsCardProps {
    /// The counts.
    pub counts: Counts,
    /// The counts after each change.
    pub series: Vec<Point>,
}

/// The counts card.
#[component]
pub fn CountsCard(props: &CountsCardProps) -> Html {
    let c = &props.counts;
    let figure = |id: &'static str, label: &'static str, value: String, class: &'static str| {
        html! {
            <div class={classes!("count", class)}>
                <span class="count-value" id={id}>{value}</span>
                <span class="count-label">{label}</span>
            </div>
        }
    };
    html! {
        <section class="card" id="campaign-counts">
            <h2>{"Progress"}</h2>
            <div class="counts">
                { figure("count-done", "updated", c.done.to_string(), "good") }
                if c.in_progress > 0 {
                    { figure("count-open", "in progress", c.in_progress.to_string(), "neutral") }
                }
                { figure("count-current", "already current", c.current.to_string(), "good") }
                { figure("count-failed", "failed or interrupted", c.failed.to_string(), "bad") }
                { figure("count-skipped", "skipped", c.skipped.to_string(), "warn") }
                { figure("count-remaining", "remaining", c.remaining.map_or("—".into(), |r| r.to_string()), "neutral") }
            </div>
            { chart(&props.series) }
            <p class="legend small"><span class="key key-done"></span>{"updated or current"}<span class="key key-failed"></span>{"failed"}<span class="key key-skipped"></span>{"skipped"}</p>
        </section>
    }
}

const W: f64 = 600.0;
const H: f64 = 160.0;
const PAD: f64 = 24.0;

/// Step lines of done, failed and skipped over time.
fn chart(series: &[Point]) -> Html {
    if series.is_empty() {
        return html! { <p class="muted">{"The chart starts with the first module."}</p> };
    }
    let t0 = series[0].at_ms;
    let span = (series[series.len() - 1].at_ms - t0).max(1) as f64;
    let top = series
        .iter()
        .map(|p| p.done.max(p.failed).max(p.skipped))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let x = |t: i64| PAD + (t - t0) as f64 / span * (W - 2.0 * PAD);
    let y = |n: usize| H - PAD - n as f64 / top * (H - 2.0 * PAD);
    // Each series starts where it first counts one, and runs to the last change.
    let end = x(series[series.len() - 1].at_ms);
    let line = |pick: fn(&Point) -> usize| {
        let mut d = String::new();
        for p in series {
            let v = pick(p);
            if d.is_empty() && v == 0 {
                continue;
            }
            if d.is_empty() {
                d = format!("M{:.1},{:.1}", x(p.at_ms), y(0));
            } else {
                d.push_str(&format!(" H{:.1}", x(p.at_ms)));
            }
            d.push_str(&format!(" V{:.1}", y(v)));
        }
        if !d.is_empty() {
            d.push_str(&format!(" H{end:.1}"));
        }
        d
    };
    let seconds = span / 1000.0;
    let (length, unit) = if seconds < 120.0 {
        (seconds, "s")
    } else {
        (seconds / 60.0, "min")
    };
    html! {
        <svg id="campaign-chart" class="chart" viewBox={format!("0 0 {W} {H}")} role="img"
            aria-label={format!("Modules updated, failed and skipped over {length:.0} {unit}")}>
            <line x1={PAD.to_string()} y1={(H - PAD).to_string()} x2={(W - PAD).to_string()} y2={(H - PAD).to_string()} class="axis" />
            <path d={line(|p| p.skipped)} class="series series-skipped" />
            <path d={line(|p| p.failed)} class="series series-failed" />
            <path d={line(|p| p.done)} class="series series-done" />
            <text x={PAD.to_string()} y="16" class="chart-label">{format!("{} max", top as usize)}</text>
            <text x={(W - PAD).to_string()} y={(H - 6.0).to_string()} text-anchor="end" class="chart-label">{format!("{length:.0} {unit}")}</text>
        </svg>
    }
}
