//! A very small Python statement evaluator for simulated modules: imports (`import a,b`,
//! `from m import n [as x]`), assignments of a call or a name, and expression statements made of
//! names, attributes, calls, integers and bytes or string literals. What it does not understand
//! raises the exception CPython or MicroPython would, with a proper traceback.

use std::collections::HashMap;
use std::fmt;

use crate::interp::python::lit::CodeChars;

/// A value in the simulated interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `None`.
    None,
    /// An integer.
    Int(i64),
    /// A `bytes` object.
    Bytes(Vec<u8>),
    /// A `str`.
    Str(String),
    /// Text printed as is by `print` and `repr` (named tuples and other objects).
    Repr(String),
    /// A module, by name.
    Module(String),
    /// A callable or object the host environment implements, by a path such as `fota.fota`.
    Native(String),
    /// `True` or `False`.
    Bool(bool),
    /// A `list` (values are copied on assignment; item assignment goes through its variable).
    List(Vec<Value>),
    /// A function defined by the running code (`def name(...)`), by name.
    Function(String),
}

impl Value {
    /// What `print(value)` shows.
    pub fn to_print(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            other => other.repr(),
        }
    }

    /// What `repr(value)` shows.
    pub fn repr(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Int(i) => i.to_string(),
            Value::Bytes(b) => {
                let mut s = String::from("b'");
                for &c in b {
                    match c {
                        b'\\' => s.push_str("\\\\"),
                        b'\'' => s.push_str("\\'"),
                        0x20..=0x7e => s.push(c as char),
                        b'\n' => s.push_str("\\n"),
                        b'\r' => s.push_str("\\r"),
                        _ => s.push_str(&format!("\\x{c:02x}")),
                    }
                }
                s.push('\'');
                s
            }
            Value::Str(s) => format!("'{s}'"),
            Value::Repr(s) => s.clone(),
            Value::Module(m) => format!("<module '{m}'>"),
            Value::Native(n) => format!("<function {n}>"),
            Value::Bool(b) => if *b { "True" } else { "False" }.into(),
            Value::List(items) => {
                let items: Vec<String> = items.iter().map(Value::repr).collect();
                format!("[{}]", items.join(", "))
            }
            Value::Function(n) => format!("<function {n}>"),
        }
    }

    /// Python truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            Value::None => false,
            Value::Int(i) => *i != 0,
            Value::Bool(b) => *b,
            Value::Bytes(b) => !b.is_empty(),
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            _ => true,
        }
    }
}

/// A Python exception: type and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyErr {
    /// `NameError`, `TypeError`, ...
    pub kind: &'static str,
    /// The message after the colon.
    pub msg: String,
}

impl PyErr {
    /// Make an exception.
    pub fn new(kind: &'static str, msg: impl Into<String>) -> Self {
        PyErr {
            kind,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for PyErr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.msg)
    }
}

/// Keyword arguments of a call, in order.
pub type Kwargs = Vec<(String, Value)>;

/// What a call or an attribute lookup gives: a value or the exception it raised.
pub type PyResult = Result<Value, PyErr>;

/// The host side of the evaluator: modules and native calls of a simulated firmware.
pub trait Host {
    /// The module `name`, if the firmware has it.
    fn import(&mut self, name: &str) -> Option<Value>;
    /// `obj.attr`.
    fn getattr(&mut self, obj: &Value, attr: &str) -> PyResult;
    /// `f(args, **kwargs)`.
    fn call(&mut self, f: &Value, args: Vec<Value>, kwargs: Kwargs) -> PyResult;
    /// `print(...)` output goes here.
    fn print(&mut self, text: &str);
    /// Builtin functions other than `print` (`len`, ...); `None` when unknown.
    fn builtin(&mut self, _name: &str) -> Option<Value> {
        None
    }
    /// A wait the last statement asked for (`utime.sleep_ms`, a blocking call), taken once; see
    /// [`crate::interp::python::block`].
    fn take_wait(&mut self) -> Option<crate::interp::python::block::Wait> {
        None
    }
}

/// Variables of one interpreter session.
#[derive(Debug, Default, Clone)]
pub struct Globals {
    vars: HashMap<String, Value>,
}

impl Globals {
    /// Forget everything (soft reset).
    pub fn clear(&mut self) {
        self.vars.clear();
    }

    /// The variable `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }

    /// Set `name`; returns what it held.
    pub fn set(&mut self, name: &str, value: Value) -> Option<Value> {
        self.vars.insert(name.to_string(), value)
    }

    /// Remove `name`.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.vars.remove(name)
    }
}

/// Run `code` statement by statement. Returns the traceback text (with `\r\n` line ends) when a
/// statement raised.
pub fn run(code: &str, globals: &mut Globals, host: &mut dyn Host) -> Result<(), String> {
    for (n, line) in code.split('\n').enumerate() {
        let stmt = line.trim_end_matches('\r');
        if stmt.trim().is_empty() || stmt.trim_start().starts_with('#') {
            continue;
        }
        if let Err(e) = statement(stmt, globals, host) {
            return Err(format!(
                "Traceback (most recent call last):\r\n  File \"<stdin>\", line {}, in <module>\r\n{e}\r\n",
                n + 1
            ));
        }
    }
    Ok(())
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Run one simple statement (no indentation, no compound statement).
pub fn statement(stmt: &str, g: &mut Globals, host: &mut dyn Host) -> Result<(), PyErr> {
    if stmt.starts_with(' ') || stmt.starts_with('\t') {
        return Err(PyErr::new("IndentationError", "unexpected indent"));
    }
    if let Some(names) = stmt.strip_prefix("import ") {
        for name in names.split(',') {
            let name = name.trim();
            let module = host
                .import(name)
                .ok_or_else(|| PyErr::new("ImportError", format!("no module named '{name}'")))?;
            g.vars.insert(name.to_string(), module);
        }
        return Ok(());
    }
    if let Some(rest) = stmt.strip_prefix("from ") {
        let (module, names) = rest
            .split_once(" import ")
            .ok_or_else(|| PyErr::new("SyntaxError", "invalid syntax"))?;
        let module = module.trim();
        let m = host
            .import(module)
            .ok_or_else(|| PyErr::new("ImportError", format!("no module named '{module}'")))?;
        for item in names.split(',') {
            let (name, alias) = match item.split_once(" as ") {
                Some((n, a)) => (n.trim(), a.trim()),
                None => (item.trim(), item.trim()),
            };
            let v = host
                .getattr(&m, name)
                .map_err(|_| PyErr::new("ImportError", format!("can't import name {name}")))?;
            g.vars.insert(alias.to_string(), v);
        }
        return Ok(());
    }
    if let Some((name, index, expr)) = split_item_assignment(stmt) {
        let i = eval(index, g, host)?;
        let v = eval(expr.trim(), g, host)?;
        let Some(Value::List(items)) = g.vars.get_mut(name) else {
            return Err(PyErr::new(
                "TypeError",
                "object doesn't support item assignment",
            ));
        };
        let slot = list_index(items.len(), &i)?;
        items[slot] = v;
        return Ok(());
    }
    if let Some((target, expr)) = split_assignment(stmt) {
        let v = eval(expr.trim(), g, host)?;
        g.vars.insert(target.to_string(), v);
        return Ok(());
    }
    eval(stmt.trim(), g, host).map(|_| ())
}

/// `name=expr` (not `==`, not a keyword argument inside a call).
fn split_assignment(stmt: &str) -> Option<(&str, &str)> {
    let eq = stmt.find('=')?;
    let target = stmt[..eq].trim();
    if stmt[eq + 1..].starts_with('=') || !is_ident(target) {
        return None;
    }
    Some((target, &stmt[eq + 1..]))
}

/// `name[index]=expr`.
fn split_item_assignment(stmt: &str) -> Option<(&str, &str, &str)> {
    let open = stmt.find('[')?;
    let name = stmt[..open].trim();
    if !is_ident(name) {
        return None;
    }
    let close = open + stmt[open..].find(']')?;
    let rest = stmt[close + 1..].trim_start();
    let expr = rest.strip_prefix('=')?;
    if expr.starts_with('=') {
        return None;
    }
    Some((name, &stmt[open + 1..close], expr))
}

/// The position `i` names in a sequence of `len` items.
pub(crate) fn list_index(len: usize, i: &Value) -> Result<usize, PyErr> {
    let Value::Int(i) = i else {
        return Err(PyErr::new("TypeError", "list indices must be integers"));
    };
    let at = if *i < 0 { len as i64 + i } else { *i };
    if at < 0 || at >= len as i64 {
        return Err(PyErr::new("IndexError", "list index out of range"));
    }
    Ok(at as usize)
}

/// Split `a, f(b, c), d` at top-level commas.
pub(crate) fn split_args(s: &str) -> Result<Vec<&str>, PyErr> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    let mut chars = CodeChars::new(s);
    for (i, c) in chars.by_ref() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if chars.in_literal() || depth != 0 {
        return Err(PyErr::new("SyntaxError", "invalid syntax"));
    }
    let last = s[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    Ok(out)
}

/// Evaluate one expression.
pub fn eval(expr: &str, g: &mut Globals, host: &mut dyn Host) -> Result<Value, PyErr> {
    let expr = expr.trim();
    if expr.is_empty() {
        return Err(PyErr::new("SyntaxError", "invalid syntax"));
    }
    if let Ok(i) = expr.parse::<i64>() {
        return Ok(Value::Int(i));
    }
    if let Some(r) = crate::interp::python::ops::eval_operators(expr, g, host) {
        return r;
    }
    match expr {
        "None" => return Ok(Value::None),
        "True" => return Ok(Value::Bool(true)),
        "False" => return Ok(Value::Bool(false)),
        _ => {}
    }
    if let Some(literal) = crate::interp::python::lit::parse(expr) {
        return literal;
    }
    if expr.ends_with(')') {
        let open =
            matching_open(expr).ok_or_else(|| PyErr::new("SyntaxError", "invalid syntax"))?;
        let callee = &expr[..open];
        let inner = &expr[open + 1..expr.len() - 1];
        if callee.trim().is_empty() {
            return eval(inner, g, host);
        }
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        for a in split_args(inner)? {
            match split_assignment(a) {
                Some((k, v)) => kwargs.push((k.to_string(), eval(v, g, host)?)),
                None => args.push(eval(a, g, host)?),
            }
        }
        if callee == "print" {
            let text: Vec<String> = args.iter().map(Value::to_print).collect();
            host.print(&format!("{}\r\n", text.join(" ")));
            return Ok(Value::None);
        }
        if callee == "repr" && args.len() == 1 {
            return Ok(Value::Str(args[0].repr()));
        }
        // `bytes.hex()`, which every port with `bytes.fromhex` has.
        if let Some(receiver) = callee.strip_suffix(".hex").filter(|_| args.is_empty()) {
            let obj = eval(receiver, g, host)?;
            if let Value::Bytes(b) = &obj {
                return Ok(Value::Str(b.iter().map(|x| format!("{x:02x}")).collect()));
            }
            let f = host.getattr(&obj, "hex")?;
            return host.call(&f, args, kwargs);
        }
        let f = eval(callee, g, host)?;
        return host.call(&f, args, kwargs);
    }
    if let Some(dot) = expr.rfind('.') {
        let obj = eval(&expr[..dot], g, host)?;
        let attr = expr[dot + 1..].trim();
        if !is_ident(attr) {
            return Err(PyErr::new("SyntaxError", "invalid syntax"));
        }
        return host.getattr(&obj, attr);
    }
    if is_ident(expr) {
        if let Some(v) = g.vars.get(expr) {
            return Ok(v.clone());
        }
        if let Some(v) = host.builtin(expr) {
            return Ok(v);
        }
        return Err(PyErr::new(
            "NameError",
            format!("name '{expr}' isn't defined"),
        ));
    }
    Err(PyErr::new("SyntaxError", "invalid syntax"))
}

/// Index of the `(` that matches the final `)`.
fn matching_open(expr: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut open_at = None;
    for (i, c) in CodeChars::new(expr) {
        match c {
            '(' => {
                if depth == 0 {
                    open_at = Some(i);
                }
                depth += 1;
            }
            ')' => {
                depth -= 1;
                if depth == 0 && i != expr.len() - 1 {
                    // `f(a)(b)` or `f(a).g()`: the last call's own parenthesis comes later.
                    open_at = None;
                }
            }
            _ => {}
        }
    }
    if depth == 0 {
        open_at
    } else {
        None
    }
}
