//! A download checked as it arrives: a size cap (the size the source declares, else
//! [`DEFAULT_CAP`]), and every hash the source publishes computed over the chunks, so a wrong or
//! cut-short file is refused before a byte of it goes to the module.

use crate::digest::{Algorithm, ExpectedDigest, MultiDigest, Verdict};
use crate::progress::format_size;
use crate::session::group_digits;

use super::Item;

/// The most a download with no declared size may bring: 32 MiB.
pub const DEFAULT_CAP: u64 = 32 * 1024 * 1024;

/// Why a download was refused. Each reads as a sentence a technician can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownloadError {
    /// The server declared or sent more than allowed.
    #[error("{label}: the server sends {got} bytes, more than the {cap} bytes ({size}) {why}; refused, nothing was sent to the module", got = group_digits(*.received), cap = group_digits(*.cap), size = format_size(*.cap))]
    TooLarge {
        /// What was downloaded.
        label: String,
        /// Bytes received (or declared by `Content-Length`).
        received: u64,
        /// Bytes allowed.
        cap: u64,
        /// Where the cap comes from.
        why: &'static str,
    },
    /// The body ended before the declared size.
    #[error("{label}: the download stopped at {} of {} (the connection closed early); try again, nothing was sent to the module", format_size(*.received), format_size(*.expected))]
    Truncated {
        /// What was downloaded.
        label: String,
        /// Bytes received.
        received: u64,
        /// Bytes the source declares.
        expected: u64,
    },
    /// A published hash does not match the bytes.
    #[error("{label}: its {algorithm} is {actual}, and the source publishes {expected}: this is not the file the source describes; refused, nothing was sent to the module")]
    Mismatch {
        /// What was downloaded.
        label: String,
        /// The algorithm that disagreed.
        algorithm: Algorithm,
        /// Hex the source publishes.
        expected: String,
        /// Hex of the bytes received.
        actual: String,
    },
    /// An empty body where an image was expected.
    #[error("{label}: the server sent an empty file; refused")]
    Empty {
        /// What was downloaded.
        label: String,
    },
}

/// One download in progress.
#[derive(Debug)]
pub struct Download {
    label: String,
    expected_size: Option<u64>,
    cap: u64,
    expected: Vec<ExpectedDigest>,
    hasher: MultiDigest,
    data: Vec<u8>,
}

/// The checked bytes of a download and the digests computed over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The bytes.
    pub data: Vec<u8>,
    /// Every published hash, each matched (algorithm and hex).
    pub matched: Vec<(Algorithm, String)>,
    /// SHA-256 of the bytes, hex, always computed (for the record).
    pub sha256: String,
}

impl Download {
    /// Start the download of `item`.
    pub fn new(item: &Item) -> Self {
        Self::with(&item.label, item.size, &item.digests)
    }

    /// Start a download of `label`, of `size` bytes when declared, with these published hashes.
    pub fn with(label: &str, size: Option<u64>, digests: &[ExpectedDigest]) -> Self {
        let mut algorithms: Vec<Algorithm> = digests.iter().map(|d| d.algorithm()).collect();
        algorithms.push(Algorithm::Sha256);
        Download {
            label: label.into(),
            expected_size: size,
            cap: size.unwrap_or(DEFAULT_CAP),
            expected: digests.to_vec(),
            hasher: MultiDigest::only(&algorithms),
            data: Vec::with_capacity(size.unwrap_or(0).min(DEFAULT_CAP) as usize),
        }
    }

    fn why_cap(&self) -> &'static str {
        if self.expected_size.is_some() {
            "bytes the source declares"
        } else {
            "accepted when the source declares no size"
        }
    }

    /// The server's `Content-Length`, when it sent one: refused at once when over the cap.
    pub fn declared(&self, content_length: Option<u64>) -> Result<(), DownloadError> {
        match content_length {
            Some(n) if n > self.cap => Err(self.too_large(n)),
            _ => Ok(()),
        }
    }

    fn too_large(&self, received: u64) -> DownloadError {
        DownloadError::TooLarge {
            label: self.label.clone(),
            received,
            cap: self.cap,
            why: self.why_cap(),
        }
    }

    /// The next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), DownloadError> {
        let received = self.data.len() as u64 + chunk.len() as u64;
        if received > self.cap {
            return Err(self.too_large(received));
        }
        self.hasher.update(chunk);
        self.data.extend_from_slice(chunk);
        Ok(())
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.data.len() as u64
    }

    /// The size the source declares, when it does.
    pub fn expected_size(&self) -> Option<u64> {
        self.expected_size
    }

    /// What is being downloaded.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The body ended: check its size and every published hash.
    pub fn finish(self) -> Result<Checked, DownloadError> {
        let received = self.data.len() as u64;
        if let Some(expected) = self.expected_size {
            if received < expected {
                return Err(DownloadError::Truncated {
                    label: self.label,
                    received,
                    expected,
                });
            }
        }
        if received == 0 {
            return Err(DownloadError::Empty { label: self.label });
        }
        let digests = self.hasher.finish();
        let mut matched = Vec::new();
        for e in &self.expected {
            match digests.verify(e) {
                Verdict::Match { algorithm } => matched.push((algorithm, e.hex())),
                Verdict::Mismatch {
                    algorithm,
                    expected,
                    actual,
                } => {
                    return Err(DownloadError::Mismatch {
                        label: self.label,
                        algorithm,
                        expected,
                        actual,
                    })
                }
                Verdict::NotComputed { .. } => {
                    unreachable!("every published algorithm is computed")
                }
            }
        }
        Ok(Checked {
            data: self.data,
            matched,
            sha256: digests.hex(Algorithm::Sha256).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{to_hex, MultiDigest};

    fn md5_of(data: &[u8]) -> ExpectedDigest {
        let d = MultiDigest::of(data);
        ExpectedDigest::parse(Algorithm::Md5, &to_hex(&d.md5.unwrap())).unwrap()
    }

    #[test]
    fn chunks_that_match_size_and_hash_pass() {
        let body = b"firmware bytes".repeat(100);
        let mut d = Download::with("app.bin", Some(body.len() as u64), &[md5_of(&body)]);
        for c in body.chunks(97) {
            d.feed(c).unwrap();
        }
        let ok = d.finish().unwrap();
        assert_eq!(ok.data, body);
        assert_eq!(ok.matched.len(), 1);
        assert_eq!(ok.sha256, to_hex(&crate::digest::sha256(&body)));
    }

    #[test]
    fn one_changed_byte_is_refused_with_both_values() {
        let body = vec![7u8; 4096];
        let mut bad = body.clone();
        bad[100] ^= 1;
        let mut d = Download::with("app.bin", None, &[md5_of(&body)]);
        d.feed(&bad).unwrap();
        let e = d.finish().unwrap_err();
        let DownloadError::Mismatch {
            expected, actual, ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(*expected, md5_of(&body).hex());
        assert_eq!(*actual, md5_of(&bad).hex());
        assert!(e.to_string().contains("nothing was sent"), "{e}");
    }

    #[test]
    fn a_body_past_the_declared_size_stops_at_the_first_extra_chunk() {
        let mut d = Download::with("app.bin", Some(10), &[]);
        d.feed(&[0; 8]).unwrap();
        let e = d.feed(&[0; 8]).unwrap_err();
        assert!(
            matches!(
                e,
                DownloadError::TooLarge {
                    received: 16,
                    cap: 10,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(d.declared(Some(11)).is_err());
        assert!(d.declared(Some(10)).is_ok());
    }

    #[test]
    fn with_no_declared_size_the_cap_is_32_mib() {
        let d = Download::with("x", None, &[]);
        assert!(d.declared(Some(DEFAULT_CAP)).is_ok());
        let e = d.declared(Some(DEFAULT_CAP + 1)).unwrap_err();
        assert!(
            e.to_string().contains(
                "more than the 33,554,432 bytes (32 MB) accepted when the source declares no size"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_short_body_is_truncated_and_an_empty_one_refused() {
        let mut d = Download::with("app.bin", Some(100), &[]);
        d.feed(&[1; 60]).unwrap();
        let e = d.finish().unwrap_err();
        assert_eq!(
            e,
            DownloadError::Truncated {
                label: "app.bin".into(),
                received: 60,
                expected: 100
            }
        );
        let e = Download::with("a", None, &[]).finish().unwrap_err();
        assert!(matches!(e, DownloadError::Empty { .. }));
    }
}
