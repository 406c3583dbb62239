//! Figures for `cargo xtask bench`: the payload rate of a USB DfuSe download against the
//! simulated STM32 system loader, whole sessions (descriptor and memory map read, page erase,
//! blocks of `wTransferSize` with their status polls, read back, leave), as a fraction of what
//! the simulated full-speed bus carries for the same bytes in control transfers alone.
//!
//! The bus and the device run on a virtual clock: each control transfer costs a frame for its
//! setup and status stages plus about 1 µs a byte, and the device waits its `bwPollTimeout`
//! and erase times; so the figures are the protocol's own efficiency on that model.

use std::time::Duration;

use otadeck_core::driver::dfu::{self, DfuConfig, DfuSession, Segment};
use otadeck_sim::dfu::{stm32_image, DfuDevice};
use otadeck_sim::usb_harness::{run_usb, transfer_time};

fn main() {
    let image = stm32_image(256 * 1024);
    let mut device = DfuDevice::stm32();
    let job = dfu::Job::Download {
        segments: vec![Segment {
            address: Some(0x0800_0000),
            data: image.clone(),
        }],
        verify: true,
        leave: false,
        mass_erase: false,
    };
    let mut s = DfuSession::start(Duration::ZERO, device.alts(), job, DfuConfig::default());
    let r = run_usb(&mut s, &mut device, Duration::from_secs(600));
    assert_eq!(r.outcome().bytes, image.len() as u64);
    assert_eq!(device.read(0x0800_0000, image.len()), image.as_slice());
    let secs = r.elapsed.as_secs_f64();
    let payload = image.len() as f64 / secs;
    // The bus alone: the image in 2048-byte DNLOADs and the same read back in UPLOADs.
    let block = |out: bool| otadeck_core::session::ControlTransfer {
        kind: otadeck_core::session::RequestKind::Class,
        request: 0,
        value: 0,
        index: 0,
        data: if out {
            otadeck_core::session::TransferData::Out(vec![0; 2048])
        } else {
            otadeck_core::session::TransferData::In(2048)
        },
    };
    let blocks = image.len().div_ceil(2048) as f64;
    let bus = (transfer_time(&block(true)) + transfer_time(&block(false))).as_secs_f64() * blocks;
    let kib = image.len() as f64 / 1024.0;
    let device_time =
        device.erase_time_per_kib.as_secs_f64() * kib + device.program_time.as_secs_f64() * blocks;
    let limit = bus + device_time;
    println!(
        "USB DfuSe download with read back, {} byte image, whole session: {:.1} kB/s, {:.2} of \
         the limit ({secs:.2} s against {limit:.2} s: bus {bus:.2} s, erase and program \
         {device_time:.2} s)",
        image.len(),
        payload / 1000.0,
        limit / secs,
    );
    otadeck_sim::bench::figure("dfuse_download_verify", limit / secs, "of_limit", None);
    otadeck_sim::bench::figure(
        "dfuse_download_verify_payload",
        payload / 1000.0,
        "kB/s",
        None,
    );
}
