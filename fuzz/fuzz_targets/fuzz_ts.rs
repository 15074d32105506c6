//! `cargo fuzz run fuzz_ts`: see `../checks.rs` for the property checked.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::ts(data));
