//! Version comparison.
//!
//! Two comparators, chosen per pair:
//! - **SemVer** (the `semver` crate, SemVer 2.0 precedence, build metadata ignored) when *both*
//!   strings parse as strict SemVer (`1.2.3`, `1.2.3-rc.1`, no leading `v`).
//! - **Loose** otherwise: the semantics of Python's `distutils.version.LooseVersion`, which the
//!   Pycom OTA server uses. A version is split into runs of ASCII digits (numbers), runs of ASCII
//!   lower-case letters, and runs of anything else except `.` (text); dots separate and are
//!   dropped. The lists are compared element by element, and a longer list with an equal prefix
//!   is greater. So `1.0.9 < 1.0.10`, `1.07 == 1.7`, and `1.0-rc1 > 1.0` (a pre-release tag sorts
//!   *after* its release, as it does on the Pycom server).
//!
//! Where Python 3 raises `TypeError` (a number meets text at the first differing position, e.g.
//! `v1.2` against `1.3`), we return [`Comparison::ordering`] `None`: the pair is *incomparable*,
//! and [`classify_update`] reports [`UpdateKind::Incomparable`], which callers must treat as an
//! error, never as permission to install.
//!
//! Deviations from Python, on purpose: surrounding whitespace is trimmed; only ASCII digits count
//! as numbers (Python's `\d` also takes other Unicode digits); an empty string or one longer than
//! [`MAX_VERSION_LEN`] bytes is incomparable (Python raises `AttributeError` for the empty one).
//!
//! The comparators are each a total order on their own domain, but mixing them across a set of
//! versions is not: `1.0.0-rc.1 < 1.0.0` (SemVer), `1.0.0 < 1.0.0-a_` and `1.0.0-a_ < 1.0.0-rc.1`
//! (Loose, because `1.0.0-a_` is not SemVer) make a cycle. Version one product with one scheme.

use serde::Serialize;
use std::cmp::Ordering;
use std::fmt;

/// Longest version string compared (bytes, after trimming).
pub const MAX_VERSION_LEN: usize = 256;

/// Which comparator decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparator {
    /// Both sides are strict SemVer.
    Semver,
    /// At least one side is not SemVer: LooseVersion semantics.
    Loose,
}

impl fmt::Display for Comparator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Semver => "SemVer",
            Self::Loose => "LooseVersion",
        })
    }
}

/// One element of a [`LooseVersion`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum LoosePart {
    /// A run of ASCII digits, leading zeros removed (`"007"` is `"7"`); compared as a number of
    /// any size.
    Number(String),
    /// A run of lower-case letters, or of other characters except `.`; compared by code point.
    Text(String),
}

impl fmt::Display for LoosePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => f.write_str(n),
            Self::Text(t) => write!(f, "{t:?}"),
        }
    }
}

fn cmp_numbers(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// A version split the way Python's `LooseVersion` splits it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct LooseVersion {
    text: String,
    parts: Vec<LoosePart>,
}

/// Why two loose versions cannot be ordered (Python 3 raises `TypeError` here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incomparable {
    /// Index of the first differing component.
    pub index: usize,
    /// The component on the left.
    pub left: LoosePart,
    /// The component on the right.
    pub right: LoosePart,
}

impl fmt::Display for Incomparable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "component {} compares {} with {}, a number with text, which LooseVersion refuses (TypeError in Python 3)",
            self.index + 1,
            self.left,
            self.right
        )
    }
}

impl LooseVersion {
    /// Split `text` (not trimmed). `None` when empty or longer than [`MAX_VERSION_LEN`].
    pub fn parse(text: &str) -> Option<Self> {
        if text.is_empty() || text.len() > MAX_VERSION_LEN {
            return None;
        }
        let mut parts = Vec::new();
        let mut chars = text.char_indices().peekable();
        while let Some(&(start, c)) = chars.peek() {
            let class = |c: char| {
                if c.is_ascii_digit() {
                    0
                } else if c.is_ascii_lowercase() {
                    1
                } else if c == '.' {
                    2
                } else {
                    3
                }
            };
            let k = class(c);
            let mut end = start + c.len_utf8();
            chars.next();
            if k != 2 {
                while let Some(&(i, d)) = chars.peek() {
                    if class(d) != k {
                        break;
                    }
                    end = i + d.len_utf8();
                    chars.next();
                }
            }
            let run = &text[start..end];
            match k {
                0 => {
                    let trimmed = run.trim_start_matches('0');
                    parts.push(LoosePart::Number(
                        if trimmed.is_empty() { "0" } else { trimmed }.into(),
                    ));
                }
                2 => {}
                _ => parts.push(LoosePart::Text(run.into())),
            }
        }
        Some(Self {
            text: text.into(),
            parts,
        })
    }

    /// The original string.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The components.
    pub fn parts(&self) -> &[LoosePart] {
        &self.parts
    }

    /// Order two versions as Python 3 would, or say why it would raise `TypeError`.
    pub fn try_cmp(&self, other: &Self) -> Result<Ordering, Incomparable> {
        for (index, (a, b)) in self.parts.iter().zip(&other.parts).enumerate() {
            if a == b {
                continue;
            }
            return match (a, b) {
                (LoosePart::Number(x), LoosePart::Number(y)) => Ok(cmp_numbers(x, y)),
                (LoosePart::Text(x), LoosePart::Text(y)) => Ok(x.cmp(y)),
                _ => Err(Incomparable {
                    index,
                    left: a.clone(),
                    right: b.clone(),
                }),
            };
        }
        Ok(self.parts.len().cmp(&other.parts.len()))
    }
}

/// The result of comparing two version strings, left against right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// `Some` ordering of left against right, or `None` when the pair is incomparable.
    #[serde(serialize_with = "ser_ordering")]
    pub ordering: Option<Ordering>,
    /// The comparator that decided.
    pub comparator: Comparator,
    /// Why the pair is incomparable, or a caveat about how it was decided.
    pub note: Option<String>,
}

fn ser_ordering<S: serde::Serializer>(o: &Option<Ordering>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match o {
        Some(Ordering::Less) => "less",
        Some(Ordering::Equal) => "equal",
        Some(Ordering::Greater) => "greater",
        None => "incomparable",
    })
}

/// Compare two version strings (trimmed): SemVer when both parse, LooseVersion otherwise.
pub fn compare(left: &str, right: &str) -> Comparison {
    let (left, right) = (left.trim(), right.trim());
    if let (Ok(a), Ok(b)) = (semver::Version::parse(left), semver::Version::parse(right)) {
        let ordering = a.cmp_precedence(&b);
        let note = (ordering == Ordering::Equal && a.build != b.build).then(|| {
            format!("{left} and {right} differ only in build metadata, which SemVer ignores")
        });
        return Comparison {
            ordering: Some(ordering),
            comparator: Comparator::Semver,
            note,
        };
    }
    let loose = |s: &str| {
        LooseVersion::parse(s).ok_or_else(|| {
            if s.is_empty() {
                "an empty version cannot be compared".to_string()
            } else {
                format!("a version longer than {MAX_VERSION_LEN} bytes cannot be compared")
            }
        })
    };
    let (a, b) = match (loose(left), loose(right)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            return Comparison {
                ordering: None,
                comparator: Comparator::Loose,
                note: Some(e),
            }
        }
    };
    match a.try_cmp(&b) {
        Ok(ordering) => {
            let (short, long) = if a.parts.len() < b.parts.len() {
                (&a, &b)
            } else {
                (&b, &a)
            };
            let note = match long.parts.get(short.parts.len()) {
                Some(LoosePart::Text(t)) if long.parts.starts_with(&short.parts) => Some(format!(
                    "LooseVersion ranks {} after {} because of the suffix {t:?} (pre-release tags sort after the release)",
                    long.text, short.text
                )),
                _ => None,
            };
            Comparison {
                ordering: Some(ordering),
                comparator: Comparator::Loose,
                note,
            }
        }
        Err(e) => Comparison {
            ordering: None,
            comparator: Comparator::Loose,
            note: Some(format!("cannot compare {left:?} with {right:?}: {e}")),
        },
    }
}

/// What installing a proposed version over the current one would be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateKind {
    /// The proposed version is newer.
    Upgrade,
    /// The same version (nothing to do).
    Same,
    /// The proposed version is older: refuse unless a person explicitly allows it.
    Downgrade,
    /// The versions cannot be ordered: treat as an error.
    Incomparable,
}

/// A proposed update classified against the installed version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateCheck {
    /// The installed version (trimmed).
    pub current: String,
    /// The proposed version (trimmed).
    pub proposed: String,
    /// Upgrade, same, downgrade or incomparable.
    pub kind: UpdateKind,
    /// The comparator used.
    pub comparator: Comparator,
    /// Why incomparable, or a caveat.
    pub note: Option<String>,
}

impl UpdateCheck {
    /// True only for [`UpdateKind::Upgrade`].
    pub fn is_upgrade(&self) -> bool {
        self.kind == UpdateKind::Upgrade
    }
}

impl fmt::Display for UpdateCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (cur, new, by) = (&self.current, &self.proposed, self.comparator);
        match self.kind {
            UpdateKind::Upgrade => write!(f, "{new} is newer than the installed {cur} ({by})")?,
            UpdateKind::Same => write!(f, "{new} is already installed ({by})")?,
            UpdateKind::Downgrade => write!(
                f,
                "{new} is older than the installed {cur}: a downgrade ({by})"
            )?,
            UpdateKind::Incomparable => write!(f, "{new} cannot be ordered against {cur}")?,
        }
        if let Some(note) = &self.note {
            write!(f, "; {note}")?;
        }
        Ok(())
    }
}

/// Classify installing `proposed` over `current`. Downgrades are reported as such, and
/// incomparable pairs are never reported as upgrades.
pub fn classify_update(current: &str, proposed: &str) -> UpdateCheck {
    let c = compare(proposed, current);
    let kind = match c.ordering {
        Some(Ordering::Greater) => UpdateKind::Upgrade,
        Some(Ordering::Equal) => UpdateKind::Same,
        Some(Ordering::Less) => UpdateKind::Downgrade,
        None => UpdateKind::Incomparable,
    };
    UpdateCheck {
        current: current.trim().into(),
        proposed: proposed.trim().into(),
        kind,
        comparator: c.comparator,
        note: c.note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(s: &str) -> Vec<String> {
        LooseVersion::parse(s)
            .unwrap()
            .parts()
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn splits_like_python() {
        assert_eq!(parts("1.0.0-rc1"), ["1", "0", "0", "\"-\"", "\"rc\"", "1"]);
        assert_eq!(parts("v1.2"), ["\"v\"", "1", "2"]);
        assert_eq!(parts("1.0Ab"), ["1", "0", "\"A\"", "\"b\""]);
        assert_eq!(parts("1..007"), ["1", "7"]);
    }

    #[test]
    fn incomparable_says_why() {
        let c = compare("v1.2", "1.3");
        assert_eq!(c.ordering, None);
        assert!(c.note.unwrap().contains("TypeError"));
    }
}
