//! Live cross-checks against the real tools (`cargo test -p otadeck-core --features peer-tests
//! --test it image_peers`). Needs imgtool 2.5 and esptool 5 (PyPI), and dfu-util's `dfu-suffix`.
//! Tools are found through $IMGTOOL / $ESPTOOL / $DFU_SUFFIX / $PYTHON, else in the virtualenv
//! `regenerate.sh` makes (`$TMPDIR/otadeck-image-fixtures-venv`), else on PATH.
#![cfg(feature = "peer-tests")]

use std::path::{Path, PathBuf};
use std::process::Command;

use otadeck_core::image::{self, dfuse, esp, mcuboot, Image, PublicKey};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap()
}

/// The tool to run: `$VAR` when set, else `name` on PATH (`cargo xtask setup` installs it).
fn tool(var: &str, name: &str) -> PathBuf {
    std::env::var(var).map_or_else(|_| name.into(), PathBuf::from)
}

fn run(var: &str, name: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(tool(var, name))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name} (set ${var}): {e}"));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("otadeck-image-peers-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn imgtool_verify_agrees_on_every_fixture_and_key() {
    let keys = [
        "ed25519.pub.pem",
        "ecdsa-p256.pub.pem",
        "other-ed25519.pub.pem",
        "other-ecdsa-p256.pub.pem",
    ];
    for entry in std::fs::read_dir(dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !(name.starts_with("mcuboot_") && name.ends_with(".bin")) {
            continue;
        }
        let data = fixture(&name);
        let img = mcuboot::parse(&data).unwrap();
        for k in keys {
            let ours = img.verify(&data, &PublicKey::parse(&fixture(k)).unwrap());
            let path = dir().join(&name);
            let keyp = dir().join(k);
            let (_, text) = run("IMGTOOL", "imgtool", &["verify", "-k", s(&keyp), s(&path)]);
            let theirs = text.starts_with("Image was correctly validated");
            assert_eq!(
                ours.is_ok(),
                theirs,
                "{name} with {k}: ours {ours:?}, imgtool {text}"
            );
        }
    }
}

#[test]
fn fresh_imgtool_signatures_verify() {
    let body = scratch("body.bin");
    std::fs::write(
        &body,
        (0..5000u32).map(|i| (i * 13) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    for (kind, n) in [("ed25519", 3), ("ecdsa-p256", 8)] {
        let private = scratch(&format!("{kind}.pem"));
        let public = scratch(&format!("{kind}.pub.pem"));
        assert!(
            run(
                "IMGTOOL",
                "imgtool",
                &["keygen", "-k", s(&private), "-t", kind]
            )
            .0
        );
        let (ok, pem) = run(
            "IMGTOOL",
            "imgtool",
            &["getpub", "-k", s(&private), "-e", "pem"],
        );
        assert!(ok);
        std::fs::write(&public, &pem).unwrap();
        let key = PublicKey::parse(pem.as_bytes()).unwrap();
        // A PKCS#8 private key from imgtool keygen gives the same public key.
        assert_eq!(
            PublicKey::parse(&std::fs::read(&private).unwrap()).unwrap(),
            key
        );
        for i in 0..n {
            let out = scratch(&format!("{kind}-{i}.bin"));
            let version = format!("3.{i}.1+{}", 100 + i);
            let (ok, text) = run(
                "IMGTOOL",
                "imgtool",
                &[
                    "sign",
                    "--key",
                    s(&private),
                    "--header-size",
                    "0x200",
                    "--align",
                    "8",
                    "--version",
                    &version,
                    "--slot-size",
                    "0x40000",
                    "--pad-header",
                    s(&body),
                    s(&out),
                ],
            );
            assert!(ok, "{text}");
            let data = std::fs::read(&out).unwrap();
            let img = mcuboot::parse(&data).unwrap();
            assert_eq!(img.header.version.to_string(), version);
            img.verify(&data, &key)
                .unwrap_or_else(|e| panic!("{kind} #{i}: {e}"));
        }
    }
}

#[test]
fn sec1_private_key_gives_the_public_key() {
    let private = scratch("sec1.pem");
    let (ok, _) = run(
        "IMGTOOL",
        "imgtool",
        &["keygen", "-k", s(&private), "-t", "ecdsa-p256"],
    );
    assert!(ok);
    let python = std::env::var("PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let imgtool = tool("IMGTOOL", "imgtool");
            let sibling = imgtool.with_file_name("python");
            if sibling.exists() {
                sibling
            } else {
                "python3".into()
            }
        });
    let script = "import sys\nfrom cryptography.hazmat.primitives import serialization as s\n\
        k = s.load_pem_private_key(open(sys.argv[1],'rb').read(), None)\n\
        sys.stdout.write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.TraditionalOpenSSL, s.NoEncryption()).decode())";
    let out = Command::new(python)
        .args(["-c", script, s(&private)])
        .output()
        .unwrap();
    let sec1 = String::from_utf8(out.stdout).unwrap();
    assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"), "{sec1}");
    assert_eq!(
        PublicKey::parse(sec1.as_bytes()).unwrap(),
        PublicKey::parse(&std::fs::read(&private).unwrap()).unwrap()
    );
}

fn info_field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(": ")))
        .unwrap_or_else(|| panic!("esptool printed no {key:?}:\n{text}"))
}

#[test]
fn esptool_image_info_on_a_freshly_built_image() {
    for (chip, drom, iram) in [
        (0u16, 0x3F40_0020u32, 0x4008_0000u32),
        (5, 0x3C00_0020, 0x4038_0000),
        (13, 0x4200_0020, 0x4080_0000),
    ] {
        let body: Vec<u8> = (0..777u32)
            .map(|i| (i * 7 + u32::from(chip)) as u8)
            .collect();
        let data = esp::build_app_image(
            chip,
            &esp::AppDescriptorFields {
                version: "7.8.9-peer",
                project_name: "peer-check",
                time: "01:02:03",
                date: "Feb  3 2026",
                idf_version: "v5.4",
                secure_version: 2,
            },
            &[(drom, &body), (iram, &body[..100])],
        );
        let path = scratch(&format!("built-{chip}.bin"));
        std::fs::write(&path, &data).unwrap();
        let (ok, text) = run("ESPTOOL", "esptool", &["image-info", s(&path)]);
        assert!(ok, "{text}");
        let img = esp::parse(&data).unwrap();
        assert_eq!(
            info_field(&text, "Chip ID"),
            format!("{} ({})", img.chip_id, img.chip)
        );
        assert_eq!(info_field(&text, "Flash mode"), img.flash_mode);
        assert_eq!(info_field(&text, "Flash freq"), img.flash_freq);
        assert_eq!(info_field(&text, "Flash size"), img.flash_size);
        assert_eq!(
            info_field(&text, "Segments"),
            img.segments.len().to_string()
        );
        assert_eq!(
            info_field(&text, "Checksum"),
            format!("{:#04x} (valid)", img.checksum.stored)
        );
        assert!(info_field(&text, "Validation hash").ends_with("(valid)"));
        let app = img.app.unwrap();
        assert_eq!(info_field(&text, "App version"), app.version);
        assert_eq!(info_field(&text, "Project name"), app.project_name);
        assert_eq!(info_field(&text, "ESP-IDF"), app.idf_version);
        for (i, seg) in img.segments.iter().enumerate() {
            let row = text
                .lines()
                .find(|l| l.split_whitespace().next() == Some(&i.to_string()) && l.contains("0x"))
                .unwrap();
            assert!(
                row.ends_with(&seg.memory_types.join(", ")),
                "{row} vs {:?}",
                seg.memory_types
            );
        }
    }
}

#[test]
fn elf2image_reproduces_the_committed_images() {
    for (chip, name, extra) in [
        (
            "esp32c3",
            "esp32c3_app",
            &[
                "--flash-mode",
                "dio",
                "--flash-freq",
                "40m",
                "--flash-size",
                "4MB",
                "--min-rev-full",
                "3",
                "--max-rev-full",
                "199",
            ][..],
        ),
        (
            "esp32",
            "esp32_app",
            &[
                "--flash-mode",
                "qio",
                "--flash-freq",
                "80m",
                "--flash-size",
                "16MB",
                "--min-rev-full",
                "300",
                "--max-rev-full",
                "399",
            ][..],
        ),
        (
            "esp32s3",
            "esp32s3_app",
            &[
                "--flash-mode",
                "dout",
                "--flash-freq",
                "20m",
                "--flash-size",
                "2MB",
                "--dont-append-digest",
            ][..],
        ),
    ] {
        let out = scratch(&format!("{name}.bin"));
        let elf = dir().join(format!("{name}.elf"));
        let mut args = vec![
            "--chip",
            chip,
            "elf2image",
            "--elf-sha256-offset",
            "0xb0",
            "-o",
            s(&out),
        ];
        args.extend_from_slice(extra);
        args.push(s(&elf));
        let (ok, text) = run("ESPTOOL", "esptool", &args);
        assert!(ok, "{text}");
        assert_eq!(
            std::fs::read(&out).unwrap(),
            fixture(&format!("{name}.bin")),
            "{name}"
        );
    }
}

#[test]
fn dfu_suffix_on_a_fresh_file() {
    let path = scratch("fresh.dfu");
    std::fs::write(
        &path,
        (0..3333u32).map(|i| (i ^ 0x5a) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let (ok, text) = run(
        "DFU_SUFFIX",
        "dfu-suffix",
        &[
            "-v",
            "0x0483",
            "-p",
            "0xdf11",
            "-d",
            "0x2200",
            "-a",
            s(&path),
        ],
    );
    assert!(ok, "{text}");
    let data = std::fs::read(&path).unwrap();
    let f = dfuse::parse_dfu(&data).unwrap();
    f.check().unwrap();
    assert_eq!(
        (f.suffix.vendor_id, f.suffix.product_id, f.suffix.bcd_device),
        (0x0483, 0xdf11, 0x2200)
    );
    assert_eq!(f.payload_len, 3333);
    assert!(matches!(image::detect(&data), Image::Dfu(_)));
}
