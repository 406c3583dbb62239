//! Image formats, detected by content.

pub mod esp;
