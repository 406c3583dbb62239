//! `cargo xtask setup [--browser]`: installs what building and testing need, each step skipped
//! when it is already satisfied. Versions are pinned (see shared TOOLCHAIN notes in the README).

use crate::util::{self, exec, note, probe, skip, step, Result};
use std::path::Path;
use std::process::Command;

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const TRUNK_VERSION: &str = "0.21.14";
const BINARYEN_VERSION: &str = "132";
/// Host tools from PyPI that tests run against otadeck (`peer-tests`), pinned.
const PEER_TOOLS: &[(&str, &str)] = &[
    ("mpremote", "1.29.0"),
    ("imgtool", "2.5.0"),
    ("esptool", "5.6.0"),
    ("esp-idf-defs", "0.1.7"),
    ("smpmgr", "0.19.1"),
];
/// goosebit, a hawkBit DDI server from PyPI, pinned, in its own virtual environment under
/// `tools/` (its web stack must not meet the other tools' pins).
pub const GOOSEBIT: (&str, &str) = ("goosebit", "0.2.12");
/// The real MicroPython interpreter (webassembly port) the REPL drivers are tested against.
pub const MICROPYTHON_NPM: (&str, &str) =
    ("@micropython/micropython-webassembly-pyscript", "1.27.0");
/// Espressif's browser flasher, flashed side by side with otadeck by the web bench (its
/// `bundle.js` is imported by `tests/web_bench.rs`).
pub const ESPTOOL_JS_NPM: (&str, &str) = ("esptool-js", "0.7.0");
/// dfu-util's `dfu-suffix`, from Debian.
const DFU_SUFFIX: &str = "/usr/bin/dfu-suffix";
/// Lua 5.4, from Debian: runs the NodeMCU console stand-in the driver is tested against.
pub const LUA: &str = "/usr/bin/lua5.4";
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Runs every setup step; `browser` adds Chromium and chromedriver, the peer tools and the
/// esptool-js the browser bench flashes beside otadeck.
pub fn run(browser: bool) -> Result<()> {
    wasm_target()?;
    wasm_bindgen()?;
    trunk()?;
    wasm_opt()?;
    if browser {
        chromium()?;
        npm_pinned(ESPTOOL_JS_NPM, "Espressif's browser flasher")?;
        peer_tools()?;
    }
    Ok(())
}

/// The PyPI host tools at their pinned versions, in a virtual environment under `tools/`, and
/// the MicroPython webassembly interpreter from npm in `tools/node_modules`.
pub fn peer_tools() -> Result<()> {
    npm_pinned(MICROPYTHON_NPM, "MicroPython interpreter")?;
    if !Path::new(DFU_SUFFIX).exists() {
        step("dfu-util (for dfu-suffix)");
        apt_install(&["dfu-util"], "dfu-util")?;
    }
    if !Path::new(LUA).exists() {
        step("lua5.4 (for the NodeMCU console stand-in)");
        apt_install(&["lua5.4"], "lua5.4")?;
    }
    let wanted: Vec<String> = PEER_TOOLS
        .iter()
        .map(|(n, v)| format!("{n}=={v}"))
        .collect();
    step(&format!("Host tools to test against: {}", wanted.join(" ")));
    pip_into(&util::venv_dir(), &wanted)?;
    let (name, version) = GOOSEBIT;
    step(&format!(
        "hawkBit DDI server to test against: {name}=={version}"
    ));
    pip_into(
        &util::tools_dir().join("goosebit-venv"),
        &[format!("{name}=={version}")],
    )
}

/// `wanted` (`name==version` each) installed into the virtual environment `venv`, made first
/// when missing; nothing to do when all are there.
fn pip_into(venv: &Path, wanted: &[String]) -> Result<()> {
    let python = venv.join("bin").join("python");
    if !python.exists() {
        note(&format!("creating {}", venv.display()));
        exec(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
    }
    let frozen = probe(&python.to_string_lossy(), &["-m", "pip", "freeze"]).unwrap_or_default();
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|w| !frozen.lines().any(|l| l.trim().eq_ignore_ascii_case(w)))
        .collect();
    if missing.is_empty() {
        skip("all installed");
        return Ok(());
    }
    exec(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(missing),
    )
}

/// The npm package `(name, version)` at its pinned version into `tools/`.
fn npm_pinned((name, version): (&str, &str), what: &str) -> Result<()> {
    step(&format!("{what} (npm {name}@{version}) in tools/"));
    let manifest = util::tools_dir()
        .join("node_modules")
        .join(name)
        .join("package.json");
    let have = std::fs::read_to_string(&manifest).unwrap_or_default();
    if have.contains(&format!("\"version\": \"{version}\"")) {
        skip(&format!("{name}@{version} is installed"));
        return Ok(());
    }
    npm_install(&format!("{name}@{version}"))?;
    let have = std::fs::read_to_string(&manifest).unwrap_or_default();
    if have.contains(&format!("\"version\": \"{version}\"")) {
        Ok(())
    } else {
        Err(format!(
            "{} does not name version {version}",
            manifest.display()
        ))
    }
}

/// `npm install --prefix tools/ SPEC`, installing npm from Debian first when missing.
fn npm_install(spec: &str) -> Result<()> {
    if probe("npm", &["--version"]).is_none() {
        apt_install(&["nodejs", "npm"], "npm")?;
    }
    let tools = util::tools_dir();
    std::fs::create_dir_all(&tools)
        .map_err(|e| format!("cannot create {}: {e}", tools.display()))?;
    exec(Command::new("npm").args([
        "install",
        "--no-audit",
        "--no-fund",
        "--prefix",
        &tools.to_string_lossy(),
        spec,
    ]))
}

/// `rustup target add wasm32-unknown-unknown` unless installed.
fn wasm_target() -> Result<()> {
    step(&format!("Rust target {WASM_TARGET}"));
    if let Some(list) = probe("rustup", &["target", "list", "--installed"]) {
        if list.lines().any(|l| l.trim() == WASM_TARGET) {
            skip(&format!("rustup lists {WASM_TARGET} as installed"));
            return Ok(());
        }
        return exec(Command::new("rustup").args(["target", "add", WASM_TARGET]));
    }
    // No rustup: accept a toolchain that already ships the target's std.
    let sysroot = probe("rustc", &["--print", "sysroot"]).unwrap_or_default();
    let lib = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(WASM_TARGET);
    if !sysroot.trim().is_empty() && lib.is_dir() {
        skip(&format!("{} exists", lib.display()));
        return Ok(());
    }
    Err(format!(
        "rustup is not on PATH and the toolchain has no {WASM_TARGET} std: install rustup \
         (https://rustup.rs), then run `rustup target add {WASM_TARGET}`"
    ))
}

/// The `wasm-bindgen` version pinned in Cargo.lock.
pub fn locked_wasm_bindgen_version() -> Result<String> {
    let path = util::repo_root().join("Cargo.lock");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    lock_version(&text, "wasm-bindgen")
        .ok_or_else(|| format!("no `wasm-bindgen` package in {}", path.display()))
}

/// Finds `version` of the `[[package]]` named `name` in a Cargo.lock text.
fn lock_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines().map(str::trim);
    while let Some(l) = lines.next() {
        if l == wanted {
            let v = lines
                .next()?
                .strip_prefix("version = \"")?
                .strip_suffix('"')?;
            return Some(v.to_string());
        }
    }
    None
}

/// wasm-bindgen-cli at exactly the locked version (no `--locked`: its locked tree does not
/// resolve against the registry here).
fn wasm_bindgen() -> Result<()> {
    let version = locked_wasm_bindgen_version()?;
    step(&format!(
        "wasm-bindgen-cli {version} (the version in Cargo.lock)"
    ));
    let have = probe("wasm-bindgen", &["--version"]).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(version.as_str()) {
        skip(have.trim());
        return Ok(());
    }
    if !have.trim().is_empty() {
        note(&format!("found `{}`, replacing it", have.trim()));
    }
    note("building from source: about 5 minutes on 2 cores");
    exec(Command::new("cargo").args(["install", "wasm-bindgen-cli", "--version", &version]))
}

/// trunk at the pinned version (`--locked`: unlocked dependencies do not build).
fn trunk() -> Result<()> {
    step(&format!("trunk {TRUNK_VERSION}"));
    let have = probe("trunk", &["--version"]).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(TRUNK_VERSION) {
        skip(have.trim());
        return Ok(());
    }
    if !have.trim().is_empty() {
        note(&format!("found `{}`, replacing it", have.trim()));
    }
    note("building from source: about 8 minutes on 2 cores");
    exec(Command::new("cargo").args(["install", "--locked", "trunk", "--version", TRUNK_VERSION]))
}

/// wasm-opt from npm's `binaryen` into `tools/` (Debian's binaryen is too old to parse
/// current rustc output).
fn wasm_opt() -> Result<()> {
    step(&format!(
        "wasm-opt (npm binaryen@{BINARYEN_VERSION}) in tools/"
    ));
    let bin = util::tools_bin_dir().join("wasm-opt");
    let want = format!("version {BINARYEN_VERSION}");
    let have = probe(&bin.to_string_lossy(), &["--version"]).unwrap_or_default();
    if have.contains(&want) {
        skip(have.trim());
        return Ok(());
    }
    npm_install(&format!("binaryen@{BINARYEN_VERSION}"))?;
    let have = probe(&bin.to_string_lossy(), &["--version"]).unwrap_or_default();
    if have.contains(&want) {
        note(have.trim());
        Ok(())
    } else {
        Err(format!(
            "{} --version says `{}`, expected {want}",
            bin.display(),
            have.trim()
        ))
    }
}

/// Debian's Chromium and chromedriver (same version, at /usr/bin).
fn chromium() -> Result<()> {
    step("Chromium and chromedriver");
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        let v = probe(CHROMIUM, &["--version"]).unwrap_or_default();
        skip(v.lines().next().unwrap_or(CHROMIUM).trim());
        return Ok(());
    }
    apt_install(&["chromium", "chromium-driver"], "Chromium")
}

/// `apt-get update` + `apt-get install -y PKGS` as root; otherwise prints the command and fails.
fn apt_install(pkgs: &[&str], what: &str) -> Result<()> {
    let line = format!("apt-get update && apt-get install -y {}", pkgs.join(" "));
    if !util::is_root() {
        return Err(format!(
            "{what} is missing; as root, run:\n    sudo sh -c '{line}'"
        ));
    }
    exec(Command::new("apt-get").arg("update"))?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y"])
            .args(pkgs)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_version_from_lock() {
        let lock = "[[package]]\nname = \"wasm-bindgen-macro\"\nversion = \"9.9.9\"\n\n\
                    [[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\nsource = \"x\"\n";
        assert_eq!(
            lock_version(lock, "wasm-bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(lock_version(lock, "trunk"), None);
    }

    #[test]
    fn repo_lock_pins_wasm_bindgen() {
        let v = locked_wasm_bindgen_version().unwrap();
        assert_eq!(v.split('.').count(), 3, "{v}");
    }
}
