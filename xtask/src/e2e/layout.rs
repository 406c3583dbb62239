//! The page at a phone's, a small laptop's and a desktop's width (390, 1024 and 1280 px): no
//! sideways scroll on any page, the header never over the control clicked next, the on-trial
//! result card with its decision, the slots readable, and the dark theme.

use super::{Ctx, Result, Scenario};
use std::time::Duration;

pub const SCENARIO: Scenario = Scenario {
    name: "layout",
    run,
};

const SHORT: Duration = Duration::from_secs(20);
const FLASH: Duration = Duration::from_secs(180);

/// (width, height, name) of the windows checked.
pub(super) const WINDOWS: [(u32, u32, &str); 3] =
    [(1280, 800, "1280"), (1024, 768, "1024"), (390, 844, "390")];

/// The page is no wider than the window.
pub(super) fn no_sideways_scroll(ctx: &Ctx, what: &str) -> Result<()> {
    let v = ctx.session.execute(
        "return [document.documentElement.scrollWidth, window.innerWidth];",
        vec![],
    )?;
    let (scroll, inner) = (v[0].as_u64().unwrap_or(0), v[1].as_u64().unwrap_or(0));
    if scroll > inner {
        return Err(format!(
            "{what}: the page is {scroll} px wide in a {inner} px window"
        ));
    }
    Ok(())
}

/// Scrolled to the top edge of the window (the worst place under a sticky header), the
/// control at `css` is what a tap on its centre hits.
fn not_covered(ctx: &Ctx, css: &str) -> Result<()> {
    let hit = ctx.session.execute(
        "const e = document.querySelector(arguments[0]);
         if (!e) return 'missing';
         e.scrollIntoView({block: 'start'});
         const r = e.getBoundingClientRect();
         const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
         return at && (at === e || e.contains(at)) ? 'ok' : (at ? at.outerHTML.slice(0, 80) : 'nothing');",
        vec![serde_json::json!(css)],
    )?;
    match hit.as_str() {
        Some("ok") => Ok(()),
        other => Err(format!(
            "{css} is covered at the top of the window by {other:?}"
        )),
    }
}

/// Height of the header as a share of the window.
fn header_share(ctx: &Ctx) -> Result<f64> {
    let v = ctx.session.execute(
        "return document.querySelector('.topbar').getBoundingClientRect().height / window.innerHeight;",
        vec![],
    )?;
    Ok(v.as_f64().unwrap_or(1.0))
}

fn run(ctx: &Ctx) -> Result<()> {
    ctx.session.set_window_size(1280, 800)?;
    ctx.session.goto(&ctx.url("/"))?;
    ctx.connect_demo("micropython-esp32", "ESP32 MicroPython")?;
    ctx.use_sample()?;
    ctx.click("#keep-on-trial", SHORT)?;
    ctx.click("#flash-start", SHORT)?;
    ctx.wait_flash_outcome("trial", FLASH)?;
    let title = ctx
        .session
        .execute("return document.title;", vec![])?
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !title.contains("On trial") {
        return Err(format!("the tab title does not say the outcome: {title:?}"));
    }
    for (width, height, name) in WINDOWS {
        ctx.session.set_window_size(width, height)?;
        ctx.click("#nav-flash", SHORT)?;
        ctx.wait_element("#flash-state[data-state='trial'] #device-accept", SHORT)?;
        no_sideways_scroll(ctx, &format!("Flash page at {name} px"))?;
        for css in [
            "#flash-start",
            "#device-accept",
            "#device-rollback",
            "#connect-demo",
        ] {
            not_covered(ctx, css)?;
        }
        let share = header_share(ctx)?;
        if width < 1024 && share > 0.15 {
            return Err(format!(
                "at {name} px the header takes {:.0} % of the height",
                share * 100.0
            ));
        }
        ctx.scroll_to("#flash-state")?;
        ctx.screenshot(&format!("layout-{name}-flash-trial.png"))?;

        ctx.click("#nav-device", SHORT)?;
        ctx.wait_element("#device-slots", SHORT)?;
        no_sideways_scroll(ctx, &format!("Device page at {name} px"))?;
        not_covered(ctx, "#device-accept")?;
        ctx.screenshot(&format!("layout-{name}-device.png"))?;

        ctx.click("#nav-log", SHORT)?;
        no_sideways_scroll(ctx, &format!("Log page at {name} px"))?;
    }
    // The page names itself, and the navigation says where it is.
    let current = ctx.attr("a[aria-current='page'] span", "id")?;
    if current.as_deref() != Some("nav-log") {
        return Err(format!("aria-current marks {current:?}, not the Log tab"));
    }
    let h1 = ctx.text("h1")?.unwrap_or_default();
    if !h1.eq_ignore_ascii_case("Session log") {
        return Err(format!("the Log page's <h1> reads {h1:?}"));
    }

    // The dark theme, chosen in the header, survives a reload; text keeps 7:1 in both.
    // On the Flash page (the amber on-trial card) and the Device page (the slot states).
    ctx.click("#nav-flash", SHORT)?;
    contrast_at_least_7(ctx, "light, Flash page")?;
    ctx.click("#nav-device", SHORT)?;
    contrast_at_least_7(ctx, "light, Device page")?;
    let light = background_luminance(ctx)?;
    ctx.click("#theme-toggle", SHORT)?;
    contrast_at_least_7(ctx, "dark, Device page")?;
    let dark = background_luminance(ctx)?;
    if !(light > 0.7 && dark < 0.1) {
        return Err(format!(
            "the theme did not turn dark: luminance {light:.2} before, {dark:.2} after"
        ));
    }
    ctx.screenshot("layout-390-device-dark.png")?;
    ctx.click("#nav-flash", SHORT)?;
    contrast_at_least_7(ctx, "dark, Flash page")?;
    ctx.scroll_to("#flash-state")?;
    ctx.screenshot("layout-390-flash-trial-dark.png")?;
    ctx.session.goto(&ctx.url("/"))?;
    // Dark from the first paint: the page's own script sets the kept theme before the app runs.
    let again = background_luminance(ctx)?;
    if again > 0.1 {
        return Err(format!(
            "after a reload the page is light again ({again:.2})"
        ));
    }
    ctx.screenshot("layout-390-flash-dark.png")?;
    Ok(())
}

/// The lowest text contrast on the page (text colour against the first opaque background
/// behind it), over every visible element that holds text of its own and is not disabled.
fn lowest_contrast(ctx: &Ctx) -> Result<(f64, String)> {
    let v = ctx.session.execute(
        "const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
         const lum = c => { const l = c.slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
                            return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2]; };
         const bg = e => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
                            if (c.length === 3 || c[3] > 0.5) return c; } return rgb(getComputedStyle(document.documentElement).backgroundColor); };
         let worst = [99, ''];
         for (const e of document.querySelectorAll('body *')) {
           if (e.closest(':disabled, .disabled') || !e.offsetParent) continue;
           const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
           if (!own) continue;
           const a = lum(rgb(getComputedStyle(e).color)), b = lum(bg(e));
           const r = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
           if (r < worst[0]) worst = [r, e.outerHTML.slice(0, 90)];
         }
         return worst;",
        vec![],
    )?;
    Ok((
        v[0].as_f64().unwrap_or(0.0),
        v[1].as_str().unwrap_or_default().to_string(),
    ))
}

/// Text keeps 7:1 against its background (WCAG AAA), in the theme shown now.
fn contrast_at_least_7(ctx: &Ctx, theme: &str) -> Result<()> {
    let (ratio, element) = lowest_contrast(ctx)?;
    if ratio < 7.0 {
        return Err(format!("{theme}: text at {ratio:.2}:1 in {element}"));
    }
    println!("    lowest text contrast ({theme}): {ratio:.2}:1");
    Ok(())
}

/// Relative luminance of the page background.
fn background_luminance(ctx: &Ctx) -> Result<f64> {
    let v = ctx.session.execute(
        "const c = getComputedStyle(document.documentElement).backgroundColor.match(/\\d+/g).map(Number);
         const l = c.slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
         return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];",
        vec![],
    )?;
    v.as_f64()
        .ok_or_else(|| format!("no background colour: {v}"))
}
