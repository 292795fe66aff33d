//! `thinbox spec [--rootless] [--bundle DIR]`: writes a starting
//! config.json, as `runc spec` does.

use super::{Opts, fail};
use crate::rt::{self, Buf, Ctx, Error, Res, S, cat};
use crate::sys;

/// The config.json, both kinds: from `~` only without --rootless, from `^`
/// only with it, from `|` both again; `@` and `#` are the euid and egid.
/// Stored packed (WORDS).
const TEMPLATE: &[u8] = br#"{
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
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"~, "gid=5"|]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
~    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
^    {"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
|  ],
  "linux": {
~    "resources": {"devices": [{"allow": false, "access": "rwm"}]},
^    "uidMappings": [{"containerID": 0, "hostID": @, "size": 1}],
    "gidMappings": [{"containerID": 0, "hostID": #, "size": 1}],
|    "namespaces": [{"type": "pid"}, ~{"type": "network"}, |{"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}^, {"type": "user"}|],
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi", "/proc/interrupts", "/sys/devices/virtual/powercap"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}
"#;

/// Strings TEMPLATE repeats, tried in this order: each becomes one byte,
/// 0x80 and its index, at compile time (the template is ASCII).
const WORDS: [&[u8]; 17] = [
    br#""CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]"#,
    br#"", "options": ["nosuid", "noexec", ""#,
    b",\n    {\"destination\": \"/",
    br#"{"destination": "/"#,
    br#"", "type": ""#,
    br#"", "source": ""#,
    br#""}, {"type": ""#,
    br#"", "/proc/"#,
    br#"idMappings": [{"containerID": 0, "hostID": "#,
    br#"", "size=65536k"]}"#,
    br#"", ""#,
    br#"": "#,
    b",\n    \"",
    br#"{"type": ""#,
    br#"nodev"#,
    br#"cgroup"#,
    b"\n  ",
];

/// Whether `w` is at `s[i..]`.
const fn at(s: &[u8], i: usize, w: &[u8]) -> bool {
    if s.len() - i < w.len() {
        return false;
    }
    let mut k = 0;
    while k < w.len() {
        if s[i + k] != w[k] {
            return false;
        }
        k += 1;
    }
    true
}

/// TEMPLATE packed into N bytes, and the length it needs.
const fn pack<const N: usize>() -> ([u8; N], usize) {
    let s = TEMPLATE;
    let mut out = [0u8; N];
    let (mut i, mut o) = (0, 0);
    while i < s.len() {
        assert!(s[i] < 0x80);
        let (mut c, mut n, mut k) = (s[i], 1, 0);
        while k < WORDS.len() {
            if at(s, i, WORDS[k]) {
                (c, n) = (0x80 | k as u8, WORDS[k].len());
                break;
            }
            k += 1;
        }
        if o < N {
            out[o] = c;
        }
        o += 1;
        i += n;
    }
    (out, o)
}

const PACKED_LEN: usize = pack::<0>().1;
const PACKED: [u8; PACKED_LEN] = pack::<PACKED_LEN>().0;

/// WORDS at run time: each followed by a NUL.
const DICT_LEN: usize = {
    let (mut n, mut k) = (0, 0);
    while k < WORDS.len() {
        n += WORDS[k].len() + 1;
        k += 1;
    }
    n
};
const DICT: [u8; DICT_LEN] = {
    let mut out = [0u8; DICT_LEN];
    let (mut o, mut k) = (0, 0);
    while k < WORDS.len() {
        let mut i = 0;
        while i < WORDS[k].len() {
            out[o] = WORDS[k][i];
            (o, i) = (o + 1, i + 1);
        }
        (o, k) = (o + 1, k + 1);
    }
    out
};

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
        match rt::pick(b"--rootless -b --bundle", flag) {
            Some(0) => rootless = true,
            Some(_) => bundle = o.value(flag)?,
            _ => return Err(super::unknown_flag(b"spec", flag, b"")),
        }
    }
    let path = cat(&[bundle, b"/config.json"]);
    let ids = if rootless {
        [sys::geteuid(), sys::getegid()]
    } else {
        [0, 0]
    };
    // Never dropped: spec exits right after.
    let mut b = core::mem::ManuallyDrop::new(Buf::new());
    unpack(&mut b, rootless, ids);
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

/// TEMPLATE as the --rootless choice and `ids` (euid, egid) make it.
fn unpack(b: &mut Buf, rootless: bool, ids: [u32; 2]) {
    let mut skip = false;
    for &c in PACKED.iter() {
        match c {
            b'~' | b'^' | b'|' => skip = c != b'|' && (c == b'~') == rootless,
            _ if skip => {}
            b'@' | b'#' => {
                b.u(ids[(c == b'#') as usize] as u64);
            }
            0x80.. => {
                b.s(rt::split(&DICT, 0).nth((c & 0x7f) as usize).unwrap_or(b""));
            }
            _ => {
                b.c(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn packed_template() {
        let mut b = super::Buf::new();
        for &c in super::PACKED.iter() {
            match c {
                0x80.. => b.s(super::WORDS[(c & 0x7f) as usize]),
                _ => b.c(c),
            };
        }
        assert_eq!(b.as_slice(), super::TEMPLATE);
        assert!(super::PACKED.len() < super::TEMPLATE.len() * 2 / 3);
        for rootless in [false, true] {
            let mut b = super::Buf::new();
            super::unpack(&mut b, rootless, [0, 0]);
            assert!(crate::json::parse(b.as_slice()).is_ok());
            assert!(!b.as_slice().iter().any(|c| b"~^|@#".contains(c)));
        }
        for (k, w) in super::WORDS.iter().enumerate() {
            assert_eq!(crate::rt::split(&super::DICT, 0).nth(k), Some(*w));
        }
    }
}
