//! `cargo xtask`: the project's tasks in one place.
//!
//! - `setup [--browser]`: install the tools the build and the tests need (skipped when present).
//! - `build`: build the release site into `dist/` and print the bundle size.
//! - `serve [--address A] [--port P]`: build the release site and serve it.
//! - `test [flags]`: native, browser and end-to-end tests, with one `N passed, M failed` line.
//! - `bench`: print the figures (payload rate per driver and line rate, hashing, bundle size).

mod bench;
mod bundle;
mod e2e;
mod faults;
mod fuzz;
mod fuzz_seeds;
mod goosebit;
mod page_bench;
mod proxy;
mod serve;
mod setup;
mod test;
mod util;
mod webdriver;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  setup [--browser]              install wasm32 target, wasm-bindgen-cli, trunk, wasm-opt
                                 (--browser: also Chromium and chromedriver)
  build                          setup, then build the release site into dist/ and print its size
  serve [--address A] [--port P] setup, build, then serve dist/ (default 127.0.0.1:8080)
  test [options]                 native, browser (wasm-bindgen-test) and end-to-end tests
      --native-only              only `cargo test --workspace` (no tool installs)
      --browser-only             only the wasm-bindgen-test suites in headless Chromium
      --e2e-only                 only the end-to-end scenarios
      --skip-native | --skip-browser | --skip-e2e
      --scenario NAME            run only this end-to-end scenario (repeatable)
  fuzz [--seconds N] [TARGET...] run the cargo-fuzz targets (default: all, 300 s each)
  faults                         every protocol against every fault on the simulators, then
                                 a page reload mid-write in Chromium: prints the table; fails
                                 when a cell fails (also part of `test`: the simulators in
                                 the native part, the reload in the e2e part)
  bench [--page-only]            every figure as `bench <name> <value> <unit> [target <t>]`:
                                 each driver against the simulators (fraction of the line
                                 rate), the web path in Chromium beside esptool-js (median
                                 of 3), the release bundle gzipped, the page's start time,
                                 longest task and wasm memory (median of 3); also written to
                                 target/bench/report.json (--page-only: the release page only)
";

fn main() -> ExitCode {
    util::prepare_env();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match cmd.as_str() {
        "setup" => parse_setup(rest).and_then(setup::run),
        "build" => no_args(rest).and_then(|()| bundle::build()),
        "serve" => parse_serve(rest).and_then(|(addr, port)| serve::run(&addr, port)),
        "test" => test::parse_args(rest).and_then(|opts| test::run(&opts)),
        "fuzz" => fuzz::parse_args(rest).and_then(|opts| fuzz::run(&opts)),
        "bench" => match rest {
            [] => bench::run(false),
            [only] if only == "--page-only" => bench::run(true),
            _ => Err(format!("unexpected arguments {rest:?}\n\n{USAGE}")),
        },
        "faults" => no_args(rest).and_then(|()| faults::run()),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("xtask: error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Fails on any argument: for commands that take none.
fn no_args(rest: &[String]) -> util::Result<()> {
    match rest.first() {
        None => Ok(()),
        Some(a) => Err(format!("unexpected argument `{a}`\n\n{USAGE}")),
    }
}

/// `setup [--browser]` -> whether to install the browser too.
fn parse_setup(rest: &[String]) -> util::Result<bool> {
    let mut browser = false;
    for a in rest {
        match a.as_str() {
            "--browser" => browser = true,
            other => return Err(format!("unexpected argument `{other}`\n\n{USAGE}")),
        }
    }
    Ok(browser)
}

/// `serve [--address A] [--port P]` (also `--flag=value`).
fn parse_serve(rest: &[String]) -> util::Result<(String, u16)> {
    let mut address = "127.0.0.1".to_string();
    let mut port: u16 = 8080;
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag {
            "--address" => address = value("--address")?,
            "--port" => {
                let v = value("--port")?;
                port = v.parse().map_err(|_| format!("invalid port `{v}`"))?;
            }
            other => return Err(format!("unexpected argument `{other}`\n\n{USAGE}")),
        }
    }
    Ok((address, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn serve_args() {
        assert_eq!(parse_serve(&[]).unwrap(), ("127.0.0.1".into(), 8080));
        let got = parse_serve(&s(&["--address", "0.0.0.0", "--port=9000"])).unwrap();
        assert_eq!(got, ("0.0.0.0".into(), 9000));
        assert!(parse_serve(&s(&["--port", "x"])).is_err());
        assert!(parse_serve(&s(&["--port"])).is_err());
        assert!(parse_serve(&s(&["--what"])).is_err());
    }

    #[test]
    fn setup_args() {
        assert!(!parse_setup(&[]).unwrap());
        assert!(parse_setup(&s(&["--browser"])).unwrap());
        assert!(parse_setup(&s(&["--nope"])).is_err());
    }
}
