//! Writing JSON: just string escaping; the rest is literal bytes.

/// Appends `s` as a quoted, escaped JSON string.
pub use crate::json::put_str;
