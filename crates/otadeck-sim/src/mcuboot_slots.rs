//! MCUboot's primary and secondary slots with their image trailers, and what the bootloader does
//! with them at each boot (swap with revert): a secondary marked for test is swapped in and runs
//! unconfirmed; unless confirmed, the next boot swaps it back; a permanent request stays.

use otadeck_core::driver::mcuboot_smp::state::ImageSlot;
use otadeck_core::image::mcuboot;
use sha2::{Digest, Sha256};

/// `swap_info` swap types kept in a trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapType {
    /// Boot the secondary once, revert unless confirmed (2).
    Test,
    /// Boot the secondary for good (3).
    Perm,
}

/// The trailer at the end of a slot: magic, image_ok, copy_done, swap_info.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trailer {
    /// The 16-byte boot magic is written.
    pub magic: bool,
    /// `image_ok` = 0x01.
    pub image_ok: bool,
    /// `copy_done` = 0x01: this slot was swapped in.
    pub copy_done: bool,
    /// The swap requested.
    pub swap: Option<SwapType>,
}

/// The swap MCUboot would do at the next boot, as `boot_swap_type()` tells Zephyr's img_mgmt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextSwap {
    /// Nothing to do.
    None,
    /// Swap the secondary in on trial.
    Test,
    /// Swap the secondary in for good.
    Perm,
    /// The primary runs unconfirmed: swap the previous image back.
    Revert,
}

/// What happened at a boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootResult {
    /// The primary image was started.
    Booted { version: String },
    /// No valid image in the primary slot.
    NoImage,
}

/// Two slots of one image, as MCUboot keeps them.
#[derive(Debug, Clone)]
pub struct Slots {
    /// Bytes each slot holds (image and trailer).
    pub slot_size: usize,
    /// Primary slot contents (the image bytes written; unwritten flash not stored).
    pub primary: Vec<u8>,
    /// Secondary slot contents.
    pub secondary: Vec<u8>,
    /// Primary trailer.
    pub primary_trailer: Trailer,
    /// Secondary trailer.
    pub secondary_trailer: Trailer,
    /// Boots so far.
    pub boots: u32,
    /// The image the module runs (its hash TLV), if one booted.
    pub running: Option<Vec<u8>>,
}

/// The hash TLV of a valid image, or `None`.
pub fn image_hash(data: &[u8]) -> Option<Vec<u8>> {
    let img = mcuboot::parse(data).ok()?;
    img.check().ok()?;
    img.hash.map(|h| h.stored)
}

fn version_of(data: &[u8]) -> String {
    match mcuboot::parse(data) {
        Ok(i) => {
            let v = i.header.version;
            if v.build == 0 {
                format!("{}.{}.{}", v.major, v.minor, v.revision)
            } else {
                format!("{}.{}.{}.{}", v.major, v.minor, v.revision, v.build)
            }
        }
        Err(_) => String::new(),
    }
}

impl Slots {
    /// Slots of `slot_size` bytes with `running` confirmed in the primary; booted.
    pub fn new(slot_size: usize, running: Vec<u8>) -> Self {
        let mut s = Slots {
            slot_size,
            primary: running,
            secondary: Vec::new(),
            primary_trailer: Trailer::default(),
            secondary_trailer: Trailer::default(),
            boots: 0,
            running: None,
        };
        s.boot();
        s
    }

    /// The swap the next boot does.
    pub fn next_swap(&self) -> NextSwap {
        let t = self.secondary_trailer;
        match (t.magic, t.swap) {
            (true, Some(SwapType::Test)) => return NextSwap::Test,
            (true, Some(SwapType::Perm)) => return NextSwap::Perm,
            _ => {}
        }
        let p = self.primary_trailer;
        if p.magic && p.copy_done && !p.image_ok {
            NextSwap::Revert
        } else {
            NextSwap::None
        }
    }

    /// Run the bootloader: do the swap the trailers ask for, then start the primary image.
    pub fn boot(&mut self) -> BootResult {
        self.boots += 1;
        match self.next_swap() {
            NextSwap::Test | NextSwap::Perm if image_hash(&self.secondary).is_none() => {
                // MCUboot erases an upgrade image that fails validation.
                self.secondary.clear();
                self.secondary_trailer = Trailer::default();
            }
            swap @ (NextSwap::Test | NextSwap::Perm) => {
                std::mem::swap(&mut self.primary, &mut self.secondary);
                self.primary_trailer = Trailer {
                    magic: true,
                    image_ok: swap == NextSwap::Perm,
                    copy_done: true,
                    swap: None,
                };
                self.secondary_trailer = Trailer::default();
            }
            NextSwap::Revert => {
                std::mem::swap(&mut self.primary, &mut self.secondary);
                self.primary_trailer = Trailer {
                    magic: true,
                    image_ok: true,
                    copy_done: false,
                    swap: None,
                };
                self.secondary_trailer = Trailer::default();
            }
            NextSwap::None => {}
        }
        self.running = image_hash(&self.primary);
        match &self.running {
            Some(_) => BootResult::Booted {
                version: version_of(&self.primary),
            },
            None => BootResult::NoImage,
        }
    }

    /// The version of the running image.
    pub fn running_version(&self) -> Option<String> {
        self.running.as_ref().map(|_| version_of(&self.primary))
    }

    /// The hash TLV of the image in a slot, when valid.
    pub fn hash(&self, slot: u32) -> Option<Vec<u8>> {
        image_hash(if slot == 0 {
            &self.primary
        } else {
            &self.secondary
        })
    }

    /// Mark the secondary for the next boot (test, or for good).
    pub fn set_pending(&mut self, permanent: bool) {
        self.secondary_trailer = Trailer {
            magic: true,
            image_ok: permanent,
            copy_done: false,
            swap: Some(if permanent {
                SwapType::Perm
            } else {
                SwapType::Test
            }),
        };
    }

    /// Confirm the running image (`image_ok` = 1 in the primary trailer).
    pub fn confirm(&mut self) {
        self.primary_trailer.magic = true;
        self.primary_trailer.image_ok = true;
    }

    /// Erase the secondary slot, trailer included.
    pub fn erase_secondary(&mut self) {
        self.secondary.clear();
        self.secondary_trailer = Trailer::default();
    }

    /// The slots as MCUmgr reports them (Zephyr's `img_mgmt_state_flags`).
    pub fn image_state(&self) -> Vec<ImageSlot> {
        let swap = self.next_swap();
        let mut out = Vec::new();
        for (slot, data) in [(0u32, &self.primary), (1, &self.secondary)] {
            let Ok(img) = mcuboot::parse(data) else {
                continue;
            };
            let mut s = ImageSlot {
                image: 0,
                slot,
                version: version_of(data),
                hash: img.hash.map(|h| h.stored).unwrap_or_default(),
                bootable: img.header.flags & 0x10 == 0,
                ..ImageSlot::default()
            };
            if slot == 0 {
                s.active = self.running.is_some();
                s.confirmed = swap != NextSwap::Revert;
            } else {
                s.pending = matches!(swap, NextSwap::Test | NextSwap::Perm);
                s.permanent = swap == NextSwap::Perm;
                s.confirmed = swap == NextSwap::Revert;
            }
            out.push(s);
        }
        out
    }
}

/// An unsigned MCUboot image as `imgtool sign` without a key makes it: 0x200-byte header,
/// `body_len` bytes of body, a TLV area with the SHA-256 TLV.
pub fn demo_mcuboot_image(version: (u8, u8, u16), body_len: usize) -> Vec<u8> {
    let hdr_size = 0x200usize;
    let mut out = vec![0u8; hdr_size];
    out[0..4].copy_from_slice(&mcuboot::IMAGE_MAGIC.to_le_bytes());
    out[8..10].copy_from_slice(&(hdr_size as u16).to_le_bytes());
    out[12..16].copy_from_slice(&(body_len as u32).to_le_bytes());
    out[20] = version.0;
    out[21] = version.1;
    out[22..24].copy_from_slice(&version.2.to_le_bytes());
    let seed = u32::from(version.0) << 24 | u32::from(version.1) << 16 | u32::from(version.2);
    out.extend((0..body_len as u32).map(|i| (i.wrapping_mul(2_654_435_761) ^ seed) as u8 >> 1));
    let hash = Sha256::digest(&out);
    out.extend_from_slice(&mcuboot::TLV_INFO_MAGIC.to_le_bytes());
    out.extend_from_slice(&(4u16 + 4 + 32).to_le_bytes());
    out.extend_from_slice(&mcuboot::tlv::SHA256.to_le_bytes());
    out.extend_from_slice(&32u16.to_le_bytes());
    out.extend_from_slice(&hash);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_boot_reverts_without_confirm_and_stays_with_it() {
        let v1 = demo_mcuboot_image((1, 0, 0), 3000);
        let v2 = demo_mcuboot_image((2, 0, 0), 4000);
        let mut s = Slots::new(64 * 1024, v1.clone());
        assert_eq!(s.running_version().as_deref(), Some("1.0.0"));
        s.secondary = v2.clone();
        s.set_pending(false);
        let st = s.image_state();
        assert!(st[0].active && st[0].confirmed && st[1].pending && !st[1].permanent);
        s.boot();
        assert_eq!(s.running_version().as_deref(), Some("2.0.0"));
        let st = s.image_state();
        assert!(st[0].active && !st[0].confirmed && st[1].confirmed);
        s.boot();
        assert_eq!(s.running_version().as_deref(), Some("1.0.0"));
        assert_eq!(s.next_swap(), NextSwap::None);
        // Test again and confirm this time.
        s.set_pending(false);
        s.boot();
        s.confirm();
        s.boot();
        assert_eq!(s.running_version().as_deref(), Some("2.0.0"));
        assert_eq!(s.secondary, v1);
        let st = s.image_state();
        assert!(st[0].confirmed && !st[1].confirmed && !st[1].pending);
    }

    #[test]
    fn a_damaged_upgrade_is_erased_and_the_old_image_boots() {
        let mut s = Slots::new(64 * 1024, demo_mcuboot_image((1, 0, 0), 3000));
        let mut bad = demo_mcuboot_image((2, 0, 0), 3000);
        bad[0x300] ^= 1;
        s.secondary = bad;
        s.set_pending(true);
        assert_eq!(
            s.boot(),
            BootResult::Booted {
                version: "1.0.0".into()
            }
        );
        assert!(s.secondary.is_empty());
    }
}
