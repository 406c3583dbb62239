//! `otadeck install --hawkbit` against goosebit (PyPI), a real hawkBit DDI server: the software
//! is uploaded as an SWUpdate bundle and assigned to a controller; otadeck registers the
//! controller, takes the deployment, checks the bundle and its image, flashes the simulated
//! ESP32 MicroPython board, and reports back; goosebit then records the update as finished with
//! the new version. Built only with `--features peer-tests` (`cargo xtask setup` installs
//! goosebit into `tools/goosebit-venv`).

#![cfg(feature = "peer-tests")]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{otadeck, scratch, PtySim};
use otadeck_core::digest::{sha256, to_hex};
use otadeck_core::source::swu;
use otadeck_sim::firmware::demo_image;
use serde_json::Value;

fn venv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/goosebit-venv/bin")
}

/// A goosebit server on a free port with a fresh database, stopped when dropped.
struct Goosebit {
    child: Child,
    base: String,
    token: String,
}

impl Drop for Goosebit {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

impl Goosebit {
    fn start(dir: &Path) -> Goosebit {
        let python = venv().join("python");
        assert!(
            python.exists(),
            "{} is missing: run cargo xtask setup --browser",
            python.display()
        );
        let out = Command::new(&python)
            .args([
                "-c",
                "import goosebit,os;print(os.path.dirname(goosebit.__file__))",
            ])
            .output()
            .unwrap();
        let package = String::from_utf8_lossy(&out.stdout).trim().to_string();
        std::fs::write(
            dir.join("pyproject.toml"),
            format!("[tool.aerich]\ntortoise_orm = \"goosebit.db.config.TORTOISE_CONF\"\nlocation = \"{package}/db/migrations\"\nsrc_folder = \"./.\"\n"),
        )
        .unwrap();
        let port = free_port();
        let env = [
            (
                "GOOSEBIT_DB_URI",
                format!("sqlite:///{}/db.sqlite3", dir.display()),
            ),
            (
                "GOOSEBIT_ARTIFACTS_DIR",
                format!("{}/artifacts", dir.display()),
            ),
            ("GOOSEBIT_PORT", port.to_string()),
        ];
        let migrated = Command::new(venv().join("aerich"))
            .args(["--app", "models", "upgrade"])
            .current_dir(dir)
            .envs(env.clone())
            .output()
            .unwrap();
        assert!(
            migrated.status.success(),
            "{}",
            String::from_utf8_lossy(&migrated.stderr)
        );
        let child = Command::new(&python)
            .args(["-m", "goosebit"])
            .current_dir(dir)
            .envs(env)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("server.log")).unwrap())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while agent().get(format!("{base}/login")).call().is_err() {
            assert!(
                Instant::now() < deadline,
                "goosebit did not start: see {}",
                dir.join("server.log").display()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        let mut setup = agent()
            .post(format!("{base}/setup"))
            .send_form([
                ("username", "admin@otadeck.test"),
                ("password", "otadeck-test-1"),
            ])
            .unwrap();
        let token: Value =
            serde_json::from_str(&setup.body_mut().read_to_string().unwrap()).unwrap();
        Goosebit {
            child,
            base,
            token: token["access_token"].as_str().unwrap().to_string(),
        }
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// Upload `bundle` as `name`; its software id.
    fn upload(&self, name: &str, bundle: &[u8]) -> String {
        let boundary = "otadeck-boundary-7f3a";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bundle);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut r = agent()
            .put(format!("{}/api/v1/software", self.base))
            .header("Authorization", self.bearer())
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .send(&body[..])
            .unwrap();
        let text = r.body_mut().read_to_string().unwrap();
        assert_eq!(r.status().as_u16(), 200, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        v["id"].to_string()
    }

    fn assign(&self, device: &str, software: &str) {
        let mut r = agent()
            .patch(format!("{}/api/v1/devices", self.base))
            .header("Authorization", self.bearer())
            .header("Content-Type", "application/json")
            .send(serde_json::json!({"devices": [device], "software": software}).to_string())
            .unwrap();
        let text = r.body_mut().read_to_string().unwrap();
        assert_eq!(r.status().as_u16(), 200, "{text}");
    }

    fn device(&self, id: &str) -> Value {
        let mut r = agent()
            .get(format!("{}/api/v1/devices", self.base))
            .header("Authorization", self.bearer())
            .call()
            .unwrap();
        let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        v["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("goosebit lists no device {id}: {v}"))
    }
}

/// An SWUpdate bundle of one app image, as `swugenerator` writes one.
fn bundle(image: &[u8], version: &str) -> Vec<u8> {
    let desc = format!(
        "software =\n{{\n\tversion = \"{version}\";\n\tdescription = \"otadeck test app\";\n\timages: (\n\t\t{{\n\t\t\tfilename = \"app.bin\";\n\t\t\ttype = \"raw\";\n\t\t\tdevice = \"/dev/mtdblock1\";\n\t\t\tsha256 = \"{}\";\n\t\t}}\n\t);\n}}\n",
        to_hex(&sha256(image))
    );
    swu::archive(&[("sw-description", desc.as_bytes()), ("app.bin", image)])
}

#[test]
fn a_goosebit_deployment_installs_and_goosebit_records_the_success() {
    let dir = scratch("goosebit");
    let server = Goosebit::start(&dir);
    let image = demo_image("2.1.0", 30_000);
    let software = server.upload("app-2.1.0.swu", &bundle(&image, "2.1.0"));
    // The controller exists once it polled; then the software is assigned to it.
    let controller = "otadeck-dev-1";
    let first = agent()
        .get(format!(
            "{}/DEFAULT/controller/v1/{controller}",
            server.base
        ))
        .call()
        .unwrap();
    assert_eq!(first.status().as_u16(), 200);
    server.assign(controller, &software);

    let sim = PtySim::start(&["micropython-esp32"]);
    let out = otadeck()
        .args([
            "install",
            "--port",
            &sim.path,
            "--hawkbit",
            &server.base,
            "--tenant",
            "DEFAULT",
        ])
        .args([
            "--controller",
            controller,
            "--token",
            "not-checked-here",
            "--allow-unsigned",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "Registered: the controller's attributes sent",
        "Source:    hawkBit DDI deploymentBase",
        "an SWUpdate bundle; its one image",
        "Installed: the module runs 2.1.0",
        "hawkBit feedback sent",
    ] {
        assert!(stdout.contains(line), "{line}\n{stdout}");
    }
    let device = server.device(controller);
    assert_eq!(device["sw_version"], "2.1.0", "{device}");
    let state = device.to_string().to_ascii_lowercase();
    assert!(state.contains("finished"), "goosebit shows {device}");
}
