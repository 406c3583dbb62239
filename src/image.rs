//! An image chosen for flashing: its bytes, size, SHA-256 (computed in chunks that yield to the
//! browser) and what the core recognises in it.

use otadeck_core::digest::{to_hex, StreamingSha256};
use otadeck_core::image::{self, esp, Format, Image};

/// Bytes hashed between two yields to the page.
const HASH_CHUNK: usize = 64 * 1024;

/// A chosen image.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedImage {
    /// File name, or "sample" for the bundled image.
    pub name: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// SHA-256, lower-case hex.
    pub sha256: String,
    /// What the image is, in a line.
    pub kind: String,
    /// The version the image declares, when it declares one.
    pub version: Option<String>,
    /// Why the image is damaged (a checksum, hash or structure that does not hold), if it is.
    pub problem: Option<String>,
    /// The SHA-256 of the span a hash inside the image covers (`(length, digest)`), kept while
    /// hashing so that later checks of the image need not hash it again.
    pub inner_sha256: Option<(usize, [u8; 32])>,
}

/// Hash and inspect `bytes`, yielding to the page between chunks. A hash inside the image (an
/// ESP app's appended SHA-256) is checked with the digest kept on the way, not hashed again.
pub async fn load(name: String, bytes: Vec<u8>) -> LoadedImage {
    let covers = image::inner_sha256_covers(&bytes);
    let mut inner = None;
    let mut hasher = StreamingSha256::new();
    for (i, chunk) in bytes.chunks(HASH_CHUNK).enumerate() {
        let start = i * HASH_CHUNK;
        match covers {
            Some(n) if (start..start + chunk.len()).contains(&n) => {
                hasher.update(&chunk[..n - start]);
                inner = Some((n, hasher.clone().finish()));
                hasher.update(&chunk[n - start..]);
            }
            _ => hasher.update(chunk),
        }
        gloo::timers::future::sleep(std::time::Duration::ZERO).await;
    }
    let sha256 = to_hex(&hasher.finish());
    let (kind, version, problem) = describe(&bytes, inner);
    LoadedImage {
        name,
        bytes,
        sha256,
        kind,
        version,
        problem,
        inner_sha256: inner,
    }
}

/// What the image is (a line), the version it declares, and what is wrong with it, if anything;
/// `inner` is the SHA-256 of the span an inner hash covers, when known.
fn describe(
    bytes: &[u8],
    inner: Option<(usize, [u8; 32])>,
) -> (String, Option<String>, Option<String>) {
    if bytes.is_empty() {
        return ("empty file".into(), None, None);
    }
    if image::sniff(bytes) == Format::Raw {
        return ("raw image (no known header)".into(), None, None);
    }
    let detected = image::detect_with(bytes, inner);
    let problem = detected.check().err().map(|e| e.to_string());
    let (kind, version) = match &detected {
        Image::EspApp(img) => match &img.app {
            Some(app) => (
                format!(
                    "ESP-IDF app image for {}: {} {}, built {} {}, IDF {}",
                    esp::chip_name(img.chip_id),
                    app.project_name,
                    app.version,
                    app.date,
                    app.time,
                    app.idf_version
                ),
                Some(app.version.clone()).filter(|v| !v.is_empty()),
            ),
            None => (
                format!("ESP image for {}", esp::chip_name(img.chip_id)),
                None,
            ),
        },
        other => (other.format().name().to_string(), None),
    };
    (kind, version, problem)
}
