//! `cargo xtask fuzz [--seconds N] [TARGET...]`: every parser that takes bytes from outside
//! (images, manifests, plans, what a module sends) under libFuzzer through cargo-fuzz, seeded
//! with the test fixtures. Prints the run count of each target.

use crate::util::{self, exec, probe, run_tee, skip, step, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const CARGO_FUZZ_VERSION: &str = "0.13";

/// Options of `cargo xtask fuzz`.
pub struct Opts {
    pub seconds: u64,
    pub targets: Vec<String>,
}

/// Parses `fuzz` flags.
pub fn parse_args(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        seconds: 300,
        targets: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                o.seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--seconds needs a number")?
            }
            t if !t.starts_with('-') => o.targets.push(t.to_string()),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    Ok(o)
}

fn fuzz_dir() -> PathBuf {
    util::repo_root().join("fuzz")
}

/// The targets declared in fuzz/Cargo.toml.
fn all_targets() -> Result<Vec<String>> {
    let text = std::fs::read_to_string(fuzz_dir().join("Cargo.toml"))
        .map_err(|e| format!("cannot read fuzz/Cargo.toml: {e}"))?;
    Ok(text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| *n != "otadeck-fuzz")
        .map(String::from)
        .collect())
}

fn cargo_fuzz() -> Result<()> {
    step(&format!("cargo-fuzz {CARGO_FUZZ_VERSION}"));
    let have = probe("cargo", &["fuzz", "--version"]).unwrap_or_default();
    if have.contains(&format!("cargo-fuzz {CARGO_FUZZ_VERSION}")) {
        skip(have.trim());
        return Ok(());
    }
    exec(Command::new("cargo").args([
        "install",
        "--locked",
        "cargo-fuzz",
        "--version",
        &format!("^{CARGO_FUZZ_VERSION}"),
    ]))
}

/// Copies every fixture file into the corpus folder of each target (seeds).
fn seed(corpus: &Path) -> Result<()> {
    std::fs::create_dir_all(corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
    let root = util::repo_root();
    let sources = [
        root.join("crates/otadeck-core/tests/fixtures/images"),
        root.join("crates/otadeck-core/tests/fixtures/manifests"),
        root.join("docs/examples"),
    ];
    for dir in sources {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_file() && std::fs::metadata(&p).is_ok_and(|m| m.len() < 512 * 1024) {
                let _ = std::fs::copy(&p, corpus.join(e.file_name()));
            }
        }
    }
    Ok(())
}

/// Runs the chosen targets for `seconds` each.
pub fn run(opts: &Opts) -> Result<()> {
    cargo_fuzz()?;
    let targets = if opts.targets.is_empty() {
        all_targets()?
    } else {
        opts.targets.clone()
    };
    let mut results = Vec::new();
    for t in &targets {
        step(&format!("fuzz {t} for {} s", opts.seconds));
        let corpus = fuzz_dir().join("corpus").join(t);
        seed(&corpus)?;
        crate::fuzz_seeds::write(t, &corpus)?;
        let mut cmd = Command::new("cargo");
        cmd.current_dir(fuzz_dir())
            // cargo-fuzz passes nightly-only flags; the stable toolchain accepts them this way.
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", t])
            .arg(&corpus)
            .args([
                "--",
                &format!("-max_total_time={}", opts.seconds),
                "-rss_limit_mb=2048",
                "-print_final_stats=1",
            ]);
        let (status, output) = run_tee(&mut cmd)?;
        let runs = output
            .lines()
            .rev()
            .filter_map(|l| l.strip_prefix("Done "))
            .filter_map(|l| l.split_whitespace().next())
            .find_map(|n| n.parse::<u64>().ok());
        results.push((t.clone(), status.success(), runs));
    }
    step("Fuzz summary");
    let mut failed = 0;
    for (t, ok, runs) in &results {
        let runs = runs.map_or("?".to_string(), |r| r.to_string());
        println!(
            "    {t:<24} {} after {runs} runs",
            if *ok {
                "no crash"
            } else {
                "CRASH (see fuzz/artifacts)"
            }
        );
        failed += usize::from(!ok);
    }
    if failed > 0 {
        Err(format!("{failed} target(s) crashed"))
    } else {
        Ok(())
    }
}
