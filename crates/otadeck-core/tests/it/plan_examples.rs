//! Every file in docs/examples parses, and validates against docs/campaign-plan-v1.schema.json
//! with a small, bounded JSON Schema checker (the keywords the schema uses, except `pattern`:
//! the core has no regex engine). Documents the parser refuses are also refused by the schema
//! where the schema can express the rule.

use otadeck_core::manifest::plan::{parse, REQUIRED_FIELDS};
use serde_json::{json, Map, Value};
use std::path::Path;

fn docs() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs"))
}

fn schema() -> Value {
    serde_json::from_slice(&std::fs::read(docs().join("campaign-plan-v1.schema.json")).unwrap())
        .unwrap()
}

/// Validate `v` against `s`; errors are collected as `path: keyword`. Depth is bounded.
fn check(root: &Value, s: &Value, v: &Value, path: &str, depth: usize, errs: &mut Vec<String>) {
    assert!(depth < 64, "schema recursion too deep at {path}");
    let Some(s) = s.as_object() else { return };
    let mut fail = |what: &str| errs.push(format!("{path}: {what}"));
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").expect("only local $defs refs");
        check(root, &root["$defs"][name], v, path, depth + 1, errs);
        return;
    }
    let mut sub = Vec::new();
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            other => panic!("type {other} not supported"),
        };
        if !ok {
            fail(&format!("type {t}"));
            return;
        }
    }
    if let Some(c) = s.get("const") {
        if c != v {
            fail("const");
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            fail("enum");
        }
    }
    if let Some(n) = v.as_f64() {
        if s.get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
        {
            fail("minimum");
        }
        if s.get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n > m)
        {
            fail("maximum");
        }
    }
    if let Some(st) = v.as_str() {
        let len = st.chars().count() as u64;
        if s.get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| len < m)
        {
            fail("minLength");
        }
        if s.get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| len > m)
        {
            fail("maxLength");
        }
    }
    if let Some(items) = v.as_array() {
        let n = items.len() as u64;
        if s.get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| n < m)
        {
            fail("minItems");
        }
        if s.get("maxItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| n > m)
        {
            fail("maxItems");
        }
        if let Some(is) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                check(root, is, item, &format!("{path}[{i}]"), depth + 1, &mut sub);
            }
        }
    }
    if let Some(obj) = v.as_object() {
        check_object(root, s, obj, path, depth, &mut sub);
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(list) = s.get(key).and_then(Value::as_array) {
            let passing = list
                .iter()
                .filter(|alt| {
                    let mut e = Vec::new();
                    check(root, alt, v, path, depth + 1, &mut e);
                    e.is_empty()
                })
                .count();
            let ok = match key {
                "allOf" => passing == list.len(),
                "anyOf" => passing >= 1,
                _ => passing == 1,
            };
            if !ok {
                fail(key);
            }
        }
    }
    if let Some(not) = s.get("not") {
        let mut e = Vec::new();
        check(root, not, v, path, depth + 1, &mut e);
        if e.is_empty() {
            fail("not");
        }
    }
    if let Some(cond) = s.get("if") {
        let mut e = Vec::new();
        check(root, cond, v, path, depth + 1, &mut e);
        let branch = if e.is_empty() {
            s.get("then")
        } else {
            s.get("else")
        };
        if let Some(b) = branch {
            check(root, b, v, path, depth + 1, &mut sub);
        }
    }
    errs.extend(sub);
}

fn check_object(
    root: &Value,
    s: &Map<String, Value>,
    obj: &Map<String, Value>,
    path: &str,
    depth: usize,
    errs: &mut Vec<String>,
) {
    for r in s
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let k = r.as_str().unwrap();
        if !obj.contains_key(k) {
            errs.push(format!("{path}: required {k}"));
        }
    }
    if let Some(dep) = s.get("dependentRequired").and_then(Value::as_object) {
        for (k, needs) in dep {
            if obj.contains_key(k) {
                for n in needs.as_array().unwrap() {
                    if !obj.contains_key(n.as_str().unwrap()) {
                        errs.push(format!("{path}: dependentRequired {k} -> {n}"));
                    }
                }
            }
        }
    }
    let n = obj.len() as u64;
    if s.get("minProperties")
        .and_then(Value::as_u64)
        .is_some_and(|m| n < m)
    {
        errs.push(format!("{path}: minProperties"));
    }
    if s.get("maxProperties")
        .and_then(Value::as_u64)
        .is_some_and(|m| n > m)
    {
        errs.push(format!("{path}: maxProperties"));
    }
    let props = s.get("properties").and_then(Value::as_object);
    for (k, val) in obj {
        let child = format!("{path}.{k}");
        match props.and_then(|p| p.get(k)) {
            Some(ps) => check(root, ps, val, &child, depth + 1, errs),
            None => {
                if let Some(ap) = s.get("additionalProperties") {
                    if ap == &Value::Bool(false) {
                        errs.push(format!("{child}: additionalProperties"));
                    } else {
                        check(root, ap, val, &child, depth + 1, errs);
                    }
                }
            }
        }
    }
}

fn schema_errors(doc: &Value) -> Vec<String> {
    let root = schema();
    let mut errs = Vec::new();
    check(&root, &root, doc, "$", 0, &mut errs);
    errs
}

fn examples() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(docs().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_example_parses_and_validates() {
    let all = examples();
    assert!(all.len() >= 3, "examples missing: {all:?}");
    for (name, bytes) in all {
        parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(schema_errors(&doc), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn schema_lists_the_parsers_required_fields() {
    let s = schema();
    let mut required: Vec<&str> = s["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut parser = REQUIRED_FIELDS.to_vec();
    required.sort_unstable();
    parser.sort_unstable();
    assert_eq!(required, parser);
    for field in REQUIRED_FIELDS {
        assert!(
            s["properties"].get(field).is_some(),
            "{field} has no schema"
        );
    }
}

type Mutation = Box<dyn Fn(&mut Value)>;

#[test]
fn schema_and_parser_refuse_the_same_broken_plans() {
    let base: Value = serde_json::from_slice(
        &std::fs::read(docs().join("examples/plan-quecpython-app.json")).unwrap(),
    )
    .unwrap();
    let file = json!({"url": "https://u/x", "size": 1, "hashes": {"md5": "900150983cd24fb0d6963f7d28e17f72"}, "destination": "/usr/x"});
    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "no mode",
            Box::new(|d| drop(d.as_object_mut().unwrap().remove("mode"))),
        ),
        ("version 2", Box::new(|d| d["version"] = json!(2))),
        (
            "six files",
            Box::new(move |d| {
                d["packages"][1]["files"] = json!([file, file, file, file, file, file])
            }),
        ),
        (
            "delta without source",
            Box::new(|d| {
                drop(
                    d["packages"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("source_version"),
                )
            }),
        ),
        (
            "full with source",
            Box::new(|d| d["packages"][1]["source_version"] = json!("1.0.0")),
        ),
        (
            "battery 101",
            Box::new(|d| d["strategy"]["min_battery_percent"] = json!(101)),
        ),
        (
            "size 0",
            Box::new(|d| d["packages"][1]["files"][0]["size"] = json!(0)),
        ),
        (
            "no hashes",
            Box::new(|d| d["packages"][1]["files"][0]["hashes"] = json!({})),
        ),
        (
            "role and destination",
            Box::new(|d| d["packages"][1]["files"][0]["role"] = json!("firmware")),
        ),
        (
            "window without timezone",
            Box::new(|d| drop(d.as_object_mut().unwrap().remove("timezone"))),
        ),
        ("no components", Box::new(|d| d["components"] = json!([]))),
        ("mode forced", Box::new(|d| d["mode"] = json!("forced"))),
    ];
    for (what, mutate) in mutations {
        let mut d = base.clone();
        mutate(&mut d);
        assert!(
            parse(&serde_json::to_vec(&d).unwrap()).is_err(),
            "parser accepted: {what}"
        );
        assert!(!schema_errors(&d).is_empty(), "schema accepted: {what}");
    }
}
