//! Safety rules every manifest parser applies before a result leaves the core.
//!
//! - **URLs**: absolute (or resolved against the manifest URL), at most [`MAX_URL_LEN`] bytes,
//!   scheme `https`; `http` only when the host is `localhost`, in 127.0.0.0/8 or `::1`; no user
//!   name or password in the URL (they end up in logs).
//! - **Destination paths** on the module: no `..` segments, no backslashes or control
//!   characters, at most [`MAX_PATH_LEN`] bytes, normalised (`//` and `.` removed), and inside
//!   one of the allowed roots (e.g. `/flash` and `/sd` on Pycom: [`PYCOM_ROOTS`]).
//! - **Sizes**: at most [`MAX_FILE_SIZE`] per file, [`MAX_FILES_PER_PACKAGE`] files per package.
//! - **Hashes**: exactly the hex length of their algorithm ([`crate::digest::parse_hex`]).

use super::json::Node;
use super::{ErrorKind, ManifestError};
use crate::digest::{Algorithm, ExpectedDigest};
use std::net::{Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// Largest file a manifest may describe: 100 MiB.
pub const MAX_FILE_SIZE: u64 = 100 * 1024 * 1024;
/// Most files in one package (campaign plans, as on cellular-module plans).
pub const MAX_FILES_PER_PACKAGE: usize = 5;
/// Longest URL accepted (presigned S3 URLs with session tokens run to a few KiB).
pub const MAX_URL_LEN: usize = 8192;
/// Longest destination path accepted on a module.
pub const MAX_PATH_LEN: usize = 255;
/// Where a Pycom manifest may write or delete files.
pub const PYCOM_ROOTS: &[&str] = &["/flash", "/sd"];

/// True for `localhost`, 127.0.0.0/8 and `::1`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.octets()[0] == Ipv4Addr::LOCALHOST.octets()[0],
        Some(Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
        None => false,
    }
}

/// Check a URL already parsed against the rules above; the error is in words.
pub fn check_url(url: &Url) -> Result<(), String> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a user name or password inside a URL is refused".into());
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => {
            let host = url.host_str().unwrap_or("");
            let hint = if host == "none" {
                " (the Pycom server writes \"None\" when the request had no Host header)"
            } else {
                ""
            };
            Err(format!(
                "plain http to {host:?} is refused: use https (http is allowed only for localhost, 127.0.0.0/8 and ::1){hint}"
            ))
        }
        other => Err(format!(
            "only https URLs are allowed, found scheme {other:?}"
        )),
    }
}

/// Parse `raw` (relative references resolve against `base`, when given) and check it.
pub fn parse_url(raw: &str, base: Option<&Url>) -> Result<Url, String> {
    if raw.len() > MAX_URL_LEN {
        return Err(format!("longer than {MAX_URL_LEN} bytes"));
    }
    if raw.trim().is_empty() {
        return Err("empty URL".into());
    }
    let url = match base {
        Some(b) => b.join(raw),
        None => Url::parse(raw),
    }
    .map_err(|e| match (e, base) {
        (url::ParseError::RelativeUrlWithoutBase, None) => {
            format!("{raw:?} is relative, and there is no manifest URL to resolve it against")
        }
        (e, _) => format!("{raw:?} is not a URL ({e})"),
    })?;
    check_url(&url)?;
    Ok(url)
}

/// A character that must not stand in a name, a path or a URL a technician reads: control
/// characters, and the invisible format characters (direction overrides such as U+202E, zero
/// widths, private use) that can make text show other than it is.
pub fn hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c as u32,
            0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F
            | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB
            | 0xE000..=0xF8FF | 0xF0000..)
}

/// Normalise a destination path on a module. Relative paths are taken from `/` only when
/// `relative_ok`; an empty `roots` allows any absolute path.
pub fn normalise_path(raw: &str, roots: &[&str], relative_ok: bool) -> Result<String, String> {
    if raw.is_empty() {
        return Err("empty path".into());
    }
    if raw.len() > MAX_PATH_LEN {
        return Err(format!("longer than {MAX_PATH_LEN} bytes"));
    }
    if raw.chars().any(|c| hidden_char(c) || c == '\\') {
        return Err(format!(
            "{raw:?} contains a backslash or a control character"
        ));
    }
    if !raw.starts_with('/') && !relative_ok {
        return Err(format!("{raw:?} is not an absolute path"));
    }
    let mut segments = Vec::new();
    for seg in raw.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                return Err(format!(
                    "{raw:?} has a \"..\" segment, which could leave the module's file system"
                ))
            }
            s => segments.push(s),
        }
    }
    if segments.is_empty() {
        return Err(format!("{raw:?} names no file"));
    }
    let path = format!("/{}", segments.join("/"));
    if roots.is_empty()
        || roots
            .iter()
            .any(|r| path.starts_with(r) && path[r.len()..].starts_with('/'))
    {
        Ok(path)
    } else {
        Err(format!(
            "{path} is outside the allowed roots ({})",
            roots.join(", ")
        ))
    }
}

/// A string field holding a safe URL.
pub(crate) fn url_at(node: &Node<'_>, base: Option<&Url>) -> Result<Url, ManifestError> {
    let raw = node.str()?;
    parse_url(raw, base).map_err(|message| node.err(ErrorKind::UnsafeUrl { message }))
}

/// A string field holding a destination path inside `roots`.
pub(crate) fn path_at(
    node: &Node<'_>,
    roots: &[&str],
    relative_ok: bool,
) -> Result<String, ManifestError> {
    let raw = node.str()?;
    normalise_path(raw, roots, relative_ok)
        .map_err(|message| node.err(ErrorKind::UnsafePath { message }))
}

/// A number field holding a file size within [`MAX_FILE_SIZE`].
pub(crate) fn size_at(node: &Node<'_>) -> Result<u64, ManifestError> {
    let n = node.u64()?;
    if n > MAX_FILE_SIZE {
        return Err(node.invalid(format!(
            "{n} bytes is more than the {} MiB allowed for one file",
            MAX_FILE_SIZE / (1024 * 1024)
        )));
    }
    Ok(n)
}

/// A string field holding a hex digest of `algorithm`.
pub(crate) fn hash_at(
    node: &Node<'_>,
    algorithm: Algorithm,
) -> Result<ExpectedDigest, ManifestError> {
    let raw = node.str()?;
    ExpectedDigest::parse(algorithm, raw).map_err(|e| node.err(ErrorKind::Hash(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_http_only() {
        assert!(parse_url("http://127.1.2.3:8000/x", None).is_ok());
        assert!(parse_url("http://[::1]/x", None).is_ok());
        assert!(parse_url("http://LOCALHOST/x", None).is_ok());
        assert!(parse_url("http://192.168.1.2/x", None).is_err());
        assert!(parse_url("https://u:p@example.com/x", None).is_err());
        assert!(parse_url("file:///etc/passwd", None).is_err());
        assert!(parse_url("http://None/firmware.bin", None)
            .unwrap_err()
            .contains("Host header"));
    }

    #[test]
    fn paths() {
        assert_eq!(
            normalise_path("//flash/./lib//a.py", PYCOM_ROOTS, false).unwrap(),
            "/flash/lib/a.py"
        );
        assert_eq!(
            normalise_path("sd/x.wav", PYCOM_ROOTS, true).unwrap(),
            "/sd/x.wav"
        );
        assert!(normalise_path("/flash/../etc/x", PYCOM_ROOTS, false).is_err());
        assert!(normalise_path("/flashy/x", PYCOM_ROOTS, false).is_err());
        assert!(normalise_path("/flash", PYCOM_ROOTS, false).is_err());
        assert!(normalise_path("flash/x", PYCOM_ROOTS, false).is_err());
    }
}
