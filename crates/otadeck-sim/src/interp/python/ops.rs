//! Operators for [`crate::interp::python::expr`]: `or`, `and`, `not`, comparisons, `+` and `-` on integers
//! and strings, list literals and subscripts.

use crate::interp::python::expr::{eval, list_index, split_args, Globals, Host, PyErr, Value};
use crate::interp::python::lit::CodeChars;

/// Byte positions of top-level (outside quotes and brackets) characters of `s`.
fn top_level(s: &str) -> Vec<(usize, char)> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    for (i, c) in CodeChars::new(s) {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            _ if depth == 0 => out.push((i, c)),
            _ => {}
        }
    }
    out
}

/// `lhs op rhs` at the top level, for a word operator (` or `, ` and `).
fn split_word<'a>(s: &'a str, top: &[(usize, char)], word: &str) -> Option<(&'a str, &'a str)> {
    top.iter()
        .map(|(i, _)| *i)
        .find(|&i| s[i..].starts_with(word))
        .map(|i| (&s[..i], &s[i + word.len()..]))
}

/// The first top-level comparison: its position and operator.
fn find_comparison(s: &str, top: &[(usize, char)]) -> Option<(usize, &'static str)> {
    for &(i, c) in top {
        let next = s[i + c.len_utf8()..].chars().next();
        let op = match (c, next) {
            ('=', Some('=')) => "==",
            ('!', Some('=')) => "!=",
            ('<', Some('=')) => "<=",
            ('>', Some('=')) => ">=",
            ('<', _) => "<",
            ('>', _) => ">",
            _ => continue,
        };
        return Some((i, op));
    }
    None
}

/// The last top-level binary `+` or `-`.
fn find_additive(s: &str, top: &[(usize, char)]) -> Option<(usize, char)> {
    top.iter().rev().copied().find(|&(i, c)| {
        matches!(c, '+' | '-')
            && s[..i].trim_end().chars().last().is_some_and(|p| {
                p.is_ascii_alphanumeric() || matches!(p, ')' | ']' | '_' | '\'' | '"')
            })
    })
}

fn compare(op: &str, a: &Value, b: &Value) -> Result<bool, PyErr> {
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        return Ok(match op {
            "==" => x == y,
            "!=" => x != y,
            "<" => x < y,
            "<=" => x <= y,
            ">" => x > y,
            _ => x >= y,
        });
    }
    match op {
        "==" => Ok(a == b),
        "!=" => Ok(a != b),
        _ => Err(PyErr::new("TypeError", "unsupported types for comparison")),
    }
}

/// Operators, list literals and subscripts; `None` when `expr` is none of them.
pub(crate) fn eval_operators(
    expr: &str,
    g: &mut Globals,
    host: &mut dyn Host,
) -> Option<Result<Value, PyErr>> {
    let top = top_level(expr);
    if let Some((a, b)) = split_word(expr, &top, " or ") {
        return Some(eval(a, g, host).and_then(
            |v| {
                if v.truthy() {
                    Ok(v)
                } else {
                    eval(b, g, host)
                }
            },
        ));
    }
    if let Some((a, b)) = split_word(expr, &top, " and ") {
        return Some(eval(a, g, host).and_then(
            |v| {
                if v.truthy() {
                    eval(b, g, host)
                } else {
                    Ok(v)
                }
            },
        ));
    }
    if let Some(rest) = expr.strip_prefix("not ") {
        return Some(eval(rest, g, host).map(|v| Value::Bool(!v.truthy())));
    }
    if let Some((i, op)) = find_comparison(expr, &top) {
        let r = eval(&expr[..i], g, host).and_then(|a| {
            let b = eval(&expr[i + op.len()..], g, host)?;
            compare(op, &a, &b).map(Value::Bool)
        });
        return Some(r);
    }
    if let Some((i, op)) = find_additive(expr, &top) {
        let r = eval(&expr[..i], g, host).and_then(|a| {
            let b = eval(&expr[i + 1..], g, host)?;
            match (a, b, op) {
                (Value::Int(x), Value::Int(y), '+') => Ok(Value::Int(x.wrapping_add(y))),
                (Value::Int(x), Value::Int(y), _) => Ok(Value::Int(x.wrapping_sub(y))),
                (Value::Str(x), Value::Str(y), '+') => Ok(Value::Str(x + &y)),
                _ => Err(PyErr::new("TypeError", "unsupported types for operator")),
            }
        });
        return Some(r);
    }
    if let Some(inner) = expr.strip_prefix('[').and_then(|e| e.strip_suffix(']')) {
        if matching_open_bracket(expr) == Some(0) {
            let r = split_args(inner).and_then(|items| {
                items
                    .into_iter()
                    .map(|item| eval(item, g, host))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::List)
            });
            return Some(r);
        }
    }
    if expr.ends_with(']') {
        let open = matching_open_bracket(expr)?;
        if open == 0 {
            return None;
        }
        let r = eval(&expr[..open], g, host).and_then(|base| {
            let i = eval(&expr[open + 1..expr.len() - 1], g, host)?;
            match base {
                Value::List(items) => Ok(items[list_index(items.len(), &i)?].clone()),
                Value::Bytes(b) => Ok(Value::Int(i64::from(b[list_index(b.len(), &i)?]))),
                _ => Err(PyErr::new("TypeError", "object isn't subscriptable")),
            }
        });
        return Some(r);
    }
    None
}

/// Index of the `[` that matches the final `]`.
fn matching_open_bracket(expr: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut open_at = None;
    for (i, c) in CodeChars::new(expr) {
        match c {
            '[' | '(' => {
                if depth == 0 && c == '[' {
                    open_at = Some(i);
                }
                depth += 1;
            }
            ']' | ')' => depth -= 1,
            _ => {}
        }
    }
    open_at
}

#[cfg(test)]
mod tests {
    use crate::interp::python::expr::{eval, Globals, Host, Kwargs, PyErr, PyResult, Value};

    struct NoHost;
    impl Host for NoHost {
        fn import(&mut self, _name: &str) -> Option<Value> {
            None
        }
        fn getattr(&mut self, _obj: &Value, attr: &str) -> Result<Value, PyErr> {
            Err(PyErr::new("AttributeError", attr))
        }
        fn call(&mut self, _f: &Value, _args: Vec<Value>, _kwargs: Kwargs) -> PyResult {
            Err(PyErr::new("TypeError", "not callable"))
        }
        fn print(&mut self, _text: &str) {}
    }

    fn ev(expr: &str) -> Result<Value, PyErr> {
        eval(expr, &mut Globals::default(), &mut NoHost)
    }

    #[test]
    fn operators_follow_python_precedence() {
        assert_eq!(ev("1+2-4"), Ok(Value::Int(-1)));
        assert_eq!(ev("3-1<2 or 0"), Ok(Value::Int(0)));
        assert_eq!(ev("0 or 5"), Ok(Value::Int(5)));
        assert_eq!(ev("1 and 0<1"), Ok(Value::Bool(true)));
        assert_eq!(ev("not 0"), Ok(Value::Bool(true)));
        assert_eq!(ev("[1,-2,3][1]"), Ok(Value::Int(-2)));
        assert_eq!(ev("[1,2][-1]>=2"), Ok(Value::Bool(true)));
        assert_eq!(ev("'a-b'+'<c>'"), Ok(Value::Str("a-b<c>".into())));
        assert_eq!(ev("None==None"), Ok(Value::Bool(true)));
        assert_eq!(ev("[1][3]").unwrap_err().kind, "IndexError");
        assert_eq!(ev("'a'<1").unwrap_err().kind, "TypeError");
    }
}
