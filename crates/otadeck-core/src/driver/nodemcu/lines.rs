//! The Lua lines the NodeMCU driver sends: the calls, the image in `w("…")` lines of base64, and
//! what the error says when a write line already sent ran after the one before it failed (the
//! write lines go one ahead, see [`crate::driver::nodemcu`]).

use base64::Engine as _;

use crate::link::lua_repl::MAX_LINE;

/// Image bytes per `w("…")` line: as many whole base64 quads as fit with the call in
/// [`MAX_LINE`] bytes (244 base64 characters).
pub const CHUNK: usize = (MAX_LINE - "w(\"\")".len()) / 4 * 3;

/// The helper and the start of the update, in one line.
pub const PREPARE_LINE: &str =
    "function w(s) otaupgrade.write(encoder.fromBase64(s)) end otaupgrade.commence()";
/// Verifies the image and selects its slot, without restarting.
pub const COMPLETE_LINE: &str = "otaupgrade.complete(0)";
/// Restarts the module.
pub const RESTART_LINE: &str = "node.restart()";
/// Accepts the running firmware.
pub const ACCEPT_LINE: &str = "otaupgrade.accept()";
/// Marks the running firmware invalid and restarts into the other slot.
pub const ROLLBACK_LINE: &str = "otaupgrade.rollback()";

/// What the module holds when a write line already sent may have run after the failure.
pub const MAY_HAVE_WRITTEN: &str = "still runs its previous firmware; the next write line was \
already in its input buffer and may have written one more chunk after the failure, into an update \
that is never selected";

/// The write line for the image bytes from `at` (at most [`CHUNK`] of them), and where the next
/// one starts.
pub fn chunk_line(image: &[u8], at: usize) -> (String, usize) {
    let end = (at + CHUNK).min(image.len());
    let b64 = base64::engine::general_purpose::STANDARD.encode(&image[at..end]);
    (format!("w(\"{b64}\")"), end)
}

/// A line already in the module's buffer ran after a failure: `ran` is how it ended. Gives a
/// note for the log and what the module holds.
pub fn after_failure(ran: Result<(), String>) -> (String, &'static str) {
    match ran {
        Ok(()) => (
            "ran and wrote its chunk past the gap".to_string(),
            "still runs its previous firmware; the next write line, already in its input buffer, \
             ran after the failure and wrote one more chunk past the gap, into an update that is \
             never selected",
        ),
        Err(why) => (
            format!("ran and failed too ({why})"),
            "still runs its previous firmware; the next write line, already in its input buffer, \
             ran after the failure and failed too; the update is never selected",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_line_fits_the_console() {
        assert_eq!(CHUNK, 183);
        let (line, end) = chunk_line(&[0u8; 400], 0);
        assert_eq!((line.len(), end), (249, CHUNK));
        let (line, end) = chunk_line(&[0u8; 400], 366);
        assert_eq!(
            (line.as_str(), end),
            (
                "w(\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\")",
                400
            )
        );
        assert!(PREPARE_LINE.len() <= MAX_LINE);
    }
}
