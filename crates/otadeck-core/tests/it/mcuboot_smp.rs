//! The MCUmgr SMP driver against the simulated Zephyr / MCUboot module, through the simulated
//! line: full update and confirm, test without confirm, rollback, resume after a pulled cable,
//! a corrupted frame, a hung module, a power cut mid-upload, refused images, both error forms.
//! Each ends by resetting the module and checking which image MCUboot boots.

use std::time::Duration;

use otadeck_core::driver::mcuboot_smp::{Job, McuBootSmp, SmpConfig};
use otadeck_core::partition_state::SlotState;
use otadeck_core::session::{FlashErrorKind, LogLevel, SessionEvent, Step};
use otadeck_sim::firmware::demo_image;
use otadeck_sim::harness::{run, Hook, Run};
use otadeck_sim::line::{LineFault, SimLink};
use otadeck_sim::mcuboot::{demo_mcuboot_image, McuBoot, McuBootConfig, NextSwap};

type Link = SimLink<McuBoot>;

const LIMIT: Duration = Duration::from_secs(600);

fn old() -> Vec<u8> {
    demo_mcuboot_image((1, 0, 0), 20_000)
}

fn new_image() -> Vec<u8> {
    demo_mcuboot_image((2, 1, 0), 60_000)
}

fn module(config: McuBootConfig) -> Link {
    SimLink::new(McuBoot::new(config, old()), 115_200)
}

fn session(link: &mut Link, job: Job, hook: Option<Hook<'_, McuBootSmp, McuBoot>>) -> Run {
    session_with(link, job, SmpConfig::default(), hook)
}

fn session_with(
    link: &mut Link,
    job: Job,
    config: SmpConfig,
    hook: Option<Hook<'_, McuBootSmp, McuBoot>>,
) -> Run {
    let start = link.now();
    let mut m = McuBootSmp::start(start, job, config);
    let r = run(&mut m, link, start, LIMIT, hook);
    // Let the module finish what it was doing.
    link.advance(link.now() + Duration::from_secs(1));
    r
}

fn flash(accept: bool) -> Job {
    Job::Flash {
        image: new_image(),
        accept,
    }
}

/// Cut the power, let MCUboot boot, and say what runs.
fn reset_and_boot(link: &mut Link) -> String {
    let now = link.now();
    link.device.power_cycle(now);
    link.advance(now + Duration::from_secs(1));
    link.device
        .running_version()
        .unwrap_or_else(|| "nothing".into())
}

#[test]
fn full_update_is_confirmed_and_survives_resets() {
    let mut link = module(McuBootConfig::default());
    let r = session(&mut link, flash(true), None);
    let o = r.outcome();
    assert!(o.restarted);
    assert_eq!(o.bytes, new_image().len() as u64);
    assert_eq!(o.module.as_ref().unwrap().firmware_version, "2.1.0");
    let s = r
        .partitions()
        .cloned()
        .expect("the session reported the slots");
    assert_eq!(
        (s.running.as_str(), s.next_boot.as_str()),
        ("slot0", "slot0")
    );
    assert_eq!(s.slot("slot0").unwrap().state, Some(SlotState::Valid));
    assert_eq!(link.device.dropped_frames, 0, "every request fits buf_size");
    // Chunks fill the 384-byte buffer: about 60 000 / 300 requests for the data.
    assert!(
        link.device.requests < 60_000 / 280 + 12,
        "{}",
        link.device.requests
    );
    for _ in 0..2 {
        assert_eq!(reset_and_boot(&mut link), "2.1.0");
    }
    assert_eq!(
        link.device.slots.secondary,
        old(),
        "the old image waits in slot 1"
    );
}

#[test]
fn a_test_without_confirm_runs_once_then_reverts() {
    let mut link = module(McuBootConfig::default());
    let r = session(&mut link, flash(false), None);
    assert_eq!(
        r.outcome().module.as_ref().unwrap().firmware_version,
        "2.1.0"
    );
    let s = r
        .partitions()
        .cloned()
        .expect("the session reported the slots");
    assert!(s.awaits_decision());
    assert_eq!(s.next_boot, "slot1");
    assert_eq!(reset_and_boot(&mut link), "1.0.0");
    assert_eq!(reset_and_boot(&mut link), "1.0.0");
    let r = session(&mut link, Job::Inspect, None);
    let s = r
        .partitions()
        .cloned()
        .expect("the session reported the slots");
    assert_eq!(s.slot("slot0").unwrap().state, Some(SlotState::Valid));
    assert_eq!(
        s.slot("slot0").unwrap().build.as_ref().unwrap().version,
        "1.0.0"
    );
}

#[test]
fn confirm_later_and_rollback_by_testing_the_other_slot() {
    let mut link = module(McuBootConfig::default());
    session(&mut link, flash(false), None).outcome();
    let r = session(&mut link, Job::Confirm, None);
    assert!(!r
        .partitions()
        .cloned()
        .expect("the session reported the slots")
        .awaits_decision());
    // Back to 1.0.0: it is tested from slot 1, runs on trial, and a reset keeps 2.1.0 away
    // only once confirmed.
    let r = session(&mut link, Job::Test { hash: None }, None);
    r.outcome();
    assert_eq!(link.device.running_version().as_deref(), Some("1.0.0"));
    assert!(r
        .partitions()
        .cloned()
        .expect("the session reported the slots")
        .awaits_decision());
    assert_eq!(reset_and_boot(&mut link), "2.1.0");
    // On trial, a rollback is a reset.
    session(&mut link, flash(false), None).error();
    let mut link = module(McuBootConfig::default());
    session(&mut link, flash(false), None).outcome();
    let r = session(&mut link, Job::Test { hash: None }, None);
    assert!(r.logs().iter().any(|l| l.contains("a reset returns")));
    assert_eq!(link.device.running_version().as_deref(), Some("1.0.0"));
    assert_eq!(reset_and_boot(&mut link), "1.0.0");
}

fn resume_after_drop(percent: u64) {
    let mut link = module(McuBootConfig::default());
    let total = new_image().len() as u64;
    let mut armed = false;
    let mut hook = |_now: Duration, _m: &mut McuBootSmp, l: &mut Link| {
        let off = l.device.upload.as_ref().map_or(0, |u| u.off);
        if !armed && off * 100 >= total * percent {
            armed = true;
            let at = l.delivered() + 40;
            l.inject(LineFault::DropAfter(at));
        }
    };
    let r = session(&mut link, flash(true), Some(&mut hook));
    let e = r.error();
    assert_eq!(e.kind, FlashErrorKind::LinkLost);
    assert_eq!(e.step, Step::Write);
    let at = e.offset.unwrap();
    assert!(at * 100 >= total * percent.min(98), "{at}");
    assert!(e.module_state.contains("still runs its previous image"));
    let now = link.now();
    link.replug(now);
    let held = link.device.upload.as_ref().unwrap().off;
    let r = session(&mut link, flash(true), None);
    r.outcome();
    assert_eq!(
        r.progress()[0],
        held,
        "the upload resumed at the module's offset"
    );
    assert!(r.logs().iter().any(|l| l.contains("resuming")));
    assert_eq!(reset_and_boot(&mut link), "2.1.0");
}

#[test]
fn resume_after_a_pulled_cable_at_10_percent() {
    resume_after_drop(10);
}

#[test]
fn resume_after_a_pulled_cable_at_50_percent() {
    resume_after_drop(50);
}

#[test]
fn resume_after_a_pulled_cable_at_99_percent() {
    resume_after_drop(99);
}

#[test]
fn a_corrupted_frame_is_dropped_and_the_chunk_sent_again() {
    let mut link = module(McuBootConfig::default());
    link.inject(LineFault::Corrupt {
        index: 20_000,
        xor: 0x01,
    });
    let r = session(&mut link, flash(true), None);
    r.outcome();
    assert!(link.device.dropped_frames >= 1);
    assert!(r.logs().iter().any(|l| l.contains("sending again")));
    assert_eq!(reset_and_boot(&mut link), "2.1.0");
}

#[test]
fn a_module_that_stops_answering_is_reported_and_keeps_its_image() {
    let mut link = module(McuBootConfig::default());
    link.inject(LineFault::StallAfter(15_000));
    let r = session(&mut link, flash(true), None);
    let e = r.error();
    assert!(matches!(e.kind, FlashErrorKind::NoResponse { .. }));
    assert_eq!(e.step, Step::Write);
    assert!(e.offset.unwrap() > 0);
    let text = e.to_string();
    assert!(text.contains("stopped answering while uploading"), "{text}");
    // Three resends, 3 s each, after the first try.
    assert!(r.elapsed >= Duration::from_secs(12));
    let now = link.now();
    link.replug(now);
    assert_eq!(reset_and_boot(&mut link), "1.0.0");
}

#[test]
fn a_power_cut_mid_upload_boots_the_old_image_and_the_upload_resumes() {
    let mut link = module(McuBootConfig::default());
    let total = new_image().len() as u64;
    let mut cut = None;
    let mut armed = None;
    let mut hook = |now: Duration, _m: &mut McuBootSmp, l: &mut Link| {
        let off = l.device.upload.as_ref().map_or(0, |u| u.off);
        if armed.is_none() && off * 100 >= total * 40 {
            armed = Some(l.delivered());
        }
        // Cut in the middle of the next request's frame.
        if cut.is_none() && armed.is_some_and(|d| l.delivered() > d + 100) {
            l.device.power_cycle(now);
            l.advance(now + Duration::from_millis(400));
            cut = Some((off, l.device.running_version()));
        }
    };
    let r = session(&mut link, flash(true), Some(&mut hook));
    let (off, running) = cut.unwrap();
    assert_eq!(
        running.as_deref(),
        Some("1.0.0"),
        "slot 0 boots after the cut"
    );
    r.outcome();
    assert!(r.logs().iter().any(|l| l.contains("sending again")));
    let progress = r.progress();
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "never restarted");
    assert!(progress.contains(&off) || progress.iter().any(|p| *p > off));
    assert_eq!(reset_and_boot(&mut link), "2.1.0");
}

#[test]
fn a_flash_cell_that_stores_a_wrong_bit_fails_the_upload_and_nothing_is_marked() {
    let mut link = module(McuBootConfig {
        flash_fault: Some(30_000),
        ..McuBootConfig::default()
    });
    let r = session(&mut link, flash(true), None);
    let e = r.error();
    assert_eq!(e.step, Step::Write);
    assert!(matches!(e.kind, FlashErrorKind::Mismatch(_)));
    assert!(e.to_string().contains("differs from the file's"), "{e}");
    assert!(e.module_state.contains("not marked for boot"));
    assert_eq!(link.device.slots.next_swap(), NextSwap::None);
    assert_eq!(reset_and_boot(&mut link), "1.0.0");
    // Marked anyway (as a careless client would), MCUboot refuses the image and erases it.
    link.device.slots.set_pending(false);
    assert_eq!(reset_and_boot(&mut link), "1.0.0");
    assert!(link.device.slots.secondary.is_empty());
}

#[test]
fn a_module_that_never_comes_back_after_its_reset() {
    let mut link = module(McuBootConfig::default());
    let mut hook = |_now: Duration, _m: &mut McuBootSmp, l: &mut Link| {
        if l.device.slots.boots == 2 {
            l.device.slots.boots += 1;
            let at = l.delivered();
            l.inject(LineFault::StallAfter(at));
        }
    };
    let r = session(&mut link, flash(true), Some(&mut hook));
    let e = r.error();
    assert_eq!(e.step, Step::Confirm);
    assert_eq!(
        e.kind,
        FlashErrorKind::NoResponse {
            waiting_for: "starting after its reset"
        }
    );
    assert!(e
        .module_state
        .contains("a reset without a confirm returns it"));
    assert!(r.elapsed >= Duration::from_secs(60));
    let now = link.now();
    link.replug(now);
    // It booted the new image on trial; unconfirmed, the next reset returns to the old one.
    assert_eq!(link.device.running_version().as_deref(), Some("2.1.0"));
    assert_eq!(reset_and_boot(&mut link), "1.0.0");
}

#[test]
fn images_are_refused_before_anything_is_sent() {
    let mut bad_hash = new_image();
    bad_hash[0x400] ^= 0xff;
    for (image, words) in [
        (Vec::new(), "empty"),
        (demo_image("2.0.0", 4000), "not a valid MCUboot image"),
        (bad_hash, "damaged"),
    ] {
        let mut link = module(McuBootConfig::default());
        let r = session(
            &mut link,
            Job::Flash {
                image,
                accept: true,
            },
            None,
        );
        let e = r.error();
        assert_eq!(e.step, Step::Prepare);
        assert!(e.to_string().contains(words), "{e}");
        assert_eq!(link.delivered(), 0);
    }
    // Too large for the module's slot, said by slot info.
    let mut link = module(McuBootConfig {
        slot_size: 40_000,
        ..McuBootConfig::default()
    });
    let r = session(&mut link, flash(true), None);
    assert!(
        r.error().to_string().contains("takes 40000"),
        "{}",
        r.error()
    );
    assert!(link.device.upload.is_none());
    // A module without slot info (Zephyr before 3.7) refuses the first chunk itself.
    let mut link = module(McuBootConfig {
        slot_size: 40_000,
        slot_info: false,
        ..McuBootConfig::default()
    });
    let r = session(&mut link, flash(true), None);
    let e = r.error();
    assert_eq!((e.step, e.offset), (Step::Write, Some(0)), "{e}");
    assert!(
        e.to_string()
            .contains("refused the image as too large for its update slot"),
        "{e}"
    );
    assert!(r.logged("does not report its slot sizes"));
    assert!(link.device.upload.is_none());
    assert_eq!(reset_and_boot(&mut link), "1.0.0");
    // The image it already runs.
    let mut link = module(McuBootConfig::default());
    let r = session(
        &mut link,
        Job::Flash {
            image: old(),
            accept: true,
        },
        None,
    );
    assert!(r.error().to_string().contains("already runs this image"));
    assert_eq!(reset_and_boot(&mut link), "1.0.0");
}

#[test]
fn both_error_forms_name_the_code() {
    for (version, words) in [
        (0, "rc 5 (ENOENT)"),
        (1, "group 1 error 8 (IMG_MGMT_ERR_HASH_NOT_FOUND)"),
    ] {
        let mut link = module(McuBootConfig::default());
        let config = SmpConfig {
            version,
            ..SmpConfig::default()
        };
        let job = Job::Test {
            hash: Some(vec![9; 32]),
        };
        let r = session_with(&mut link, job, config, None);
        let text = r.error().to_string();
        assert!(text.contains(words), "{text}");
        assert!(text.contains("image test returned"), "{text}");
    }
}

#[test]
fn an_image_number_the_module_lacks_is_refused_by_it() {
    let mut link = module(McuBootConfig::default());
    let config = SmpConfig {
        image: Some(1),
        ..SmpConfig::default()
    };
    let r = session_with(&mut link, flash(true), config, None);
    let e = r.error();
    assert_eq!(e.step, Step::Write);
    assert!(e.to_string().contains("IMG_MGMT_ERR_INVALID_SLOT"), "{e}");
    assert_eq!(reset_and_boot(&mut link), "1.0.0");
    // Image 0 named explicitly is the default.
    let config = SmpConfig {
        image: Some(0),
        ..SmpConfig::default()
    };
    session_with(&mut link, flash(true), config, None).outcome();
    assert_eq!(reset_and_boot(&mut link), "2.1.0");
}

#[test]
fn chunks_follow_buf_size_and_a_default_without_params() {
    let requests = |config: McuBootConfig| {
        let mut link = module(config);
        let r = session(&mut link, flash(true), None);
        r.outcome();
        assert_eq!(link.device.dropped_frames, 0);
        (link.device.requests, r)
    };
    let (small, r) = requests(McuBootConfig {
        params: false,
        ..McuBootConfig::default()
    });
    assert!(r.logs().iter().any(|l| l.contains("no MCUmgr parameters")));
    let (large, _) = requests(McuBootConfig {
        buf_size: 2048,
        ..McuBootConfig::default()
    });
    assert!(large * 4 < small, "{large} vs {small}");
}

#[test]
fn echo_erase_and_console_noise() {
    let mut link = module(McuBootConfig::default());
    let r = session(&mut link, Job::Echo("hello".into()), None);
    r.outcome();
    assert!(r.logs().contains(&"echo: hello"));
    // After a reset the boot banner is on the console; the driver reads past it.
    let r = session(&mut link, Job::Reset, None);
    assert!(r.outcome().restarted);
    assert!(r.events.iter().any(|e| matches!(e,
        SessionEvent::Log { level: LogLevel::Debug, message } if message.contains("Booting Zephyr"))));
    // Erase refuses a pending slot 1, then works once it is not.
    session(&mut link, flash(false), None).outcome();
    let r = session(&mut link, Job::Erase { slot: 1 }, None);
    assert!(r.error().to_string().contains("EBADSTATE"), "{}", r.error());
    assert_eq!(reset_and_boot(&mut link), "1.0.0");
    let r = session(&mut link, Job::Erase { slot: 1 }, None);
    r.outcome();
    assert!(link.device.slots.secondary.is_empty());
    // MCUmgr no longer lists slot 1: it is shown empty, not left out.
    let slots = r
        .partitions()
        .cloned()
        .expect("the session reported the slots")
        .slots;
    let labels: Vec<&str> = slots.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels.len(), 2, "{labels:?}");
    assert!(
        slots[1].build.is_none() && slots[1].state.is_none(),
        "{slots:?}"
    );
    assert!(slots[0].build.is_some());
}

/// The request the machine sent last, decoded.
fn sent(m: &mut McuBootSmp) -> otadeck_core::link::smp::Packet {
    use otadeck_core::link::smp_frame::{Frame, FrameDecoder};
    use otadeck_core::session::Machine;
    let mut d = FrameDecoder::new();
    let mut last = None;
    while let Some(tx) = m.poll_transmit() {
        for f in d.push(&tx) {
            if let Frame::Packet(p) = f {
                last = Some(otadeck_core::link::smp::Packet::decode(&p).unwrap());
            }
        }
    }
    last.expect("a request was sent")
}

#[test]
fn answers_are_matched_by_sequence_number_and_mynewt_rc_0_is_success() {
    use otadeck_core::driver::mcuboot_smp::state::{images_body, ImageSlot};
    use otadeck_core::link::smp::{self, Value};
    use otadeck_core::link::smp_frame::encode;
    use otadeck_core::session::Machine;
    let t = Duration::from_millis(10);
    let mut m = McuBootSmp::start(Duration::ZERO, Job::Inspect, SmpConfig::default());
    let params = sent(&mut m);
    assert_eq!((params.header.group, params.header.id), (0, smp::ID_PARAMS));
    // mynewt answers with "rc": 0 beside the values.
    let reply = params.reply(Value::map([
        ("rc", Value::Int(0)),
        ("buf_size", Value::Int(1024)),
    ]));
    m.handle_input(t, &encode(&reply.encode()));
    let state = sent(&mut m);
    assert_eq!(state.header.seq, params.header.seq.wrapping_add(1));
    let body = images_body(&[ImageSlot {
        slot: 0,
        version: "7.0.0".into(),
        hash: vec![1; 32],
        bootable: true,
        confirmed: true,
        active: true,
        ..ImageSlot::default()
    }]);
    // A late answer to the earlier request (its sequence number) is ignored.
    let mut stale = state.reply(body.clone());
    stale.header.seq = params.header.seq;
    m.handle_input(t, &encode(&stale.encode()));
    assert!(!m.is_finished());
    m.handle_input(t, &encode(&state.reply(body).encode()));
    assert!(m.is_finished());
    let mut version = None;
    while let Some(e) = m.poll_event() {
        if let SessionEvent::Finished(r) = e {
            version = r.unwrap().module.map(|i| i.firmware_version);
        }
    }
    assert_eq!(version.as_deref(), Some("7.0.0"));
}

#[test]
fn the_registry_erases_the_update_slot_and_leaves_the_running_image() {
    let mut link = module(McuBootConfig::default());
    // An image uploaded and left unconfirmed in slot 1 is not pending: it may be erased.
    session(
        &mut link,
        Job::Flash {
            image: new_image(),
            accept: false,
        },
        None,
    )
    .outcome();
    reset_and_boot(&mut link);
    session(&mut link, Job::Confirm, None).outcome();
    let start = link.now();
    let mut m = otadeck_core::family::open(
        otadeck_core::family::Family::McuBoot,
        otadeck_core::family::Job::EraseUpdateSlot,
        otadeck_core::family::OpenOptions::default(),
        start,
    )
    .expect("opens");
    let r = run(&mut m, &mut link, start, LIMIT, None);
    r.outcome();
    let slots = r.partitions().expect("the slots are read after the erase");
    let update = slots
        .slots
        .iter()
        .find(|s| s.label != slots.running)
        .expect("two slots");
    assert!(update.build.is_none(), "{slots:?}");
    assert!(link.device.running_version().is_some());
}
