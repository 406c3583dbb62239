//! `cargo xtask faults`: the fault matrix on the simulators (every protocol against every
//! fault), then its web-path column (a page reload mid-write, in headless Chromium against
//! modules served by `otadeck sim --ws`); one table, and a failure when any cell fails.

use crate::e2e::reload_faults::{self, WebCell};
use crate::test::{fault_tally, faults_command};
use crate::util::{run_tee, step, Result};
use crate::{bundle, e2e, serve, setup};

/// The heading of the web-path column.
const RELOAD: &str = "reload";

/// Runs both parts and prints the whole table.
pub fn run() -> Result<()> {
    step("Fault matrix: every protocol against every fault, on the simulators");
    let (status, output) = run_tee(&mut faults_command())?;
    let native = fault_tally(&output)
        .ok_or_else(|| format!("the fault matrix on the simulators exited with {status}"))?;
    step("Fault matrix, web path: a page reload mid-write, in headless Chromium");
    let web = web_column()?;
    step("Fault matrix");
    print!("{}", merged_table(&output, &web));
    println!(
        "{RELOAD}: the page reloaded at a third of the write; ok when it says which step and byte \
         were cut off and what the module holds, the record lists the attempt as interrupted, the \
         module answers again and boots a valid image after a power cycle (n/a: the demo DFU \
         device lives in the page and goes with it)."
    );
    for c in &web {
        let word = if c.pass { "ok" } else { "FAIL" };
        println!("{word:<6} {} / {RELOAD}: {}", c.family.name(), c.note);
    }
    let web_failed = web.iter().filter(|c| !c.pass).count();
    let failed = native.failed + web_failed;
    let cells = native.passed + native.failed + web.len();
    println!("{cells} cells, {failed} failed");
    if failed > 0 || !status.success() {
        return Err(String::new());
    }
    Ok(())
}

/// The web-path column: the release site served on localhost, one browser session.
fn web_column() -> Result<Vec<WebCell>> {
    setup::run(true)?;
    bundle::trunk_release()?;
    let dist = bundle::dist_dir();
    let server = serve::StaticServer::start(&dist, "127.0.0.1:0", false)?;
    e2e::with_session(&server.base_url(), reload_faults::column)
}

/// The simulators' table (from their output) with the web-path column added.
fn merged_table(native_output: &str, web: &[WebCell]) -> String {
    let mut out = String::new();
    let table = native_output
        .lines()
        .skip_while(|l| !l.starts_with("protocol"))
        .take_while(|l| !l.trim().is_empty());
    for line in table {
        let cell = if line.starts_with("protocol") {
            RELOAD
        } else {
            web.iter()
                .find(|c| line.starts_with(c.family.name()))
                .map_or("n/a", |c| if c.pass { "ok" } else { "FAIL" })
        };
        out.push_str(&format!("{line}{cell:>10}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use otadeck_core::family::Family;

    #[test]
    fn the_web_column_joins_the_table_row_by_row() {
        let native = "noise\nprotocol          drop 10%\nQuecPython              ok\n\
                      USB DFU             loader\n\nok: …\n";
        let web = [WebCell {
            family: Family::QuecPython,
            pass: false,
            note: String::new(),
        }];
        let table = merged_table(native, &web);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].ends_with("    reload"));
        assert!(lines[1].ends_with("FAIL"));
        assert!(lines[2].ends_with("n/a"));
    }
}
