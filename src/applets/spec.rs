//! `thinbox spec [--rootless] [--bundle DIR]`: writes a starting
//! config.json, as `runc spec` does.

use super::{Opts, fail};
use crate::rt::{Buf, Ctx, Error, Res, S, cat};
use crate::sys;

const HEAD: &[u8] = br#"{
  "ociVersion": "1.2.0",
  "process": {
    "terminal": true,
    "user": {"uid": 0, "gid": 0},
    "args": ["sh"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "thinbox",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620""#;

const MID: &[u8] = br#"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    "#;

const LINUX: &[u8] = br#"
  ],
  "linux": {
"#;

const SYS: &[u8] = br#"{"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}"#;
const SYS_ROOTLESS: &[u8] = br#"{"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}"#;

const TAIL: &[u8] = br#"    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi", "/proc/interrupts", "/sys/devices/virtual/powercap"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}
"#;

pub fn main(args: &[S]) -> i32 {
    match spec(args) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

fn spec(args: &[S]) -> Res<()> {
    let (mut rootless, mut bundle) = (false, &b"."[..]);
    let mut o = Opts::new(args);
    while let Some(flag) = o.next_flag() {
        match crate::rt::pick(b"--rootless -b --bundle", flag) {
            Some(0) => rootless = true,
            Some(_) => bundle = o.value(flag)?,
            _ => return Err(super::delete::unknown_flag(b"spec", flag, b"")),
        }
    }
    let path = cat(&[bundle, b"/config.json"]);
    let mut b = Buf::new();
    b.s(HEAD)
        .s(if rootless { b"" } else { b", \"gid=5\"" })
        .s(MID)
        .s(if rootless { SYS_ROOTLESS } else { SYS })
        .s(LINUX);
    if rootless {
        let (uid, gid) = (sys::geteuid(), sys::getegid());
        b.s(b"    \"uidMappings\": [{\"containerID\": 0, \"hostID\": ")
            .u(uid as u64)
            .s(b", \"size\": 1}],\n    \"gidMappings\": [{\"containerID\": 0, \"hostID\": ")
            .u(gid as u64)
            .s(b", \"size\": 1}],\n    \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"ipc\"}, {\"type\": \"uts\"}, {\"type\": \"mount\"}, {\"type\": \"cgroup\"}, {\"type\": \"user\"}],\n");
    } else {
        b.s(b"    \"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]},\n    \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\"}, {\"type\": \"ipc\"}, {\"type\": \"uts\"}, {\"type\": \"mount\"}, {\"type\": \"cgroup\"}],\n");
    }
    b.s(TAIL);
    let fd = sys::open(path, sys::O_WRONLY | sys::O_CREAT | sys::O_EXCL, 0o644).map_err(|e| {
        if e == sys::EEXIST {
            Error::new(path, b"already exists; remove it first")
        } else {
            Error::sys(path, e)
        }
    })?;
    sys::write_all(fd.raw(), b.as_slice()).ctx(path)?;
    Ok(())
}
