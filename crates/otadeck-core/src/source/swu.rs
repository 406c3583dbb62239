//! SWUpdate bundles (`.swu`), as hawkBit servers such as goosebit hand them out: a cpio archive
//! in the "newc" format whose first member is `sw-description`, followed by the images it lists.
//! otadeck installs a bundle of one image: [`unwrap`] finds it and checks its `sha256` from
//! `sw-description` (libconfig or JSON syntax).

use crate::digest::{sha256, to_hex};

/// Most members read from one bundle.
const MAX_MEMBERS: usize = 64;

/// One file of a cpio archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member<'a> {
    /// Its name in the archive.
    pub name: &'a str,
    /// Its bytes.
    pub data: &'a [u8],
}

/// The members of a cpio "newc" (`070701`) or "crc" (`070702`) archive, up to its trailer.
pub fn members(archive: &[u8]) -> Result<Vec<Member<'_>>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let header = archive
            .get(pos..pos + 110)
            .ok_or_else(|| format!("the archive ends inside a header at byte {pos}"))?;
        if &header[..6] != b"070701" && &header[..6] != b"070702" {
            return Err(format!(
                "byte {pos}: not a cpio newc header (an SWUpdate bundle is a cpio archive in the newc format)"
            ));
        }
        let field = |i: usize| -> Result<usize, String> {
            let text = std::str::from_utf8(&header[6 + i * 8..14 + i * 8]).unwrap_or("");
            usize::from_str_radix(text, 16)
                .map_err(|_| format!("byte {pos}: a cpio header field is not hexadecimal"))
        };
        let (size, name_len) = (field(6)?, field(11)?);
        let name_start = pos + 110;
        let name_bytes = archive
            .get(name_start..name_start + name_len)
            .ok_or("the archive ends inside a file name")?;
        let name = std::str::from_utf8(name_bytes.strip_suffix(b"\0").unwrap_or(name_bytes))
            .map_err(|_| "a file name in the archive is not UTF-8".to_string())?;
        let data_start = (name_start + name_len).next_multiple_of(4);
        let data = archive
            .get(data_start..data_start + size)
            .ok_or_else(|| format!("{name}: the archive ends inside it (cut short)"))?;
        if name == "TRAILER!!!" {
            return Ok(out);
        }
        if out.len() == MAX_MEMBERS {
            return Err(format!("more than {MAX_MEMBERS} files in the archive"));
        }
        out.push(Member { name, data });
        pos = (data_start + size).next_multiple_of(4);
    }
}

/// An image `sw-description` lists: its file name and SHA-256, when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// `filename`.
    pub filename: String,
    /// `sha256`, lower-case hex.
    pub sha256: Option<String>,
}

/// The `filename` / `sha256` pairs of each group of `sw-description`, libconfig or JSON.
pub fn listed(description: &str) -> Vec<Listed> {
    let mut out = Vec::new();
    let mut stack: Vec<(Option<String>, Option<String>)> = Vec::new();
    let mut chars = description.char_indices().peekable();
    let mut last_key: Option<String> = None;
    while let Some((_, c)) = chars.next() {
        match c {
            '#' => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if matches!(chars.peek(), Some((_, '/'))) => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '{' => {
                last_key = None;
                stack.push((None, None));
            }
            '}' => {
                last_key = None;
                if let Some((Some(filename), sha)) = stack.pop() {
                    out.push(Listed {
                        filename,
                        sha256: sha.map(|s| s.to_ascii_lowercase()),
                    });
                }
            }
            '"' => {
                let mut text = String::new();
                let mut escaped = false;
                for (_, c) in chars.by_ref() {
                    match (escaped, c) {
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        _ => {
                            escaped = false;
                            text.push(c);
                        }
                    }
                }
                match last_key.take() {
                    Some(key) => assign(&mut stack, &key, text),
                    None => last_key = Some(text),
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut word = String::from(c);
                while let Some((_, n)) = chars.peek() {
                    if n.is_ascii_alphanumeric() || *n == '_' || *n == '-' {
                        word.push(*n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                last_key = Some(word);
            }
            '=' | ':' | ' ' | '\t' | '\r' | '\n' => {}
            _ => last_key = None,
        }
    }
    out
}

fn assign(stack: &mut [(Option<String>, Option<String>)], key: &str, value: String) {
    if let Some(top) = stack.last_mut() {
        match key {
            "filename" => top.0 = Some(value),
            "sha256" => top.1 = Some(value),
            _ => {}
        }
    }
}

/// The one image of a bundle, its SHA-256 checked against `sw-description`.
pub fn unwrap(bundle: &[u8]) -> Result<Vec<u8>, String> {
    let members = members(bundle)?;
    let first = members.first().ok_or("the bundle is empty")?;
    if first.name != "sw-description" {
        return Err(format!(
            "the bundle's first file is {:?}, not sw-description: not an SWUpdate bundle",
            first.name
        ));
    }
    let description =
        std::str::from_utf8(first.data).map_err(|_| "sw-description is not text".to_string())?;
    let images: Vec<Listed> = listed(description)
        .into_iter()
        .filter(|l| members.iter().any(|m| m.name == l.filename))
        .collect();
    let [image] = images.as_slice() else {
        let names: Vec<&str> = images.iter().map(|l| l.filename.as_str()).collect();
        return Err(format!(
            "sw-description lists {} images in the bundle ({}); otadeck installs a bundle of one image",
            images.len(),
            names.join(", ")
        ));
    };
    let member = members
        .iter()
        .find(|m| m.name == image.filename)
        .expect("filtered on presence");
    let Some(expected) = &image.sha256 else {
        return Err(format!(
            "sw-description gives no sha256 for {}: the image cannot be checked",
            image.filename
        ));
    };
    let actual = to_hex(&sha256(member.data));
    if &actual != expected {
        return Err(format!(
            "{}: its SHA-256 is {actual}, and sw-description gives {expected}: the bundle is damaged; refused",
            image.filename
        ));
    }
    Ok(member.data.to_vec())
}

/// A cpio newc archive of `files`, as `swugenerator` and `cpio -H newc` write it (for tests and
/// the demo).
pub fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let trailer: (&str, &[u8]) = ("TRAILER!!!", &[]);
    for (ino, (name, data)) in files.iter().chain([&trailer]).enumerate() {
        let fields = [
            ino + 1,
            0o100644,
            0,
            0,
            1,
            0,
            data.len(),
            0,
            0,
            0,
            0,
            name.len() + 1,
            0,
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.resize(out.len().next_multiple_of(4), 0);
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(image: &[u8], sha: &str) -> Vec<u8> {
        let desc = format!(
            "software =\n{{\n\tversion = \"2.0.0\";\n\t# a comment {{\n\timages: (\n\t\t{{\n\t\t\tfilename = \"app.bin\";\n\t\t\tsha256 = \"{sha}\";\n\t\t\tdevice = \"/dev/mtd1\";\n\t\t}}\n\t);\n}}\n"
        );
        archive(&[("sw-description", desc.as_bytes()), ("app.bin", image)])
    }

    #[test]
    fn a_one_image_bundle_unwraps_to_its_image() {
        let image = b"\xe9 the app".repeat(50);
        let b = bundle(&image, &to_hex(&sha256(&image)));
        assert_eq!(unwrap(&b).unwrap(), image);
    }

    #[test]
    fn a_wrong_sha256_or_a_cut_bundle_is_refused() {
        let image = vec![1u8; 300];
        let b = bundle(&image, &to_hex(&sha256(b"other")));
        assert!(unwrap(&b).unwrap_err().contains("damaged"));
        let good = bundle(&image, &to_hex(&sha256(&image)));
        let e = unwrap(&good[..good.len() - 200]).unwrap_err();
        assert!(e.contains("cut short") || e.contains("ends inside"), "{e}");
        assert!(unwrap(b"not an archive at all, just some bytes here that are long enough to hold a header of 110 bytes ......................").is_err());
    }

    #[test]
    fn json_descriptions_are_read_too() {
        let d = r#"{"software":{"version":"1","images":[{"filename":"a.bin","sha256":"AB"},{"filename":"b.bin"}]}}"#;
        assert_eq!(
            listed(d),
            vec![
                Listed {
                    filename: "a.bin".into(),
                    sha256: Some("ab".into())
                },
                Listed {
                    filename: "b.bin".into(),
                    sha256: None
                }
            ]
        );
    }
}
