//! An ESP32 install of several regions cut short and started again: the regions the flash
//! already holds (their MD5 asked of the chip first) are not written again.

use std::time::Duration;

use otadeck_core::driver::esp_rom::packet::op;
use otadeck_core::driver::esp_rom::{EspRomConfig, EspRomSession, Job, Region};
use otadeck_core::session::{FlashErrorKind, Step};
use otadeck_sim::esp_rom::EspRomSim;
use otadeck_sim::firmware::demo_image;
use otadeck_sim::harness::run;
use otadeck_sim::line::{LineFault, SimLink};

const LIMIT: Duration = Duration::from_secs(600);

fn count(l: &SimLink<EspRomSim>, opc: u8) -> usize {
    l.device.ops.iter().filter(|o| **o == opc).count()
}

/// A whole install (bootloader, partition table, app) as an ESP Web Tools manifest places it.
fn install_job() -> (EspRomSession, Vec<Region>) {
    let regions = vec![
        Region {
            offset: 0x1000,
            data: otadeck_sim::sources::bootloader_image(),
        },
        Region {
            offset: 0x8000,
            data: otadeck_sim::sources::partition_table(),
        },
        Region {
            offset: 0x10000,
            data: demo_image("2.1.0", 96 * 1024),
        },
    ];
    let job = Job::Flash {
        regions: regions.clone(),
        compress: true,
    };
    let mut cfg = EspRomConfig::new(job);
    cfg.overwrite_running = true;
    (EspRomSession::start(Duration::ZERO, cfg), regions)
}

#[test]
fn an_install_cut_short_goes_on_from_the_first_region_not_verified() {
    let mut l = SimLink::new(EspRomSim::new(), 115_200);
    // The cable is pulled while the app (the third region) is written.
    let (mut first, regions) = install_job();
    let before_app: usize = regions[..2].iter().map(|r| r.data.len()).sum();
    l.inject(LineFault::DropAfter((before_app + 20_000) as u64));
    let r = run(&mut first, &mut l, Duration::ZERO, LIMIT, None);
    assert_eq!(r.error().kind, FlashErrorKind::LinkLost);
    assert_eq!(r.error().step, Step::Write);
    // Plugged back in, the same install again: the bootloader and the table are found in
    // place by their MD5 and not written again; the app is written from its start.
    l.replug(Duration::from_secs(60));
    let writes_before = count(&l, op::FLASH_DEFL_BEGIN);
    let (mut again, _) = install_job();
    let r = run(&mut again, &mut l, Duration::from_secs(60), LIMIT, None);
    r.outcome();
    assert!(
        r.logged("0x1000: the flash already holds these"),
        "{:?}",
        r.logs()
    );
    assert!(r.logged("0x8000: the flash already holds these"));
    assert!(!r.logged("0x10000: the flash already holds these"));
    assert_eq!(
        count(&l, op::FLASH_DEFL_BEGIN) - writes_before,
        1,
        "only the app was written"
    );
    for region in &regions {
        let at = region.offset as usize;
        assert_eq!(
            &l.device.flash[at..at + region.data.len()],
            &region.data[..]
        );
    }
    // Progress still counts every byte of the install.
    let total: u64 = regions.iter().map(|r| r.data.len() as u64).sum();
    assert_eq!(r.progress().last(), Some(&total));
}
