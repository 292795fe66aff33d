//! Writing JSON: just string escaping; the rest is literal bytes.

use crate::rt::Buf;

/// Appends `s` as a quoted, escaped JSON string.
pub fn put_str(b: &mut Buf, s: &[u8]) {
    b.c(b'"');
    for &c in s {
        match c {
            b'"' => b.s(b"\\\""),
            b'\\' => b.s(b"\\\\"),
            b'\n' => b.s(b"\\n"),
            b'\t' => b.s(b"\\t"),
            b'\r' => b.s(b"\\r"),
            0..=0x1f => b
                .s(b"\\u00")
                .c(b"0123456789abcdef"[(c >> 4) as usize])
                .c(b"0123456789abcdef"[(c & 15) as usize]),
            _ => b.c(c),
        };
    }
    b.c(b'"');
}
