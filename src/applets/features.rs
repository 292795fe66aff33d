//! `thinbox features`: what this runtime supports, as the runtime-spec's
//! features.md JSON.

use crate::caps;
use crate::rt::{self, Buf};

pub fn main(_args: &[rt::S]) -> i32 {
    let mut b = Buf::new();
    b.s(br#"{"ociVersionMin":"1.0.0","ociVersionMax":"1.2.0","hooks":["prestart","createRuntime","createContainer","startContainer","poststart","poststop"],"mountOptions":["ro","rw","nosuid","suid","nodev","dev","noexec","exec","sync","async","dirsync","remount","mand","nomand","atime","noatime","diratime","nodiratime","relatime","norelatime","strictatime","nostrictatime","bind","rbind","private","rprivate","shared","rshared","slave","rslave","unbindable","runbindable","silent","loud","tmpcopyup"],"linux":{"namespaces":["cgroup","ipc","mount","network","pid","user","uts","time"],"capabilities":["#);
    for (i, n) in caps::NAMES.iter().enumerate() {
        if i > 0 {
            b.c(b',');
        }
        b.s(b"\"CAP_").s(n).c(b'"');
    }
    b.s(br#"],"cgroup":{"v1":true,"v2":true,"systemd":false,"systemdUser":false},"seccomp":{"enabled":true,"actions":["SCMP_ACT_ALLOW","SCMP_ACT_ERRNO","SCMP_ACT_KILL","SCMP_ACT_KILL_PROCESS","SCMP_ACT_KILL_THREAD","SCMP_ACT_LOG","SCMP_ACT_TRACE","SCMP_ACT_TRAP"],"operators":["SCMP_CMP_EQ","SCMP_CMP_GE","SCMP_CMP_GT","SCMP_CMP_LE","SCMP_CMP_LT","SCMP_CMP_MASKED_EQ","SCMP_CMP_NE"]},"apparmor":{"enabled":false},"selinux":{"enabled":false}},"annotations":{"org.opencontainers.runc.checkpoint.enabled":"false"}}
"#);
    rt::out(b.as_slice());
    0
}
