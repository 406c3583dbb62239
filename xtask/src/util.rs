//! Small helpers: the repo root, the children's environment, running and teeing commands.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

/// Errors are messages for a person; nothing here needs more.
pub type Result<T> = std::result::Result<T, String>;

/// The workspace root (the folder that holds `xtask/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the repo")
        .to_path_buf()
}

/// `$CARGO_HOME/bin`, by default `~/.cargo/bin`.
pub fn cargo_bin_dir() -> PathBuf {
    match std::env::var_os("CARGO_HOME") {
        Some(h) if !h.is_empty() => PathBuf::from(h).join("bin"),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
            .join(".cargo")
            .join("bin"),
    }
}

/// The repo-local tool folder (`tools/`, git-ignored) and the `bin` dir npm puts there.
pub fn tools_dir() -> PathBuf {
    repo_root().join("tools")
}

pub fn tools_bin_dir() -> PathBuf {
    tools_dir().join("node_modules").join(".bin")
}

/// The Python virtual environment for the host tools the tests check otadeck against.
pub fn venv_dir() -> PathBuf {
    tools_dir().join("venv")
}

/// Sets up this process's environment, which every child inherits: cwd = repo root,
/// `~/.cargo/bin`, `tools/node_modules/.bin` and `tools/venv/bin` first on PATH, and no RUSTFLAGS (they would
/// replace the `web_sys_unstable_apis` cfg from `.cargo/config.toml`). Runs before any thread.
pub fn prepare_env() {
    let root = repo_root();
    if let Err(e) = std::env::set_current_dir(&root) {
        eprintln!("xtask: cannot enter {}: {e}", root.display());
    }
    let mut paths = vec![cargo_bin_dir(), tools_bin_dir(), venv_dir().join("bin")];
    if let Some(old) = std::env::var_os("PATH") {
        let rest: Vec<PathBuf> = std::env::split_paths(&old)
            .filter(|p| !paths.contains(p))
            .collect();
        paths.extend(rest);
    }
    if let Ok(joined) = std::env::join_paths(paths) {
        std::env::set_var("PATH", joined);
    }
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"] {
        if std::env::var_os(var).is_some() {
            eprintln!(
                "xtask: note: ignoring {var} (it would drop the flags of .cargo/config.toml)"
            );
            std::env::remove_var(var);
        }
    }
}

/// Prints the heading of a step.
pub fn step(what: &str) {
    println!("==> {what}");
    flush();
}

/// Prints why a step is skipped.
pub fn skip(why: &str) {
    println!("    already satisfied: {why}");
    flush();
}

/// Prints an indented note.
pub fn note(what: &str) {
    println!("    {what}");
    flush();
}

fn flush() {
    let _ = std::io::stdout().flush();
}

/// `prog arg arg` as a person would type it.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains(char::is_whitespace) {
            s.push_str(&format!(" '{a}'"));
        } else {
            s.push(' ');
            s.push_str(&a);
        }
    }
    s
}

/// Runs a command with the terminal as its stdio; fails unless it exits 0.
pub fn exec(cmd: &mut Command) -> Result<()> {
    let shown = show(cmd);
    println!("    $ {shown}");
    flush();
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// Runs a command quietly and returns its stdout and stderr, or None if it cannot start or
/// exits non-zero. Used to ask tools for their version.
pub fn probe(prog: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    Some(s)
}

/// Runs a command, streaming its stdout and stderr to ours while also capturing both.
pub fn run_tee(cmd: &mut Command) -> Result<(ExitStatus, String)> {
    let shown = show(cmd);
    println!("    $ {shown}");
    flush();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    let captured = Arc::new(Mutex::new(String::new()));
    let out = tee(child.stdout.take().expect("piped"), false, captured.clone());
    let err = tee(child.stderr.take().expect("piped"), true, captured.clone());
    let status = child
        .wait()
        .map_err(|e| format!("waiting for `{shown}`: {e}"))?;
    let _ = out.join();
    let _ = err.join();
    let text = std::mem::take(&mut *captured.lock().expect("tee lock"));
    Ok((status, text))
}

/// Copies a child's stream line by line to our stdout or stderr and into `sink`.
fn tee(
    src: impl Read + Send + 'static,
    to_stderr: bool,
    sink: Arc<Mutex<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(src);
        let mut buf = Vec::new();
        while let Ok(n) = reader.read_until(b'\n', &mut buf) {
            if n == 0 {
                break;
            }
            if to_stderr {
                let mut e = std::io::stderr().lock();
                let _ = e.write_all(&buf);
                let _ = e.flush();
            } else {
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(&buf);
                let _ = o.flush();
            }
            sink.lock()
                .expect("tee lock")
                .push_str(&String::from_utf8_lossy(&buf));
            buf.clear();
        }
    })
}

/// Whether this process runs as root (needed for apt-get).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Every process below `pid` (children, grandchildren, ...), read from /proc.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may hold spaces, so read after the last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u32>().ok());
            if let Some(pp) = ppid {
                parents.push((p, pp));
            }
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let cur = found[i];
        found.extend(parents.iter().filter(|(_, pp)| *pp == cur).map(|(p, _)| *p));
        i += 1;
    }
    found.remove(0);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_quotes_spaces() {
        let mut c = Command::new("echo");
        c.args(["a", "b c", ""]);
        assert_eq!(show(&c), "echo a 'b c' ''");
    }

    #[test]
    fn root_holds_the_workspace() {
        assert!(repo_root().join("Cargo.toml").is_file());
        assert!(repo_root().join("xtask").is_dir());
    }

    #[test]
    fn finds_own_children() {
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        let ds = descendants(std::process::id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(ds.contains(&child.id()));
    }
}
