//! The page's own figures, in headless Chromium against the release site served on localhost:
//! how long until the app shows its controls, the longest main-thread task (a
//! `PerformanceObserver` for `longtask`, installed before any script of the page runs; it sees
//! only tasks of 50 ms or more, so 0 means none) while a 16 MiB image is read, hashed and
//! inspected and while the demo ESP32 at 921600 baud is flashed with an app that fills its
//! update slot, and the app's wasm memory at the end (linear memory only grows: its peak).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::bench::Figure;
use crate::e2e::Ctx;
use crate::serve::StaticServer;
use crate::util::{self, Result};
use crate::webdriver::{ChromeDriver, Session};

/// The budget for one main-thread task, in milliseconds.
const LONG_TASK_BUDGET_MS: u32 = 50;
/// The budget from navigation to the app's controls, in milliseconds.
const INTERACTIVE_BUDGET_MS: u32 = 500;
/// The size of the big image chosen in the page.
const BIG_IMAGE: usize = 16 << 20;
/// The body of the app flashed: nearly all of the demo ESP32's 1.5 MiB update slot.
const SLOT_IMAGE: usize = 0x17_0000;

/// Runs before any script of the page: records long tasks, the moment the demo's connect button
/// first exists, and the app's wasm memory as it is instantiated.
const PROBE: &str = r#"
window.__bench = { tasks: [], interactive: null, memory: null };
new PerformanceObserver(list => {
  for (const e of list.getEntries()) window.__bench.tasks.push([e.startTime, e.duration]);
}).observe({ type: "longtask", buffered: true });
new MutationObserver((_, observer) => {
  if (document.getElementById("connect-demo")) {
    window.__bench.interactive = performance.now();
    observer.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
const keep = r => { const i = r.instance || r; if (i.exports && i.exports.memory) window.__bench.memory = i.exports.memory; return r; };
const streaming = WebAssembly.instantiateStreaming, plain = WebAssembly.instantiate;
WebAssembly.instantiateStreaming = (...a) => streaming.apply(WebAssembly, a).then(keep);
WebAssembly.instantiate = (...a) => plain.apply(WebAssembly, a).then(keep);
"#;

fn number(v: &Value, what: &str) -> Result<f64> {
    v.as_f64()
        .ok_or_else(|| format!("the page gave no {what} ({v})"))
}

/// The page clock, in milliseconds.
fn page_now(session: &Session) -> Result<f64> {
    number(
        &session.execute("return performance.now();", vec![])?,
        "clock",
    )
}

/// The longest task that started between `from` and `to` (page ms), and how many there were
/// over the budget.
fn longest_between(session: &Session, from: f64, to: f64) -> Result<(f64, usize)> {
    let tasks = session.execute("return window.__bench.tasks;", vec![])?;
    let mut longest = 0.0f64;
    let mut over = 0;
    for t in tasks.as_array().into_iter().flatten() {
        let (start, duration) = (number(&t[0], "task start")?, number(&t[1], "task length")?);
        if start >= from && start <= to {
            longest = longest.max(duration);
            over += usize::from(duration > f64::from(LONG_TASK_BUDGET_MS));
        }
    }
    Ok((longest, over))
}

/// Chooses the file at `path` and waits until the page shows its name and SHA-256.
fn choose_image(ctx: &Ctx, path: &Path) -> Result<()> {
    ctx.choose_file("#file-input", path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    ctx.wait_text(
        "#image-summary",
        &format!("naming {name} with its SHA-256"),
        Duration::from_secs(60),
        |t| t.contains(&name) && t.contains("SHA-256"),
    )?;
    Ok(())
}

fn figure(name: &str, value: f64, unit: &str, target: Option<String>) -> Figure {
    Figure {
        name: name.into(),
        value,
        unit: unit.into(),
        target,
    }
}

/// One run in a fresh session: the figures of the page.
fn one_run(driver: &ChromeDriver, base: &str, images: &Images) -> Result<Vec<Figure>> {
    let mut session = Session::new(driver)?;
    let ctx = Ctx {
        session: &session,
        base_url: base.to_string(),
        artifacts: crate::e2e::artifacts_dir(),
    };
    let result = measure(&ctx, images);
    let _ = session.delete();
    result
}

/// The files chosen in the page.
struct Images {
    big: PathBuf,
    slot: PathBuf,
}

fn measure(ctx: &Ctx, images: &Images) -> Result<Vec<Figure>> {
    let session = ctx.session;
    session.cdp(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": PROBE }),
    )?;
    session.goto(&ctx.url("/"))?;
    let interactive = ctx.wait_for("the app's controls", Duration::from_secs(20), || {
        Ok(session
            .execute("return window.__bench.interactive;", vec![])?
            .as_f64())
    })?;
    let (start_longest, _) = longest_between(session, 0.0, interactive)?;
    let short = Duration::from_secs(20);
    ctx.select("#baud", "921600")?;
    // The demo's worker is fetched, compiled and started on this first connect.
    let from = page_now(session)?;
    ctx.connect_demo("esp-rom", "ESP32 bootloader")?;
    let demo_connect = page_now(session)? - from;

    let from = page_now(session)?;
    choose_image(ctx, &images.big)?;
    let to = page_now(session)?;
    let (image_longest, image_over) = longest_between(session, from, to)?;
    let image_s = (to - from) / 1000.0;

    choose_image(ctx, &images.slot)?;
    let from = page_now(session)?;
    ctx.click("#flash-start", short)?;
    ctx.wait_flash_outcome("restart-pending", Duration::from_secs(180))?;
    let to = page_now(session)?;
    let (flash_longest, flash_over) = longest_between(session, from, to)?;
    let memory = session.execute(
        "const m = window.__bench.memory; return m ? m.buffer.byteLength : null;",
        vec![],
    )?;
    let task_target = Some(format!("<={LONG_TASK_BUDGET_MS}"));
    Ok(vec![
        figure(
            "page_interactive",
            interactive,
            "ms",
            Some(format!("<{INTERACTIVE_BUDGET_MS}")),
        ),
        figure("page_start_longest_task", start_longest, "ms", None),
        figure("page_demo_first_connect", demo_connect, "ms", None),
        figure("page_16mib_image_read_hashed", image_s, "s", None),
        figure(
            "page_16mib_image_longest_task",
            image_longest,
            "ms",
            task_target.clone(),
        ),
        figure(
            "page_16mib_image_tasks_over_50ms",
            image_over as f64,
            "count",
            None,
        ),
        figure(
            "page_demo_flash_longest_task",
            flash_longest,
            "ms",
            task_target,
        ),
        figure(
            "page_demo_flash_tasks_over_50ms",
            flash_over as f64,
            "count",
            None,
        ),
        figure(
            "page_wasm_memory_peak",
            number(&memory, "wasm memory")? / (1 << 20) as f64,
            "MiB",
            None,
        ),
    ])
}

/// `runs` runs against the release site in `dist` (built by the caller); every figure of
/// every run, for the caller's medians.
pub fn run(dist: &Path, runs: usize) -> Result<Vec<Figure>> {
    let dir = util::repo_root().join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let images = Images {
        big: dir.join("esp32-app-16mib.bin"),
        slot: dir.join("esp32-app-slot.bin"),
    };
    for (path, body) in [(&images.big, BIG_IMAGE), (&images.slot, SLOT_IMAGE)] {
        let image = otadeck_sim::firmware::demo_image("9.9.9", body);
        std::fs::write(path, image).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let server = StaticServer::start(dist, "127.0.0.1:0", false)?;
    let driver = ChromeDriver::start(&dir.join("chromedriver.log"))?;
    let mut figures = Vec::new();
    for n in 1..=runs {
        util::step(&format!(
            "Benchmark the page, run {n} of {runs}: start, a 16 MiB image, a slot-filling demo flash"
        ));
        let got = one_run(&driver, &server.base_url(), &images)?;
        for f in &got {
            println!("    {} {} {}", f.name, f.value, f.unit);
        }
        figures.extend(got);
    }
    Ok(figures)
}
