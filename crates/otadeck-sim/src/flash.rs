//! The simulated QuecPython module's flash: two slots, the running one and the update target,
//! holding full FOTA packages ([`crate::fota_package`]).

use crate::fota_package;

/// An image being received into the inactive slot.
#[derive(Debug, Clone, Default)]
pub struct Staging {
    /// Bytes written so far.
    pub data: Vec<u8>,
    /// The total size the host declared, once it did.
    pub declared_total: Option<u64>,
    /// `verify` passed: the next boot switches to this image.
    pub verified: bool,
}

/// Two slots, one running; updates go to the other and take effect only through a verified
/// staging and a boot.
#[derive(Debug, Clone)]
pub struct DualSlotFlash {
    slot_size: usize,
    slots: [Vec<u8>; 2],
    running: usize,
    /// The update in progress, if any.
    pub staging: Option<Staging>,
    /// Boots done.
    pub boots: u32,
}

/// Whether `fota.verify()` passes on `package`: a whole package whose body hash checks. Anything
/// else (an ESP-IDF app, an MCUboot image, a package cut short) fails, as on a real module.
pub fn package_is_intact(package: &[u8]) -> bool {
    fota_package::parse(package).is_some()
}

/// The version a slot's package installs, or a description of the bytes.
pub fn package_version(package: &[u8]) -> String {
    match fota_package::parse(package) {
        Some(p) if !p.version.is_empty() => p.version,
        _ => format!("unversioned package of {} bytes", package.len()),
    }
}

impl DualSlotFlash {
    /// Flash whose slot 0 holds the package `firmware` and runs it.
    pub fn new(slot_size: usize, firmware: Vec<u8>) -> Self {
        DualSlotFlash {
            slot_size,
            slots: [firmware, Vec::new()],
            running: 0,
            staging: None,
            boots: 0,
        }
    }

    /// The running slot's index.
    pub fn running_slot(&self) -> usize {
        self.running
    }

    /// The running image.
    pub fn running_image(&self) -> &[u8] {
        &self.slots[self.running]
    }

    /// The version of the running package.
    pub fn running_version(&self) -> String {
        package_version(self.running_image())
    }

    /// Append to the staged image. Returns 0, or -1 when there is no update in progress, the
    /// declared total changed, exceeds the slot, or would be overrun.
    pub fn write(&mut self, data: &[u8], total: i64) -> i64 {
        let slot_size = self.slot_size as i64;
        let Some(st) = self.staging.as_mut() else {
            return -1;
        };
        if total <= 0 || total > slot_size {
            return -1;
        }
        if st.declared_total.is_some_and(|t| t != total as u64) {
            return -1;
        }
        if st.data.len() as i64 + data.len() as i64 > total {
            return -1;
        }
        st.declared_total = Some(total as u64);
        st.verified = false;
        st.data.extend_from_slice(data);
        0
    }

    /// Check the staged image: complete and intact. Returns 0 or -1.
    pub fn verify(&mut self) -> i64 {
        let Some(st) = self.staging.as_mut() else {
            return -1;
        };
        let complete = st.declared_total == Some(st.data.len() as u64);
        st.verified = complete && package_is_intact(&st.data);
        if st.verified {
            0
        } else {
            -1
        }
    }

    /// Boot: a verified staged image moves to the inactive slot and runs; anything else staged
    /// is dropped and the running slot keeps running.
    pub fn boot(&mut self) {
        self.boots += 1;
        if let Some(st) = self.staging.take() {
            if st.verified {
                let target = 1 - self.running;
                self.slots[target] = st.data;
                self.running = target;
            }
        }
    }
}
