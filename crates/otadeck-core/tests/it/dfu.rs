//! USB DFU 1.1 and DfuSe sessions against the simulated devices: downloads with erase, read back
//! and leave, detach with re-enumeration, uploads, and every error status in words.

use std::time::Duration;

use otadeck_core::driver::dfu::wire::{MemoryMap, State};
use otadeck_core::driver::dfu::{self, DfuConfig, DfuSession, Segment};
use otadeck_core::family::{self, Family, FlashOptions, Job, OpenOptions};
use otadeck_core::pump::{Port, Pump, Turn};
use otadeck_core::session::{FlashErrorKind, Machine, SessionEvent, Step};
use otadeck_sim::demo::dfu_sample_file;
use otadeck_sim::dfu::{stm32_image, DfuDevice, DfuFault, ST_APP_PRODUCT, ST_DFU_PRODUCT};
use otadeck_sim::firmware::SAMPLE_BODY_LEN;

fn sample_image() -> Vec<u8> {
    stm32_image(SAMPLE_BODY_LEN)
}
use otadeck_sim::harness::Run;
use otadeck_sim::usb_harness::{run_usb, UsbSimPort};

const FLASH: u32 = 0x0800_0000;
const LIMIT: Duration = Duration::from_secs(600);

fn flash(device: &mut DfuDevice, file: &[u8], options: FlashOptions) -> Run {
    let open = OpenOptions {
        usb: device.alts(),
        policy: otadeck_core::admission::Policy {
            allow_raw: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let job = Job::Flash {
        image: file.to_vec(),
        options,
    };
    let mut machine = family::open(Family::Dfu, job, open, Duration::ZERO).expect("opens");
    run_usb(&mut machine, device, LIMIT)
}

fn session(device: &mut DfuDevice, job: dfu::Job) -> Run {
    let mut m = DfuSession::start(Duration::ZERO, device.alts(), job, DfuConfig::default());
    run_usb(&mut m, device, LIMIT)
}

#[test]
fn the_stm32_memory_map_is_read_from_the_alt_setting_name() {
    let map = MemoryMap::parse("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,03*128Kg").unwrap();
    assert_eq!(map.name, "Internal Flash");
    let runs: Vec<(u32, u32, u32, bool)> = map
        .segments
        .iter()
        .map(|s| (s.start, s.end, s.page, s.writable))
        .collect();
    assert_eq!(
        runs,
        [
            (0x0800_0000, 0x0801_0000, 16 * 1024, true),
            (0x0801_0000, 0x0802_0000, 64 * 1024, true),
            (0x0802_0000, 0x0808_0000, 128 * 1024, true),
        ]
    );
    let option = MemoryMap::parse("@Option Bytes  /0x1FFFC000/01*016 a").unwrap();
    let s = option.segments[0];
    assert!(s.readable && !s.erasable && !s.writable);
    assert_eq!((s.start, s.page), (0x1FFF_C000, 16));
    // Two blocks of runs, as mboot lists internal and external flash in one name.
    let two = MemoryMap::parse("@Flash /0x08000000/4*16Kg/0x90000000/2*4Ka").unwrap();
    assert_eq!(two.segments.len(), 2);
    assert_eq!(two.segments[1].start, 0x9000_0000);
    assert_eq!(
        map.pages_for(0x0800_3000, 0x2000),
        Ok(vec![0x0800_0000, 0x0800_4000])
    );
    assert_eq!(map.pages_for(0x0807_FFFF, 2), Err(0x0808_0000));
    for bad in [
        "Internal Flash",
        "@Flash /zz/1*1Kg",
        "@Flash /0x0/1*1Kq",
        "@Flash /0x0/",
    ] {
        assert_eq!(MemoryMap::parse(bad), None, "{bad}");
    }
}

#[test]
fn a_dfuse_file_with_two_elements_is_erased_written_read_back_and_run() {
    let mut device = DfuDevice::stm32();
    let file = dfu_sample_file();
    let image = sample_image();
    let run = flash(&mut device, &file, FlashOptions::default());
    let outcome = run.outcome();
    assert!(outcome.restarted);
    assert_eq!(outcome.bytes, image.len() as u64 + 1024);
    assert_eq!(device.read(FLASH, image.len()), &image[..]);
    assert_eq!(device.read(0x0802_0000, 1024), &image[..1024]);
    // Erased around what was written, nothing more: the rest of the 128 KiB sector is blank.
    assert!(device.read(0x0802_0400, 1024).iter().all(|b| *b == 0xFF));
    // 98 KiB from 0x08000000 touch four 16 KiB pages and the 64 KiB one; the tail one more.
    assert!(run.logged("Erasing 6 pages."), "{:?}", run.logs());
    assert!(run.logged("The device came back running its application."));
    assert_eq!(device.product(), ST_APP_PRODUCT);
    let steps: Vec<Step> = run
        .events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Step(s) => Some(*s),
            _ => None,
        })
        .collect();
    assert_eq!(
        steps,
        [
            Step::Connect,
            Step::Identify,
            Step::Prepare,
            Step::Write,
            Step::Verify,
            Step::Restart,
            Step::Confirm
        ]
    );
    // The host waited each bwPollTimeout: 50 blocks of 5 ms programming and six erases.
    assert!(
        run.elapsed > Duration::from_millis(50 * 5),
        "{:?}",
        run.elapsed
    );
    let progress = run.progress();
    assert_eq!(progress.last(), Some(&(image.len() as u64 + 1024)));
}

#[test]
fn a_byte_stored_wrong_is_found_by_the_read_back() {
    let mut device = DfuDevice::stm32();
    device.fault = Some(DfuFault::CorruptAt(5000));
    let run = flash(&mut device, &dfu_sample_file(), FlashOptions::default());
    let e = run.error();
    assert_eq!(e.step, Step::Verify);
    assert_eq!(
        e.kind,
        FlashErrorKind::Mismatch(
            "the device holds other data than was written at byte 5000 (address 0x08001388)".into()
        )
    );
    assert!(e.module_now().contains("DFU loader"), "{}", e.module_now());
    // It did not leave DFU mode with a damaged application.
    assert!(device.in_loader());
}

#[test]
fn every_error_status_reaches_the_technician_in_words_and_the_next_session_clears_it() {
    let words = [
        (1, "errTARGET: the file is not for this device"),
        (3, "errWRITE: the device cannot write its memory"),
        (6, "errPROG: program memory function failed"),
        (7, "errVERIFY: flash verify failed"),
        (8, "errADDRESS: the address is outside the device's memory"),
        (
            0x0E,
            "errUNKNOWN: something went wrong, and the device cannot say what",
        ),
    ];
    for (status, text) in words {
        let mut device = DfuDevice::stm32();
        device.fault = Some(DfuFault::BlockFails { n: 3, status });
        let run = flash(&mut device, &dfu_sample_file(), FlashOptions::default());
        let e = run.error();
        assert_eq!(e.step, Step::Write);
        assert_eq!(e.offset, Some(4 * 2048), "{e}");
        assert!(
            e.to_string().contains(&format!(
                "the device reports {text} (while writing a block)"
            )),
            "{e}"
        );
        assert_eq!(device.state(), State::DfuError);
        device.fault = None;
        let again = flash(&mut device, &dfu_sample_file(), FlashOptions::default());
        again.outcome();
        assert!(again.logged(&format!("The device was in dfuERROR ({text}); cleared.")));
    }
    let mut device = DfuDevice::stm32();
    device.fault = Some(DfuFault::EraseFails(4));
    let e = flash(&mut device, &dfu_sample_file(), FlashOptions::default())
        .error()
        .clone();
    assert_eq!(e.step, Step::Prepare);
    assert!(e
        .to_string()
        .contains("errERASE: memory erase failed (while erasing a page)"));
    assert!(e.advice().contains("protected"), "{}", e.advice());
}

#[test]
fn an_image_outside_the_memory_map_is_refused_before_anything_is_erased() {
    let mut device = DfuDevice::stm32();
    let options = FlashOptions {
        offset: Some(0x0807_F000),
        ..FlashOptions::default()
    };
    let run = flash(&mut device, &sample_image(), options);
    let e = run.error();
    assert_eq!(
        e.kind,
        FlashErrorKind::Unsuitable(
            "address 0x08080000 is outside the device's writable memory (Internal Flash)".into()
        )
    );
    assert!(e.module_now().contains("nothing was written"));
    assert!(device.memory.iter().all(|b| *b == 0xFF));
}

#[test]
fn raw_data_goes_to_the_start_of_flash_when_no_address_is_given() {
    let mut device = DfuDevice::stm32();
    let image = sample_image();
    let options = FlashOptions {
        restart: false,
        ..FlashOptions::default()
    };
    let run = flash(&mut device, &image, options);
    assert!(!run.outcome().restarted);
    assert!(run.logged("No address given: writing at 0x08000000, the start of Internal Flash."));
    assert_eq!(device.read(FLASH, image.len()), &image[..]);
    assert!(device.in_loader());
    assert_eq!(device.product(), ST_DFU_PRODUCT);
}

#[test]
fn a_mass_erase_clears_what_the_file_does_not_cover() {
    let mut device = DfuDevice::stm32();
    let image = sample_image();
    // Something the file does not cover, further up the flash.
    let above = FLASH as usize + 0x40000;
    let base = FLASH as usize;
    device.memory[above - base..above - base + 4].copy_from_slice(b"old!");
    let options = FlashOptions {
        restart: false,
        erase_all: true,
        ..FlashOptions::default()
    };
    let run = flash(&mut device, &image, options);
    run.outcome();
    assert!(run.logged("Erasing the whole flash (mass erase)."));
    let page_erase = |l: &&str| l.starts_with("Erasing") && l.ends_with("pages.");
    assert!(!run.logs().iter().any(page_erase), "{:?}", run.logs());
    assert_eq!(device.read(FLASH, image.len()), &image[..]);
    assert_eq!(device.read(above as u32, 4), [0xFF; 4]);
}

#[test]
fn a_dfu_device_in_its_application_is_detached_found_again_flashed_and_reset() {
    let old = vec![0x11; 3000];
    let mut device = DfuDevice::dfu11(old, true, false);
    let image = sample_image();
    let run = flash(&mut device, &image, FlashOptions::default());
    let outcome = run.outcome();
    assert!(outcome.restarted);
    assert!(run.logged("The device runs its application: detaching it into DFU mode."));
    assert!(run.logged("The device came back in DFU mode."));
    assert!(run.logged("The device came back running its application."));
    assert_eq!(device.memory, image);
    // One reset after the detach (the device does not detach itself), one to run the image.
    assert_eq!(device.resets, 2);
    assert!(!device.in_loader());
    // It came back after its 1.5 s of re-enumeration, twice.
    assert!(run.elapsed > Duration::from_secs(3));
}

#[test]
fn a_device_that_is_not_manifestation_tolerant_is_reset_and_not_read_back() {
    let mut device = DfuDevice::dfu11(Vec::new(), false, true);
    let image = sample_image();
    let run = flash(&mut device, &image, FlashOptions::default());
    assert!(run.outcome().restarted);
    assert!(run.logged("stops answering after manifestation: what it wrote is not read back"));
    assert_eq!(device.memory, image);
    assert_eq!(device.resets, 1);
}

#[test]
fn a_dfu_11_device_catches_a_corrupt_byte_after_manifestation() {
    let mut device = DfuDevice::dfu11(Vec::new(), true, true);
    device.fault = Some(DfuFault::CorruptAt(70_000));
    let run = flash(&mut device, &sample_image(), FlashOptions::default());
    let e = run.error();
    assert_eq!(e.step, Step::Verify);
    assert_eq!(
        e.kind,
        FlashErrorKind::Mismatch(
            "the device holds other data than was written at byte 70000".into()
        )
    );
}

#[test]
fn a_device_that_never_comes_back_after_the_detach_is_named() {
    let mut device = DfuDevice::dfu11(vec![1; 10], true, false);
    device.fault = Some(DfuFault::NeverReturns);
    let run = flash(&mut device, &sample_image(), FlashOptions::default());
    let e = run.error();
    assert_eq!(
        e.kind,
        FlashErrorKind::NoResponse {
            waiting_for: "coming back in DFU mode after the detach"
        }
    );
    assert!(e.module_now().contains("nothing was written"));
}

#[test]
fn addressed_files_are_refused_by_a_plain_dfu_device() {
    let mut device = DfuDevice::dfu11(Vec::new(), true, true);
    let run = flash(&mut device, &dfu_sample_file(), FlashOptions::default());
    match &run.error().kind {
        FlashErrorKind::Unsuitable(text) => assert!(text.contains("only DfuSe devices")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_slot_is_read_back_as_a_backup() {
    let mut device = DfuDevice::stm32();
    let image = sample_image();
    device.load(0x0800_4000, &image);
    let run = session(
        &mut device,
        dfu::Job::Upload {
            address: Some(0x0800_4000),
            len: image.len() as u32,
        },
    );
    run.outcome();
    let read: Vec<(u32, &Vec<u8>)> = run
        .events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::ReadBack { offset, data } => Some((*offset, data)),
            _ => None,
        })
        .collect();
    assert_eq!(read, [(0x0800_4000, &image)]);
    // Left idle, so the next session starts at once.
    assert_eq!(device.state(), State::DfuIdle);
    // A read past the readable memory is refused with the map's name.
    let run = session(
        &mut device,
        dfu::Job::Upload {
            address: Some(0x0807_0000),
            len: 0x2_0000,
        },
    );
    assert!(
        matches!(&run.error().kind, FlashErrorKind::Unsuitable(t) if t.contains("readable memory (Internal Flash)"))
    );
    // A DFU 1.1 device gives its firmware, ending with a short block.
    let mut plain = DfuDevice::dfu11(image.clone(), true, true);
    let run = session(
        &mut plain,
        dfu::Job::Upload {
            address: None,
            len: 1 << 20,
        },
    );
    let data = run.events.iter().find_map(|e| match e {
        SessionEvent::ReadBack { data, .. } => Some(data.clone()),
        _ => None,
    });
    assert_eq!(data, Some(image));
    assert!(run.logged("The device ended the read at"));
}

#[test]
fn cancel_mid_write_leaves_the_device_idle_in_its_loader() {
    let mut device = DfuDevice::stm32();
    let segments = vec![Segment {
        address: Some(FLASH),
        data: sample_image(),
    }];
    let job = dfu::Job::Download {
        segments,
        verify: true,
        leave: true,
        mass_erase: false,
    };
    let mut m = DfuSession::start(Duration::ZERO, device.alts(), job, DfuConfig::default());
    let mut port = UsbSimPort::new(&mut device, Duration::ZERO, LIMIT);
    let mut pump = Pump::new();
    let mut events = Vec::new();
    let mut cancelled = false;
    let result = loop {
        if !cancelled && port.device.transfers > 60 {
            cancelled = true;
            m.cancel(port.now());
        }
        match pump.turn(&mut m, &mut port, &mut |e| events.push(e)) {
            Turn::Finished(r) => break r,
            Turn::Waited => {}
            Turn::Stopped => panic!("ran out of time"),
        }
    };
    let e = result.unwrap().unwrap_err();
    assert_eq!(e.kind, FlashErrorKind::Cancelled);
    assert_eq!(e.step, Step::Write);
    assert_eq!(device.state(), State::DfuIdle);
    assert!(device.in_loader());
}

#[test]
fn a_file_for_another_alt_setting_names_it() {
    let mut device = DfuDevice::stm32();
    let file = dfu::segments::make_dfuse(5, &[(FLASH, &[1, 2, 3])], 0x0483, 0xDF11);
    let run = flash(&mut device, &file, FlashOptions::default());
    assert_eq!(
        run.error().kind,
        FlashErrorKind::Unsuitable(
            "the device has no DFU alt setting 5, which the file is for".into()
        )
    );
}

#[test]
fn a_device_pulled_after_its_read_back_is_said_to_hold_the_new_application() {
    let mut device = DfuDevice::stm32();
    let open = OpenOptions {
        usb: device.alts(),
        ..Default::default()
    };
    let job = Job::Flash {
        image: dfu_sample_file(),
        options: FlashOptions::default(),
    };
    let mut clean = DfuDevice::stm32();
    let mut m = family::open(Family::Dfu, job.clone(), open.clone(), Duration::ZERO).unwrap();
    run_usb(&mut m, &mut clean, LIMIT).outcome();
    // Pulled at the last transfers: the leave request.
    let mut m = family::open(Family::Dfu, job, open, Duration::ZERO).unwrap();
    let mut port = UsbSimPort::new(&mut device, Duration::ZERO, LIMIT);
    port.fail_after = Some((
        clean.transfers - 1,
        otadeck_core::session::TransferError::Disconnected,
    ));
    let (_, result) = otadeck_sim::harness::turn_to_end(&mut m, &mut port, |_, _| {});
    let e = result.expect("finished").expect_err("the leave was cut");
    let text = e.to_string();
    assert!(
        text.contains("holds the new application, written and read back"),
        "{text}"
    );
    assert!(!text.contains("incomplete"), "{text}");
}
