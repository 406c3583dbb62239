//! The sessions of the loaders that write flash by address: the ESP serial ROM loader and USB
//! DFU, with the job mapped onto what each loader does.

use std::time::Duration;

use super::{other_ota_slot, Family, Job, OpenError, OpenOptions};
use crate::admission::Refusal;
use crate::driver::dfu::{self, DfuConfig, DfuSession};
use crate::driver::esp_rom::{self, EspRomConfig, EspRomSession, Region};

pub(super) fn open_esp_rom(
    job: Job,
    options: OpenOptions,
    now: Duration,
) -> Result<EspRomSession, OpenError> {
    let kind = job.kind();
    let (mut restart, mut update_slot, mut overwrite_running) = (false, false, false);
    let job = match job {
        Job::Identify => esp_rom::Job::Info,
        Job::Flash { image, options: o } => {
            restart = o.restart;
            overwrite_running = o.overwrite_running;
            // An app with no address given goes into the slot that does not boot now.
            update_slot = o.offset.is_none() && is_app(&image);
            let offset = o
                .offset
                .or(Family::EspRom.capabilities().app_offset)
                .unwrap_or_default();
            esp_rom::Job::Flash {
                regions: vec![Region {
                    offset,
                    data: image,
                }],
                compress: o.compress,
            }
        }
        Job::FlashParts { parts, options: o } => {
            restart = o.restart;
            // A whole install replaces the layout and what runs: the technician chose it.
            overwrite_running = true;
            esp_rom::Job::Flash {
                regions: parts,
                compress: o.compress,
            }
        }
        Job::Rollback => esp_rom::Job::SetBootSlot {
            slot: options
                .partitions
                .as_ref()
                .and_then(other_ota_slot)
                .ok_or(OpenError::NoOtherSlot)?,
        },
        Job::ReadBack { offset, len } => esp_rom::Job::ReadFlash { offset, len },
        Job::SetBootSlot { slot } => esp_rom::Job::SetBootSlot { slot },
        Job::Restart => esp_rom::Job::Restart,
        _ => return Err(OpenError::Unsupported(Family::EspRom, kind)),
    };
    let mut config = EspRomConfig::new(job);
    config.reset = options.reset;
    config.baud = options.baud;
    config.stub = options.stub;
    config.restart = restart;
    config.update_slot = update_slot;
    config.overwrite_running = overwrite_running;
    Ok(EspRomSession::start(now, config))
}

pub(super) fn open_dfu(
    job: Job,
    options: OpenOptions,
    now: Duration,
) -> Result<DfuSession, OpenError> {
    let kind = job.kind();
    let mut config = DfuConfig::default();
    let job = match job {
        Job::Identify => dfu::Job::Inspect,
        Job::Flash { image, options: o } => {
            let file = dfu::segments::from_file(&image, o.offset)
                .map_err(|e| OpenError::Refused(Refusal::Layout(e)))?;
            config.alt = file.alt;
            dfu::Job::Download {
                segments: file.segments,
                verify: !options.skip_verify,
                leave: o.restart,
                mass_erase: o.erase_all,
            }
        }
        Job::ReadBack { offset, len } => dfu::Job::Upload {
            address: Some(offset),
            len,
        },
        Job::Restart => dfu::Job::Leave,
        _ => return Err(OpenError::Unsupported(Family::Dfu, kind)),
    };
    Ok(DfuSession::start(now, options.usb, job, config))
}

/// Whether `image` is an ESP-IDF app (an image with an app descriptor).
pub(super) fn is_app(image: &[u8]) -> bool {
    matches!(crate::image::detect(image), crate::image::Image::EspApp(e) if e.app.is_some())
}
