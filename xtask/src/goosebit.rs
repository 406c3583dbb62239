//! goosebit (PyPI), a real hawkBit DDI server, for the end-to-end scenario: started on a free
//! port with a fresh database, its first user set up, software uploaded and assigned over its
//! REST API, and its view of a device read back.

use crate::util::{self, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running goosebit, stopped when dropped.
pub struct Goosebit {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    token: String,
}

impl Drop for Goosebit {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bin() -> PathBuf {
    util::tools_dir().join("goosebit-venv").join("bin")
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn text(
    r: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    what: &str,
) -> Result<String> {
    let mut r = r.map_err(|e| format!("{what}: {e}"))?;
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    if status >= 300 {
        return Err(format!("{what}: HTTP {status}: {body}"));
    }
    Ok(body)
}

impl Goosebit {
    /// Migrate a fresh database under `dir`, start the server, set up its first user.
    pub fn start(dir: &Path) -> Result<Goosebit> {
        let python = bin().join("python");
        if !python.exists() {
            return Err(format!(
                "{} is missing: run cargo xtask setup --browser",
                python.display()
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let out = Command::new(&python)
            .args([
                "-c",
                "import goosebit,os;print(os.path.dirname(goosebit.__file__))",
            ])
            .output()
            .map_err(|e| e.to_string())?;
        let package = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let config = format!(
            "[tool.aerich]\ntortoise_orm = \"goosebit.db.config.TORTOISE_CONF\"\nlocation = \"{package}/db/migrations\"\nsrc_folder = \"./.\"\n"
        );
        std::fs::write(dir.join("pyproject.toml"), config).map_err(|e| e.to_string())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
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
        let migrated = Command::new(bin().join("aerich"))
            .args(["--app", "models", "upgrade"])
            .current_dir(dir)
            .envs(env.clone())
            .output()
            .map_err(|e| e.to_string())?;
        if !migrated.status.success() {
            return Err(format!(
                "aerich upgrade: {}",
                String::from_utf8_lossy(&migrated.stderr)
            ));
        }
        let log = std::fs::File::create(dir.join("server.log")).map_err(|e| e.to_string())?;
        let child = Command::new(&python)
            .args(["-m", "goosebit"])
            .current_dir(dir)
            .envs(env)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start goosebit: {e}"))?;
        let mut g = Goosebit {
            child,
            addr: format!("127.0.0.1:{port}"),
            token: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while agent().get(g.url("/login")).call().is_err() {
            if Instant::now() > deadline {
                return Err("goosebit did not start within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        let body = text(
            agent()
                .post(g.url("/setup"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send("username=admin%40otadeck.test&password=otadeck-e2e-1"),
            "goosebit setup",
        )?;
        let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        g.token = v["access_token"].as_str().unwrap_or_default().to_string();
        Ok(g)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// Upload `bundle` as `name`; its software id.
    pub fn upload(&self, name: &str, bundle: &[u8]) -> Result<String> {
        let boundary = "otadeck-e2e-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bundle);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let r = agent()
            .put(self.url("/api/v1/software"))
            .header("Authorization", self.bearer())
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .send(&body[..]);
        let v: Value =
            serde_json::from_str(&text(r, "goosebit upload")?).map_err(|e| e.to_string())?;
        Ok(v["id"].to_string())
    }

    /// The controller polls once (goosebit creates it), then `software` is assigned to it.
    pub fn assign(&self, controller: &str, software: &str) -> Result<()> {
        text(
            agent()
                .get(self.url(&format!("/DEFAULT/controller/v1/{controller}")))
                .call(),
            "goosebit first poll",
        )?;
        let body = serde_json::json!({"devices": [controller], "software": software}).to_string();
        let r = agent()
            .patch(self.url("/api/v1/devices"))
            .header("Authorization", self.bearer())
            .header("Content-Type", "application/json")
            .send(body);
        text(r, "goosebit assign").map(|_| ())
    }

    /// goosebit's record of `controller`.
    pub fn device(&self, controller: &str) -> Result<Value> {
        let r = agent()
            .get(self.url("/api/v1/devices"))
            .header("Authorization", self.bearer())
            .call();
        let v: Value =
            serde_json::from_str(&text(r, "goosebit devices")?).map_err(|e| e.to_string())?;
        v["devices"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["id"] == controller).cloned())
            .ok_or_else(|| format!("goosebit lists no device {controller}: {v}"))
    }
}
