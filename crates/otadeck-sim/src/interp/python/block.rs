//! Compound statements on top of [`crate::interp::python::expr`]: `def`, `while`, `if`/`else`, `try`/`except`,
//! `break` and `pass`, with indented blocks. A [`Program`] runs on the virtual clock: when a
//! statement asks the host to wait (`utime.sleep_ms`, a blocking native call), the program
//! suspends and the module resumes it later; Ctrl-C raises `KeyboardInterrupt` where it stands
//! (or, in a blocking native call, once that call returns, as MicroPython does).

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use crate::interp::python::expr::{self, Globals, Host, PyErr, Value};

/// Statements a program may run without waiting before the module lets time pass (a busy loop).
const BUSY_STATEMENTS: u32 = 100_000;

/// A wait a statement asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// How long.
    pub duration: Duration,
    /// Ctrl-C ends it at once (`sleep_ms`); otherwise the interrupt waits for its end.
    pub interruptible: bool,
}

#[derive(Debug, Clone)]
enum Stmt {
    Simple {
        line: usize,
        text: String,
    },
    Def {
        name: String,
        params: Vec<String>,
        body: Block,
    },
    While {
        line: usize,
        cond: String,
        body: Block,
    },
    If {
        line: usize,
        cond: String,
        body: Block,
        orelse: Block,
    },
    Try {
        body: Block,
        handlers: Rc<Vec<(Option<String>, Block)>>,
    },
    Break,
    Pass,
}

type Block = Rc<Vec<Stmt>>;

#[derive(Debug, Clone)]
enum Kind {
    Plain,
    Loop { line: usize, cond: String },
    Try(Rc<Vec<(Option<String>, Block)>>),
}

#[derive(Debug, Clone)]
struct Frame {
    block: Block,
    pc: usize,
    kind: Kind,
}

/// Where a program stands after [`Program::run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// It ended; the traceback when it raised.
    Done(Option<String>),
    /// It waits this long before it can go on.
    Waiting(Wait),
}

/// A parsed program and where it stands.
#[derive(Debug, Clone)]
pub struct Program {
    frames: Vec<Frame>,
    functions: HashMap<String, (Vec<String>, Block)>,
    line: usize,
    in_blocking_wait: bool,
    interrupt_pending: bool,
    raised: Option<PyErr>,
}

fn traceback(line: usize, e: &PyErr) -> String {
    format!(
        "Traceback (most recent call last):\r\n  File \"<stdin>\", line {line}, in <module>\r\n{e}\r\n"
    )
}

struct Line<'a> {
    no: usize,
    indent: usize,
    text: &'a str,
}

fn parse_block(lines: &[Line<'_>], i: &mut usize, indent: usize) -> Result<Vec<Stmt>, String> {
    let mut out = Vec::new();
    while let Some(l) = lines.get(*i) {
        if l.indent < indent {
            break;
        }
        if l.indent > indent {
            return Err(traceback(
                l.no,
                &PyErr::new("IndentationError", "unexpected indent"),
            ));
        }
        *i += 1;
        let header = l.text.strip_suffix(':').map(str::trim_end);
        let body = |i: &mut usize| -> Result<Block, String> {
            match lines.get(*i) {
                Some(next) if next.indent > indent => {
                    Ok(Rc::new(parse_block(lines, i, next.indent)?))
                }
                _ => Err(traceback(
                    l.no + 1,
                    &PyErr::new("IndentationError", "expected an indented block"),
                )),
            }
        };
        let stmt = match header {
            Some(h) if h.starts_with("def ") => {
                let sig = &h[4..];
                let open = sig.find('(').ok_or_else(|| syntax(l.no))?;
                let params = sig[open + 1..]
                    .strip_suffix(')')
                    .ok_or_else(|| syntax(l.no))?
                    .split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect();
                Stmt::Def {
                    name: sig[..open].trim().to_string(),
                    params,
                    body: body(i)?,
                }
            }
            Some(h) if h.starts_with("while ") => Stmt::While {
                line: l.no,
                cond: h[6..].to_string(),
                body: body(i)?,
            },
            Some(h) if h.starts_with("if ") => {
                let then = body(i)?;
                let orelse = match lines.get(*i) {
                    Some(e) if e.indent == indent && e.text == "else:" => {
                        *i += 1;
                        body(i)?
                    }
                    _ => Rc::new(Vec::new()),
                };
                Stmt::If {
                    line: l.no,
                    cond: h[3..].to_string(),
                    body: then,
                    orelse,
                }
            }
            Some("try") => {
                let block = body(i)?;
                let mut handlers = Vec::new();
                while let Some(e) = lines.get(*i) {
                    let Some(h) = e
                        .text
                        .strip_prefix("except")
                        .and_then(|t| t.strip_suffix(':'))
                    else {
                        break;
                    };
                    if e.indent != indent {
                        break;
                    }
                    *i += 1;
                    let name = h.split(" as ").next().unwrap_or("").trim();
                    let name = (!name.is_empty()).then(|| name.to_string());
                    handlers.push((name, body(i)?));
                }
                if handlers.is_empty() {
                    return Err(syntax(l.no));
                }
                Stmt::Try {
                    body: block,
                    handlers: Rc::new(handlers),
                }
            }
            _ if l.text == "break" => Stmt::Break,
            _ if l.text == "pass" => Stmt::Pass,
            _ => Stmt::Simple {
                line: l.no,
                text: l.text.to_string(),
            },
        };
        out.push(stmt);
    }
    Ok(out)
}

fn syntax(line: usize) -> String {
    traceback(line, &PyErr::new("SyntaxError", "invalid syntax"))
}

fn handles(name: &Option<String>, e: &PyErr) -> bool {
    match name.as_deref() {
        None | Some("BaseException") => true,
        Some("Exception") => e.kind != "KeyboardInterrupt",
        Some(n) => n == e.kind,
    }
}

impl Program {
    /// Parse `code`; the traceback of a syntax or indentation error otherwise.
    pub fn parse(code: &str) -> Result<Program, String> {
        let lines: Vec<Line<'_>> = code
            .split('\n')
            .enumerate()
            .filter_map(|(n, raw)| {
                let raw = raw.trim_end_matches('\r').trim_end();
                let text = raw.trim_start();
                (!text.is_empty() && !text.starts_with('#')).then(|| Line {
                    no: n + 1,
                    indent: raw.len() - text.len(),
                    text,
                })
            })
            .collect();
        let mut i = 0;
        let block = parse_block(&lines, &mut i, 0)?;
        Ok(Program {
            frames: vec![Frame {
                block: Rc::new(block),
                pc: 0,
                kind: Kind::Plain,
            }],
            functions: HashMap::new(),
            line: 0,
            in_blocking_wait: false,
            interrupt_pending: false,
            raised: None,
        })
    }

    /// Ctrl-C: raise `KeyboardInterrupt` where the program stands. Returns false when it is in a
    /// blocking call and the interrupt waits for the call's end. Call [`Program::run`] after.
    pub fn interrupt(&mut self) -> bool {
        if self.in_blocking_wait {
            self.interrupt_pending = true;
            return false;
        }
        self.raise(PyErr::new("KeyboardInterrupt", ""));
        true
    }

    /// Go on until the program ends or waits.
    pub fn run(&mut self, g: &mut Globals, host: &mut dyn Host) -> Flow {
        self.in_blocking_wait = false;
        if std::mem::take(&mut self.interrupt_pending) {
            self.raise(PyErr::new("KeyboardInterrupt", ""));
        }
        let mut budget = BUSY_STATEMENTS;
        loop {
            if let Some(e) = self.raised.take() {
                return Flow::Done(Some(traceback(self.line, &e)));
            }
            budget -= 1;
            if budget == 0 {
                return Flow::Waiting(Wait {
                    duration: Duration::from_millis(1),
                    interruptible: true,
                });
            }
            let Some(frame) = self.frames.last_mut() else {
                return Flow::Done(None);
            };
            if frame.pc >= frame.block.len() {
                if let Kind::Loop { line, cond } = frame.kind.clone() {
                    self.line = line;
                    match expr::eval(&cond, g, host) {
                        Ok(v) if v.truthy() => self.frames.last_mut().unwrap().pc = 0,
                        Ok(_) => {
                            self.frames.pop();
                        }
                        Err(e) => self.raise(e),
                    }
                } else {
                    self.frames.pop();
                }
                continue;
            }
            let stmt = frame.block[frame.pc].clone();
            frame.pc += 1;
            match stmt {
                Stmt::Simple { line, text } => {
                    self.line = line;
                    if let Err(e) = self.simple(&text, g, host) {
                        self.raise(e);
                        continue;
                    }
                    if let Some(w) = host.take_wait() {
                        self.in_blocking_wait = !w.interruptible;
                        return Flow::Waiting(w);
                    }
                }
                Stmt::Def { name, params, body } => {
                    g.set(&name, Value::Function(name.clone()));
                    self.functions.insert(name, (params, body));
                }
                Stmt::While { line, cond, body } => {
                    self.line = line;
                    match expr::eval(&cond, g, host) {
                        Ok(v) if v.truthy() => self.frames.push(Frame {
                            block: body,
                            pc: 0,
                            kind: Kind::Loop { line, cond },
                        }),
                        Ok(_) => {}
                        Err(e) => self.raise(e),
                    }
                }
                Stmt::If {
                    line,
                    cond,
                    body,
                    orelse,
                } => {
                    self.line = line;
                    match expr::eval(&cond, g, host) {
                        Ok(v) => self.frames.push(Frame {
                            block: if v.truthy() { body } else { orelse },
                            pc: 0,
                            kind: Kind::Plain,
                        }),
                        Err(e) => self.raise(e),
                    }
                }
                Stmt::Try { body, handlers } => self.frames.push(Frame {
                    block: body,
                    pc: 0,
                    kind: Kind::Try(handlers),
                }),
                Stmt::Break => {
                    while let Some(f) = self.frames.pop() {
                        if matches!(f.kind, Kind::Loop { .. }) {
                            break;
                        }
                    }
                }
                Stmt::Pass => {}
            }
        }
    }

    /// A simple statement; a call of a function the program defined runs its body.
    fn simple(&mut self, text: &str, g: &mut Globals, host: &mut dyn Host) -> Result<(), PyErr> {
        if let Some(open) = text.find('(') {
            let name = text[..open].trim();
            if let (Some(Value::Function(_)), Some(args)) =
                (g.get(name).cloned(), text[open + 1..].strip_suffix(')'))
            {
                let args = expr::split_args(args)?
                    .into_iter()
                    .map(|a| expr::eval(a, g, host))
                    .collect::<Result<Vec<_>, _>>()?;
                return self.call(name, args, g, host);
            }
        }
        expr::statement(text, g, host)
    }

    /// Run the function `name` defined by this program to its end (a callback: waits inside it
    /// are ignored). Its parameters are visible as variables while it runs.
    pub fn call(
        &self,
        name: &str,
        args: Vec<Value>,
        g: &mut Globals,
        host: &mut dyn Host,
    ) -> Result<(), PyErr> {
        let Some((params, body)) = self.functions.get(name) else {
            return Err(PyErr::new(
                "NameError",
                format!("name '{name}' isn't defined"),
            ));
        };
        if params.len() != args.len() {
            return Err(PyErr::new(
                "TypeError",
                format!("function takes {} positional arguments", params.len()),
            ));
        }
        let saved: Vec<(String, Option<Value>)> = params
            .iter()
            .zip(args)
            .map(|(p, a)| (p.clone(), g.set(p, a)))
            .collect();
        let mut inner = Program {
            frames: vec![Frame {
                block: body.clone(),
                pc: 0,
                kind: Kind::Plain,
            }],
            functions: self.functions.clone(),
            line: self.line,
            in_blocking_wait: false,
            interrupt_pending: false,
            raised: None,
        };
        let result = loop {
            match inner.run(g, host) {
                Flow::Done(None) => break Ok(()),
                Flow::Done(Some(tb)) => {
                    let last = tb.trim_end().lines().last().unwrap_or("").to_string();
                    break Err(PyErr::new("Exception", last));
                }
                Flow::Waiting(_) => continue,
            }
        };
        for (p, old) in saved {
            match old {
                Some(v) => g.set(&p, v),
                None => g.remove(&p),
            };
        }
        result
    }

    /// Unwind to the innermost handler of `e`, or end the program with it.
    fn raise(&mut self, e: PyErr) {
        while let Some(f) = self.frames.pop() {
            if let Kind::Try(handlers) = &f.kind {
                if let Some((_, block)) = handlers.iter().find(|(n, _)| handles(n, &e)) {
                    self.frames.push(Frame {
                        block: block.clone(),
                        pc: 0,
                        kind: Kind::Plain,
                    });
                    return;
                }
            }
        }
        self.raised = Some(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp::python::expr::{Kwargs, PyResult};

    #[derive(Default)]
    struct Env {
        out: String,
        wait: Option<Wait>,
    }

    impl Host for Env {
        fn import(&mut self, name: &str) -> Option<Value> {
            (name == "utime").then(|| Value::Module(name.into()))
        }
        fn getattr(&mut self, _obj: &Value, attr: &str) -> Result<Value, PyErr> {
            Ok(Value::Native(attr.into()))
        }
        fn call(&mut self, _f: &Value, args: Vec<Value>, _kwargs: Kwargs) -> PyResult {
            if let Some(Value::Int(ms)) = args.first() {
                self.wait = Some(Wait {
                    duration: Duration::from_millis(*ms as u64),
                    interruptible: true,
                });
            }
            Ok(Value::None)
        }
        fn print(&mut self, text: &str) {
            self.out.push_str(text);
        }
        fn take_wait(&mut self) -> Option<Wait> {
            self.wait.take()
        }
    }

    const LOOP: &str = "import utime\ns=[0,1]\ndef c(a):\n s[0]=a\n print('cb',a)\ndef both(x,y):\n print('both',x+y)\nboth(2,3)\ntry:\n t=0\n while t<3:\n  if s[0]>5:\n   break\n  utime.sleep_ms(100)\n  t=t+1\n print('end',t,s)\nexcept KeyboardInterrupt:\n print('stopped',t)";

    #[test]
    fn a_loop_waits_on_the_clock_and_sees_callbacks() {
        let mut p = Program::parse(LOOP).unwrap();
        let (mut g, mut env) = (Globals::default(), Env::default());
        let mut waits = 0;
        loop {
            match p.run(&mut g, &mut env) {
                Flow::Waiting(w) => {
                    assert_eq!(w.duration, Duration::from_millis(100));
                    waits += 1;
                    p.call("c", vec![Value::Int(waits)], &mut g, &mut env)
                        .unwrap();
                }
                Flow::Done(tb) => {
                    assert_eq!(tb, None);
                    break;
                }
            }
        }
        assert_eq!(waits, 3);
        assert_eq!(
            env.out,
            "both 5\r\ncb 1\r\ncb 2\r\ncb 3\r\nend 3 [3, 1]\r\n"
        );
    }

    #[test]
    fn ctrl_c_runs_the_handler_and_break_leaves_the_loop() {
        let mut p = Program::parse(LOOP).unwrap();
        let (mut g, mut env) = (Globals::default(), Env::default());
        assert!(matches!(p.run(&mut g, &mut env), Flow::Waiting(_)));
        assert!(p.interrupt());
        assert_eq!(p.run(&mut g, &mut env), Flow::Done(None));
        assert_eq!(env.out, "both 5\r\nstopped 0\r\n");

        let mut p = Program::parse(LOOP).unwrap();
        let (mut g, mut env) = (Globals::default(), Env::default());
        assert!(matches!(p.run(&mut g, &mut env), Flow::Waiting(_)));
        p.call("c", vec![Value::Int(9)], &mut g, &mut env).unwrap();
        assert_eq!(p.run(&mut g, &mut env), Flow::Done(None));
        assert!(env.out.ends_with("end 1 [9, 1]\r\n"), "{}", env.out);
    }

    #[test]
    fn errors_carry_their_line_and_bad_indentation_is_refused() {
        let mut p = Program::parse("x=1\nif x==1:\n y=nope").unwrap();
        let (mut g, mut env) = (Globals::default(), Env::default());
        let Flow::Done(Some(tb)) = p.run(&mut g, &mut env) else {
            panic!("no traceback")
        };
        assert!(tb.contains("line 3") && tb.contains("NameError"), "{tb}");
        let tb = Program::parse("x=1\n  y=2").unwrap_err();
        assert!(tb.contains("IndentationError: unexpected indent"), "{tb}");
        let tb = Program::parse("while 1:\nx=2").unwrap_err();
        assert!(tb.contains("expected an indented block"), "{tb}");
    }
}
