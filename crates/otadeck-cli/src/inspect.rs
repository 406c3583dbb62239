//! `otadeck inspect`: what an image, manifest, job document or plan is, whether it is intact, and
//! (with `--key`) whether its signature holds.
//!
//! Exit status: 0 valid and intact, 1 recognised but invalid, tampered or inconsistent, 2 usage
//! error or unreadable input.

use std::io::Read;
use std::process::ExitCode;

use otadeck_core::admission::MAX_IMAGE_BYTES;
use otadeck_core::image::{self, Image, PublicKey};
use otadeck_core::manifest::detect::{self, DocumentKind};

use crate::fetch;

/// Read a file, or fetch a URL (https, or http to this machine only).
fn load(source: &str, limits: fetch::Limits) -> Result<(Vec<u8>, Option<String>), String> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let fetched = fetch::get(source, limits)?;
        Ok((fetched.body, Some(fetched.url)))
    } else {
        read_capped(std::path::Path::new(source)).map(|b| (b, None))
    }
}

/// A whole file, refused once it passes [`MAX_IMAGE_BYTES`] (so `/dev/zero` or a disk image
/// ends with a message instead of filling the memory).
pub fn read_capped(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut data = Vec::new();
    file.take(MAX_IMAGE_BYTES as u64 + 1)
        .read_to_end(&mut data)
        .map_err(cannot)?;
    if data.len() > MAX_IMAGE_BYTES {
        return Err(format!(
            "{} is larger than 64 MiB, more than any module's flash: it is not a firmware image",
            path.display()
        ));
    }
    Ok(data)
}

/// Inspect a body meant as a JSON document: its kind, then its fields. Exit 1 when it does not
/// parse, is of no kind otadeck reads, or breaks its format's rules.
fn inspect_document(bytes: &[u8], url: Option<&str>, json: bool) -> ExitCode {
    let parsed = detect::classify(bytes)
        .map_err(|e| (None, e))
        .and_then(|kind| {
            detect::parse(bytes, kind, url)
                .map(|doc| (kind, doc))
                .map_err(|e| (Some(kind), e))
        });
    match parsed {
        Ok((kind, doc)) => {
            if json {
                println!(
                    "{}",
                    to_json(&serde_json::json!({"valid": true, "document": doc}))
                );
            } else {
                println!("{} — valid", kind.name());
                print_rows(&serde_json::to_value(&doc).unwrap_or_default()["document"]);
            }
            ExitCode::SUCCESS
        }
        Err((kind, e)) => {
            let name = kind.map_or("JSON document", DocumentKind::name);
            if json {
                let report = serde_json::json!({
                    "valid": false, "kind": kind, "error": e, "message": e.to_string()
                });
                println!("{}", to_json(&report));
            } else {
                println!("{name} — INVALID");
                println!("{e}");
            }
            ExitCode::from(1)
        }
    }
}

/// Run `otadeck inspect`.
pub fn inspect(
    source: &str,
    json: bool,
    key: Option<&str>,
    limits: fetch::Limits,
) -> Result<ExitCode, String> {
    let key = match key {
        Some(path) => {
            let bytes = read_capped(std::path::Path::new(path))?;
            Some(PublicKey::parse(&bytes).map_err(|e| format!("{path}: {e}"))?)
        }
        None => None,
    };
    let (bytes, url) = load(source, limits)?;

    if detect::meant_as_document(&bytes, Some(source)) || detect::sniff(&bytes).is_some() {
        return Ok(inspect_document(&bytes, url.as_deref(), json));
    }

    let image = image::detect(&bytes);
    let mut problems: Vec<String> = Vec::new();
    if let Err(e) = image.check() {
        problems.push(e.to_string());
    }
    let mut signature = None;
    if let Some(key) = &key {
        match &image {
            Image::McuBoot(m) => match m.verify(&bytes, key) {
                Ok(v) => {
                    signature = Some(format!(
                        "verified ({}, key named by {})",
                        v.algorithm, v.key_named_by
                    ))
                }
                Err(e) => problems.push(format!("signature: {e}")),
            },
            _ => {
                return Err(format!(
                    "--key applies to MCUboot images; {source} is {}",
                    image.format().name()
                ))
            }
        }
    }
    let valid = problems.is_empty();
    if json {
        println!(
            "{}",
            to_json(&serde_json::json!({
                "valid": valid,
                "problems": problems,
                "signature": signature,
                "image": image,
            }))
        );
    } else {
        print!("{image}");
        if let Some(s) = &signature {
            println!("Signature check  {s}");
        }
        if valid {
            println!("Valid and intact.");
        } else {
            for p in &problems {
                println!("PROBLEM: {p}");
            }
        }
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Print a document as one `path  value` line per field that has a value.
fn print_rows(value: &serde_json::Value) {
    let mut rows = Vec::new();
    flatten(value, String::new(), &mut rows);
    let width = rows.iter().map(|(p, _)| p.len()).max().unwrap_or(0).min(48);
    for (path, v) in rows {
        println!("{path:width$}  {v}");
    }
}

fn flatten(value: &serde_json::Value, path: String, rows: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(v, p, rows);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten(v, format!("{path}[{i}]"), rows);
            }
        }
        Value::Array(_) => {}
        Value::String(s) => rows.push((path, s.clone())),
        other => rows.push((path, other.to_string())),
    }
}

fn to_json(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
