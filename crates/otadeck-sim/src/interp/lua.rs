//! A very small Lua statement interpreter for the simulated NodeMCU board: assignments (`local`
//! or global, several names from one call), `function name(params) ... end`, generic `for` over
//! `pairs(t)`, `return` (and the console's `=expr`), and calls, with names, fields, strings,
//! integers, `nil`, `true` and `false` as expressions. A chunk that ends early is reported as
//! incomplete (what makes the console print `>> `); other errors carry Lua's own messages.

use std::collections::HashMap;
use std::rc::Rc;

/// A Lua value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `nil`.
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string (bytes: `encoder.fromBase64` gives binary).
    Str(Vec<u8>),
    /// A table with string keys, in insertion order.
    Table(Vec<(String, Value)>),
    /// A function defined in Lua.
    Function(Rc<Function>),
    /// A library table or function the host implements, by path (`otaupgrade.write`).
    Native(String),
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<Vec<u8>>) -> Value {
        Value::Str(s.into())
    }

    /// What `tostring` gives.
    pub fn to_text(&self) -> String {
        match self {
            Value::Nil => "nil".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Str(s) => String::from_utf8_lossy(s).into_owned(),
            Value::Table(_) => "table: 0x3ffb1234".into(),
            Value::Function(_) | Value::Native(_) => "function: 0x3ffb5678".into(),
        }
    }
}

/// A function defined in Lua.
#[derive(Debug, PartialEq)]
pub struct Function {
    params: Vec<String>,
    body: Vec<Stmt>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(Vec<u8>),
    Int(i64),
    Sym(char),
    Eof,
}

#[derive(Debug, PartialEq)]
enum Expr {
    Const(Value),
    Name(String),
    Field(Box<Expr>, String),
    Call(Box<Expr>, Vec<Expr>),
}

#[derive(Debug, PartialEq)]
enum Stmt {
    Assign(Vec<String>, bool, Vec<Expr>),
    Function(String, Rc<Function>),
    ForPairs(String, String, Expr, Vec<Stmt>),
    Return(Vec<Expr>),
    Call(Expr),
}

/// Why a chunk did not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LuaFail {
    /// The chunk ended before its statement did (`... expected near <eof>`).
    Incomplete,
    /// A syntax or runtime error, with Lua's message.
    Error(String),
}

/// What the interpreter asks of the board.
pub trait Host {
    /// Whether `name` is a library table the board has (`otaupgrade`, `node`, ...).
    fn has_library(&self, name: &str) -> bool;
    /// Call a library function (`otaupgrade.write`). An `Err` is a Lua error message.
    fn call(&mut self, path: &str, args: Vec<Value>) -> Result<Vec<Value>, String>;
    /// `print` output (one line, without its line end).
    fn print(&mut self, line: &str);
}

/// Global variables.
pub type Globals = HashMap<String, Value>;

fn lex(src: &str) -> Result<Vec<Tok>, LuaFail> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Name(src[start..i].to_string()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let n = src[start..i]
                .parse()
                .map_err(|_| LuaFail::Error("stdin:1: malformed number".into()))?;
            out.push(Tok::Int(n));
        } else if c == b'"' || c == b'\'' {
            let mut s = Vec::new();
            i += 1;
            loop {
                match b.get(i) {
                    None => {
                        return Err(LuaFail::Error(format!(
                            "stdin:1: unfinished string near '{}'",
                            &src[src.len().min(i.saturating_sub(s.len() + 1))..]
                        )))
                    }
                    Some(&q) if q == c => break,
                    Some(b'\\') => {
                        i += 1;
                        match b.get(i) {
                            Some(b'n') => s.push(b'\n'),
                            Some(&e) => s.push(e),
                            None => continue,
                        }
                    }
                    Some(&x) => s.push(x),
                }
                i += 1;
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if b"(),.={};".contains(&c) {
            out.push(Tok::Sym(c as char));
            i += 1;
        } else {
            return Err(LuaFail::Error(format!(
                "stdin:1: unexpected symbol near '{}'",
                c as char
            )));
        }
    }
    out.push(Tok::Eof);
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

const KEYWORDS: [&str; 10] = [
    "function", "end", "local", "for", "in", "do", "return", "nil", "true", "false",
];

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos]
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].clone();
        if t != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    fn near(t: &Tok) -> LuaFail {
        match t {
            Tok::Eof => LuaFail::Incomplete,
            Tok::Name(n) => LuaFail::Error(format!("stdin:1: unexpected symbol near '{n}'")),
            Tok::Str(s) => LuaFail::Error(format!(
                "stdin:1: unexpected symbol near '\"{}\"'",
                String::from_utf8_lossy(s)
            )),
            Tok::Int(i) => LuaFail::Error(format!("stdin:1: unexpected symbol near '{i}'")),
            Tok::Sym(c) => LuaFail::Error(format!("stdin:1: unexpected symbol near '{c}'")),
        }
    }

    fn expect_sym(&mut self, c: char) -> Result<(), LuaFail> {
        match self.next() {
            Tok::Sym(x) if x == c => Ok(()),
            t => Err(Self::near(&t)),
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), LuaFail> {
        match self.next() {
            Tok::Name(n) if n == kw => Ok(()),
            t => Err(Self::near(&t)),
        }
    }

    fn name(&mut self) -> Result<String, LuaFail> {
        match self.next() {
            Tok::Name(n) if !KEYWORDS.contains(&n.as_str()) => Ok(n),
            t => Err(Self::near(&t)),
        }
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Name(n) if n == kw)
    }

    fn block(&mut self, until_end: bool) -> Result<Vec<Stmt>, LuaFail> {
        let mut out = Vec::new();
        loop {
            while self.peek() == &Tok::Sym(';') {
                self.next();
            }
            if until_end && self.is_kw("end") {
                self.next();
                return Ok(out);
            }
            if self.peek() == &Tok::Eof {
                return if until_end {
                    Err(LuaFail::Incomplete)
                } else {
                    Ok(out)
                };
            }
            out.push(self.statement()?);
        }
    }

    fn statement(&mut self) -> Result<Stmt, LuaFail> {
        if self.is_kw("function") {
            self.next();
            let name = self.name()?;
            self.expect_sym('(')?;
            let mut params = Vec::new();
            if self.peek() != &Tok::Sym(')') {
                params.push(self.name()?);
                while self.peek() == &Tok::Sym(',') {
                    self.next();
                    params.push(self.name()?);
                }
            }
            self.expect_sym(')')?;
            let body = self.block(true)?;
            return Ok(Stmt::Function(name, Rc::new(Function { params, body })));
        }
        if self.is_kw("for") {
            self.next();
            let k = self.name()?;
            self.expect_sym(',')?;
            let v = self.name()?;
            self.expect_kw("in")?;
            let e = self.expr()?;
            self.expect_kw("do")?;
            let body = self.block(true)?;
            return Ok(Stmt::ForPairs(k, v, e, body));
        }
        if self.is_kw("return") {
            self.next();
            return Ok(Stmt::Return(self.exprs()?));
        }
        let local = self.is_kw("local");
        if local {
            self.next();
        }
        let start = self.pos;
        let first = self.expr()?;
        if matches!(first, Expr::Call(..)) && !local && self.peek() != &Tok::Sym(',') {
            return Ok(Stmt::Call(first));
        }
        self.pos = start;
        let mut names = vec![self.name()?];
        while self.peek() == &Tok::Sym(',') {
            self.next();
            names.push(self.name()?);
        }
        self.expect_sym('=')?;
        Ok(Stmt::Assign(names, local, self.exprs()?))
    }

    fn exprs(&mut self) -> Result<Vec<Expr>, LuaFail> {
        let mut out = vec![self.expr()?];
        while self.peek() == &Tok::Sym(',') {
            self.next();
            out.push(self.expr()?);
        }
        Ok(out)
    }

    fn expr(&mut self) -> Result<Expr, LuaFail> {
        let mut e = match self.next() {
            Tok::Str(s) => return Ok(Expr::Const(Value::Str(s))),
            Tok::Int(i) => return Ok(Expr::Const(Value::Int(i))),
            Tok::Name(n) if n == "nil" => return Ok(Expr::Const(Value::Nil)),
            Tok::Name(n) if n == "true" || n == "false" => {
                return Ok(Expr::Const(Value::Bool(n == "true")))
            }
            Tok::Name(n) if !KEYWORDS.contains(&n.as_str()) => Expr::Name(n),
            t => return Err(Self::near(&t)),
        };
        loop {
            match self.peek().clone() {
                Tok::Sym('.') => {
                    self.next();
                    e = Expr::Field(Box::new(e), self.name()?);
                }
                Tok::Sym('(') => {
                    self.next();
                    let args = if self.peek() == &Tok::Sym(')') {
                        Vec::new()
                    } else {
                        self.exprs()?
                    };
                    self.expect_sym(')')?;
                    e = Expr::Call(Box::new(e), args);
                }
                Tok::Str(s) => {
                    self.next();
                    e = Expr::Call(Box::new(e), vec![Expr::Const(Value::Str(s))]);
                }
                _ => return Ok(e),
            }
        }
    }
}

/// Parse a chunk.
fn parse(src: &str) -> Result<Vec<Stmt>, LuaFail> {
    let src = match src.strip_prefix('=') {
        Some(rest) => format!("return {rest}"),
        None => src.to_string(),
    };
    let mut p = Parser {
        toks: lex(&src)?,
        pos: 0,
    };
    p.block(false)
}

fn describe(e: &Expr) -> String {
    match e {
        Expr::Name(n) => format!(" (global '{n}')"),
        Expr::Field(_, f) => format!(" (field '{f}')"),
        _ => String::new(),
    }
}

struct Run<'a, H: Host> {
    globals: &'a mut Globals,
    host: &'a mut H,
}

impl<H: Host> Run<'_, H> {
    fn eval(&mut self, e: &Expr, locals: &HashMap<String, Value>) -> Result<Vec<Value>, String> {
        Ok(match e {
            Expr::Const(v) => vec![v.clone()],
            Expr::Name(n) => vec![match locals.get(n).or_else(|| self.globals.get(n)) {
                Some(v) => v.clone(),
                None if n == "_VERSION" => Value::str("Lua 5.3"),
                None if self.host.has_library(n) || n == "print" || n == "pairs" => {
                    Value::Native(n.clone())
                }
                None => Value::Nil,
            }],
            Expr::Field(obj, f) => {
                let v = self.eval1(obj, locals)?;
                vec![match v {
                    Value::Table(entries) => entries
                        .into_iter()
                        .find(|(k, _)| k == f)
                        .map_or(Value::Nil, |(_, v)| v),
                    Value::Native(path) => Value::Native(format!("{path}.{f}")),
                    _ => {
                        return Err(format!(
                            "stdin:1: attempt to index a {} value{}",
                            type_name(&v),
                            describe(obj)
                        ))
                    }
                }]
            }
            Expr::Call(f, args) => {
                let callee = self.eval1(f, locals)?;
                let mut values = Vec::new();
                for (i, a) in args.iter().enumerate() {
                    let mut v = self.eval(a, locals)?;
                    if i + 1 < args.len() {
                        v.truncate(1);
                        v.resize(1, Value::Nil);
                    }
                    values.extend(v);
                }
                match callee {
                    Value::Function(func) => self.call_lua(&func, values)?,
                    Value::Native(path) if path == "print" => {
                        let line: Vec<String> = values.iter().map(Value::to_text).collect();
                        self.host.print(&line.join("\t"));
                        Vec::new()
                    }
                    Value::Native(path) => self.host.call(&path, values)?,
                    other => {
                        return Err(format!(
                            "stdin:1: attempt to call a {} value{}",
                            type_name(&other),
                            describe(f)
                        ))
                    }
                }
            }
        })
    }

    fn eval1(&mut self, e: &Expr, locals: &HashMap<String, Value>) -> Result<Value, String> {
        Ok(self
            .eval(e, locals)?
            .into_iter()
            .next()
            .unwrap_or(Value::Nil))
    }

    fn call_lua(&mut self, f: &Function, args: Vec<Value>) -> Result<Vec<Value>, String> {
        let mut locals: HashMap<String, Value> = f
            .params
            .iter()
            .cloned()
            .zip(args.into_iter().chain(std::iter::repeat(Value::Nil)))
            .collect();
        Ok(self.block(&f.body, &mut locals)?.unwrap_or_default())
    }

    /// Run statements; `Some` when a `return` ran.
    fn block(
        &mut self,
        body: &[Stmt],
        locals: &mut HashMap<String, Value>,
    ) -> Result<Option<Vec<Value>>, String> {
        for s in body {
            match s {
                Stmt::Call(e) => {
                    self.eval(e, locals)?;
                }
                Stmt::Return(es) => {
                    let mut out = Vec::new();
                    for e in es {
                        out.extend(self.eval(e, locals)?);
                    }
                    return Ok(Some(out));
                }
                Stmt::Function(name, f) => {
                    self.globals
                        .insert(name.clone(), Value::Function(Rc::clone(f)));
                }
                Stmt::Assign(names, local, es) => {
                    let mut values = Vec::new();
                    for e in es {
                        values.extend(self.eval(e, locals)?);
                    }
                    for (i, n) in names.iter().enumerate() {
                        let v = values.get(i).cloned().unwrap_or(Value::Nil);
                        if *local || locals.contains_key(n) {
                            locals.insert(n.clone(), v);
                        } else {
                            self.globals.insert(n.clone(), v);
                        }
                    }
                }
                Stmt::ForPairs(k, v, e, inner) => {
                    let Expr::Call(f, args) = e else {
                        return Err("stdin:1: attempt to call a nil value".into());
                    };
                    if !matches!(f.as_ref(), Expr::Name(n) if n == "pairs") || args.len() != 1 {
                        return Err("stdin:1: only pairs() loops are simulated".into());
                    }
                    let Value::Table(entries) = self.eval1(&args[0], locals)? else {
                        return Err(
                            "stdin:1: bad argument #1 to 'for iterator' (table expected)".into(),
                        );
                    };
                    for (key, value) in entries {
                        locals.insert(k.clone(), Value::str(key));
                        locals.insert(v.clone(), value);
                        if let Some(r) = self.block(inner, locals)? {
                            return Ok(Some(r));
                        }
                    }
                }
            }
        }
        Ok(None)
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Bool(_) => "boolean",
        Value::Int(_) => "number",
        Value::Str(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) | Value::Native(_) => "function",
    }
}

/// Run a chunk as the console does: a `return`ed value is printed.
pub fn run(src: &str, globals: &mut Globals, host: &mut impl Host) -> Result<(), LuaFail> {
    let chunk = parse(src)?;
    let mut r = Run { globals, host };
    let mut locals = HashMap::new();
    match r.block(&chunk, &mut locals) {
        Ok(Some(values)) if !values.is_empty() => {
            let line: Vec<String> = values.iter().map(Value::to_text).collect();
            r.host.print(&line.join("\t"));
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(msg) => Err(LuaFail::Error(msg)),
    }
}
