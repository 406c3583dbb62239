//! USB serial chips and loaders by vendor and product id, named the way a technician knows them
//! ("CP210x", "CH340"), for port lists and headers. Ids from the vendors' drivers and the Linux
//! kernel's `usb-serial` tables.

/// The name of a known USB-serial chip or loader.
pub fn usb_name(vendor: u16, product: u16) -> Option<&'static str> {
    Some(match (vendor, product) {
        (0x10C4, 0xEA60) => "CP210x (Silicon Labs)",
        (0x10C4, 0xEA70) => "CP2105 (Silicon Labs)",
        (0x10C4, 0xEA71) => "CP2108 (Silicon Labs)",
        (0x1A86, 0x7523) => "CH340 (WCH)",
        (0x1A86, 0x7522) => "CH340K (WCH)",
        (0x1A86, 0x5523) => "CH341 (WCH)",
        (0x1A86, 0x55D3) => "CH343 (WCH)",
        (0x1A86, 0x55D4) => "CH9102 (WCH)",
        (0x0403, 0x6001) => "FT232R (FTDI)",
        (0x0403, 0x6010) => "FT2232 (FTDI)",
        (0x0403, 0x6011) => "FT4232 (FTDI)",
        (0x0403, 0x6014) => "FT232H (FTDI)",
        (0x0403, 0x6015) => "FT231X (FTDI)",
        (0x067B, 0x2303) => "PL2303 (Prolific)",
        (0x303A, 0x1001) => "Espressif USB-JTAG-serial",
        (0x303A, 0x0002) => "ESP32-S2 USB CDC (Espressif)",
        (0x303A, 0x4001) => "Espressif USB (TinyUSB CDC)",
        (0x0483, 0x5740) => "STM32 virtual COM port",
        (0x0483, 0x374B) | (0x0483, 0x374E) | (0x0483, 0x3752) => "ST-LINK virtual COM port",
        (0x0483, 0xDF11) => "STM32 DFU loader",
        (0x2C7C, _) => "Quectel module (USB)",
        (0x2E8A, 0x0005) => "Raspberry Pi Pico (MicroPython)",
        (0x2FE3, 0x0100) => "Zephyr USB CDC ACM",
        (0x1209, _) => "open-source hardware (pid.codes)",
        _ => return None,
    })
}

/// A port or device in words: its name when known, with the ids (`CP210x (Silicon Labs),
/// USB 10c4:ea60`), else the ids alone.
pub fn describe(vendor: u16, product: u16) -> String {
    match usb_name(vendor, product) {
        Some(name) => format!("{name}, USB {vendor:04x}:{product:04x}"),
        None => format!("USB {vendor:04x}:{product:04x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_chips_are_named_and_unknown_ones_show_their_ids() {
        assert_eq!(
            describe(0x10C4, 0xEA60),
            "CP210x (Silicon Labs), USB 10c4:ea60"
        );
        assert_eq!(describe(0x1A86, 0x7523), "CH340 (WCH), USB 1a86:7523");
        assert_eq!(
            describe(0x303A, 0x1001),
            "Espressif USB-JTAG-serial, USB 303a:1001"
        );
        assert_eq!(
            describe(0x2C7C, 0x0901),
            "Quectel module (USB), USB 2c7c:0901"
        );
        assert_eq!(describe(0xABCD, 0x0001), "USB abcd:0001");
    }
}
