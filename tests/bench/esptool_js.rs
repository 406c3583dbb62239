//! Espressif's esptool-js (the npm package `cargo xtask setup --browser` installs in `tools/`),
//! driven as its own web flasher drives it: `Transport` over a Web Serial port, `ESPLoader`
//! at its ROM-loader settings (no stub: the simulated ESP32 runs none, and otadeck uploads none).

use js_sys::{Function, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/tools/node_modules/esptool-js/bundle.js")]
extern "C" {
    /// esptool-js's Web Serial transport.
    pub type Transport;
    #[wasm_bindgen(constructor)]
    pub fn new(device: &web_sys::SerialPort, tracing: bool) -> Transport;
    #[wasm_bindgen(method, catch)]
    pub async fn disconnect(this: &Transport) -> Result<JsValue, JsValue>;

    /// esptool-js's loader.
    #[wasm_bindgen(js_name = ESPLoader)]
    pub type EspLoader;
    #[wasm_bindgen(constructor, js_class = "ESPLoader")]
    pub fn new(options: &Object) -> EspLoader;
    #[wasm_bindgen(method, catch, js_class = "ESPLoader", js_name = detectChip)]
    pub async fn detect_chip(this: &EspLoader, mode: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_class = "ESPLoader", js_name = changeBaud)]
    pub async fn change_baud(this: &EspLoader) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_class = "ESPLoader", js_name = writeFlash)]
    pub async fn write_flash(this: &EspLoader, options: &Object) -> Result<JsValue, JsValue>;
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    Reflect::set(obj, &JsValue::from_str(key), value).expect("a plain object takes a field");
}

/// A terminal that keeps esptool-js's progress lines out of the test output.
fn quiet_terminal() -> Object {
    let t = Object::new();
    for name in ["clean", "writeLine", "write"] {
        set(&t, name, &Function::new_no_args(""));
    }
    t
}

/// The seconds esptool-js took to flash `image` at `address` through `port` (opened by it at
/// 115200, switched to `baud`): the whole session, and its `writeFlash` alone. `md5` gives the
/// image's MD5 in the form esptool-js compares with the chip's. `block` overrides the size of
/// its `FLASH_DEFL_DATA` blocks (it sends 16 KiB even to a ROM loader; esptool sends 1 KiB).
pub async fn flash(
    port: &web_sys::SerialPort,
    baud: u32,
    block: Option<u32>,
    image: &[u8],
    address: u32,
    md5: &Closure<dyn Fn(Uint8Array) -> String>,
    now_ms: impl Fn() -> f64,
) -> Result<(f64, f64), String> {
    let transport = Transport::new(port, false);
    let options = Object::new();
    set(&options, "transport", &transport);
    set(&options, "baudrate", &JsValue::from(baud));
    set(&options, "romBaudrate", &JsValue::from(115_200));
    set(&options, "terminal", &quiet_terminal());
    let loader = EspLoader::new(&options);
    if let Some(block) = block {
        set(
            loader.unchecked_ref(),
            "FLASH_WRITE_SIZE",
            &JsValue::from(block),
        );
    }
    let failed = |what: &str, e: JsValue| format!("esptool-js {what}: {e:?}");
    let t0 = now_ms();
    loader
        .detect_chip("default_reset")
        .await
        .map_err(|e| failed("detectChip", e))?;
    if baud != 115_200 {
        loader
            .change_baud()
            .await
            .map_err(|e| failed("changeBaud", e))?;
    }
    let file = Object::new();
    set(&file, "data", &Uint8Array::from(image));
    set(&file, "address", &JsValue::from(address));
    let write = Object::new();
    set(&write, "fileArray", &js_sys::Array::of1(&file));
    for (key, value) in [
        ("flashSize", "keep"),
        ("flashMode", "keep"),
        ("flashFreq", "keep"),
    ] {
        set(&write, key, &JsValue::from_str(value));
    }
    set(&write, "eraseAll", &JsValue::FALSE);
    set(&write, "compress", &JsValue::TRUE);
    set(&write, "calculateMD5Hash", md5.as_ref());
    let w0 = now_ms();
    loader
        .write_flash(&write)
        .await
        .map_err(|e| failed("writeFlash", e))?;
    let end = now_ms();
    let _ = transport.disconnect().await;
    Ok(((end - t0) / 1000.0, (end - w0) / 1000.0))
}
