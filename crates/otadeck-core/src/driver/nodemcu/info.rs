//! Reading a NodeMCU module's slots through `otaupgrade.info()`: the one line of Lua that prints
//! them and the parser that turns the printout into a [`PartitionState`].
//!
//! The printout is tab-separated (what Lua's `print` puts between its arguments) and tagged so
//! that an application's own prints cannot be taken for data:
//! - `R <running> <next boot> <_VERSION>` once;
//! - `S <label> <state> <name> <version> <secure_version> <date> <time> <idf_version>` per slot,
//!   each field `nil` when the slot's table lacks it (a slot whose state cannot be read gets an
//!   empty table from the firmware, so all its fields are `nil`).

use crate::image::esp;
use crate::module::{Family, ModuleInfo};
use crate::partition_state::{PartitionState, Slot, SlotBuild, SlotState};
use crate::session::{group_digits, FlashErrorKind};

/// Prints the slots (one console line, under the 250-byte limit).
pub const INFO_LINE: &str = "local r,n,t=otaupgrade.info() print(\"R\",r,n,_VERSION) for l,s in \
pairs(t) do print(\"S\",l,s.state,s.name,s.version,s.secure_version,s.date,s.time,s.idf_version) end";

/// What [`INFO_LINE`] printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoReport {
    /// The slots in the common model, sorted by label.
    pub state: PartitionState,
    /// The Lua release (`_VERSION`, for example `Lua 5.3`).
    pub lua_version: String,
}

impl InfoReport {
    /// The module as the slots describe it: the running slot's version, the Lua release.
    pub fn module(&self) -> ModuleInfo {
        let version = self.state.running_slot().and_then(|s| s.build.as_ref());
        ModuleInfo {
            details: Default::default(),
            family: Family::NodeMcu,
            model: "ESP32".into(),
            firmware_version: version.map(|b| b.version.clone()).unwrap_or_default(),
            runtime: format!("NodeMCU ({})", self.lua_version),
        }
    }
}

fn field(v: &str) -> Option<&str> {
    (v != "nil").then_some(v)
}

/// Parse what [`INFO_LINE`] printed. Lines without a tag are skipped (an application may print
/// between the statements); a malformed tagged line, a missing `R` line or no slot is refused.
pub fn parse_info(out: &str) -> Option<InfoReport> {
    let mut head = None;
    let mut slots = Vec::new();
    for line in out.lines() {
        let fields: Vec<&str> = line.trim_end_matches('\r').split('\t').collect();
        match fields.as_slice() {
            ["R", running, next, version] => {
                head = Some((running.to_string(), next.to_string(), version.to_string()))
            }
            ["R", ..] => return None,
            ["S", label, state, name, version, secure, date, time, idf] => {
                let state = match field(state) {
                    Some(s) => Some(SlotState::from_name(s)?),
                    None => None,
                };
                let build = match (field(name), field(version)) {
                    (None, None) => None,
                    (name, version) => Some(SlotBuild {
                        name: name.unwrap_or_default().to_string(),
                        version: version.unwrap_or_default().to_string(),
                        secure_version: field(secure).map_or(Ok(0), str::parse).ok()?,
                        date: field(date).unwrap_or_default().to_string(),
                        time: field(time).unwrap_or_default().to_string(),
                        idf_version: field(idf).unwrap_or_default().to_string(),
                    }),
                };
                slots.push(Slot {
                    label: label.to_string(),
                    state,
                    build,
                    problem: None,
                    extent: None,
                });
            }
            ["S", ..] => return None,
            _ => {}
        }
    }
    let (running, next_boot, lua_version) = head?;
    if slots.is_empty() {
        return None;
    }
    crate::order::sort_by(&mut slots, |a, b| a.label.cmp(&b.label));
    Some(InfoReport {
        state: PartitionState {
            running,
            next_boot,
            slots,
        },
        lua_version,
    })
}

/// Checks on the image and the module before a byte is sent: an ESP32 application image that fits
/// a `slot_size`-byte slot, a second slot, and a running firmware not on trial. Gives the label of
/// the slot the image goes to.
pub fn check_image(
    image: &[u8],
    state: &PartitionState,
    slot_size: u64,
) -> Result<String, FlashErrorKind> {
    if image.is_empty() {
        return Err(FlashErrorKind::EmptyImage);
    }
    match esp::parse(image) {
        Ok(parsed) if parsed.app.is_some() => {}
        Ok(_) => {
            return Err(FlashErrorKind::Unsuitable(
                "the file is an ESP image without an application descriptor (a bootloader?), \
                 not an application"
                    .into(),
            ))
        }
        Err(e) => {
            return Err(FlashErrorKind::Unsuitable(format!(
                "the file is not a valid ESP32 application image: {e}"
            )))
        }
    }
    let target = state
        .slots
        .iter()
        .find(|s| s.label != state.running)
        .ok_or_else(|| {
            FlashErrorKind::Unsuitable("the module has no second slot to update".into())
        })?;
    if image.len() as u64 > slot_size {
        return Err(FlashErrorKind::Unsuitable(format!(
            "the image ({} bytes) is larger than the update slot {} ({} bytes)",
            group_digits(image.len() as u64),
            target.label,
            group_digits(slot_size)
        )));
    }
    if state.awaits_decision() {
        return Err(FlashErrorKind::ModuleState {
            why: "the running firmware is still on trial".into(),
            then: "Accept or roll back the firmware on trial first (Device page, or otadeck accept|rollback), then flash again.",
        });
    }
    Ok(target.label.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_fits_the_console() {
        assert!(INFO_LINE.len() <= crate::link::lua_repl::MAX_LINE);
    }

    #[test]
    fn a_printout_becomes_the_partition_state() {
        let out = "S\tota_1\tnil\tnil\tnil\tnil\tnil\tnil\tnil\n\
                   R\tota_0\tota_0\tLua 5.3\n\
                   S\tota_0\tvalid\tnodemcu\t3.0.0\t2\tNov 20 2026\t09:30:00\tv5.3.1\n";
        let r = parse_info(out).unwrap();
        assert_eq!(r.lua_version, "Lua 5.3");
        assert_eq!(
            r.state.lines(),
            [
                "ota_0 (running, next boot): valid, nodemcu 3.0.0",
                "ota_1: state unknown, empty"
            ]
        );
        assert_eq!(
            r.state.slot("ota_0").unwrap().build.as_ref().unwrap(),
            &SlotBuild {
                name: "nodemcu".into(),
                version: "3.0.0".into(),
                secure_version: 2,
                date: "Nov 20 2026".into(),
                time: "09:30:00".into(),
                idf_version: "v5.3.1".into(),
            }
        );
    }

    #[test]
    fn malformed_printouts_are_refused() {
        assert!(parse_info("").is_none());
        assert!(parse_info("R\tota_0\tota_0\tLua 5.3\n").is_none());
        assert!(parse_info("R\tota_0\n").is_none());
        let bad_state = "R\ta\ta\tLua\nS\ta\tpending\tn\tv\t0\td\tt\ti\n";
        assert!(parse_info(bad_state).is_none());
        let bad_secure = "R\ta\ta\tLua\nS\ta\tvalid\tn\tv\tx\td\tt\ti\n";
        assert!(parse_info(bad_secure).is_none());
    }
}
