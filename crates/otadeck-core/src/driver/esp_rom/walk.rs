//! Whether each app slot holds a whole image, from a few small reads: the segment headers are
//! followed from the image header to the image's end, and the bytes that end it (the checksum and
//! the appended SHA-256) must have been written. A write erases its whole region first and fills
//! it in order, so an interrupted one leaves a segment header or the image's end erased (0xFF).

use super::*;

/// The state of a walk through one slot's image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Walk {
    /// Index of the slot among the app partitions.
    pub slot: usize,
    /// Where the partition starts and ends.
    start: u32,
    end: u32,
    /// Where the next segment header is.
    next: u32,
    /// Segment headers still to read.
    left: u8,
    /// Whether a SHA-256 follows the checksum.
    hash: bool,
}

/// Bytes of a segment header: load address, length.
const SEGMENT_HEADER: u32 = 8;

impl EspRomSession {
    /// Walk the images of the app slots from slot `i` on; then go on with the job.
    pub(super) fn walk_slots(&mut self, mut i: usize) {
        let apps = self.app_partitions();
        while let Some((label, start, size)) = apps.get(i).cloned() {
            let head = self.heads.iter().find(|(l, _)| *l == label);
            let head = head.map(|(_, h)| h.clone()).unwrap_or_default();
            if slots::descriptor(&head).is_some() {
                match first_step(i, start, start.saturating_add(size), &head) {
                    Ok(walk) => return self.walk_on(walk),
                    Err(problem) => self.problems.push((label, problem)),
                }
            }
            i += 1;
        }
        self.after_slots();
    }

    /// Read the next segment header, or the image's end once they are all known.
    fn walk_on(&mut self, walk: Walk) {
        self.walk = Some(walk);
        if walk.left > 0 {
            self.start_read(ReadWhat::Segment, walk.next, SEGMENT_HEADER as usize);
        } else {
            let end = image_end(walk);
            let tail = if walk.hash { 32 } else { 16 };
            self.start_read(ReadWhat::ImageEnd, end - tail, tail as usize);
        }
    }

    /// A segment header or the image's end, read.
    pub(super) fn on_walk_read(&mut self, what: ReadWhat, data: &[u8]) {
        let Some(mut walk) = self.walk.take() else {
            return;
        };
        let label = self.app_partitions()[walk.slot].0.clone();
        let verdict = match what {
            ReadWhat::Segment => {
                let len = u32::from_le_bytes([data[4], data[5], data[6], data[7]]);
                walk.next = walk.next.saturating_add(SEGMENT_HEADER).saturating_add(len);
                walk.left -= 1;
                if data.iter().all(|b| *b == 0xFF) {
                    Err(format!(
                        "the image is cut short: segment header {} is erased flash",
                        self.segment_index(walk)
                    ))
                } else if image_end(walk) > walk.end {
                    Err("a segment runs past the end of the partition".to_string())
                } else {
                    return self.walk_on(walk);
                }
            }
            _ if data.iter().all(|b| *b == 0xFF) => {
                Err("the image is cut short: its checksum and hash were never written".to_string())
            }
            _ => {
                let len = image_end(walk) - walk.start;
                self.image_lens.push((label.clone(), len));
                Ok(())
            }
        };
        if let Err(problem) = verdict {
            self.problems.push((label, problem));
        }
        self.walk_slots(walk.slot + 1);
    }

    fn segment_index(&self, walk: Walk) -> u8 {
        let count = self
            .heads
            .iter()
            .find(|(l, _)| *l == self.app_partitions()[walk.slot].0)
            .map_or(0, |(_, h)| h[1]);
        count - walk.left - 1
    }

    /// The app partitions in table order: label, offset, size.
    pub(super) fn app_partitions(&self) -> Vec<(String, u32, u32)> {
        self.table
            .as_ref()
            .map(|t| {
                t.partitions
                    .iter()
                    .filter(|p| p.kind == 0)
                    .map(|p| (p.label.clone(), p.offset, p.size))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The walk after the image header and the first segment header (both in `head`).
fn first_step(slot: usize, start: u32, end: u32, head: &[u8]) -> Result<Walk, String> {
    let count = head[1];
    if count == 0 || usize::from(count) > 16 {
        return Err(format!("the image header counts {count} segments"));
    }
    let first_len = u32::from_le_bytes([head[28], head[29], head[30], head[31]]);
    let walk = Walk {
        slot,
        start,
        end,
        next: (start + esp::HEADER_LEN as u32 + SEGMENT_HEADER).saturating_add(first_len),
        left: count - 1,
        hash: head[23] == 1,
    };
    if image_end(walk) > end {
        return Err("its first segment runs past the end of the partition".into());
    }
    Ok(walk)
}

/// Where the image ends: the checksum byte pads the image to 16 bytes, the hash follows.
fn image_end(walk: Walk) -> u32 {
    let len = walk.next.saturating_sub(walk.start) + 1;
    let padded = len.div_ceil(16).saturating_mul(16);
    walk.start
        .saturating_add(padded)
        .saturating_add(if walk.hash { 32 } else { 0 })
}
