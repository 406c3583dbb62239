//! Byte-level codecs and REPL machines that drivers are built on.

pub mod mp_repl;
