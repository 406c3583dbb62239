//! A region deflated a slice at a time: the session asks its caller to come back (a timeout due
//! at once) between slices, so that a big image never holds the caller's thread for long.

use miniz_oxide::deflate::core::{create_comp_flags_from_zip_params, CompressorOxide};
use miniz_oxide::deflate::stream::deflate;
use miniz_oxide::{MZFlush, MZStatus};

/// Input bytes deflated per turn (a few milliseconds at level 9).
pub const SLICE: usize = 64 * 1024;

/// zlib-wrapped deflate (what `FLASH_DEFL_DATA` carries) at level 9, in progress.
pub struct Deflating {
    compressor: Box<CompressorOxide>,
    consumed: usize,
    out: Vec<u8>,
    filled: usize,
}

impl std::fmt::Debug for Deflating {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflating")
            .field("consumed", &self.consumed)
            .field("filled", &self.filled)
            .finish()
    }
}

impl Default for Deflating {
    fn default() -> Self {
        // A positive window size asks for the zlib header and Adler-32 trailer.
        let flags = create_comp_flags_from_zip_params(9, 1, 0);
        Deflating {
            compressor: Box::new(CompressorOxide::new(flags)),
            consumed: 0,
            out: Vec::new(),
            filled: 0,
        }
    }
}

impl Deflating {
    /// Input bytes deflated so far.
    pub fn consumed(&self) -> usize {
        self.consumed
    }

    /// Deflate the next slice of `data` (the same `data` at every call); the whole compressed
    /// stream once the last slice is in.
    pub fn step(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        let end = (self.consumed + SLICE).min(data.len());
        let flush = if end == data.len() {
            MZFlush::Finish
        } else {
            MZFlush::None
        };
        loop {
            if self.out.len() - self.filled < SLICE {
                self.out.resize(self.filled + 2 * SLICE, 0);
            }
            let r = deflate(
                &mut self.compressor,
                &data[self.consumed..end],
                &mut self.out[self.filled..],
                flush,
            );
            self.consumed += r.bytes_consumed;
            self.filled += r.bytes_written;
            match r.status {
                Ok(MZStatus::StreamEnd) => {
                    self.out.truncate(self.filled);
                    return Some(std::mem::take(&mut self.out));
                }
                Ok(_) if flush == MZFlush::None && self.consumed == end => return None,
                // More room for output, or more of the slice to take.
                Ok(_) => {}
                // The stream API only fails on misuse; start over in one call rather than
                // send a broken stream.
                Err(_) => return Some(miniz_oxide::deflate::compress_to_vec_zlib(data, 9)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_at_once(data: &[u8]) -> (Vec<u8>, usize) {
        let mut d = Deflating::default();
        let mut turns = 1;
        loop {
            if let Some(z) = d.step(data) {
                return (z, turns);
            }
            turns += 1;
        }
    }

    #[test]
    fn sliced_stream_inflates_to_the_input() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut noise = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect()
        };
        let mut patterned: Vec<u8> = (0..300_000u32).map(|i| (i / 7 % 251) as u8).collect();
        patterned.extend(noise(50_000));
        for data in [
            Vec::new(),
            vec![0xAB],
            noise(SLICE),
            noise(3 * SLICE + 17),
            patterned,
        ] {
            let (z, turns) = all_at_once(&data);
            assert_eq!(
                turns,
                data.len().div_ceil(SLICE).max(1),
                "one turn per slice"
            );
            let back = miniz_oxide::inflate::decompress_to_vec_zlib(&z).expect("valid zlib");
            assert_eq!(back, data);
        }
    }
}
