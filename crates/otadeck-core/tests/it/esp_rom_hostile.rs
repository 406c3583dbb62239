//! The ESP ROM loader session against a module whose partition table is damaged: offsets from it
//! that would run off the flash (or past 4 GiB) end the session with an error naming the
//! partition and its offset, never a panic. Includes the input the `esp_rom_host` fuzz target
//! crashed on.

use std::time::Duration;

use otadeck_core::driver::esp_rom::{EspRomConfig, EspRomSession, Job};
use otadeck_core::image::esp_partition::build_table;
use otadeck_core::session::{FlashErrorKind, Machine, SessionEvent, Step};
use otadeck_sim::esp_rom::EspRomSim;
use otadeck_sim::harness::run;
use otadeck_sim::line::SimLink;

/// The Info job against a simulated ROM whose table at 0x8000 is `entries`; gives the error.
fn info_with_table(entries: &[(u8, u8, u32, u32, &str)]) -> (Step, String) {
    let mut sim = EspRomSim::new();
    let table = build_table(entries);
    sim.flash[0x8000..0x8000 + table.len()].copy_from_slice(&table);
    let mut link = SimLink::new(sim, 115_200);
    let mut s = EspRomSession::start(Duration::ZERO, EspRomConfig::new(Job::Info));
    let r = run(
        &mut s,
        &mut link,
        Duration::ZERO,
        Duration::from_secs(600),
        None,
    );
    let e = r.error();
    match &e.kind {
        FlashErrorKind::Unsuitable(text) => (e.step, text.clone()),
        other => panic!("expected Unsuitable, got {other:?}"),
    }
}

#[test]
fn an_otadata_partition_at_the_top_of_the_address_space_is_refused() {
    let (step, text) = info_with_table(&[
        (1, 0, 0x9000, 0x4000, "nvs"),
        (1, 0, 0xFFFF_F000, 0x2000, "otadata"),
        (0, 0x10, 0x10000, 0x100000, "ota_0"),
    ]);
    assert_eq!(step, Step::Identify);
    assert!(text.contains("\"otadata\" at 0xfffff000"), "{text}");
    assert!(
        text.contains("runs past the end of the address space"),
        "{text}"
    );
}

#[test]
fn overlapping_partitions_and_a_reused_label_are_refused() {
    let (_, text) = info_with_table(&[
        (1, 0, 0xd000, 0x2000, "otadata"),
        (0, 0x10, 0x10000, 0x100000, "ota_0"),
        (0, 0x11, 0x100000, 0x100000, "ota_1"),
    ]);
    assert!(
        text.contains("partition \"ota_1\" overlaps partition \"ota_0\""),
        "{text}"
    );
    let (_, text) = info_with_table(&[
        (1, 0, 0xd000, 0x2000, "otadata"),
        (0, 0x10, 0x10000, 0x100000, "app"),
        (0, 0x11, 0x110000, 0x100000, "app"),
    ]);
    assert!(text.contains("label \"app\" is used twice"), "{text}");
}

#[test]
fn an_otadata_partition_shorter_than_two_sectors_is_refused() {
    let (_, text) = info_with_table(&[
        (1, 0, 0xd000, 0x1000, "otadata"),
        (0, 0x10, 0x10000, 0x100000, "ota_0"),
    ]);
    assert!(
        text.contains("otadata partition at 0xd000 has 0x1000 bytes"),
        "{text}"
    );
}

/// The crash the fuzz target found, replayed as the target reads it: a job byte, then reads of
/// `[control, len, bytes...]` (bit 0 of `control`: SLIP-wrap the bytes; bits 1..: 10 ms units).
#[test]
fn the_fuzzed_otadata_overflow_input_ends_in_an_error() {
    let data = include_bytes!("../fixtures/fuzz/esp_rom_host_otadata_overflow.bin");
    let (&pick, mut rest) = data.split_first().unwrap();
    // 32 picks the boot slot switch to ota_0, as in the target.
    assert_eq!((pick % 5, pick >> 7), (2, 0));
    let job = Job::SetBootSlot { slot: 0 };
    let mut s = EspRomSession::start(Duration::ZERO, EspRomConfig::new(job));
    let mut t = Duration::ZERO;
    let mut events = Vec::new();
    while let [control, len, tail @ ..] = rest {
        let (bytes, more) = tail.split_at(usize::from(*len).min(tail.len()));
        rest = more;
        t += Duration::from_millis(u64::from(control >> 1) * 10);
        while let Some(d) = s.poll_timeout().filter(|d| *d <= t) {
            s.handle_timeout(d);
            while s.poll_transmit().is_some() {}
        }
        while s.poll_transmit().is_some() {}
        if control & 1 == 1 {
            s.handle_input(t, &otadeck_core::link::slip::encode(bytes));
        } else {
            s.handle_input(t, bytes);
        }
        s.handle_timeout(t);
        events.extend(std::iter::from_fn(|| s.poll_event()));
    }
    let err = events.iter().find_map(|e| match e {
        SessionEvent::Finished(Err(e)) => Some(e.clone()),
        _ => None,
    });
    let err = err.expect("the session ends with an error");
    assert!(
        matches!(&err.kind, FlashErrorKind::Unsuitable(t) if t.contains("partition table")),
        "{err:?}"
    );
}
