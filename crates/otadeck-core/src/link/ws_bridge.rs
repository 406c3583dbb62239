//! The WebSocket serial bridge's control messages. Binary frames carry the serial bytes each way,
//! untouched; text frames carry one JSON control message each, in order with the data around
//! them (documented in `docs/ws-bridge.md`).

use serde::{Deserialize, Serialize};

/// One control message (a text frame).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Control {
    /// Client to bridge: switch the serial line to `baud`.
    Baud {
        /// Bits per second.
        baud: u32,
    },
    /// Client to bridge: set the modem lines (`None` leaves a line as it is), then keep them
    /// for `hold_ms` before taking the next message, so that a reset into a bootloader keeps
    /// its timing whatever the network does.
    Signals {
        /// Assert (true) or release DTR.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dtr: Option<bool>,
        /// Assert (true) or release RTS.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rts: Option<bool>,
        /// Milliseconds to keep the lines so before the next message.
        #[serde(default)]
        hold_ms: u32,
    },
    /// Bridge to client, first message: the port it serves and its rate.
    Hello {
        /// The serial device (or the simulated module) behind the bridge.
        port: String,
        /// Its rate now.
        baud: u32,
    },
    /// Bridge to client: something failed; the text says what. When the port itself is gone
    /// the bridge closes the connection after this.
    Error {
        /// What happened, in words.
        message: String,
    },
}

impl Control {
    /// The message as the text of a frame.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("a control message serialises")
    }

    /// Read a frame's text; `Err` names what is wrong with it.
    pub fn parse(text: &str) -> Result<Control, String> {
        serde_json::from_str(text).map_err(|e| format!("not a bridge control message: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_documented() {
        assert_eq!(
            Control::parse(r#"{"type":"baud","baud":921600}"#),
            Ok(Control::Baud { baud: 921_600 })
        );
        assert_eq!(
            Control::parse(r#"{"type":"signals","dtr":false,"rts":true,"hold_ms":100}"#),
            Ok(Control::Signals {
                dtr: Some(false),
                rts: Some(true),
                hold_ms: 100
            })
        );
        assert_eq!(
            Control::Signals {
                dtr: None,
                rts: Some(false),
                hold_ms: 0
            }
            .to_text(),
            r#"{"type":"signals","rts":false,"hold_ms":0}"#
        );
        assert!(Control::parse(r#"{"type":"reboot"}"#).is_err());
        assert!(Control::parse("hello").is_err());
    }
}
