//! The DFU class requests of the simulated device: DNLOAD, UPLOAD, GETSTATUS and the rest, with
//! the work each starts (programming, DfuSe commands, manifestation) and how long it takes.

use std::time::Duration;

use otadeck_core::driver::dfu::wire::{self, DeviceStatus, State, Status};
use otadeck_core::session::{ControlTransfer, TransferData, TransferError};

use super::{DfuDevice, DfuFault, Flavour};

impl DfuDevice {
    pub(super) fn class_request(
        &mut self,
        now: Duration,
        t: &ControlTransfer,
    ) -> Result<Vec<u8>, TransferError> {
        let out = match &t.data {
            TransferData::Out(d) => Some(d.as_slice()),
            TransferData::In(_) => None,
        };
        match (t.request, self.state) {
            (wire::GETSTATUS, _) => Ok(self.get_status(now).to_vec()),
            (wire::GETSTATE, _) => Ok(vec![self.state as u8]),
            (wire::DETACH, State::AppIdle) => {
                self.state = State::AppDetach;
                if self.functional.will_detach {
                    self.go_away(now, true);
                }
                Ok(Vec::new())
            }
            (wire::CLRSTATUS, State::DfuError) => {
                self.state = State::DfuIdle;
                self.status = Status::OK;
                Ok(Vec::new())
            }
            (
                wire::ABORT,
                State::DfuIdle
                | State::DnloadSync
                | State::DnloadIdle
                | State::UploadIdle
                | State::ManifestSync,
            ) => {
                self.pending = None;
                self.state = State::DfuIdle;
                self.incoming.clear();
                Ok(Vec::new())
            }
            (wire::DNLOAD, State::DfuIdle | State::DnloadIdle) => match out {
                Some([]) if self.state == State::DnloadIdle || self.flavour == Flavour::DfuSe => {
                    self.state = State::ManifestSync;
                    Ok(Vec::new())
                }
                Some(data)
                    if !data.is_empty() && data.len() <= self.functional.transfer_size as usize =>
                {
                    self.pending = Some((t.value, data.to_vec()));
                    self.state = State::DnloadSync;
                    Ok(Vec::new())
                }
                _ => self.stall(),
            },
            (wire::UPLOAD, State::DfuIdle | State::UploadIdle) => {
                let TransferData::In(len) = t.data else {
                    return self.stall();
                };
                self.upload(t.value, len as usize)
            }
            _ => self.stall(),
        }
    }

    fn get_status(&mut self, now: Duration) -> [u8; 6] {
        let mut poll = Duration::ZERO;
        match self.state {
            State::DnloadSync => {
                poll = self.begin_work(now);
                if self.state == State::DnloadSync {
                    self.state = State::DnBusy;
                }
            }
            State::DnBusy if now >= self.busy_until => self.finish_work(),
            State::DnBusy => poll = self.busy_until - now,
            State::ManifestSync => {
                self.state = State::Manifest;
                poll = Duration::from_millis(20);
                self.busy_until = now + poll;
                if self.flavour == Flavour::DfuSe {
                    // ST's loader jumps to the application once it reports dfuMANIFEST.
                    let leave = DeviceStatus {
                        status: self.status,
                        poll_timeout: poll,
                        state_code: State::Manifest as u8,
                    };
                    self.go_away(now + poll, false);
                    self.state = State::AppIdle;
                    return leave.encode();
                }
            }
            State::Manifest if now >= self.busy_until => self.manifest(),
            State::Manifest => poll = self.busy_until - now,
            _ => {}
        }
        DeviceStatus {
            status: self.status,
            poll_timeout: poll,
            state_code: self.state as u8,
        }
        .encode()
    }

    /// A DNLOAD's work begins: how long it will take.
    fn begin_work(&mut self, now: Duration) -> Duration {
        let Some((block, data)) = &self.pending else {
            return Duration::ZERO;
        };
        let time = match (self.flavour, *block, data.first()) {
            (Flavour::DfuSe, 0, Some(&wire::DFUSE_ERASE)) => {
                let page = match data.get(1..5) {
                    Some(a) => self
                        .map
                        .as_ref()
                        .and_then(|m| m.segment_at(u32::from_le_bytes([a[0], a[1], a[2], a[3]])))
                        .map_or(1024, |s| s.page),
                    None => self.memory.len() as u32,
                };
                self.erase_time_per_kib * (page / 1024).max(1)
            }
            (Flavour::DfuSe, 0, _) => Duration::from_millis(1),
            _ => self.program_time,
        };
        self.busy_until = now + time;
        time
    }

    fn finish_work(&mut self) {
        let Some((block, data)) = self.pending.take() else {
            self.state = State::DnloadIdle;
            return;
        };
        self.state = State::DnloadIdle;
        match self.flavour {
            Flavour::DfuSe if block == 0 => self.dfuse_command(&data),
            Flavour::DfuSe if block >= 2 => {
                let size = u32::from(self.functional.transfer_size);
                let address = self.pointer + (u32::from(block) - 2) * size;
                self.program(address, &data);
            }
            Flavour::DfuSe => self.error(0x0F),
            Flavour::Dfu11 { .. } => {
                if let Some(DfuFault::BlockFails { n, status }) = self.fault {
                    if n == self.blocks {
                        return self.error(status);
                    }
                }
                self.blocks += 1;
                self.incoming.extend_from_slice(&data);
            }
        }
    }

    fn dfuse_command(&mut self, data: &[u8]) {
        let address = data
            .get(1..5)
            .map(|a| u32::from_le_bytes([a[0], a[1], a[2], a[3]]));
        let map = self.map.clone().expect("DfuSe has a map");
        match (data.first(), address) {
            (Some(&wire::DFUSE_SET_ADDRESS), Some(a)) => self.pointer = a,
            (Some(&wire::DFUSE_ERASE), _)
                if matches!(self.fault, Some(DfuFault::EraseFails(_))) =>
            {
                let Some(DfuFault::EraseFails(status)) = self.fault else {
                    unreachable!()
                };
                self.error(status);
            }
            (Some(&wire::DFUSE_ERASE), Some(a)) => match map.segment_at(a) {
                Some(s) if s.erasable && (a - s.start) % s.page == 0 => {
                    let start = (a - self.base) as usize;
                    self.memory[start..start + s.page as usize].fill(0xFF);
                }
                _ => self.error(0x08),
            },
            (Some(&wire::DFUSE_ERASE), None) => self.memory.fill(0xFF),
            _ => self.error(0x0F),
        }
    }

    fn program(&mut self, address: u32, data: &[u8]) {
        if let Some(DfuFault::BlockFails { n, status }) = self.fault {
            if n == self.blocks {
                return self.error(status);
            }
        }
        self.blocks += 1;
        let map = self.map.as_ref().expect("DfuSe has a map");
        let end = address as u64 + data.len() as u64;
        let writable = map.segment_at(address).is_some_and(|s| s.writable)
            && map.segment_at((end - 1) as u32).is_some_and(|s| s.writable);
        if !writable {
            return self.error(0x08);
        }
        let start = (address - self.base) as usize;
        let target = &mut self.memory[start..start + data.len()];
        // Flash bits only go from 1 to 0 until erased: writing over old data fails.
        if target.iter().zip(data).any(|(old, new)| old & new != *new) {
            return self.error(0x06);
        }
        target.copy_from_slice(data);
        if let Some(DfuFault::CorruptAt(at)) = self.fault {
            let at = at as usize;
            if (start..start + data.len()).contains(&at) {
                self.memory[at] ^= 0x01;
            }
        }
    }

    fn manifest(&mut self) {
        if let Flavour::Dfu11 { tolerant } = self.flavour {
            self.memory = std::mem::take(&mut self.incoming);
            if let Some(DfuFault::CorruptAt(at)) = self.fault {
                if let Some(b) = self.memory.get_mut(at as usize) {
                    *b ^= 0x01;
                }
            }
            self.state = if tolerant {
                State::DfuIdle
            } else {
                State::ManifestWaitReset
            };
        }
    }

    fn upload(&mut self, block: u16, len: usize) -> Result<Vec<u8>, TransferError> {
        match self.flavour {
            Flavour::DfuSe if block == 0 => {
                self.state = State::UploadIdle;
                Ok(vec![0x00, wire::DFUSE_SET_ADDRESS, wire::DFUSE_ERASE, 0x92])
            }
            Flavour::DfuSe if block >= 2 => {
                let size = u32::from(self.functional.transfer_size);
                let address = self.pointer + (u32::from(block) - 2) * size;
                let map = self.map.as_ref().expect("DfuSe has a map");
                if !map.readable(address, len as u32) {
                    self.error(0x08);
                    return Err(TransferError::Stall);
                }
                self.state = State::UploadIdle;
                Ok(self.read(address, len).to_vec())
            }
            Flavour::DfuSe => self.stall(),
            Flavour::Dfu11 { .. } => {
                let size = usize::from(self.functional.transfer_size);
                let start = (block as usize * size).min(self.memory.len());
                let end = (start + len).min(self.memory.len());
                let data = self.memory[start..end].to_vec();
                self.state = if data.len() < len {
                    State::DfuIdle
                } else {
                    State::UploadIdle
                };
                Ok(data)
            }
        }
    }
}
