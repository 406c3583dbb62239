//! What a module says about itself.

pub use crate::family::Family;

/// A module's identity and what it runs, as far as it tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    /// The protocol family.
    pub family: Family,
    /// Hardware model, for example `EC600U`.
    pub model: String,
    /// The firmware version the module runs.
    pub firmware_version: String,
    /// The interpreter or runtime release, for example the MicroPython release.
    pub runtime: String,
}

/// Parse the `repr` of MicroPython's `uos.uname()` result:
/// `(sysname='EC600U', nodename='EC600U', release='1.12.0', version='...', machine='...')`.
/// Returns the `(key, value)` pairs in order.
pub fn parse_uname(text: &str) -> Option<Vec<(String, String)>> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    let mut out = Vec::new();
    let mut rest = inner;
    while !rest.trim().is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let quote = after.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let body = &after[1..];
        let end = body.find(quote)?;
        out.push((
            key.trim().trim_start_matches(',').trim().to_string(),
            body[..end].to_string(),
        ));
        rest = body[end + 1..].trim_start().trim_start_matches(',');
    }
    Some(out)
}

/// The value of `key` in fields from [`parse_uname`]; empty when it is absent.
pub fn uname_field(fields: &[(String, String)], key: &str) -> String {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uname_repr_is_split_into_fields() {
        let fields = parse_uname(
            "(sysname='EC600U', nodename='EC600U', release='1.12.0', version='v1.12 on 2023-03-01', machine='EC600U with QUECTEL')",
        )
        .unwrap();
        assert_eq!(fields.len(), 5);
        assert_eq!(fields[0], ("sysname".into(), "EC600U".into()));
        assert_eq!(fields[3], ("version".into(), "v1.12 on 2023-03-01".into()));
        assert_eq!(fields[4].1, "EC600U with QUECTEL");
    }

    #[test]
    fn malformed_uname_is_refused() {
        assert!(parse_uname("sysname='x'").is_none());
        assert!(parse_uname("(sysname='x)").is_none());
        assert!(parse_uname("(sysname=x)").is_none());
    }
}
