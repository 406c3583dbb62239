//! Small generated seeds for the fuzz targets that take what a module sends (the test fixtures
//! are images and manifests, which these parsers never see).

use std::path::Path;

/// `payload` as one SLIP frame (the ESP ROM loader's framing).
fn slip(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0xC0];
    for &b in payload {
        match b {
            0xC0 => out.extend_from_slice(&[0xDB, 0xDC]),
            0xDB => out.extend_from_slice(&[0xDB, 0xDD]),
            _ => out.push(b),
        }
    }
    out.push(0xC0);
    out
}

/// A ROM loader response to `op` (4 status bytes).
fn response(op: u8, value: u32, data: &[u8], status: [u8; 4]) -> Vec<u8> {
    let mut out = vec![0x01, op];
    out.extend_from_slice(&((data.len() + 4) as u16).to_le_bytes());
    out.extend_from_slice(&value.to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&status);
    out
}

/// Chunks for the host targets: each `(control, bytes)` becomes `control` then the bytes,
/// padded with line ends to `width - 1` so that every chunk starts on its control byte.
fn chunked(head: &[u8], width: usize, chunks: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = head.to_vec();
    for (control, bytes) in chunks {
        for part in bytes.chunks(width - 1) {
            out.push(*control);
            out.extend_from_slice(part);
            out.resize(out.len() + (width - 1 - part.len()), b'\n');
        }
    }
    out
}

/// Reads for the host targets that take `[control, len, bytes...]` (bytes split at 255).
fn reads(head: &[u8], items: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = head.to_vec();
    for (control, bytes) in items {
        for part in bytes.chunks(255) {
            out.push(*control);
            out.push(part.len() as u8);
            out.extend_from_slice(part);
        }
    }
    out
}

const INFO: &[u8] = b"R\tota_0\tota_0\tLua 5.3\n\
S\tota_0\tvalid\tnodemcu\t3.0.0\t2\tNov 20 2026\t09:30:00\tv5.3.1\n\
S\tota_1\tnil\tnil\tnil\tnil\tnil\tnil\tnil\n";

/// The seeds of `target` (none for the targets seeded from fixtures only).
pub fn seeds(target: &str) -> Vec<(&'static str, Vec<u8>)> {
    let sync = response(0x08, 0, &[], [0; 4]);
    let magic = response(0x0A, 0x00F0_1D83, &[], [0; 4]);
    let failed = response(0x02, 0, &[], [1, 0x05, 0, 0]);
    match target {
        "slip_decode" => vec![
            (
                "frames",
                [&[3u8, 0x40][..], &slip(&sync), &slip(&[0xC0, 0xDB, 1])].concat(),
            ),
            (
                "noise_then_frame",
                [&b"\x07\x02ets Jun  8 2016\r\n"[..], &slip(&magic)].concat(),
            ),
        ],
        "esp_rom_response" => vec![
            ("sync", sync.clone()),
            ("read_reg", magic.clone()),
            ("error", failed.clone()),
            ("stub_status", vec![1, 0x02, 2, 0, 0, 0, 0, 0, 0, 0]),
        ],
        "esp_stub_json" => vec![(
            "stub",
            br#"{"entry": 1074521580, "text": "AQID", "text_start": 1074520064,
                "data": "BAU=", "data_start": 1073658408}"#
                .to_vec(),
        )],
        "esp_rom_host" => {
            // Job Info: SLIP-wrapped responses to SYNC and the chip magic, then an error.
            let r: Vec<&[u8]> = std::iter::repeat_n(&sync[..], 8)
                .chain([&magic[..], &magic[..], &failed[..]])
                .collect();
            let items: Vec<(u8, &[u8])> = r.into_iter().map(|b| (0x03, b)).collect();
            vec![("sync_then_magic", reads(&[0], &items))]
        }
        "lua_repl" => vec![(
            "prompt_echo_output",
            chunked(
                &[],
                9,
                &[
                    (0x14, b"\r\n> "),
                    (0x29, b"1\r\n> "),
                    (0x29, b"Lua error: stdin:1: x\r\n> "),
                    (0x29, b">> "),
                ],
            ),
        )],
        "nodemcu_host" => vec![(
            "prompt_info",
            reads(&[0], &[(0x14, b"\r\n> "), (0x29, INFO), (0x28, b"> ")]),
        )],
        "nodemcu_info" => vec![("info", INFO.to_vec())],
        "quecpython_download_host" => vec![(
            "raw_repl_download",
            reads(
                &[0],
                &[
                    (0x0A, b"raw REPL; CTRL-B to exit\r\n>"),
                    (0x0A, b"OK('EC600U', 'V01')\r\n\x04\x04>"),
                    (0x0A, b"OKok\r\n\x04\x04>"),
                    (
                        0x0A,
                        b"OK@P 0 10\r\n@P 0 100\r\n@R 0\r\n@E 0 0 100\r\n\x04\x04>",
                    ),
                ],
            ),
        )],
        _ => Vec::new(),
    }
}

/// The targets that also get whole simulated sessions as seeds (the `fuzz_seeds` example of
/// otadeck-sim records them).
const SIMULATED: &[&str] = &["esp_rom_host", "nodemcu_host", "quecpython_download_host"];

/// Writes the generated seeds of `target` into `corpus`, and the recorded simulator sessions
/// for the host targets.
pub fn write(target: &str, corpus: &Path) -> Result<(), String> {
    for (name, bytes) in seeds(target) {
        let p = corpus.join(format!("seed_{name}"));
        std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    if SIMULATED.contains(&target) {
        crate::util::exec(
            std::process::Command::new("cargo")
                .current_dir(crate::util::repo_root())
                .args([
                    "run",
                    "--quiet",
                    "-p",
                    "otadeck-sim",
                    "--example",
                    "fuzz_seeds",
                    "--",
                ])
                .arg(target)
                .arg(corpus),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_start_on_their_control_byte() {
        let s = chunked(&[9], 4, &[(7, b"abcd")]);
        assert_eq!(s, b"\x09\x07abc\x07d\n\n");
    }

    #[test]
    fn host_seeds_hold_whole_chunks() {
        let s = &seeds("esp_rom_host")[0].1;
        assert_eq!((s.len() - 1) % 14, 0);
        assert_eq!(&s[1..3], &[0x03, 12]);
        assert_eq!(&s[3..15], &response(0x08, 0, &[], [0; 4])[..]);
        let long = reads(&[], &[(5, &[7; 300])]);
        assert_eq!((long[0], long[1], long[257], long[258]), (5, 255, 5, 45));
        assert!(seeds("image_detect").is_empty());
    }
}
