//! `cargo xtask test`: native tests, wasm-bindgen-test suites in headless Chromium, and the
//! end-to-end scenarios; tallied into one closing `N passed, M failed` line.

use crate::setup::CHROMEDRIVER;
use crate::util::{run_tee, step, Result};
use std::process::Command;

/// Features that turn on the tests against host tools otadeck did not write (installed by
/// `setup`).
const PEER_FEATURES: &[&str] = &["otadeck-cli/peer-tests", "otadeck-core/peer-tests"];

/// Which parts run (all by default).
#[derive(Debug, PartialEq)]
pub struct Opts {
    pub native: bool,
    pub browser: bool,
    pub e2e: bool,
    pub scenarios: Vec<String>,
}

/// Parses `test` flags.
pub fn parse_args(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        native: true,
        browser: true,
        e2e: true,
        scenarios: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--native-only" => (o.native, o.browser, o.e2e) = (true, false, false),
            "--browser-only" => (o.native, o.browser, o.e2e) = (false, true, false),
            "--e2e-only" => (o.native, o.browser, o.e2e) = (false, false, true),
            "--skip-native" => o.native = false,
            "--skip-browser" => o.browser = false,
            "--skip-e2e" => o.e2e = false,
            "--scenario" => o.scenarios.push(
                it.next()
                    .ok_or("--scenario needs a scenario name")?
                    .to_string(),
            ),
            other => match other.strip_prefix("--scenario=") {
                Some(name) => o.scenarios.push(name.to_string()),
                None => {
                    return Err(format!(
                        "unexpected argument `{other}` (see `cargo xtask help`)"
                    ))
                }
            },
        }
    }
    Ok(o)
}

/// Counts of one part of the run.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Part {
    pub passed: usize,
    pub failed: usize,
    pub note: String,
}

/// Runs the chosen parts and prints the tally; fails when anything failed.
pub fn run(opts: &Opts) -> Result<()> {
    let mut parts: Vec<(&str, Part)> = Vec::new();
    // The browser parts need the whole tool set; the native part needs the host tools its
    // peer tests run.
    let setup = if opts.browser || opts.e2e {
        crate::setup::run(true)
    } else if opts.native {
        crate::setup::peer_tools()
    } else {
        Ok(())
    };
    let tools_ok = match setup {
        Ok(()) => true,
        Err(e) => {
            eprintln!("xtask: setup failed: {e}");
            parts.push(("setup", failed_step(&format!("setup failed: {e}"))));
            false
        }
    };

    if opts.native && tools_ok {
        step("Native tests: cargo test --workspace, with the tests against real host tools");
        let mut cmd = Command::new("cargo");
        cmd.args(["test", "--workspace", "--no-fail-fast", "--features"])
            .arg(PEER_FEATURES.join(","));
        parts.push(("native", cargo_part(&mut cmd)));
        step("Fault matrix: every protocol against every fault");
        parts.push(("faults", faults_part()));
    }
    if opts.browser && tools_ok {
        step("Browser tests: wasm-bindgen-test in headless Chromium");
        let mut cmd = Command::new("cargo");
        cmd.args([
            "test",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "otadeck",
            "--no-fail-fast",
        ])
        .env("CHROMEDRIVER", CHROMEDRIVER)
        // A suite that drives a demo module through whole installs takes longer than the
        // runner's default 20 s on a busy machine.
        .env("WASM_BINDGEN_TEST_TIMEOUT", "90");
        // The source suites fetch from a fixture server, as a browser fetches from a real one.
        let part = match Fixtures::start() {
            Ok(_fixtures) => cargo_part(&mut cmd),
            Err(e) => failed_step(&e),
        };
        parts.push(("browser", part));
    }
    if opts.e2e && tools_ok {
        parts.push(("e2e", e2e_part(&opts.scenarios)));
    }

    step("Summary");
    let (mut passed, mut failed) = (0, 0);
    for (name, p) in &parts {
        let note = if p.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", p.note)
        };
        println!(
            "    {name:<8} passed {}, failed {}{note}",
            p.passed, p.failed
        );
        passed += p.passed;
        failed += p.failed;
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        // Already reported above; the tally stays the last line.
        Err(String::new())
    } else {
        Ok(())
    }
}

/// The fault matrix (`cargo xtask faults`): each cell counts as a test.
fn faults_part() -> Part {
    let (status, output) = match run_tee(&mut faults_command()) {
        Ok(r) => r,
        Err(e) => return failed_step(&e),
    };
    match fault_tally(&output) {
        Some(part) if status.success() || part.failed > 0 => part,
        _ => failed_step(&format!("the fault matrix exited with {status}")),
    }
}

/// The command that runs the fault matrix.
pub fn faults_command() -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(crate::util::repo_root()).args([
        "run",
        "--quiet",
        "-p",
        "otadeck-sim",
        "--example",
        "faults",
    ]);
    cmd
}

/// `N cells, M failed` from the matrix's last line.
pub(crate) fn fault_tally(output: &str) -> Option<Part> {
    let line = output.lines().rev().find(|l| l.ends_with(" failed"))?;
    let mut words = line.split_whitespace();
    let cells: usize = words.next()?.parse().ok()?;
    let failed: usize = words.nth(1)?.parse().ok()?;
    Some(Part {
        passed: cells.checked_sub(failed)?,
        failed,
        note: String::new(),
    })
}

/// A step that could not run counts as one failed test.
fn failed_step(note: &str) -> Part {
    Part {
        passed: 0,
        failed: 1,
        note: note.to_string(),
    }
}

/// Where the browser suites find the fixture server (`tests/web_source.rs` names it too).
pub const FIXTURES_ADDR: &str = "127.0.0.1:18765";

/// `otadeck sim fixtures` serving the test sources, stopped when dropped.
struct Fixtures(std::process::Child);

impl Fixtures {
    fn start() -> Result<Fixtures> {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new("cargo")
            .args([
                "run",
                "--quiet",
                "-p",
                "otadeck-cli",
                "--",
                "sim",
                "fixtures",
                "--http",
            ])
            .arg(FIXTURES_ADDR)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the fixture server: {e}"))?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("the fixture server said nothing: {e}"))?;
        if !line.starts_with("http: ") {
            let _ = child.kill();
            return Err(format!(
                "the fixture server did not start on {FIXTURES_ADDR} (is the port taken?)"
            ));
        }
        println!(
            "    fixtures on {}",
            line.trim().trim_start_matches("http: ")
        );
        Ok(Fixtures(child))
    }
}

impl Drop for Fixtures {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a `cargo test` command, streaming and tallying its `test result:` lines. A non-zero
/// exit with no failed test (a compile error, a runner that could not start) counts as one.
fn cargo_part(cmd: &mut Command) -> Part {
    let (status, output) = match run_tee(cmd) {
        Ok(r) => r,
        Err(e) => return failed_step(&e),
    };
    let mut part = tally(&output);
    if !status.success() && part.failed == 0 {
        part.failed = 1;
        part.note = format!("cargo test exited with {status} before any test failed");
    }
    part
}

/// Sums `passed` and `failed` over every `test result:` line of cargo test output.
fn tally(output: &str) -> Part {
    let mut part = Part::default();
    for line in output.lines() {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            continue;
        };
        for seg in rest.split(['.', ';']) {
            let mut words = seg.split_whitespace();
            if let (Some(n), Some(word)) = (words.next(), words.next()) {
                match (n.parse::<usize>(), word) {
                    (Ok(n), "passed") => part.passed += n,
                    (Ok(n), "failed") => part.failed += n,
                    _ => {}
                }
            }
        }
    }
    part
}

/// Release build, then the scenarios against it served on a free localhost port.
fn e2e_part(scenarios: &[String]) -> Part {
    if let Err(e) = crate::bundle::trunk_release() {
        return failed_step(&format!("release build failed: {e}"));
    }
    let dist = crate::bundle::dist_dir();
    let server = match crate::serve::StaticServer::start(&dist, "127.0.0.1:0", false) {
        Ok(s) => s,
        Err(e) => return failed_step(&e),
    };
    println!("    serving {} on {}", dist.display(), server.base_url());
    match crate::e2e::run_all(&server.base_url(), scenarios) {
        Ok((passed, failed)) => Part {
            passed,
            failed,
            note: String::new(),
        },
        Err(e) => {
            println!("e2e ... FAILED: {e}");
            failed_step(&e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_cargo_output() {
        let out = "\
running 2 tests
test a ... ok
test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

test result: FAILED. 3 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 1.50s
   Doc-tests x
test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
";
        let p = tally(out);
        assert_eq!((p.passed, p.failed), (5, 1));
    }

    #[test]
    fn compile_error_is_a_failure() {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo '(xtask self-test: a step that exits 101)'; exit 101",
        ]);
        let p = cargo_part(&mut cmd);
        assert_eq!((p.passed, p.failed), (0, 1));
    }

    #[test]
    fn parses_flags() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let all = parse_args(&[]).unwrap();
        assert!(all.native && all.browser && all.e2e);
        let n = parse_args(&s(&["--native-only"])).unwrap();
        assert_eq!(
            fault_tally("table\n\n48 cells, 2 failed\n"),
            Some(Part {
                passed: 46,
                failed: 2,
                note: String::new()
            })
        );
        assert_eq!(
            fault_tally("faults: the fault-free flash did not succeed"),
            None
        );
        assert!(n.native && !n.browser && !n.e2e);
        let e = parse_args(&s(&["--skip-e2e", "--scenario", "flash_demo"])).unwrap();
        assert!(e.native && e.browser && !e.e2e);
        assert_eq!(e.scenarios, vec!["flash_demo".to_string()]);
        assert!(parse_args(&s(&["--bogus"])).is_err());
    }
}
