//! The CBOR data items SMP bodies are made of, decoded and encoded with `minicbor`.

use minicbor::data::Type;

/// A CBOR data item, as much of CBOR as SMP uses.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer.
    Int(i128),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A text string.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// `null` or `undefined`.
    Null,
    /// A float (kept for completeness).
    Float(f64),
    /// An array.
    Array(Vec<Value>),
    /// A map, in wire order.
    Map(Vec<(Value, Value)>),
}

const MAX_DEPTH: usize = 16;

impl Value {
    /// A map with text keys.
    pub fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::Text(k.into()), v))
                .collect(),
        )
    }

    /// The value under text key `key`, when this is a map.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m
                .iter()
                .find(|(k, _)| matches!(k, Value::Text(t) if t == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Add or replace `key` in a map.
    pub fn insert(&mut self, key: &str, value: Value) {
        if let Value::Map(m) = self {
            m.retain(|(k, _)| !matches!(k, Value::Text(t) if t == key));
            m.push((Value::Text(key.into()), value));
        }
    }

    /// The integer, if it is one.
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The integer as u64, if it is a non-negative one that fits.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_int().and_then(|i| u64::try_from(i).ok())
    }

    /// The boolean, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The text, if it is a text string.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The bytes, if it is a byte string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The items, if it is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Encode as CBOR (definite lengths).
    pub fn encode(&self) -> Vec<u8> {
        let mut e = minicbor::Encoder::new(Vec::new());
        self.write(&mut e);
        e.into_writer()
    }

    fn write(&self, e: &mut minicbor::Encoder<Vec<u8>>) {
        // Writing into a Vec cannot fail.
        let _ = match self {
            Value::Int(i) => match (u64::try_from(*i), i64::try_from(*i)) {
                (Ok(u), _) => e.u64(u),
                (_, Ok(s)) => e.i64(s),
                _ => e.null(),
            },
            Value::Bytes(b) => e.bytes(b),
            Value::Text(t) => e.str(t),
            Value::Bool(b) => e.bool(*b),
            Value::Null => e.null(),
            Value::Float(f) => e.f64(*f),
            Value::Array(a) => {
                let _ = e.array(a.len() as u64);
                for v in a {
                    v.write(e);
                }
                Ok(&mut *e)
            }
            Value::Map(m) => {
                let _ = e.map(m.len() as u64);
                for (k, v) in m {
                    k.write(e);
                    v.write(e);
                }
                Ok(&mut *e)
            }
        };
    }

    /// Decode one CBOR item that fills `data` (indefinite lengths and tags accepted).
    pub fn decode(data: &[u8]) -> Result<Value, String> {
        let mut d = minicbor::Decoder::new(data);
        let v = read(&mut d, 0)?;
        if d.position() != data.len() {
            return Err(format!(
                "{} bytes after the CBOR item",
                data.len() - d.position()
            ));
        }
        Ok(v)
    }
}

fn read(d: &mut minicbor::Decoder<'_>, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("CBOR nested too deep".into());
    }
    let e = |x: minicbor::decode::Error| x.to_string();
    Ok(match d.datatype().map_err(e)? {
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Value::Int(d.u64().map_err(e)?.into()),
        Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => {
            Value::Int(i128::from(d.int().map_err(e)?))
        }
        Type::Bytes => Value::Bytes(d.bytes().map_err(e)?.to_vec()),
        Type::BytesIndef => {
            let mut out = Vec::new();
            for part in d.bytes_iter().map_err(e)? {
                out.extend_from_slice(part.map_err(e)?);
            }
            Value::Bytes(out)
        }
        Type::String => Value::Text(d.str().map_err(e)?.to_string()),
        Type::StringIndef => {
            let mut out = String::new();
            for part in d.str_iter().map_err(e)? {
                out.push_str(part.map_err(e)?);
            }
            Value::Text(out)
        }
        Type::Bool => Value::Bool(d.bool().map_err(e)?),
        Type::Null | Type::Undefined => {
            d.skip().map_err(e)?;
            Value::Null
        }
        Type::F16 | Type::F32 | Type::F64 => Value::Float(d.f64().map_err(e)?),
        Type::Array | Type::ArrayIndef => {
            let n = d.array().map_err(e)?;
            let mut items = Vec::new();
            match n {
                Some(n) => {
                    for _ in 0..n {
                        items.push(read(d, depth + 1)?);
                    }
                }
                None => {
                    while d.datatype().map_err(e)? != Type::Break {
                        items.push(read(d, depth + 1)?);
                    }
                    d.skip().map_err(e)?;
                }
            }
            Value::Array(items)
        }
        Type::Map | Type::MapIndef => {
            let n = d.map().map_err(e)?;
            let mut items = Vec::new();
            match n {
                Some(n) => {
                    for _ in 0..n {
                        let k = read(d, depth + 1)?;
                        items.push((k, read(d, depth + 1)?));
                    }
                }
                None => {
                    while d.datatype().map_err(e)? != Type::Break {
                        let k = read(d, depth + 1)?;
                        items.push((k, read(d, depth + 1)?));
                    }
                    d.skip().map_err(e)?;
                }
            }
            Value::Map(items)
        }
        Type::Tag => {
            d.tag().map_err(e)?;
            read(d, depth + 1)?
        }
        other => return Err(format!("unsupported CBOR item {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s = s.replace(' ', "");
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn indefinite_lengths_tags_and_depth() {
        // {_ "a": [_ 1, -2], "b": (_ h'01', h'02')}
        let data = hex("bf6161 9f0121ff 6162 5f41014102ff ff");
        let v = Value::decode(&data).unwrap();
        assert_eq!(
            v.get("a"),
            Some(&Value::Array(vec![Value::Int(1), Value::Int(-2)]))
        );
        assert_eq!(v.get("b").and_then(Value::as_bytes), Some(&[1u8, 2][..]));
        // A tagged item reads as the item.
        assert_eq!(
            Value::decode(&hex("c11a5f000000")).unwrap(),
            Value::Int(0x5f00_0000)
        );
        let deep = [[0x81u8; 40].as_slice(), &[0x00]].concat();
        assert!(Value::decode(&deep).is_err());
        assert!(Value::decode(&hex("0000")).is_err(), "trailing bytes");
    }
}
