//! The small Lua interpreter behind the simulated NodeMCU board.

use otadeck_sim::interp::lua::{run, Globals, Host, LuaFail, Value};

#[derive(Default)]
struct H {
    out: Vec<String>,
    calls: Vec<(String, Vec<Value>)>,
}

impl Host for H {
    fn has_library(&self, name: &str) -> bool {
        name == "lib"
    }
    fn call(&mut self, path: &str, args: Vec<Value>) -> Result<Vec<Value>, String> {
        self.calls.push((path.into(), args));
        match path {
            "lib.info" => Ok(vec![
                Value::str("a"),
                Value::Table(vec![("x".into(), Value::Table(vec![]))]),
            ]),
            "lib.fail" => Err("no upgrade in progress".into()),
            _ => Ok(vec![]),
        }
    }
    fn print(&mut self, line: &str) {
        self.out.push(line.into());
    }
}

#[test]
fn runs_the_statements_the_driver_sends() {
    let mut g = Globals::new();
    let mut h = H::default();
    run(
        "function w(s) lib.write(lib.dec(s)) end lib.go()",
        &mut g,
        &mut h,
    )
    .unwrap();
    run("w(\"QUJD\")", &mut g, &mut h).unwrap();
    assert_eq!(h.calls[1].0, "lib.dec");
    let src = "local r,t=lib.info() print(\"R\",r,_VERSION) for l,s in pairs(t) do \
               print(\"S\",l,s.state) end";
    run(src, &mut g, &mut h).unwrap();
    assert_eq!(h.out, ["R\ta\tLua 5.3", "S\tx\tnil"]);
    run("=1", &mut g, &mut h).unwrap();
    assert_eq!(h.out.last().unwrap(), "1");
}

#[test]
fn incomplete_chunks_and_errors() {
    let mut g = Globals::new();
    let mut h = H::default();
    assert_eq!(
        run("function f(s)", &mut g, &mut h),
        Err(LuaFail::Incomplete)
    );
    assert_eq!(run("f(", &mut g, &mut h), Err(LuaFail::Incomplete));
    assert_eq!(
        run("x()", &mut g, &mut h),
        Err(LuaFail::Error(
            "stdin:1: attempt to call a nil value (global 'x')".into()
        ))
    );
    assert_eq!(
        run("lib.fail()", &mut g, &mut h),
        Err(LuaFail::Error("no upgrade in progress".into()))
    );
    assert!(matches!(
        run("w(\"ab)", &mut g, &mut h),
        Err(LuaFail::Error(_))
    ));
    assert!(matches!(
        run("1 + 2", &mut g, &mut h),
        Err(LuaFail::Error(_))
    ));
}
