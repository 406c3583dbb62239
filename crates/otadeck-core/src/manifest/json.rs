//! A small walker over `serde_json::Value` that keeps the JSON path of every node, so every error
//! names where it is. Parsing refuses duplicate keys and documents larger than
//! [`MAX_DOCUMENT_BYTES`]; `serde_json`'s nesting limit (128) bounds the depth.

use super::{invalid, ErrorKind, ManifestError, MAX_DOCUMENT_BYTES};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::fmt;

/// A `Value` built by a visitor that refuses duplicate object keys.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Strict, E> {
        Ok(Strict(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict(Value::String(v.into())))
    }
    fn visit_string<E>(self, v: String) -> Result<Strict, E> {
        Ok(Strict(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Strict(Value::Array(out)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Strict(Value::Object(out)))
    }
}

/// Parse a whole document (a leading UTF-8 byte-order mark is skipped).
pub(crate) fn parse_document(bytes: &[u8]) -> Result<Value, ManifestError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(ManifestError::new(
            "",
            ErrorKind::TooLarge {
                size: bytes.len(),
                max: MAX_DOCUMENT_BYTES,
            },
        ));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ManifestError::new("", ErrorKind::Empty));
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        let at = e.valid_up_to();
        return Err(ManifestError::new(
            "",
            ErrorKind::Syntax {
                message: format!(
                    "the text is not UTF-8 (byte {:#04x} at offset {at})",
                    bytes[at]
                ),
            },
        ));
    }
    serde_json::from_slice::<Strict>(bytes)
        .map(|s| s.0)
        .map_err(|e| {
            ManifestError::new(
                "",
                ErrorKind::Syntax {
                    message: e.to_string(),
                },
            )
        })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn push_key(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Value::String(key.into())),
    }
}

/// A value and its JSON path.
#[derive(Clone)]
pub(crate) struct Node<'a> {
    pub v: &'a Value,
    pub path: String,
}

impl<'a> Node<'a> {
    pub fn root(v: &'a Value) -> Self {
        Self {
            v,
            path: String::new(),
        }
    }

    pub fn err(&self, kind: ErrorKind) -> ManifestError {
        ManifestError::new(self.path.clone(), kind)
    }

    pub fn invalid(&self, message: impl Into<String>) -> ManifestError {
        self.err(invalid(message))
    }

    fn wrong(&self, expected: &'static str) -> ManifestError {
        self.err(ErrorKind::Type {
            expected,
            found: type_name(self.v),
        })
    }

    pub fn obj(&self) -> Result<Obj<'a>, ManifestError> {
        match self.v {
            Value::Object(map) => Ok(Obj {
                map,
                path: self.path.clone(),
            }),
            _ => Err(self.wrong("an object")),
        }
    }

    pub fn str(&self) -> Result<&'a str, ManifestError> {
        self.v.as_str().ok_or_else(|| self.wrong("a string"))
    }

    /// A string of 1 to `max` characters without control characters.
    pub fn text(&self, max: usize) -> Result<&'a str, ManifestError> {
        let s = self.str()?;
        if s.is_empty() {
            return Err(self.invalid("must not be empty"));
        }
        if s.chars().count() > max {
            return Err(self.invalid(format!("longer than {max} characters")));
        }
        if let Some(c) = s.chars().find(|c| super::safety::hidden_char(*c)) {
            return Err(self.invalid(format!(
                "contains the invisible or control character U+{:04X}, which can make it read as \
                 something else",
                u32::from(c)
            )));
        }
        Ok(s)
    }

    pub fn bool(&self) -> Result<bool, ManifestError> {
        self.v.as_bool().ok_or_else(|| self.wrong("true or false"))
    }

    pub fn u64(&self) -> Result<u64, ManifestError> {
        match self.v {
            Value::Number(n) => n
                .as_u64()
                .ok_or_else(|| self.invalid(format!("expected a whole number ≥ 0, found {n}"))),
            _ => Err(self.wrong("a number")),
        }
    }

    pub fn i64(&self) -> Result<i64, ManifestError> {
        match self.v {
            Value::Number(n) => n
                .as_i64()
                .ok_or_else(|| self.invalid(format!("expected a whole number, found {n}"))),
            _ => Err(self.wrong("a number")),
        }
    }

    /// A whole number within `lo..=hi`.
    pub fn int_in(&self, lo: i64, hi: i64) -> Result<i64, ManifestError> {
        let n = self.i64()?;
        if n < lo || n > hi {
            return Err(self.invalid(format!("{n} is outside {lo}..{hi}")));
        }
        Ok(n)
    }

    pub fn arr(&self) -> Result<Vec<Node<'a>>, ManifestError> {
        match self.v {
            Value::Array(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| Node {
                    v,
                    path: format!("{}[{i}]", self.path),
                })
                .collect()),
            _ => Err(self.wrong("an array")),
        }
    }

    /// An array of at most `max` items.
    pub fn arr_max(&self, max: usize) -> Result<Vec<Node<'a>>, ManifestError> {
        let items = self.arr()?;
        if items.len() > max {
            return Err(self.err(ErrorKind::TooMany {
                found: items.len(),
                max,
            }));
        }
        Ok(items)
    }

    /// One of `allowed` (exact string).
    pub fn one_of<T: Copy>(&self, allowed: &[(&str, T)]) -> Result<T, ManifestError> {
        let s = self.str()?;
        allowed
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let names: Vec<String> = allowed.iter().map(|(n, _)| format!("{n:?}")).collect();
                self.invalid(format!("expected one of {}, found {s:?}", names.join(", ")))
            })
    }
}

/// An object and its JSON path.
pub(crate) struct Obj<'a> {
    pub map: &'a Map<String, Value>,
    pub path: String,
}

impl<'a> Obj<'a> {
    pub fn err(&self, kind: ErrorKind) -> ManifestError {
        ManifestError::new(self.path.clone(), kind)
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    /// A field that may be absent; `null` counts as absent.
    pub fn opt(&self, key: &str) -> Option<Node<'a>> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(Node {
                v,
                path: push_key(&self.path, key),
            }),
        }
    }

    /// A required field.
    pub fn req(&self, key: &str) -> Result<Node<'a>, ManifestError> {
        self.opt(key)
            .ok_or_else(|| ManifestError::new(push_key(&self.path, key), ErrorKind::Missing))
    }

    /// The path of a child, for errors about a field that is absent.
    pub fn child_path(&self, key: &str) -> String {
        push_key(&self.path, key)
    }

    /// Every entry, in key order, with its path.
    pub fn entries(&self) -> impl Iterator<Item = (&'a String, Node<'a>)> + '_ {
        self.map.iter().map(|(k, v)| {
            (
                k,
                Node {
                    v,
                    path: push_key(&self.path, k),
                },
            )
        })
    }
}
