//! String and bytes literals for [`crate::interp::python::expr`], lexed as MicroPython's `py/lexer.c` does.
//!
//! Source reaches a simulated interpreter one `char` per byte of the exec (Latin-1, see
//! [`crate::mp_repl::Interpreter::exec`]), so a bytes literal carries every byte value the wire
//! carried. Inside the quotes, every byte stands for itself except the quote, `\` (an escape),
//! and CR or LF (the lexer turns CR into LF, which ends a one-line literal: a syntax error).
//! Escapes: `\\ \' \" \a \b \t \n \v \f \r`, `\xHH` (exactly two hex digits), one to three octal
//! digits (above 0xff is a syntax error in bytes), `\u`/`\U` (kept as written in bytes), `\N`
//! (not implemented), and any other `\c` kept as both characters.

use crate::interp::python::expr::{PyErr, Value};

fn syntax() -> PyErr {
    PyErr::new("SyntaxError", "invalid syntax")
}

/// The byte a source `char` stands for: itself for Latin-1, its UTF-8 for code handed to the
/// interpreter as a Rust string with wider characters.
fn push_char(out: &mut Vec<u8>, c: char) {
    match u8::try_from(u32::from(c)) {
        Ok(b) => out.push(b),
        Err(_) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
    }
}

/// Where the literal starting at `expr[start]` (its opening quote) ends: the index just past its
/// closing quote, honouring escapes. `None` when it is not closed.
pub(crate) fn literal_end(expr: &str, start: usize) -> Option<usize> {
    let quote = expr[start..].chars().next()?;
    let mut escaped = false;
    for (i, c) in expr[start + quote.len_utf8()..].char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return Some(start + quote.len_utf8() + i + 1);
        }
    }
    None
}

/// The characters of source code outside its string literals, with their byte positions; the
/// quotes themselves and everything between them are left out.
pub(crate) struct CodeChars<'a> {
    chars: std::str::CharIndices<'a>,
    quote: Option<char>,
    escaped: bool,
}

impl<'a> CodeChars<'a> {
    /// Scan `code` from its start.
    pub(crate) fn new(code: &'a str) -> Self {
        CodeChars {
            chars: code.char_indices(),
            quote: None,
            escaped: false,
        }
    }

    /// Whether the scan stands inside a literal (at the end: one left open).
    pub(crate) fn in_literal(&self) -> bool {
        self.quote.is_some()
    }
}

impl Iterator for CodeChars<'_> {
    type Item = (usize, char);

    fn next(&mut self) -> Option<(usize, char)> {
        for (i, c) in self.chars.by_ref() {
            match self.quote {
                Some(_) if self.escaped => self.escaped = false,
                Some(_) if c == '\\' => self.escaped = true,
                Some(q) if c == q => self.quote = None,
                Some(_) => {}
                None if c == '\'' || c == '"' => self.quote = Some(c),
                None => return Some((i, c)),
            }
        }
        None
    }
}

/// `expr` as a literal (`b'…'`, `b"…"`, `'…'`, `"…"`), when it is exactly one; `None` when it is
/// something else (a literal followed by more, a call, ...).
pub fn parse(expr: &str) -> Option<Result<Value, PyErr>> {
    let (is_bytes, open) = match expr.as_bytes().first()? {
        b'b' | b'B' if matches!(expr.as_bytes().get(1), Some(b'\'' | b'"')) => (true, 1),
        b'\'' | b'"' => (false, 0),
        _ => return None,
    };
    match literal_end(expr, open) {
        Some(end) if end == expr.len() => {}
        Some(_) => return None,
        None => return Some(Err(syntax())),
    }
    let body = &expr[open + 1..expr.len() - 1];
    Some(body_value(body, is_bytes))
}

fn body_value(body: &str, is_bytes: bool) -> Result<Value, PyErr> {
    let mut out = Vec::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' | '\n' => return Err(syntax()),
            '\\' => {}
            _ => {
                push_char(&mut out, c);
                continue;
            }
        }
        let e = chars.next().ok_or_else(syntax)?;
        let value: u32 = match e {
            '\\' | '\'' | '"' => u32::from(e),
            'a' => 0x07,
            'b' => 0x08,
            't' => 0x09,
            'n' => 0x0a,
            'v' => 0x0b,
            'f' => 0x0c,
            'r' => 0x0d,
            'u' | 'U' if is_bytes => {
                out.push(b'\\');
                u32::from(e)
            }
            'x' | 'u' | 'U' => {
                let digits = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut v = 0u32;
                for _ in 0..digits {
                    let d = chars
                        .next()
                        .and_then(|d| d.to_digit(16))
                        .ok_or_else(syntax)?;
                    v = v * 16 + d;
                }
                v
            }
            'N' => return Err(PyErr::new("NotImplementedError", "unicode name escapes")),
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                v
            }
            other => {
                out.push(b'\\');
                push_char(&mut out, other);
                continue;
            }
        };
        if is_bytes {
            out.push(u8::try_from(value).map_err(|_| syntax())?);
        } else {
            let c = char::from_u32(value).ok_or_else(syntax)?;
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        }
    }
    Ok(if is_bytes {
        Value::Bytes(out)
    } else {
        Value::Str(String::from_utf8_lossy(&out).into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(src: &str) -> Result<Vec<u8>, String> {
        match parse(src) {
            Some(Ok(Value::Bytes(b))) => Ok(b),
            Some(Ok(other)) => Err(format!("{other:?}")),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("not a literal".into()),
        }
    }

    #[test]
    fn escapes_follow_the_micropython_lexer() {
        assert_eq!(
            bytes(r"b'\1\0017\x41\\\'\n\r\t\q\u12'"),
            Ok(b"\x01\x017A\\'\n\r\t\\q\\u12".to_vec())
        );
        assert_eq!(bytes(r#"b"'\"""#), Ok(b"'\"".to_vec()));
        let latin1: String = (0u8..=255)
            .filter(|b| !matches!(b, b'\'' | b'\\' | b'\n' | b'\r'))
            .map(char::from)
            .collect();
        let want: Vec<u8> = latin1.chars().map(|c| c as u8).collect();
        assert_eq!(bytes(&format!("b'{latin1}'")), Ok(want));
        for bad in [r"b'\777'", r"b'\x4'", "b'a\rb'", "b'abc", r"b'\'"] {
            assert_eq!(
                bytes(bad),
                Err("SyntaxError: invalid syntax".into()),
                "{bad}"
            );
        }
        assert_eq!(
            bytes(r"b'\N{DASH}'"),
            Err("NotImplementedError: unicode name escapes".into())
        );
        assert_eq!(parse("b'a'.hex()"), None);
        assert_eq!(parse(r"'\u00e9'"), Some(Ok(Value::Str("é".into()))));
    }
}
