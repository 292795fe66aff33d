//! `thinbox features`: what this runtime supports, as the runtime-spec's
//! features.md JSON.

use crate::caps;
use crate::oci;
use crate::rt::{self, Buf};

/// `"a","b",...` for the space-separated words of `s`.
fn words(b: &mut Buf, s: &[u8]) {
    b.c(b'"');
    for &c in s {
        if c == b' ' {
            b.s(b"\",\"");
        } else {
            b.c(c);
        }
    }
    b.c(b'"');
}

/// `"PREFIXname",...` for each name.
fn list(b: &mut Buf, prefix: &[u8], names: &[&[u8]]) {
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            b.c(b',');
        }
        b.c(b'"').s(prefix).s(n).c(b'"');
    }
}

pub fn main(_args: &[rt::S]) -> i32 {
    let mut b = Buf::new();
    b.s(br#"{"ociVersionMin":"1.0.0","ociVersionMax":"1.2.0","hooks":["#);
    list(&mut b, b"", &oci::HOOK_NAMES);
    b.s(br#"],"mountOptions":["#);
    words(&mut b, oci::MOUNT_WORDS);
    b.s(br#","tmpcopyup"],"linux":{"namespaces":["#);
    words(&mut b, oci::NS_NAMES);
    b.s(br#"],"capabilities":["#);
    list(&mut b, b"CAP_", &caps::NAMES);
    b.s(br#"],"cgroup":{"v1":true,"v2":true,"systemd":false,"systemdUser":false},"seccomp":{"enabled":true,"actions":["SCMP_ACT_ALLOW","SCMP_ACT_ERRNO","SCMP_ACT_KILL","SCMP_ACT_KILL_PROCESS","SCMP_ACT_KILL_THREAD","SCMP_ACT_LOG","SCMP_ACT_TRACE","SCMP_ACT_TRAP"],"operators":["SCMP_CMP_EQ","SCMP_CMP_GE","SCMP_CMP_GT","SCMP_CMP_LE","SCMP_CMP_LT","SCMP_CMP_MASKED_EQ","SCMP_CMP_NE"]},"apparmor":{"enabled":true},"selinux":{"enabled":false}},"annotations":{"org.opencontainers.runc.checkpoint.enabled":"false"}}
"#);
    rt::out(b.leak());
    0
}
