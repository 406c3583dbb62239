//! Digests computed as the bytes stream past, so that a large image never has to be hashed in one
//! call (a long call in the browser stays in the slow baseline tier and freezes the page).

use sha2::{Digest, Sha256};

/// A SHA-256 fed in chunks.
#[derive(Debug, Clone, Default)]
pub struct StreamingSha256 {
    inner: Sha256,
    len: u64,
}

impl StreamingSha256 {
    /// An empty digest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        self.inner.update(chunk);
        self.len += chunk.len() as u64;
    }

    /// Bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True before the first byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> [u8; 32] {
        self.inner.finalize().into()
    }
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

/// SHA-256 of a whole buffer, in one call. For small inputs only.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        assert_eq!(
            to_hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn chunked_equals_one_shot_for_every_split() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        let whole = sha256(&data);
        for split in [0, 1, 63, 64, 65, 150, 299, 300] {
            let mut s = StreamingSha256::new();
            s.update(&data[..split]);
            s.update(&data[split..]);
            assert_eq!(s.len(), 300);
            assert_eq!(s.finish(), whole, "split at {split}");
        }
    }
}
