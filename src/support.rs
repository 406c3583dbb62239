//! What this browser offers: Web Serial, WebUSB, a secure context.

use js_sys::Reflect;
use wasm_bindgen::JsValue;

/// Browser capabilities that decide what can be connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Support {
    /// `window.isSecureContext`.
    pub secure: bool,
    /// `navigator.serial` exists.
    pub serial: bool,
    /// `navigator.usb` exists.
    pub usb: bool,
}

/// Look at the browser.
pub fn detect() -> Support {
    let Some(window) = web_sys::window() else {
        return Support {
            secure: false,
            serial: false,
            usb: false,
        };
    };
    let navigator: JsValue = window.navigator().into();
    let has = |name: &str| {
        Reflect::get(&navigator, &JsValue::from_str(name))
            .map(|v| !v.is_undefined() && !v.is_null())
            .unwrap_or(false)
    };
    Support {
        secure: window.is_secure_context(),
        serial: has("serial"),
        usb: has("usb"),
    }
}

impl Support {
    /// Why real ports cannot be used here and what to do, or `None` when they can.
    pub fn problem(&self) -> Option<&'static str> {
        if !self.secure {
            Some(
                "This page is not in a secure context, so the browser hides Web Serial and WebUSB. \
                 Open otadeck over https or from http://localhost. The demo module works anyway.",
            )
        } else if !self.serial {
            Some(
                "This browser has no Web Serial, so it cannot reach a USB serial port. Use Chrome \
                 or Edge (version 89 or later) on a desktop or laptop. The demo module works anyway.",
            )
        } else {
            None
        }
    }
}
