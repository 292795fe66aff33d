//! `thinbox features`: what this runtime supports, as the runtime-spec's
//! features.md JSON.

use crate::caps;
use crate::oci;
use crate::rt::{self, Buf};

/// The JSON, with a byte 0 to 5 where list `n` goes: one walk over one
/// literal instead of a call per piece, and the SCMP prefixes stored once.
/// Every item ends in a comma, and every `]` takes the one before it.
const JSON: &[u8] = b"{\"ociVersionMin\":\"1.0.0\",\"ociVersionMax\":\"1.2.0\",\"hooks\":[\x00],\"mountOptions\":[\x01\"tmpcopyup\",],\"linux\":{\"namespaces\":[\x02],\"capabilities\":[\x03],\"cgroup\":{\"v1\":true,\"v2\":true,\"systemd\":false,\"systemdUser\":false},\"seccomp\":{\"enabled\":true,\"actions\":[\x04],\"operators\":[\x05]},\"apparmor\":{\"enabled\":true},\"selinux\":{\"enabled\":false}},\"annotations\":{\"org.opencontainers.runc.checkpoint.enabled\":\"false\"}}\n";

/// `"PREFIXw",`.
fn item(b: &mut Buf, prefix: &[u8], w: &[u8]) {
    b.c(b'"').s(prefix).s(w).s(b"\",");
}

pub fn main(_args: &[rt::S]) -> i32 {
    let mut b = Buf::new();
    for &c in JSON {
        let (prefix, words): (&[u8], &[u8]) = match c {
            0 => {
                oci::HOOK_NAMES.iter().for_each(|n| item(&mut b, b"", n));
                continue;
            }
            1 => (b"", oci::MOUNT_WORDS),
            2 => (b"", oci::NS_NAMES),
            3 => {
                caps::NAMES.iter().for_each(|n| item(&mut b, b"CAP_", n));
                continue;
            }
            4 => (
                b"SCMP_ACT_",
                b"ALLOW ERRNO KILL KILL_PROCESS KILL_THREAD LOG TRACE TRAP",
            ),
            5 => (b"SCMP_CMP_", b"EQ GE GT LE LT MASKED_EQ NE"),
            _ => {
                if c == b']' {
                    b.0.pop();
                }
                b.c(c);
                continue;
            }
        };
        rt::split(words, b' ').for_each(|w| item(&mut b, prefix, w));
    }
    rt::out(b.leak());
    0
}
