//! `cargo xtask bench`: every figure as `bench <name> <value> <unit> [target <t>]`, also written
//! to `target/bench/report.json`. The simulator figures run on a virtual clock (one run is the
//! median of any number); the web path runs three times in headless Chromium and each figure
//! is the median of the three; the release bundle is built and weighed gzipped.

use std::collections::BTreeMap;
use std::process::Command;

use crate::util::{self, run_tee, step, Result};
use crate::{bundle, page_bench, setup};

/// The simulator benchmarks (examples of otadeck-sim).
const EXAMPLES: [&str; 5] = [
    "wire_rate",
    "repl_rates",
    "repl_breakdown",
    "esp_rom_rate",
    "dfu_rate",
];
/// Runs of the web path whose median is reported.
const WEB_RUNS: usize = 3;
/// The budget for the whole site, gzipped.
const SITE_BUDGET: u64 = 300 * 1024;

/// One figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub target: Option<String>,
}

/// The `bench` lines in `output`.
pub fn parse(output: &str) -> Vec<Figure> {
    output
        .lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix("bench ")?;
            let words: Vec<&str> = rest.split_whitespace().collect();
            let [name, value, unit, more @ ..] = words.as_slice() else {
                return None;
            };
            let target = match more {
                ["target", t] => Some((*t).to_string()),
                _ => None,
            };
            Some(Figure {
                name: (*name).to_string(),
                value: value.parse().ok()?,
                unit: (*unit).to_string(),
                target,
            })
        })
        .collect()
}

/// Per name, the median of its values (in the order names first appear).
pub fn medians(figures: &[Figure]) -> Vec<Figure> {
    let mut order = Vec::new();
    let mut by_name: BTreeMap<&str, Vec<&Figure>> = BTreeMap::new();
    for f in figures {
        if !by_name.contains_key(f.name.as_str()) {
            order.push(f.name.as_str());
        }
        by_name.entry(&f.name).or_default().push(f);
    }
    order
        .into_iter()
        .map(|name| {
            let runs = &by_name[name];
            let mut values: Vec<f64> = runs.iter().map(|f| f.value).collect();
            values.sort_by(f64::total_cmp);
            Figure {
                value: values[values.len() / 2],
                ..runs[0].clone()
            }
        })
        .collect()
}

fn line(f: &Figure) -> String {
    let mut out = format!("bench {} {} {}", f.name, f.value, f.unit);
    if let Some(t) = &f.target {
        out.push_str(&format!(" target {t}"));
    }
    out
}

fn json(figures: &[Figure]) -> serde_json::Value {
    let list: Vec<serde_json::Value> = figures
        .iter()
        .map(|f| {
            serde_json::json!({
                "name": f.name,
                "value": f.value,
                "unit": f.unit,
                "target": f.target,
            })
        })
        .collect();
    serde_json::json!({ "figures": list })
}

fn cargo() -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(util::repo_root());
    cmd
}

fn captured(cmd: &mut Command) -> Result<String> {
    let (status, output) = run_tee(cmd)?;
    if !status.success() {
        return Err(format!("a benchmark exited with {status}"));
    }
    Ok(output)
}

/// Run every benchmark (or, with `page_only`, only the release page's), print the figures and
/// write the report.
pub fn run(page_only: bool) -> Result<()> {
    setup::run(true)?;
    let mut figures = Vec::new();
    if !page_only {
        figures = drivers_and_web_path()?;
    }
    bundle::trunk_release()?;
    for (kind, bytes) in bundle::gzipped_by_kind(&bundle::dist_dir())? {
        figures.push(Figure {
            name: format!("bundle_{kind}_gz"),
            value: bytes as f64,
            unit: "bytes".into(),
            target: (kind == "first_load").then(|| format!("<={SITE_BUDGET}")),
        });
    }
    figures.extend(medians(&page_bench::run(&bundle::dist_dir(), WEB_RUNS)?));
    report(&figures)
}

/// The drivers against the simulators, then the web path in Chromium (medians of its runs).
fn drivers_and_web_path() -> Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for example in EXAMPLES {
        step(&format!("Benchmark {example}"));
        let out = captured(cargo().args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "otadeck-sim",
            "--example",
            example,
        ]))?;
        figures.extend(parse(&out));
    }
    let mut web = Vec::new();
    for n in 1..=WEB_RUNS {
        step(&format!(
            "Benchmark web path, run {n} of {WEB_RUNS}: the ESP ROM loader through a fake SerialPort beside esptool-js, and hashing, in Chromium"
        ));
        let out = captured(
            cargo()
                .env("CHROMEDRIVER", setup::CHROMEDRIVER)
                .env("WASM_BINDGEN_TEST_TIMEOUT", "90")
                // No `--quiet`: cargo hands it to wasm-bindgen-test-runner, which refuses it.
                .args([
                    "test",
                    "--release",
                    "--target",
                    "wasm32-unknown-unknown",
                    "-p",
                    "otadeck",
                    "--test",
                    "web_bench",
                    "--",
                    "--nocapture",
                ]),
        )?;
        web.extend(parse(&out));
    }
    figures.extend(medians(&web));
    Ok(figures)
}

/// Print the figures, and write them to the report.
fn report(figures: &[Figure]) -> Result<()> {
    step("Figures");
    for f in figures {
        println!("{}", line(f));
    }
    let dir = util::repo_root().join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join("report.json");
    let text = serde_json::to_string_pretty(&json(figures)).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("    written to {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_parsed_and_repeated_figures_become_medians() {
        let out = "noise\nbench a 1.5 s\n  bench b 0.3 ratio target >=0.80\nbench a 9 s\nbench a 2 s\nbench c x s\n";
        let figures = parse(out);
        assert_eq!(figures.len(), 4);
        assert_eq!(figures[1].target.as_deref(), Some(">=0.80"));
        let m = medians(&figures);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].name.as_str(), m[0].value), ("a", 2.0));
        assert_eq!(line(&m[1]), "bench b 0.3 ratio target >=0.80");
    }
}
