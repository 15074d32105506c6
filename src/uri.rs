//! `file:` URIs and the percent-encoding of paths in them, for SARIF and the language server.

/// Percent-encodes a path for a URI: everything but unreserved characters and `/`.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `file:` URI for an absolute path (`/a/b` or `C:/a/b`).
pub fn file_uri(abs: &str) -> String {
    let bytes = abs.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        // A Windows drive: the colon stays.
        format!("file:///{}:{}", &abs[..1], encode_path(&abs[2..]))
    } else {
        format!("file://{}", encode_path(abs))
    }
}
