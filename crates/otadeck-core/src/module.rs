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
    /// Identity and condition, where the family reports them.
    pub details: ModuleDetails,
}

/// What a module reports of its identity and condition, beyond what it runs. Each is `None`
/// when the family does not report it or the module could not tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleDetails {
    /// IMEI (cellular modules).
    pub imei: Option<String>,
    /// A unique id of another kind: the chip's MAC address, a serial number.
    pub identity: Option<String>,
    /// Battery voltage, millivolts.
    pub battery_mv: Option<u32>,
    /// Signal strength, dBm.
    pub signal_dbm: Option<i32>,
    /// Free space on the file system updates are written to, bytes.
    pub free_bytes: Option<u64>,
}

impl ModuleDetails {
    /// The identity a fleet knows the module by: the IMEI, else the other one.
    pub fn key(&self) -> Option<&str> {
        self.imei.as_deref().or(self.identity.as_deref())
    }

    /// Battery level in percent, from the voltage of a single Li-ion cell: 3400 mV empty,
    /// 4200 mV full, linear between (a rough reading; otadeck says so where it shows it).
    pub fn battery_percent(&self) -> Option<u8> {
        self.battery_mv
            .map(|mv| ((mv.clamp(3400, 4200) - 3400) / 8) as u8)
    }
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
