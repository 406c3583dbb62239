//! Loading a flasher stub into the chip's RAM (`MEM_BEGIN`, `MEM_DATA`, `MEM_END`), segment by
//! segment, before the session switches to the stub's dialect.

use super::*;

impl EspRomSession {
    fn stub_segment(&self, seg: usize) -> &[u8] {
        self.cfg.stub.as_ref().map_or(&[], |s| &s.segments[seg].1)
    }

    pub(super) fn mem_begin(&mut self, seg: usize) {
        let Some(stub) = self.cfg.stub.as_ref() else {
            return;
        };
        let (addr, len) = (stub.segments[seg].0, stub.segments[seg].1.len());
        let words = packet::words(&[
            len as u32,
            len.div_ceil(MEM_BLOCK) as u32,
            MEM_BLOCK as u32,
            addr,
        ]);
        self.phase = Phase::MemBegin(seg);
        self.send(op::MEM_BEGIN, &words, 0, DEFAULT_TIMEOUT, 1);
    }

    pub(super) fn mem_data(&mut self, seg: usize, seq: usize) {
        let all = self.stub_segment(seg);
        let end = ((seq + 1) * MEM_BLOCK).min(all.len());
        let data = all[seq * MEM_BLOCK..end].to_vec();
        let mut body = packet::words(&[data.len() as u32, seq as u32, 0, 0]);
        body.extend_from_slice(&data);
        self.phase = Phase::MemData(seg, seq);
        let sum = packet::checksum(&data);
        self.send(op::MEM_DATA, &body, sum, DEFAULT_TIMEOUT, BLOCK_ATTEMPTS);
    }

    pub(super) fn mem_next(&mut self, seg: usize, seq: usize) {
        let Some(stub) = self.cfg.stub.as_ref() else {
            return;
        };
        let blocks = stub.segments[seg].1.len().div_ceil(MEM_BLOCK);
        if seq + 1 < blocks {
            self.mem_data(seg, seq + 1);
        } else if seg + 1 < stub.segments.len() {
            self.mem_begin(seg + 1);
        } else {
            let entry = stub.entry;
            self.phase = Phase::MemEnd;
            let words = packet::words(&[u32::from(entry == 0), entry]);
            self.send(op::MEM_END, &words, 0, DEFAULT_TIMEOUT, 1);
        }
    }
}
