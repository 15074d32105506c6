//! Front ends: each lowers one language's syntax into the shared facts model.

pub mod rust;
pub mod ts;
