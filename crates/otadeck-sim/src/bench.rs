//! One line per benchmark figure, in the form `cargo xtask bench` collects into
//! `target/bench/report.json`: `bench <name> <value> <unit> [target <t>]`.

/// The line for one figure; `target` is the budget it is held to, when there is one
/// (`>=0.80`, `<=307200`).
pub fn line(name: &str, value: f64, unit: &str, target: Option<&str>) -> String {
    let mut out = format!("bench {name} {} {unit}", trim(value));
    if let Some(t) = target {
        out.push_str(&format!(" target {t}"));
    }
    out
}

/// Print [`line`].
pub fn figure(name: &str, value: f64, unit: &str, target: Option<&str>) {
    println!("{}", line(name, value, unit, target));
}

/// Three significant decimals at most, without trailing zeros.
fn trim(value: f64) -> String {
    let s = format!("{value:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// A name part from words: lower case, runs of other characters as one `_`
/// (`ESP32 MicroPython, deflate` gives `esp32_micropython_deflate`).
pub fn slug(words: &str) -> String {
    otadeck_core::backup::file_stem(words).replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_print_in_the_collected_form() {
        assert_eq!(
            line("repl_esp32_921600", 0.35, "ratio", Some(">=0.80")),
            "bench repl_esp32_921600 0.35 ratio target >=0.80"
        );
        assert_eq!(
            line("bundle_wasm_gz", 932766.0, "bytes", None),
            "bench bundle_wasm_gz 932766 bytes"
        );
        assert_eq!(
            slug("ESP32 MicroPython, deflate available"),
            "esp32_micropython_deflate_available"
        );
    }
}
