//! Fix building, below the rules: text-layout helpers and the Rust fix builders. Front ends
//! record facts (spans, which logger a file uses); the builders here turn an event and the
//! source text into edits, and rules offer them. Nothing here reads syntax trees the front end
//! built: a builder that needs structure re-parses a snippet of the source (`syn::parse_str`).

pub mod edits;
pub mod rust;
pub mod text;
pub mod wrap;
