//! A USB device's interfaces as the host's USB stack lists them (WebUSB's
//! `configuration.interfaces[].alternates[]`, libusb's interface descriptors).

/// One alternate setting of one USB interface.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UsbAlt {
    /// `bInterfaceNumber`.
    pub interface: u8,
    /// `bAlternateSetting`.
    pub alt: u8,
    /// `bInterfaceClass`.
    pub class: u8,
    /// `bInterfaceSubClass`.
    pub subclass: u8,
    /// `bInterfaceProtocol`.
    pub protocol: u8,
    /// The interface string (a DfuSe loader carries its memory map there).
    pub name: String,
}
