//! `cargo xtask build`: the release site in `dist/` and what it weighs, raw and gzipped.

use crate::util::{self, exec, step, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Setup, release build, size report.
pub fn build() -> Result<()> {
    crate::setup::run(false)?;
    trunk_release()?;
    report(&dist_dir())
}

/// The folder trunk writes the site to.
pub fn dist_dir() -> PathBuf {
    util::repo_root().join("dist")
}

/// `trunk build --release` at the repo root (tools from PATH, offline per Trunk.toml).
pub fn trunk_release() -> Result<()> {
    step("Release build: trunk build --release (into dist/)");
    exec(
        Command::new("trunk")
            .args(["build", "--release"])
            .current_dir(util::repo_root()),
    )
}

/// One file of the bundle.
struct Entry {
    path: String,
    raw: u64,
    gz: u64,
}

/// Prints each .wasm/.js/.css in `dist` with raw and gzipped size, then the gzipped total.
pub fn report(dist: &Path) -> Result<()> {
    step("Release bundle size");
    let mut files = Vec::new();
    collect(dist, &mut files)?;
    files.sort();
    let mut entries = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        let rel = f
            .strip_prefix(dist)
            .unwrap_or(&f)
            .to_string_lossy()
            .into_owned();
        entries.push(Entry {
            path: rel,
            raw: bytes.len() as u64,
            gz: gzip_len(&bytes),
        });
    }
    if entries.is_empty() {
        return Err(format!("no .wasm, .js or .css files in {}", dist.display()));
    }
    let width = entries
        .iter()
        .map(|e| e.path.len())
        .max()
        .unwrap_or(0)
        .max(5);
    println!("    {:<width$}  {:>10}  {:>10}", "file", "raw", "gzipped");
    for e in &entries {
        println!(
            "    {:<width$}  {:>10}  {:>10}",
            e.path,
            human(e.raw),
            human(e.gz)
        );
    }
    let raw: u64 = entries.iter().map(|e| e.raw).sum();
    let gz: u64 = entries.iter().map(|e| e.gz).sum();
    println!(
        "    {:<width$}  {:>10}  {:>10}",
        "total",
        human(raw),
        human(gz)
    );
    println!("    total gzipped: {} ({gz} bytes)", human(gz));
    Ok(())
}

/// The files of the demo module's worker (its own wasm module, loaded when a demo module is
/// plugged in): not part of the first load.
const DEMO_PREFIX: &str = "otadeck-demo";

/// Gzipped bytes of the site in `dist` by kind: what the first load fetches (`wasm`, `js`,
/// `css`, then their sum `first_load`), and the demo module's worker (`demo`) apart.
pub fn gzipped_by_kind(dist: &Path) -> Result<Vec<(&'static str, u64)>> {
    let mut files = Vec::new();
    collect(dist, &mut files)?;
    let mut sums = vec![("wasm", 0u64), ("js", 0), ("css", 0)];
    let mut demo = 0;
    for f in files {
        let bytes = std::fs::read(&f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let ext = f.extension().and_then(|e| e.to_str()).unwrap_or_default();
        if name.starts_with(DEMO_PREFIX) {
            demo += gzip_len(&bytes);
        } else if let Some(sum) = sums.iter_mut().find(|(k, _)| *k == ext) {
            sum.1 += gzip_len(&bytes);
        }
    }
    let first_load = sums.iter().map(|(_, n)| n).sum();
    sums.push(("first_load", first_load));
    sums.push(("demo", demo));
    Ok(sums)
}

/// The .wasm, .js and .css files under `dir`, recursively.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in rd.flatten() {
        let p = entry.path();
        if p.is_dir() {
            collect(&p, out)?;
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("wasm" | "js" | "css")
        ) {
            out.push(p);
        }
    }
    Ok(())
}

/// Size of `bytes` after gzip at the default level (what a static host typically serves).
fn gzip_len(bytes: &[u8]) -> u64 {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("writing to memory");
    enc.finish().expect("writing to memory").len() as u64
}

/// `1234567` -> `1205.6 KiB`; small sizes in bytes.
fn human(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_shrinks_repetitive_text() {
        let text = "otadeck ".repeat(1000);
        let gz = gzip_len(text.as_bytes());
        assert!(gz > 18 && gz < 200, "{gz}");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(10), "10 B");
        assert_eq!(human(2048), "2.0 KiB");
    }
}
