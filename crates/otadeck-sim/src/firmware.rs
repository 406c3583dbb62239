//! Firmware images for the demo module and for tests: well-formed ESP-IDF application images with
//! firmware-like contents (code-like pseudo-random runs, strings, and zero/0xFF padding), made
//! deterministically from a version string.

use otadeck_core::image::esp::{build_app_image, AppDescriptorFields};

/// The version the demo module runs before any update.
pub const DEMO_RUNNING_VERSION: &str = "2.0.3";
/// The version of the bundled sample image.
pub const SAMPLE_VERSION: &str = "2.1.0";
/// Size of the bundled sample image's body, before headers.
pub const SAMPLE_BODY_LEN: usize = 96 * 1024;

/// A small deterministic generator (xorshift64*), so images are the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn body(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let kind = rng.next() % 8;
        let run = 16 + (rng.next() % 240) as usize;
        match kind {
            0 => out.extend(std::iter::repeat_n(0xFF, run)),
            1 => out.extend(std::iter::repeat_n(0x00, run / 2)),
            2 => out.extend_from_slice(b"otadeck demo firmware: sensor task started\0"),
            _ => {
                for _ in 0..run / 8 {
                    out.extend_from_slice(&rng.next().to_le_bytes());
                }
            }
        }
    }
    out.truncate(len);
    out
}

/// Firmware-like content that differs by version (its FNV-1a hash seeds the generator).
fn versioned_body(version: &str, len: usize) -> Vec<u8> {
    let seed = version.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    body(seed, len)
}

/// An application image declaring `version`, with `body_len` bytes of firmware-like content.
pub fn demo_image(version: &str, body_len: usize) -> Vec<u8> {
    let data = versioned_body(version, body_len);
    let split = body_len * 3 / 4;
    // An ESP32 app, as every simulated board is an ESP32.
    build_app_image(
        0,
        &AppDescriptorFields {
            version,
            project_name: "otadeck-demo",
            time: "09:30:00",
            date: "Nov 20 2026",
            idf_version: "v5.3.1",
            secure_version: 0,
        },
        &[(0x3F40_0020, &data[..split]), (0x400D_0020, &data[split..])],
    )
}

/// The firmware the demo module runs at power-on.
pub fn demo_running_image() -> Vec<u8> {
    demo_image(DEMO_RUNNING_VERSION, 64 * 1024)
}

/// The sample image offered on the Flash page.
pub fn sample_image() -> Vec<u8> {
    demo_image(SAMPLE_VERSION, SAMPLE_BODY_LEN)
}

/// A simulated QuecPython full FOTA package installing `version`, with `body_len` bytes of
/// firmware-like content (see [`crate::fota_package`]).
pub fn quecpython_package(version: &str, body_len: usize) -> Vec<u8> {
    crate::fota_package::build(version, &versioned_body(version, body_len))
}

/// The firmware the demo QuecPython module runs at power-on.
pub fn quecpython_running_package() -> Vec<u8> {
    quecpython_package(DEMO_RUNNING_VERSION, 64 * 1024)
}

/// The sample package offered for a QuecPython module.
pub fn quecpython_sample_package() -> Vec<u8> {
    quecpython_package(SAMPLE_VERSION, SAMPLE_BODY_LEN)
}

/// `image` with `at` overwritten by `pattern`, repeated, and its checksum and appended SHA-256 made
/// right again: a valid image whose bytes there are what a test needs (control bytes that are
/// shorter in base64 than escaped in a bytes literal, say). `at` must lie in segment data.
pub fn with_region(image: &[u8], at: std::ops::Range<usize>, pattern: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut out = image.to_vec();
    let before = otadeck_core::image::esp::parse(&out).expect("a valid image");
    for (b, p) in out[at.clone()].iter_mut().zip(pattern.iter().cycle()) {
        *b = *p;
    }
    // The checksum is the XOR of every segment data byte: swap the old bytes for the new.
    let mut sum = before.checksum.stored;
    for (old, new) in image[at.clone()].iter().zip(&out[at]) {
        sum ^= old ^ new;
    }
    out[before.checksum.offset] = sum;
    if let Some(h) = before.sha256.as_ref() {
        let digest = sha2::Sha256::digest(&out[..h.offset]);
        out[h.offset..h.offset + 32].copy_from_slice(&digest);
    }
    out
}

/// `package` (a simulated QuecPython package) with `at` (offsets in the package, past its
/// header) overwritten by `pattern`, repeated, and its header made right again.
pub fn package_with_region(package: &[u8], at: std::ops::Range<usize>, pattern: &[u8]) -> Vec<u8> {
    use crate::fota_package::{self, HEADER_LEN};
    let version = fota_package::parse(package)
        .expect("a whole package")
        .version;
    let mut body = package[HEADER_LEN..].to_vec();
    let at = at.start - HEADER_LEN..at.end - HEADER_LEN;
    for (b, p) in body[at].iter_mut().zip(pattern.iter().cycle()) {
        *b = *p;
    }
    fota_package::build(&version, &body)
}

/// The sample image with blocks that each encoding wins: 4 KiB of Ctrl-A at 16 KiB (shortest
/// deflated, or in base64 when the module has no deflate) and 4 KiB of `\x01` `0` pairs at
/// 32 KiB (shortest in hex among hex and bytes literals: each pair is `\0010` escaped); the
/// firmware-like rest goes deflated or as bytes literals.
pub fn mixed_image() -> Vec<u8> {
    let image = with_region(&sample_image(), 16 * 1024..20 * 1024, &[0x01]);
    with_region(&image, 32 * 1024..36 * 1024, &[0x01, b'0'])
}

/// The QuecPython sample package with the same blocks as [`mixed_image`].
pub fn quecpython_mixed_package() -> Vec<u8> {
    let package = package_with_region(&quecpython_sample_package(), 16 * 1024..20 * 1024, &[0x01]);
    package_with_region(&package, 32 * 1024..36 * 1024, &[0x01, b'0'])
}

/// `len` pseudo-random bytes from `seed` (xorshift64, its high bytes): incompressible data
/// that every run makes the same.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use otadeck_core::image::esp;

    #[test]
    fn a_region_rewritten_keeps_the_image_valid() {
        let img = with_region(&sample_image(), 20_000..24_000, &[0x01]);
        let parsed = esp::parse(&img).unwrap();
        assert!(parsed.checksum.ok());
        assert!(parsed.sha256.as_ref().is_some_and(|h| h.ok()));
        assert!(img[20_000..24_000].iter().all(|&b| b == 1));
    }

    #[test]
    fn sample_is_a_valid_image_with_its_version() {
        let img = sample_image();
        let parsed = esp::parse(&img).unwrap();
        assert_eq!(parsed.app.unwrap().version, SAMPLE_VERSION);
        assert_eq!(parsed.image_len, img.len());
        assert!(img.len() > SAMPLE_BODY_LEN);
    }

    #[test]
    fn images_are_deterministic_and_differ_by_version() {
        assert_eq!(demo_image("1.0.0", 5000), demo_image("1.0.0", 5000));
        assert_ne!(demo_image("1.0.0", 5000), demo_image("1.0.1", 5000));
    }
}
