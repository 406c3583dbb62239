//! Installing from a source, end to end in the core: a document read and offered to a module,
//! its downloads checked, the images cross-checked and turned into jobs, and the jobs run on the
//! simulated module.

use std::time::Duration;

use otadeck_core::digest::{sha256, to_hex, Algorithm, ExpectedDigest, MultiDigest};
use otadeck_core::family::{self, Family, Job, OpenOptions};
use otadeck_core::manifest::detect::DocumentKind;
use otadeck_core::source::download::{Download, DownloadError};
use otadeck_core::source::install::{prepare, PrepareError};
use otadeck_core::source::{self, offer, swu, ModuleFacts, Offer, Proposal, Reporting, Target};
use otadeck_sim::esp_rom::{select_entry, EspRomSim};
use otadeck_sim::firmware::{demo_image, SAMPLE_VERSION};
use otadeck_sim::harness::run;
use otadeck_sim::line::SimLink;
use otadeck_sim::sources::{demo_files, ESP_WEB_TOOLS_MANIFEST};
use serde_json::json;

const BASE: &str = "http://127.0.0.1:8080/demo/";

fn esp32(running: &str) -> ModuleFacts {
    ModuleFacts {
        family: Some(Family::EspRom),
        model: Some("ESP32".into()),
        running_version: Some(running.into()),
        running_secure_version: Some(0),
    }
}

fn file(name: &str) -> Vec<u8> {
    demo_files()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, d)| d)
        .unwrap_or_else(|| panic!("no demo file {name}"))
}

fn install_offer(bytes: &[u8], url: Option<&str>, facts: &ModuleFacts) -> Offer {
    let loaded = source::read(bytes, url).unwrap();
    match offer(&loaded, facts).unwrap() {
        Proposal::Install(o) => *o,
        other => panic!("expected an install, got {other:?}"),
    }
}

/// Each item's bytes fetched "over the network" in 1000-byte chunks through its check.
fn download_all(offer: &Offer, fetch: impl Fn(&str) -> Vec<u8>) -> Vec<Vec<u8>> {
    offer
        .items
        .iter()
        .map(|item| {
            let mut d = Download::new(item);
            for c in fetch(&item.url).chunks(1000) {
                d.feed(c).unwrap();
            }
            d.finish().unwrap().data
        })
        .collect()
}

fn from_demo(url: &str) -> Vec<u8> {
    file(url.strip_prefix(BASE).expect("a demo URL"))
}

#[test]
fn an_esp_web_tools_manifest_installs_all_three_parts_in_one_session() {
    let manifest = file(ESP_WEB_TOOLS_MANIFEST);
    let url = format!("{BASE}{ESP_WEB_TOOLS_MANIFEST}");
    let facts = esp32("2.0.3");
    let offer = install_offer(&manifest, Some(&url), &facts);
    assert_eq!(offer.kind, DocumentKind::EspWebTools);
    assert_eq!(offer.version.as_deref(), Some(SAMPLE_VERSION));
    assert!(offer.whole_flash && offer.offers_erase);
    let places: Vec<(&str, &Target)> = offer
        .items
        .iter()
        .map(|i| (i.url.as_str(), &i.target))
        .collect();
    assert_eq!(
        places,
        [
            (
                "http://127.0.0.1:8080/demo/bootloader.bin",
                &Target::Region { offset: 0x1000 }
            ),
            (
                "http://127.0.0.1:8080/demo/partitions.bin",
                &Target::Region { offset: 0x8000 }
            ),
            (
                "http://127.0.0.1:8080/demo/app-2.1.0.bin",
                &Target::Region { offset: 0x10000 }
            ),
        ]
    );
    let images = download_all(&offer, from_demo);
    let install = prepare(&offer, images.clone(), &facts, None).unwrap();
    let [Job::FlashParts { parts, .. }] = install.jobs.as_slice() else {
        panic!("{:?}", install.jobs.len())
    };
    // The three parts, then otadata blanked so the chip boots the first app partition.
    let offsets: Vec<u32> = parts.iter().map(|p| p.offset).collect();
    assert_eq!(offsets, [0x1000, 0x8000, 0x10000, 0xd000]);
    assert!(install
        .checks
        .iter()
        .any(|c| c.contains("otadata at 0xd000 is blanked")));

    // The chip boots ota_1 now: after the install it must boot the new app in ota_0.
    let mut sim = EspRomSim::new();
    sim.flash[0xd000..0xd020].copy_from_slice(&[0xFF; 32]);
    sim.flash[0xe000..0xe020].copy_from_slice(&select_entry(2, 2));
    assert_eq!(sim.boot_choice().as_deref(), Some("ota_1"));
    let mut link = SimLink::new(sim, 115_200);
    let job = install.jobs.into_iter().next().unwrap();
    let mut machine =
        family::open(Family::EspRom, job, OpenOptions::default(), Duration::ZERO).unwrap();
    let r = run(
        &mut machine,
        &mut link,
        Duration::ZERO,
        Duration::from_secs(600),
        None,
    );
    let total: usize = images.iter().map(Vec::len).sum::<usize>() + 0x2000;
    assert_eq!(r.outcome().bytes, total as u64);
    for (offset, data) in [
        (0x1000usize, &images[0]),
        (0x8000, &images[1]),
        (0x10000, &images[2]),
    ] {
        assert!(
            &link.device.flash[offset..offset + data.len()] == data.as_slice(),
            "{offset:#x}"
        );
    }
    assert_eq!(link.device.boot_choice().as_deref(), Some("ota_0"));
    assert_eq!(
        link.device.slot_version("ota_0").as_deref(),
        Some(SAMPLE_VERSION)
    );
}

#[test]
fn the_build_follows_the_chip_and_the_family_must_be_the_rom_loader() {
    let manifest = file(ESP_WEB_TOOLS_MANIFEST);
    let url = format!("{BASE}{ESP_WEB_TOOLS_MANIFEST}");
    let loaded = source::read(&manifest, Some(&url)).unwrap();
    let mut facts = esp32("2.0.3");
    facts.model = Some("ESP32-C3".into());
    let e = offer(&loaded, &facts).unwrap_err();
    assert!(
        e.why
            .contains("no build for ESP32-C3; it has builds for ESP32, ESP32-S3"),
        "{e}"
    );
    facts.family = Some(Family::Esp32MicroPython);
    let e = offer(&loaded, &facts).unwrap_err();
    assert!(e.why.contains("hold the board's BOOT button"), "{e}");
    let e = offer(&loaded, &ModuleFacts::default()).unwrap_err();
    assert!(e.why.starts_with("connect the module first"), "{e}");
    // Pasted: relative part paths have nothing to resolve against.
    let loaded = source::read(&manifest, None).unwrap();
    let e = offer(&loaded, &esp32("2.0.3")).unwrap_err();
    assert!(e.why.contains("load the manifest from its URL"), "{e}");
}

#[test]
fn an_older_version_needs_a_typed_reason_which_is_kept() {
    let manifest = file(ESP_WEB_TOOLS_MANIFEST);
    let url = format!("{BASE}{ESP_WEB_TOOLS_MANIFEST}");
    let facts = esp32("2.2.0");
    let offer = install_offer(&manifest, Some(&url), &facts);
    let images = download_all(&offer, from_demo);
    let e = prepare(&offer, images.clone(), &facts, Some("  ")).unwrap_err();
    let PrepareError::Downgrade { why } = &e else {
        panic!("{e:?}")
    };
    assert!(
        why.contains("2.1.0 is older than the installed 2.2.0"),
        "{why}"
    );
    let ok = prepare(&offer, images, &facts, Some("field test of 2.1.0")).unwrap();
    assert_eq!(ok.downgrade_reason.as_deref(), Some("field test of 2.1.0"));
}

#[test]
fn a_lower_secure_version_than_the_running_app_is_a_downgrade() {
    let manifest = file(ESP_WEB_TOOLS_MANIFEST);
    let url = format!("{BASE}{ESP_WEB_TOOLS_MANIFEST}");
    let mut facts = esp32("2.0.3");
    facts.running_secure_version = Some(3);
    let offer = install_offer(&manifest, Some(&url), &facts);
    let e = prepare(&offer, download_all(&offer, from_demo), &facts, None).unwrap_err();
    assert!(
        e.to_string().contains("secure_version 0, lower than the 3"),
        "{e}"
    );
}

#[test]
fn an_app_for_another_chip_is_refused_after_download() {
    let manifest = file(ESP_WEB_TOOLS_MANIFEST);
    let url = format!("{BASE}{ESP_WEB_TOOLS_MANIFEST}");
    let facts = esp32("2.0.3");
    let offer = install_offer(&manifest, Some(&url), &facts);
    let mut images = download_all(&offer, from_demo);
    // An ESP32-S3 app (chip id 9) where the ESP32 app should be.
    images[2][12] = 9;
    let e = prepare(&offer, images, &facts, None).unwrap_err();
    assert!(
        e.to_string()
            .contains("built for the ESP32-S3, and the chip that answered is an ESP32"),
        "{e}"
    );
}

#[test]
fn an_aws_job_downloads_checks_md5_and_size_then_flashes_the_app() {
    let image = demo_image("2.1.0", 40_000);
    let md5 = to_hex(&MultiDigest::of(&image).md5.unwrap());
    let doc = json!({"execution": {"jobId": "fw-2-1-0", "jobDocument":
        {"bc_idx": 1, "bc_crc": md5, "bc_size": image.len(), "bc_url": "https://bucket.example/app.bin?X-Amz-Signature=abc"}}});
    let facts = ModuleFacts {
        family: Some(Family::Esp32MicroPython),
        ..ModuleFacts::default()
    };
    let offer = install_offer(&serde_json::to_vec(&doc).unwrap(), None, &facts);
    assert_eq!(
        offer.reporting,
        Reporting::AwsJob {
            job_id: Some("fw-2-1-0".into())
        }
    );
    let item = &offer.items[0];
    assert_eq!(
        (item.size, item.label.as_str()),
        (Some(image.len() as u64), "app.bin")
    );
    // One changed byte: refused with both MD5s.
    let mut bad = image.clone();
    bad[5000] ^= 0x40;
    let mut d = Download::new(item);
    d.feed(&bad).unwrap();
    let e = d.finish().unwrap_err();
    assert!(
        matches!(&e, DownloadError::Mismatch { algorithm: Algorithm::Md5, expected, .. } if *expected == md5),
        "{e:?}"
    );
    // Cut short.
    let mut d = Download::new(item);
    d.feed(&image[..30_000]).unwrap();
    assert!(matches!(
        d.finish().unwrap_err(),
        DownloadError::Truncated { .. }
    ));
    let install = prepare(&offer, vec![image.clone()], &facts, None).unwrap();
    assert!(matches!(install.jobs.as_slice(), [Job::Flash { image: i, .. }] if *i == image));
}

fn sha1_hex(data: &[u8]) -> String {
    to_hex(&MultiDigest::of(data).sha1.unwrap())
}

#[test]
fn a_pycom_manifest_is_asked_with_the_module_version_and_null_is_up_to_date() {
    let facts = ModuleFacts {
        family: Some(Family::Pycom),
        running_version: Some("1.0.0".into()),
        ..ModuleFacts::default()
    };
    let (lib, firmware) = (b"NEW = 1\n".to_vec(), demo_image("1.0.1", 1000));
    let body = serde_json::to_vec(&json!({"version": "1.0.1", "delete": ["flash/old.py"],
        "new": [{"URL": "http://127.0.0.1:8000/1.0.1/flash/lib/new.py", "dst_path": "/flash/lib/new.py", "hash": sha1_hex(&lib)}],
        "update": [], "firmware": {"URL": "http://127.0.0.1:8000/firmware_1.0.1.bin", "hash": sha1_hex(&firmware)}}))
    .unwrap();
    let loaded = source::read(&body, Some("http://127.0.0.1:8000/manifest.json")).unwrap();
    let Proposal::Fetch { url, .. } = offer(&loaded, &facts).unwrap() else {
        panic!()
    };
    assert_eq!(url, "http://127.0.0.1:8000/manifest.json?current_ver=1.0.0");
    let loaded = source::read(&body, Some(&url)).unwrap();
    let Proposal::Install(o) = offer(&loaded, &facts).unwrap() else {
        panic!()
    };
    let targets: Vec<String> = o.items.iter().map(|i| i.target.describe()).collect();
    assert_eq!(targets, ["/flash/lib/new.py (new)", "the update slot"]);
    assert_eq!(o.delete, ["/flash/old.py"]);
    let loaded = source::read(b"null", Some(&url)).unwrap();
    assert!(matches!(
        offer(&loaded, &facts).unwrap(),
        Proposal::UpToDate { .. }
    ));
    // Files first, all or nothing, then the firmware.
    let images = download_all(&o, |u| {
        if u.ends_with(".py") {
            lib.clone()
        } else {
            firmware.clone()
        }
    });
    let install = prepare(&o, images, &facts, None).unwrap();
    let [Job::Files { files, delete }, Job::Flash { image, .. }] = install.jobs.as_slice() else {
        panic!("{:?}", install.jobs)
    };
    assert_eq!(
        (
            files[0].path.as_str(),
            files[0].sha1.as_str(),
            files[0].replaces
        ),
        ("/flash/lib/new.py", sha1_hex(&lib).as_str(), false)
    );
    assert_eq!(
        (delete.as_slice(), image),
        (["/flash/old.py".to_string()].as_slice(), &firmware)
    );
}

#[test]
fn a_hawkbit_deployment_of_a_swu_bundle_unwraps_and_reports_to_its_feedback_url() {
    let image = demo_image("3.0.0", 20_000);
    let desc = format!("software = {{ version = \"3.0.0\"; images: ({{ filename = \"app.bin\"; sha256 = \"{}\"; }}); }}", to_hex(&sha256(&image)));
    let bundle = swu::archive(&[("sw-description", desc.as_bytes()), ("app.bin", &image)]);
    let hex = to_hex(&sha256(&bundle));
    let doc = json!({"id": "12", "deployment": {"download": "forced", "update": "forced",
        "chunks": [{"part": "os", "version": "3.0.0", "name": "fw", "artifacts": [{"filename": "fw-3.0.0.swu",
        "size": bundle.len(), "hashes": {"sha256": hex},
        "_links": {"download-http": {"href": "http://127.0.0.1:60053/api/v1/download/7"}}}]}]}});
    let facts = ModuleFacts {
        family: Some(Family::Esp32MicroPython),
        running_version: Some("2.0.3".into()),
        ..ModuleFacts::default()
    };
    let url = "http://127.0.0.1:60053/DEFAULT/controller/v1/dev1/deploymentBase/12?c=-2129030598";
    let offer = install_offer(&serde_json::to_vec(&doc).unwrap(), Some(url), &facts);
    assert_eq!(
        offer.reporting,
        Reporting::Hawkbit {
            feedback_url:
                "http://127.0.0.1:60053/DEFAULT/controller/v1/dev1/deploymentBase/12/feedback"
                    .into(),
            action_id: "12".into(),
        }
    );
    assert!(offer.items[0].swu);
    assert_eq!(
        offer.items[0].digests,
        [ExpectedDigest::parse(Algorithm::Sha256, &hex).unwrap()]
    );
    let install = prepare(&offer, vec![bundle], &facts, None).unwrap();
    assert!(matches!(install.jobs.as_slice(), [Job::Flash { image: i, .. }] if *i == image));
}

#[test]
fn a_hawkbit_base_resource_leads_to_its_deployment_or_says_to_wait() {
    let facts = ModuleFacts {
        family: Some(Family::McuBoot),
        ..ModuleFacts::default()
    };
    let base = br#"{"config":{"polling":{"sleep":"00:00:30"}},"_links":{"deploymentBase":{"href":"http://127.0.0.1:60053/DEFAULT/controller/v1/dev1/deploymentBase/12?c=1"}}}"#;
    let loaded = source::read(base, None).unwrap();
    assert!(
        matches!(offer(&loaded, &facts).unwrap(), Proposal::Fetch { url, .. } if url.ends_with("deploymentBase/12?c=1"))
    );
    let cancel = br#"{"config":{"polling":{"sleep":"00:00:30"}},"_links":{"cancelAction":{"href":"http://127.0.0.1:60053/DEFAULT/controller/v1/dev1/cancelAction/12"}}}"#;
    let loaded = source::read(cancel, None).unwrap();
    assert!(
        matches!(offer(&loaded, &facts).unwrap(), Proposal::Wait { why, .. } if why.contains("cancels the action"))
    );
    let idle = br#"{"config":{"polling":{"sleep":"00:00:30"}},"_links":{}}"#;
    let loaded = source::read(idle, None).unwrap();
    assert!(matches!(
        offer(&loaded, &facts).unwrap(),
        Proposal::Wait {
            retry_after: Some(30),
            ..
        }
    ));
}

/// The demo's Pycom manifests on the simulated board: files then firmware; then a manifest with
/// a file the board cannot write (its parent is a file), undone on the board, all or nothing.
#[test]
fn the_demo_pycom_update_installs_and_a_failing_file_is_undone_whole() {
    use otadeck_sim::mp_repl::RawPasteSupport;
    use otadeck_sim::pycom::{device, PycomConfig};
    use otadeck_sim::sources::{PYCOM_FAILING_MANIFEST, PYCOM_MANIFEST};
    let facts = ModuleFacts {
        family: Some(Family::Pycom),
        running_version: Some("2.0.3".into()),
        ..ModuleFacts::default()
    };
    let mut link = SimLink::new(
        device(
            PycomConfig::default(),
            otadeck_sim::firmware::demo_running_image(),
            RawPasteSupport::Window(128),
        ),
        115_200,
    );
    let resolve = |url: &str| -> Vec<u8> {
        let rel = url.strip_prefix(BASE).expect("a demo URL");
        let rel = rel.split('?').next().unwrap();
        file(rel)
    };
    let mut clock = Duration::ZERO;
    let mut run_offer = |name: &str, link: &mut SimLink<_>| {
        let url = format!("{BASE}{name}?current_ver=2.0.3");
        let offer = install_offer(&file(name), Some(&url), &facts);
        let images = download_all(&offer, resolve);
        let install = prepare(&offer, images, &facts, None).unwrap();
        let mut results = Vec::new();
        for job in install.jobs {
            let mut m = family::open(Family::Pycom, job, OpenOptions::default(), clock).unwrap();
            let r = run(&mut m, link, clock, Duration::from_secs(600), None);
            // The next session starts once the board had time to boot.
            clock += r.elapsed + Duration::from_secs(5);
            let ok = r.result.as_ref().is_some_and(|r| r.is_ok());
            results.push(r);
            if !ok {
                break;
            }
        }
        results
    };
    let done = run_offer(PYCOM_MANIFEST, &mut link);
    assert_eq!(done.len(), 2, "files, then firmware");
    assert!(done.iter().all(|r| r.result.as_ref().unwrap().is_ok()));
    let fs = link.device.interpreter.files.clone();
    let paths: Vec<&str> = fs.keys().map(String::as_str).collect();
    assert_eq!(paths, ["/flash/lib/sensor.py", "/flash/main.py"]);
    assert_eq!(
        link.device.interpreter.flash.running_version(),
        SAMPLE_VERSION
    );

    let failed = run_offer(PYCOM_FAILING_MANIFEST, &mut link);
    let e = failed[0].error();
    assert!(e.to_string().contains("main.py/extra.py"), "{e}");
    // Undone whole: the file system is exactly as before, no staged or backup copies.
    assert_eq!(link.device.interpreter.files, fs);
}

/// An AWS IoT job for a QuecPython module, delivered by the module itself: the host fetches and
/// checks the package against the job's MD5 and size, then the module downloads the same URL,
/// verifies it and restarts into it.
#[test]
fn a_quecpython_module_downloads_a_checked_package_itself() {
    use otadeck_core::source::install::delivered_by_module;
    use otadeck_sim::demo::{quecpython_demo_config, DEMO_PACKAGE_URL};
    use otadeck_sim::firmware::{quecpython_running_package, quecpython_sample_package};
    use otadeck_sim::mp_repl::RawPasteSupport;
    let package = quecpython_sample_package();
    let md5 = to_hex(&MultiDigest::of(&package).md5.unwrap());
    let doc =
        json!({"bc_idx": 0, "bc_crc": md5, "bc_size": package.len(), "bc_url": DEMO_PACKAGE_URL});
    let facts = ModuleFacts {
        family: Some(Family::QuecPython),
        running_version: Some("2.0.3".into()),
        ..ModuleFacts::default()
    };
    let offer = install_offer(&serde_json::to_vec(&doc).unwrap(), None, &facts);
    assert!(offer.module_can_download(facts.family));
    assert!(!offer.module_can_download(Some(Family::Esp32MicroPython)));
    let images = download_all(&offer, |_| package.clone());
    let install = prepare(&offer, images, &facts, None).unwrap();
    let install = delivered_by_module(install, &offer).unwrap();
    let [Job::Download {
        url1,
        restart: true,
        ..
    }] = install.jobs.as_slice()
    else {
        panic!("{:?}", install.jobs)
    };
    assert_eq!(url1, DEMO_PACKAGE_URL);
    let device = otadeck_sim::quecpython::device(
        quecpython_demo_config("EC600U"),
        quecpython_running_package(),
        RawPasteSupport::Window(128),
    );
    let mut link = SimLink::new(device, 115_200);
    let job = install.jobs.into_iter().next().unwrap();
    let mut m = family::open(
        Family::QuecPython,
        job,
        OpenOptions::default(),
        Duration::ZERO,
    )
    .unwrap();
    let r = run(
        &mut m,
        &mut link,
        Duration::ZERO,
        Duration::from_secs(600),
        None,
    );
    let outcome = r.outcome();
    assert!(outcome.restarted);
    assert_eq!(
        outcome.module.as_ref().unwrap().firmware_version,
        SAMPLE_VERSION
    );
}
