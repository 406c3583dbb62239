//! Fuzz target: the AWS IoT job document parser
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = otadeck_core::manifest::aws_job::parse(data);
});
