//! What a module holds when a session stopped in a step without a word from it (the page was
//! reloaded or closed, the host lost power): told from the family and the step alone.

use super::Family;
use crate::session::Step;

impl Family {
    /// What a module of this family holds and boots after a session that stopped, unseen, in
    /// `step`; written to follow "The module …".
    pub fn after_interruption(self, step: Step) -> &'static str {
        use Step as S;
        match (self, step) {
            (_, S::Connect | S::Identify) => "was only being read: nothing was written to it",
            (Family::EspRom, S::Write | S::Flush | S::Verify | S::Prepare) => {
                // Preparing ends with the erase of the region to write.
                "still boots its previous firmware: otadata was not switched, and the update \
                 slot may hold an incomplete image it will not boot; flash it again"
            }
            (Family::EspRom, _) => {
                "holds the new firmware, but whether it boots next is not known: read its slots"
            }
            (Family::McuBoot, S::Prepare | S::Write | S::Flush) => {
                "still runs its previous image; slot 1 may hold part of the new one (flashing \
                 again resumes it)"
            }
            (Family::McuBoot, _) => {
                "may boot or run the new image on trial; a reset without a confirm returns it to \
                 the previous image: read its slots"
            }
            (Family::QuecPython, S::Prepare | S::Write | S::Flush) => {
                "still runs its previous firmware; the incomplete package is not applied"
            }
            (Family::QuecPython, S::Download) => {
                "still runs its previous firmware, but may go on downloading and restart into \
                 the new one by itself: read it again in a few minutes"
            }
            (Family::QuecPython, _) => {
                "may restart into the new firmware if its check passed: read it again"
            }
            (_, S::Prepare | S::Write | S::Flush) => {
                "still runs its previous firmware; the update slot may hold an incomplete image, \
                 which is not selected to boot"
            }
            (_, _) => "may run the new firmware, possibly on trial: read its slots",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unseen_stop_is_told_by_family_and_step() {
        for step in [Step::Prepare, Step::Write] {
            assert!(Family::EspRom
                .after_interruption(step)
                .contains("otadata was not switched"));
        }
        assert!(Family::McuBoot
            .after_interruption(Step::Write)
            .contains("flashing again resumes it"));
        assert!(Family::NodeMcu
            .after_interruption(Step::Write)
            .starts_with("still runs its previous firmware"));
        assert!(Family::Esp32MicroPython
            .after_interruption(Step::Confirm)
            .contains("possibly on trial"));
        for f in Family::ALL {
            assert!(f
                .after_interruption(Step::Identify)
                .contains("nothing was written"));
        }
    }
}
