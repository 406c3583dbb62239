//! What a DFU download writes where, from the file the technician chose: a DfuSe file's
//! elements at their addresses, a plain DFU file's payload without its suffix, or raw data.

use crate::image::{self, dfuse, Image};

/// Bytes to write at an address (DfuSe), or from the start (DFU 1.1: `address` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Where it goes; `None`: the device's first writable address (DfuSe) or its only image
    /// (DFU 1.1).
    pub address: Option<u32>,
    /// The bytes.
    pub data: Vec<u8>,
}

/// A file read for a DFU download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DfuFileParts {
    /// The segments, in the file's order.
    pub segments: Vec<Segment>,
    /// The alt setting a DfuSe file's target names.
    pub alt: Option<u8>,
}

/// Split `file` into segments; `offset` places raw data or a plain DFU payload (DfuSe only).
pub fn from_file(file: &[u8], offset: Option<u32>) -> Result<DfuFileParts, String> {
    match image::detect(file) {
        Image::DfuSe(f) => {
            let alts: Vec<u8> = f.targets.iter().map(|t| t.alt).collect();
            if alts.windows(2).any(|w| w[0] != w[1]) {
                return Err(format!(
                    "this DfuSe file has targets for alt settings {alts:?}; otadeck writes one \
                     alt setting per flash: split the file with the vendor's tool"
                ));
            }
            let mut segments = Vec::new();
            for t in &f.targets {
                for e in &t.elements {
                    let end = e.data_offset + e.size as usize;
                    let data = file
                        .get(e.data_offset..end)
                        .ok_or("a DfuSe element runs past the end of the file")?;
                    segments.push(Segment {
                        address: Some(e.address),
                        data: data.to_vec(),
                    });
                }
            }
            overlapping(&segments)?;
            Ok(DfuFileParts {
                segments,
                alt: alts.first().copied(),
            })
        }
        Image::Dfu(f) => Ok(DfuFileParts {
            segments: vec![Segment {
                address: offset,
                data: file[..f.payload_len].to_vec(),
            }],
            alt: None,
        }),
        _ => Ok(DfuFileParts {
            segments: vec![Segment {
                address: offset,
                data: file.to_vec(),
            }],
            alt: None,
        }),
    }
}

/// Elements that overlap would overwrite each other.
fn overlapping(segments: &[Segment]) -> Result<(), String> {
    let mut spans: Vec<(u64, u64)> = segments
        .iter()
        .map(|s| {
            let start = u64::from(s.address.unwrap_or(0));
            (start, start + s.data.len() as u64)
        })
        .collect();
    crate::order::sort(&mut spans);
    match spans.windows(2).find(|w| w[1].0 < w[0].1) {
        Some(w) => Err(format!(
            "two elements of this DfuSe file overlap at {:#010x}: it is damaged",
            w[1].0
        )),
        None => Ok(()),
    }
}

/// Make a DfuSe file (UM0391) of `elements` for alt setting `alt`, with the given USB ids.
/// Used by the simulator, the demo and tests; devices take files made by `dfuse-pack` the same.
pub fn make_dfuse(alt: u8, elements: &[(u32, &[u8])], vendor: u16, product: u16) -> Vec<u8> {
    let mut target = Vec::new();
    for (address, data) in elements {
        target.extend_from_slice(&address.to_le_bytes());
        target.extend_from_slice(&(data.len() as u32).to_le_bytes());
        target.extend_from_slice(data);
    }
    let mut out = b"DfuSe".to_vec();
    out.push(1);
    let image_size = dfuse::PREFIX_LEN + dfuse::TARGET_PREFIX_LEN + target.len();
    out.extend_from_slice(&(image_size as u32).to_le_bytes());
    out.push(1);
    out.extend_from_slice(b"Target");
    out.push(alt);
    out.extend_from_slice(&1u32.to_le_bytes());
    let mut name = [0u8; 255];
    name[..14].copy_from_slice(b"Internal Flash");
    out.extend_from_slice(&name);
    out.extend_from_slice(&(target.len() as u32).to_le_bytes());
    out.extend_from_slice(&(elements.len() as u32).to_le_bytes());
    out.extend_from_slice(&target);
    out.extend_from_slice(&0xFFFFu16.to_le_bytes());
    out.extend_from_slice(&product.to_le_bytes());
    out.extend_from_slice(&vendor.to_le_bytes());
    out.extend_from_slice(&0x011Au16.to_le_bytes());
    out.extend_from_slice(b"UFD");
    out.push(16);
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_JAMCRC).checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}
