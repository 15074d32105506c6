//! `cargo fuzz run fuzz_lsp_framing`: see `../checks.rs` for the property checked.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::lsp_framing(data));
