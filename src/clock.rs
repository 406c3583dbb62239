//! The page's clock, as the [`std::time::Duration`] the core's machines take.

use std::time::Duration;

/// Time since the page (or the worker) started (`performance.now()`).
pub fn now() -> Duration {
    use wasm_bindgen::JsCast;
    let ms = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
        .map(|p| p.now())
        .unwrap_or(0.0);
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

/// The local wall-clock time, `HH:MM:SS`, for log lines.
pub fn wall_clock() -> String {
    let d = js_sys::Date::new_0();
    format!(
        "{:02}:{:02}:{:02}",
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds()
    )
}
