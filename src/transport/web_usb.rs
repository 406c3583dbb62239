//! WebUSB: a USB device chosen with DFU filters (or granted before), its interfaces as the core
//! reads them, control transfers, and finding the device again after it re-enumerates (a DFU
//! detach, a restart into new firmware) by its vendor id and serial number.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use js_sys::{Array, Uint8Array};
use otadeck_core::driver::dfu::wire::{DFU_CLASS, DFU_SUBCLASS};
use otadeck_core::session::{ControlTransfer, RequestKind, TransferData, TransferError, UsbAlt};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Usb, UsbControlTransferParameters, UsbDevice, UsbDeviceFilter, UsbDeviceRequestOptions,
    UsbInTransferResult, UsbOutTransferResult, UsbRecipient, UsbRequestType, UsbTransferStatus,
};

use super::{Inbox, TransportError};
use crate::clock::now;

/// How often the device list is read while waiting for a device to come back.
const REDISCOVER_EVERY: Duration = Duration::from_millis(100);

/// An open USB device.
#[derive(Clone)]
pub struct WebUsbTransport {
    device: Rc<RefCell<UsbDevice>>,
    /// Where granted devices are listed again (`navigator.usb`, or a test's stand-in).
    usb: Usb,
    /// The interface claimed, if any.
    claimed: Rc<RefCell<Option<u8>>>,
    inbox: Inbox,
    /// Held so that the pump's inbox never ends: nothing arrives on a USB control pipe unasked.
    _idle: Rc<futures::channel::mpsc::UnboundedSender<super::Chunk>>,
}

/// The browser's WebUSB, if it has one.
pub fn navigator_usb() -> Option<Usb> {
    let navigator = web_sys::window()?.navigator();
    let usb = js_sys::Reflect::get(&navigator, &JsValue::from_str("usb")).ok()?;
    (!usb.is_undefined()).then(|| usb.unchecked_into())
}

/// Ask the technician to choose a USB DFU device (the browser's chooser lists only devices
/// with a DFU interface).
pub async fn request_dfu_device(usb: &Usb) -> Result<UsbDevice, TransportError> {
    let filter = UsbDeviceFilter::new();
    filter.set_class_code(DFU_CLASS);
    filter.set_subclass_code(DFU_SUBCLASS);
    let options = UsbDeviceRequestOptions::new(&[filter]);
    JsFuture::from(usb.request_device(&options))
        .await
        .map(|d| d.unchecked_into())
        .map_err(|e| TransportError::from_js("no USB device was chosen", e))
}

/// USB devices this site was granted before, that have a DFU interface.
pub async fn granted_dfu_devices(usb: &Usb) -> Vec<UsbDevice> {
    let Ok(list) = JsFuture::from(usb.get_devices()).await else {
        return Vec::new();
    };
    list.unchecked_into::<Array>()
        .iter()
        .map(|d| d.unchecked_into::<UsbDevice>())
        .filter(|d| interfaces(d).iter().any(UsbAlt::is_dfu))
        .collect()
}

/// A device's interfaces and alt settings in its active (or first) configuration.
pub fn interfaces(device: &UsbDevice) -> Vec<UsbAlt> {
    let config = device.configuration().or_else(|| {
        device
            .configurations()
            .iter()
            .next()
            .map(|c| c.unchecked_into())
    });
    let Some(config) = config else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for interface in config.interfaces().iter() {
        let interface: web_sys::UsbInterface = interface.unchecked_into();
        for alt in interface.alternates().iter() {
            let alt: web_sys::UsbAlternateInterface = alt.unchecked_into();
            out.push(UsbAlt {
                interface: interface.interface_number(),
                alt: alt.alternate_setting(),
                class: alt.interface_class(),
                subclass: alt.interface_subclass(),
                protocol: alt.interface_protocol(),
                name: alt.interface_name().unwrap_or_default(),
            });
        }
    }
    out
}

/// The device in words: its product name and USB ids.
pub fn device_name(device: &UsbDevice) -> String {
    let (vendor, product) = (device.vendor_id(), device.product_id());
    match device.product_name().filter(|n| !n.is_empty()) {
        Some(name) if otadeck_core::link::usb_names::usb_name(vendor, product).is_none() => {
            format!("{name}, USB {vendor:04x}:{product:04x}")
        }
        _ => otadeck_core::link::usb_names::describe(vendor, product),
    }
}

async fn open_device(device: &UsbDevice) -> Result<(), TransportError> {
    if !device.opened() {
        JsFuture::from(device.open()).await.map_err(|e| {
            TransportError::from_js(
                "could not open the USB device (another program or tab may hold it)",
                e,
            )
        })?;
    }
    if device.configuration().is_none() {
        JsFuture::from(device.select_configuration(1))
            .await
            .map_err(|e| TransportError::from_js("could not configure the USB device", e))?;
    }
    Ok(())
}

fn transfer_error(e: JsValue) -> TransferError {
    let name = e
        .dyn_ref::<web_sys::DomException>()
        .map(|d| d.name())
        .unwrap_or_default();
    match name.as_str() {
        // The device went away (unplugged or re-enumerating).
        "NotFoundError" | "NetworkError" | "InvalidStateError" => TransferError::Disconnected,
        _ => TransferError::Stall,
    }
}

impl WebUsbTransport {
    /// Open `device`; `usb` lists granted devices again after a re-enumeration.
    pub async fn open(device: UsbDevice, usb: Usb) -> Result<Self, TransportError> {
        open_device(&device).await?;
        let (tx, inbox) = Inbox::channel();
        Ok(WebUsbTransport {
            device: Rc::new(RefCell::new(device)),
            usb,
            claimed: Rc::new(RefCell::new(None)),
            inbox,
            _idle: Rc::new(tx),
        })
    }

    /// The device's interfaces as it enumerates now.
    pub fn interfaces(&self) -> Vec<UsbAlt> {
        interfaces(&self.device.borrow())
    }

    /// Make one control transfer.
    pub async fn control(&self, t: &ControlTransfer) -> Result<Vec<u8>, TransferError> {
        let device = self.device.borrow().clone();
        if t.kind == RequestKind::StandardInterface {
            return self
                .select_interface(&device, t.index as u8, t.value as u8)
                .await;
        }
        let (kind, recipient) = match t.kind {
            RequestKind::Class => (UsbRequestType::Class, UsbRecipient::Interface),
            _ => (UsbRequestType::Standard, UsbRecipient::Device),
        };
        let setup = UsbControlTransferParameters::new(t.index, recipient, t.request, kind, t.value);
        match &t.data {
            TransferData::In(len) => {
                let result: UsbInTransferResult =
                    JsFuture::from(device.control_transfer_in(&setup, *len))
                        .await
                        .map_err(transfer_error)?
                        .unchecked_into();
                match result.status() {
                    UsbTransferStatus::Ok | UsbTransferStatus::Babble => Ok(result
                        .data()
                        .map(|v| {
                            Uint8Array::new(&v.buffer()).subarray(
                                v.byte_offset() as u32,
                                (v.byte_offset() + v.byte_length()) as u32,
                            )
                        })
                        .map(|a| a.to_vec())
                        .unwrap_or_default()),
                    _ => Err(TransferError::Stall),
                }
            }
            TransferData::Out(data) => {
                let promise = device
                    .control_transfer_out_with_u8_slice(&setup, data)
                    .map_err(transfer_error)?;
                let result: UsbOutTransferResult = JsFuture::from(promise)
                    .await
                    .map_err(transfer_error)?
                    .unchecked_into();
                match result.status() {
                    UsbTransferStatus::Ok => Ok(Vec::new()),
                    _ => Err(TransferError::Stall),
                }
            }
        }
    }

    /// `SET_INTERFACE`: claim the interface (once) and select the alt setting.
    async fn select_interface(
        &self,
        device: &UsbDevice,
        interface: u8,
        alt: u8,
    ) -> Result<Vec<u8>, TransferError> {
        if *self.claimed.borrow() != Some(interface) {
            JsFuture::from(device.claim_interface(interface))
                .await
                .map_err(|_| TransferError::Stall)?;
            *self.claimed.borrow_mut() = Some(interface);
        }
        JsFuture::from(device.select_alternate_interface(interface, alt))
            .await
            .map(|_| Vec::new())
            .map_err(transfer_error)
    }

    /// Reset the device when asked, then wait until `until` for it to come back (a new device
    /// object with the same vendor id and serial number), open it and return its interfaces.
    pub async fn reconnect(&self, reset: bool, until: Duration) -> Option<Vec<UsbAlt>> {
        let old = self.device.borrow().clone();
        if reset {
            // The device may drop off the bus before it answers: that is what is wanted.
            let _ = JsFuture::from(old.reset()).await;
        }
        let (vendor, serial) = (old.vendor_id(), old.serial_number());
        while now() < until {
            gloo::timers::future::sleep(REDISCOVER_EVERY).await;
            let Ok(list) = JsFuture::from(self.usb.get_devices()).await else {
                continue;
            };
            let found = list
                .unchecked_into::<Array>()
                .iter()
                .map(|d| d.unchecked_into::<UsbDevice>())
                .find(|d| {
                    !JsValue::from(d).loose_eq(&JsValue::from(&old))
                        && d.vendor_id() == vendor
                        && d.serial_number() == serial
                });
            if let Some(device) = found {
                if open_device(&device).await.is_ok() {
                    *self.claimed.borrow_mut() = None;
                    *self.device.borrow_mut() = device;
                    return Some(self.interfaces());
                }
            }
        }
        None
    }

    /// Where received bytes would arrive (never: control transfers answer directly).
    pub fn inbox(&self) -> Inbox {
        self.inbox.clone()
    }

    /// Release the interface and close the device; errors are ignored (it may be gone).
    pub async fn close(&self) {
        let device = self.device.borrow().clone();
        let claimed = self.claimed.borrow_mut().take();
        if let Some(i) = claimed {
            let _ = JsFuture::from(device.release_interface(i)).await;
        }
        let _ = JsFuture::from(device.close()).await;
    }

    /// For the header.
    pub fn describe(&self) -> String {
        device_name(&self.device.borrow())
    }
}
