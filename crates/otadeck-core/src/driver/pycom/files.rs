//! Pycom file updates from a Pycom OTA manifest, all or nothing.
//!
//! 1. Stage: the directories a new file needs are made when missing (`open` does not make them;
//!    real MicroPython raises `ENOENT`), then every new or updated file is written beside its
//!    target as `<path>.new`, read back on the module and its SHA-1 compared with the manifest's.
//! 2. Commit, one rename at a time: each updated file to `<path>.bak`, each `.new` into place,
//!    each deleted file to `<path>.bak_del`.
//! 3. Clean up the `.bak` and `.bak_del` copies once everything is in place.
//!
//! Any failure before the clean-up undoes what was done, newest first: `.new` files are removed,
//! `.bak` and `.bak_del` files renamed back, directories made for the update removed. Pycom's own client leaves that undone. The host
//! downloads the files and checks their hashes before the session; the module checks them again.

use std::time::Duration;

use crate::driver::repl::encoding::{ChunkEncoder, Encoding, EncodingProbe, ProbeStep};
use crate::driver::repl::flow::{bad_answer, FlowConfig, Next, ReplFlow, ReplPlan, Reply, Report};
use crate::session::{FlashErrorKind, LogLevel, Step};

/// File bytes per `write` call.
const CHUNK: usize = 2048;

/// A file to put on the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUpdate {
    /// Absolute, normalised path on the module (`/flash/main.py`).
    pub path: String,
    /// The contents.
    pub data: Vec<u8>,
    /// Lower-case hex SHA-1 the manifest gives for it.
    pub sha1: String,
    /// It replaces an existing file (rather than creating one).
    pub replaces: bool,
}

/// One rename of the commit phase, kept to be undone.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rename {
    from: String,
    to: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Probe(Encoding),
    /// `os.stat` of a directory a new file needs.
    DirCheck,
    /// `os.mkdir` of a directory found missing.
    DirMake,
    Open,
    Write,
    Check,
    Commit,
    Cleanup,
    Undo,
    Done,
}

/// The Pycom file-update plan.
#[derive(Debug)]
pub struct PycomFiles {
    files: Vec<FileUpdate>,
    delete: Vec<String>,
    stage: Stage,
    probe: EncodingProbe,
    encoder: Option<ChunkEncoder>,
    /// The file being staged, and how far.
    file: usize,
    offset: usize,
    /// Renames still to do, and renames done (undone in reverse on failure).
    todo: Vec<Rename>,
    done: Vec<Rename>,
    /// `.new` files created on the module.
    staged: Vec<String>,
    /// The directories new files need, shallowest first, and how many were checked.
    dirs: Vec<String>,
    dir: usize,
    /// Directories made on the module (removed again on failure).
    made: Vec<String>,
    /// The error that started the undo.
    failure: Option<FlashErrorKind>,
    bytes: u64,
    total: u64,
}

/// A session applying file updates to a Pycom module.
pub type PycomFilesSession = ReplFlow<PycomFiles>;

fn quote(path: &str) -> String {
    format!("'{}'", path.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The digest as printed (`b'3f…'`, `3f…` or `[63, …]`) in lower-case hex; what is not a digest
/// comes back as it is, to be shown in the mismatch.
fn digest_hex(out: &str) -> String {
    let out = out.trim();
    if let Some(list) = out.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
        let bytes: Option<Vec<u8>> = list.split(',').map(|n| n.trim().parse().ok()).collect();
        if let Some(bytes) = bytes {
            return bytes.iter().map(|b| format!("{b:02x}")).collect();
        }
    }
    out.trim_start_matches("b'")
        .trim_end_matches('\'')
        .to_string()
}

/// The directories below the mount point (`/flash`, `/sd`) that the new files in `files` sit in,
/// each parent before its children, without repeats.
fn needed_dirs(files: &[FileUpdate]) -> Vec<String> {
    let mut dirs: Vec<String> = Vec::new();
    for f in files.iter().filter(|f| !f.replaces) {
        let parts: Vec<&str> = f.path.split('/').filter(|p| !p.is_empty()).collect();
        for depth in 2..parts.len() {
            let d = format!("/{}", parts[..depth].join("/"));
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
    }
    dirs
}

impl PycomFiles {
    /// Write `files` and delete `delete` (absolute normalised paths).
    pub fn new(files: Vec<FileUpdate>, delete: Vec<String>) -> Self {
        let total = files.iter().map(|f| f.data.len() as u64).sum();
        let dirs = needed_dirs(&files);
        PycomFiles {
            dirs,
            dir: 0,
            made: Vec::new(),
            files,
            delete,
            stage: Stage::Probe(Encoding::PROBE_ORDER[0]),
            probe: EncodingProbe::default(),
            encoder: None,
            file: 0,
            offset: 0,
            todo: Vec::new(),
            done: Vec::new(),
            staged: Vec::new(),
            failure: None,
            bytes: 0,
            total,
        }
    }

    /// Start a session.
    pub fn start(
        now: Duration,
        files: Vec<FileUpdate>,
        delete: Vec<String>,
        config: FlowConfig,
    ) -> PycomFilesSession {
        ReplFlow::start(now, Self::new(files, delete), config)
    }

    fn exec(step: Step, code: impl Into<Vec<u8>>) -> Next {
        Next::exec(step, code, 10)
    }

    /// Check the next directory a new file needs, or go on to staging the files.
    fn dir_next(&mut self, report: &mut Report) -> Next {
        let Some(d) = self.dirs.get(self.dir) else {
            return self.open_next(report);
        };
        self.stage = Stage::DirCheck;
        Self::exec(
            Step::Write,
            format!("import os\nos.stat({})\nprint(1)", quote(d)),
        )
    }

    fn open_next(&mut self, report: &mut Report) -> Next {
        let Some(f) = self.files.get(self.file) else {
            return self.start_commit(report);
        };
        self.stage = Stage::Open;
        self.offset = 0;
        report.log(LogLevel::Info, format!("Staging {}.new", f.path));
        Self::exec(
            Step::Write,
            format!("f=open({},'wb')", quote(&format!("{}.new", f.path))),
        )
    }

    fn write_next(&mut self) -> Next {
        let f = &self.files[self.file];
        let encoder = self.encoder.as_mut().expect("probed");
        let end = (self.offset + CHUNK).min(f.data.len());
        self.stage = Stage::Write;
        let mut code = b"f.write(".to_vec();
        code.extend_from_slice(&encoder.encode(&f.data[self.offset..end]));
        code.extend_from_slice(b")\n");
        if end == f.data.len() {
            code.extend_from_slice(b"f.close()\n");
        }
        code.extend_from_slice(format!("print({end})").as_bytes());
        Self::exec(Step::Write, code)
    }

    fn check(&mut self) -> Next {
        let f = &self.files[self.file];
        self.stage = Stage::Check;
        // A firmware that only decodes hex has no binascii to print the digest with; its
        // `bytes.hex` comes with `bytes.fromhex` (both are MICROPY_PY_BUILTINS_BYTES_HEX). One
        // with neither prints the digest's bytes as a list of numbers.
        let usable = self.encoder.as_ref().map_or(&[][..], ChunkEncoder::usable);
        let (imports, digest) = if usable.contains(&Encoding::Base64) {
            ("import hashlib,binascii", "binascii.hexlify(h.digest())")
        } else if usable.contains(&Encoding::Hex) {
            ("import hashlib", "h.digest().hex()")
        } else {
            ("import hashlib", "list(h.digest())")
        };
        let mut code = format!(
            "{imports}\nh=hashlib.sha1()\nf=open({},'rb')\n",
            quote(&format!("{}.new", f.path))
        );
        for _ in 0..f.data.len().div_ceil(CHUNK).max(1) {
            code.push_str(&format!("h.update(f.read({CHUNK}))\n"));
        }
        code.push_str(&format!("f.close()\nprint({digest})"));
        Self::exec(Step::Verify, code)
    }

    fn start_commit(&mut self, report: &mut Report) -> Next {
        let mut todo = Vec::new();
        for f in &self.files {
            if f.replaces {
                todo.push(Rename {
                    from: f.path.clone(),
                    to: format!("{}.bak", f.path),
                });
            }
            todo.push(Rename {
                from: format!("{}.new", f.path),
                to: f.path.clone(),
            });
        }
        for d in &self.delete {
            todo.push(Rename {
                from: d.clone(),
                to: format!("{d}.bak_del"),
            });
        }
        todo.reverse();
        self.todo = todo;
        report.log(
            LogLevel::Info,
            "Every staged file matches its hash; putting them in place",
        );
        self.commit_next(report)
    }

    fn commit_next(&mut self, report: &mut Report) -> Next {
        match self.todo.last() {
            Some(r) => {
                self.stage = Stage::Commit;
                Self::exec(
                    Step::Flush,
                    format!("import os\nos.rename({},{})", quote(&r.from), quote(&r.to)),
                )
            }
            None => {
                self.stage = Stage::Cleanup;
                let backups: Vec<String> = self
                    .done
                    .iter()
                    .filter(|r| r.to.ends_with(".bak") || r.to.ends_with(".bak_del"))
                    .map(|r| format!("os.remove({})", quote(&r.to)))
                    .collect();
                report.log(LogLevel::Info, "All files in place; removing the backups");
                Self::exec(
                    Step::Confirm,
                    format!("import os\n{}\nprint(1)", backups.join("\n")),
                )
            }
        }
    }

    /// Undo the renames done (newest first) and remove the staged files, then fail with `kind`.
    fn undo(&mut self, report: &mut Report, kind: FlashErrorKind) -> Next {
        // The undo runs under the step that failed, so the error names it.
        let step = match self.stage {
            Stage::DirCheck | Stage::DirMake | Stage::Open | Stage::Write => Step::Write,
            Stage::Check => Step::Verify,
            _ => Step::Flush,
        };
        report.log(
            LogLevel::Warn,
            format!(
                "Undoing the file update: {}",
                crate::session::FlashError {
                    step: Step::Flush,
                    offset: None,
                    total: None,
                    kind: kind.clone(),
                    module_state: "is being restored",
                }
            ),
        );
        self.failure = Some(kind);
        self.stage = Stage::Undo;
        let mut code = String::from("import os\n");
        for r in self.done.iter().rev() {
            code.push_str(&format!("os.rename({},{})\n", quote(&r.to), quote(&r.from)));
        }
        // With the renames undone, every `.new` created is back under that name: remove them.
        for staged in &self.staged {
            code.push_str(&format!("os.remove({})\n", quote(staged)));
        }
        for d in self.made.iter().rev() {
            code.push_str(&format!("os.rmdir({})\n", quote(d)));
        }
        code.push_str("print(1)");
        Self::exec(step, code)
    }
}

impl PycomFiles {
    /// The encoding probe answered: try the next encoding, or start with the directories.
    fn after_probe(
        &mut self,
        report: &mut Report,
        reply: Reply<'_>,
    ) -> Result<Next, FlashErrorKind> {
        match self.probe.on_reply(reply) {
            Some(ProbeStep::Try(e)) => {
                self.stage = Stage::Probe(e);
                Ok(Self::exec(Step::Prepare, e.imports()))
            }
            Some(ProbeStep::Found(e)) => {
                let encoder = ChunkEncoder::new(e);
                report.log(
                    LogLevel::Info,
                    format!("Each chunk of a file goes {}", encoder.describe_choice()),
                );
                self.encoder = Some(encoder);
                report.progress(0, self.total);
                Ok(self.dir_next(report))
            }
            None => Err(FlashErrorKind::ModuleLacks(
                "this firmware cannot decode binary data sent to it".into(),
            )),
        }
    }

    /// A chunk of the file was written: the next chunk, or the file's hash check.
    fn after_write(&mut self, report: &mut Report, reply: Reply<'_>) -> Next {
        let out = match reply.output() {
            Ok(out) => out.to_string(),
            Err(kind) => return self.undo(report, kind),
        };
        let Ok(end) = out.parse::<usize>() else {
            return self.undo(report, bad_answer("file write", &out));
        };
        self.bytes += (end - self.offset) as u64;
        self.offset = end;
        report.progress(self.bytes, self.total);
        if end < self.files[self.file].data.len() {
            self.write_next()
        } else {
            self.check()
        }
    }

    /// The staged file's SHA-1 came back: against the manifest, then the next file.
    fn after_check(&mut self, report: &mut Report, reply: Reply<'_>) -> Next {
        let out = match reply.output() {
            Ok(out) => out.to_string(),
            Err(kind) => return self.undo(report, kind),
        };
        let f = &self.files[self.file];
        let got = digest_hex(&out);
        if !got.eq_ignore_ascii_case(&f.sha1) {
            let kind = FlashErrorKind::Mismatch(format!(
                "{} on the module has SHA-1 {got}, not {} as the manifest says",
                f.path, f.sha1
            ));
            return self.undo(report, kind);
        }
        self.file += 1;
        if self.file == self.files.len() {
            let summary = self.encoder.as_ref().map(ChunkEncoder::summary);
            report.log(
                LogLevel::Info,
                format!("All files staged ({})", summary.unwrap_or_default()),
            );
        }
        self.open_next(report)
    }
}

impl ReplPlan for PycomFiles {
    fn next(&mut self, report: &mut Report, reply: Reply<'_>) -> Result<Next, FlashErrorKind> {
        if reply == Reply::Connected {
            if self.files.is_empty() && self.delete.is_empty() {
                return Ok(Next::Done { restarted: false });
            }
            let first = self.probe.start();
            let ProbeStep::Try(e) = first else {
                unreachable!("probing starts with a try")
            };
            self.stage = Stage::Probe(e);
            return Ok(Self::exec(Step::Prepare, e.imports()));
        }
        match self.stage {
            Stage::Probe(_) => self.after_probe(report, reply),
            Stage::DirCheck => {
                if reply.output().is_ok() {
                    self.dir += 1;
                    return Ok(self.dir_next(report));
                }
                // `os.stat` raised: the directory is missing (the error number differs between
                // ports, so any error counts as missing; a real problem shows at the mkdir).
                let d = &self.dirs[self.dir];
                report.log(LogLevel::Info, format!("Making the directory {d}"));
                self.stage = Stage::DirMake;
                Ok(Self::exec(
                    Step::Write,
                    format!("import os\nos.mkdir({})\nprint(1)", quote(d)),
                ))
            }
            Stage::DirMake => match reply.output() {
                Ok(_) => {
                    self.made.push(self.dirs[self.dir].clone());
                    self.dir += 1;
                    Ok(self.dir_next(report))
                }
                Err(kind) => Ok(self.undo(report, kind)),
            },
            Stage::Open => match reply.output() {
                Ok(_) => {
                    self.staged
                        .push(format!("{}.new", self.files[self.file].path));
                    Ok(self.write_next())
                }
                Err(kind) => {
                    let path = &self.files[self.file].path;
                    let raised = match &kind {
                        FlashErrorKind::Traceback { last_line } => last_line.clone(),
                        other => format!("{other:?}"),
                    };
                    let kind = FlashErrorKind::ModuleState {
                        why: format!("the module cannot create {path} ({raised})"),
                        then: "Check the source's destination paths: a parent of this one is a \
                               file, or the file system is full.",
                    };
                    Ok(self.undo(report, kind))
                }
            },
            Stage::Write => Ok(self.after_write(report, reply)),
            Stage::Check => Ok(self.after_check(report, reply)),
            Stage::Commit => match reply.output() {
                Ok(_) => {
                    let r = self.todo.pop().expect("a rename was in flight");
                    self.done.push(r);
                    Ok(self.commit_next(report))
                }
                Err(kind) => Ok(self.undo(report, kind)),
            },
            Stage::Cleanup => {
                if let Err(kind) = reply.output() {
                    report.log(
                        LogLevel::Warn,
                        format!(
                            "The update is in place, but a backup could not be removed: {kind:?}"
                        ),
                    );
                }
                self.stage = Stage::Done;
                Ok(Next::Done { restarted: false })
            }
            Stage::Undo => {
                let restored = reply.output().is_ok();
                let failure = self.failure.take().expect("undo follows a failure");
                if !restored {
                    report.log(
                        LogLevel::Error,
                        "The module's files could not all be restored: check them before restarting it",
                    );
                }
                self.stage = Stage::Done;
                Err(failure)
            }
            Stage::Done => Ok(Next::Done { restarted: false }),
        }
    }

    fn position(&self) -> Option<(u64, u64)> {
        matches!(
            self.stage,
            Stage::DirCheck
                | Stage::DirMake
                | Stage::Open
                | Stage::Write
                | Stage::Check
                | Stage::Undo
        )
        .then_some((self.bytes, self.total))
    }

    fn bytes_done(&self) -> u64 {
        self.bytes
    }

    fn module_state(&self, _step: Step, _kind: &FlashErrorKind) -> &'static str {
        match self.stage {
            Stage::Done if self.done.is_empty() => "keeps its previous files",
            Stage::Done => "has its previous files back",
            Stage::Undo => "may hold a mix of old and new files: read them before restarting it",
            Stage::Commit | Stage::Cleanup if !self.done.is_empty() => {
                "may hold a mix of old and new files, with .bak copies of the old ones"
            }
            _ if self.staged.is_empty() && self.made.is_empty() => "keeps its previous files",
            _ if self.staged.is_empty() => {
                "keeps its previous files (a directory made for the update may be left empty)"
            }
            _ => "keeps its previous files (a staged .new file may be left beside them)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::digest_hex;

    #[test]
    fn digests_read_in_each_printed_form() {
        let hex = "00ff10";
        assert_eq!(digest_hex("b'00ff10'\r\n"), hex);
        assert_eq!(digest_hex("00ff10"), hex);
        assert_eq!(digest_hex("[0, 255, 16]"), hex);
        assert_eq!(digest_hex("[0, 256]"), "[0, 256]");
    }
}
