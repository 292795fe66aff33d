//! The one internal description of a container. The `run` CLI and the OCI
//! config.json parser both build this; spawn, rootfs and cgroup consume it.

use crate::rt::S;
use crate::sys;
use alloc::vec::Vec;

pub const MS_RDONLY: u64 = 1;
pub const MS_NOSUID: u64 = 2;
pub const MS_NODEV: u64 = 4;
pub const MS_NOEXEC: u64 = 8;
pub const MS_REMOUNT: u64 = 32;
pub const MS_NOATIME: u64 = 1024;
pub const MS_NODIRATIME: u64 = 2048;
pub const MS_BIND: u64 = 4096;
pub const MS_REC: u64 = 16384;
pub const MS_UNBINDABLE: u64 = 1 << 17;
pub const MS_PRIVATE: u64 = 1 << 18;
pub const MS_SLAVE: u64 = 1 << 19;
pub const MS_SHARED: u64 = 1 << 20;
pub const MS_RELATIME: u64 = 1 << 21;
pub const MS_STRICTATIME: u64 = 1 << 24;
pub const MS_PROPAGATION: u64 = MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED;

#[derive(Clone)]
pub struct Mount {
    pub dest: S,
    pub kind: S,
    pub source: S,
    /// MS_* flags, propagation included.
    pub flags: u64,
    /// Filesystem data such as "mode=755,size=65536k".
    pub data: S,
}

#[derive(Clone, Copy)]
pub struct Device {
    pub path: S,
    /// b'c', b'b' or b'p'.
    pub kind: u8,
    pub major: u32,
    pub minor: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Clone, Copy)]
pub struct IdMap {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

#[derive(Clone, Copy)]
pub struct Rlimit {
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

/// Limits, written to cgroup v2 files before the first instruction.
#[derive(Clone, Default)]
pub struct Resources {
    pub memory: Option<i64>,
    pub memory_low: Option<i64>,
    /// memory.swap.max (already the swap part, not memory+swap).
    pub swap: Option<i64>,
    /// cpu.max quota and period in microseconds; quota -1 is "max".
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpu_weight: Option<u64>,
    pub cpuset_cpus: Option<S>,
    pub cpuset_mems: Option<S>,
    pub pids: Option<i64>,
    /// Extra (file, value) pairs: io.max lines, hugetlb, unified.
    pub files: Vec<(S, S)>,
    /// The same limits as cgroup v1 (file, value) writes, for OCI.
    pub v1: Vec<(S, S)>,
    /// Why the limits cannot be expressed in v1 or in v2, if they cannot.
    pub v1_error: Option<S>,
    pub v2_error: Option<S>,
    /// Device rules in order; empty means no device policy.
    pub devices: Vec<DevRule>,
}

/// A device cgroup rule; major/minor -1 is any, access bits are the
/// kernel's BPF_DEVCG_ACC_* (mknod 1, read 2, write 4).
#[derive(Clone, Copy)]
pub struct DevRule {
    pub allow: bool,
    /// b'a', b'c' or b'b'.
    pub kind: u8,
    pub major: i64,
    pub minor: i64,
    pub access: u8,
}

impl Resources {
    pub fn any(&self) -> bool {
        self.memory.is_some()
            || self.memory_low.is_some()
            || self.swap.is_some()
            || self.cpu_quota.is_some()
            || self.cpu_period.is_some()
            || self.cpu_weight.is_some()
            || self.cpuset_cpus.is_some()
            || self.cpuset_mems.is_some()
            || self.pids.is_some()
            || !self.files.is_empty()
            || !self.v1.is_empty()
    }
}

#[derive(Clone)]
pub struct Container {
    pub id: S,
    pub hostname: Option<S>,
    pub domainname: Option<S>,
    pub rootfs: S,
    pub readonly_root: bool,
    pub args: Vec<S>,
    pub env: Vec<S>,
    pub cwd: S,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: Option<u32>,
    pub tty: bool,
    /// CLONE_NEW* flags of the namespaces to create.
    pub namespaces: u64,
    /// Namespaces to join: (CLONE_NEW* flag, path).
    pub join: Vec<(u64, S)>,
    pub uid_map: Vec<IdMap>,
    pub gid_map: Vec<IdMap>,
    pub mounts: Vec<Mount>,
    pub devices: Vec<Device>,
    /// Propagation of the rootfs mount (MS_PRIVATE by default).
    pub rootfs_propagation: u64,
    /// cgroup directory of the container; None runs without a cgroup.
    pub cgroup_path: Option<S>,
    /// Whether the cgroup path came from the user (then errors are fatal).
    pub cgroup_explicit: bool,
    pub resources: Resources,
    pub rlimits: Vec<Rlimit>,
    pub sysctl: Vec<(S, S)>,
    pub oom_score_adj: Option<i32>,
    pub no_new_privs: bool,
    pub masked_paths: Vec<S>,
    pub readonly_paths: Vec<S>,
    pub caps: crate::caps::Caps,
    /// The seccomp filter to load last before execve; None is unconfined.
    pub seccomp: Option<crate::seccomp::Filter>,
    /// The AppArmor profile to exec into.
    pub apparmor: Option<S>,
}

pub const DEFAULT_NAMESPACES: u64 = sys::CLONE_NEWPID
    | sys::CLONE_NEWNS
    | sys::CLONE_NEWUTS
    | sys::CLONE_NEWIPC
    | sys::CLONE_NEWNET
    | sys::CLONE_NEWCGROUP;

pub const DEFAULT_PATH: &[u8] =
    b"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Container {
    #[inline(never)]
    pub fn new(id: S, rootfs: S) -> Container {
        Container {
            id,
            hostname: None,
            domainname: None,
            rootfs,
            readonly_root: false,
            args: Vec::new(),
            env: Vec::new(),
            cwd: b"/",
            uid: 0,
            gid: 0,
            groups: Vec::new(),
            umask: None,
            tty: false,
            namespaces: DEFAULT_NAMESPACES,
            join: Vec::new(),
            uid_map: Vec::new(),
            gid_map: Vec::new(),
            mounts: Vec::new(),
            devices: Vec::new(),
            rootfs_propagation: MS_PRIVATE | MS_REC,
            cgroup_path: None,
            cgroup_explicit: false,
            resources: Resources::default(),
            rlimits: Vec::new(),
            sysctl: Vec::new(),
            oom_score_adj: None,
            no_new_privs: true,
            masked_paths: Vec::new(),
            readonly_paths: Vec::new(),
            caps: crate::caps::Caps::docker(crate::caps::DEFAULT),
            seccomp: None,
            apparmor: None,
        }
    }

    /// The mounts and devices of `runc spec` and Docker: what every
    /// container gets from the simple CLI. A table, not seven literal
    /// Mounts: their field stores cost more than a loop over text.
    pub fn add_default_mounts(&mut self) {
        const NSE: u32 = (MS_NOSUID | MS_NOEXEC | MS_NODEV) as u32;
        const FLAGS: [u32; 7] = [
            NSE,
            (MS_NOSUID | MS_STRICTATIME) as u32,
            (MS_NOSUID | MS_NOEXEC) as u32,
            NSE,
            NSE,
            NSE | MS_RDONLY as u32,
            NSE | (MS_RELATIME | MS_RDONLY) as u32,
        ];
        // "DEST TYPE DATA " per mount (an empty DATA leaves two spaces);
        // the source is the type. One split, no nested iterators.
        const TABLE: &[u8] = b"/proc proc  \
            /dev tmpfs mode=755,size=65536k \
            /dev/pts devpts newinstance,ptmxmode=0666,mode=0620,gid=5 \
            /dev/shm tmpfs mode=1777,size=65536k \
            /dev/mqueue mqueue  \
            /sys sysfs  \
            /sys/fs/cgroup cgroup2 ";
        let mut w = crate::rt::split(TABLE, b' ');
        for &flags in FLAGS.iter() {
            let dest = w.next().unwrap_or_default();
            let kind = w.next().unwrap_or_default();
            self.mounts.push(Mount {
                dest,
                kind,
                source: kind,
                flags: flags as u64,
                data: w.next().unwrap_or_default(),
            });
        }
    }

    /// Docker's masked and read-only paths.
    pub fn add_default_protection(&mut self) {
        self.masked_paths.extend_from_slice(&MASKED);
        self.readonly_paths.extend_from_slice(&READONLY);
    }

    /// Adds an environment entry, replacing one with the same key.
    pub fn set_env(&mut self, kv: S) {
        let key = match kv.iter().position(|&c| c == b'=') {
            Some(p) => &kv[..=p],
            None => kv,
        };
        match self.env.iter_mut().find(|e| e.starts_with(key)) {
            Some(e) => *e = kv,
            None => self.env.push(kv),
        }
    }

    pub fn has_env(&self, key: &[u8]) -> bool {
        self.env
            .iter()
            .any(|e| e.len() > key.len() && e.starts_with(key) && e[key.len()] == b'=')
    }
}

/// The devices every container gets (OCI's default device list).
pub const DEFAULT_DEVICES: [(&[u8], u32, u32); 6] = [
    (b"null", 1, 3),
    (b"zero", 1, 5),
    (b"full", 1, 7),
    (b"random", 1, 8),
    (b"urandom", 1, 9),
    (b"tty", 5, 0),
];

pub const MASKED: [&[u8]; 12] = [
    b"/proc/acpi",
    b"/proc/asound",
    b"/proc/interrupts",
    b"/proc/kcore",
    b"/proc/keys",
    b"/proc/latency_stats",
    b"/proc/sched_debug",
    b"/proc/scsi",
    b"/proc/timer_list",
    b"/proc/timer_stats",
    b"/sys/firmware",
    b"/sys/devices/virtual/powercap",
];

pub const READONLY: [&[u8]; 5] = [
    b"/proc/bus",
    b"/proc/fs",
    b"/proc/irq",
    b"/proc/sys",
    b"/proc/sysrq-trigger",
];

#[cfg(test)]
mod tests {
    #[test]
    fn default_mounts() {
        let mut c = super::Container::new(b"", b"");
        c.add_default_mounts();
        let got: alloc::vec::Vec<_> = c
            .mounts
            .iter()
            .map(|m| (m.dest, m.kind, m.source, m.flags, m.data))
            .collect();
        let nse = 14;
        let want: [(&[u8], &[u8], &[u8], u64, &[u8]); 7] = [
            (b"/proc", b"proc", b"proc", nse, b""),
            (
                b"/dev",
                b"tmpfs",
                b"tmpfs",
                2 | 1 << 24,
                b"mode=755,size=65536k",
            ),
            (
                b"/dev/pts",
                b"devpts",
                b"devpts",
                2 | 8,
                b"newinstance,ptmxmode=0666,mode=0620,gid=5",
            ),
            (
                b"/dev/shm",
                b"tmpfs",
                b"tmpfs",
                nse,
                b"mode=1777,size=65536k",
            ),
            (b"/dev/mqueue", b"mqueue", b"mqueue", nse, b""),
            (b"/sys", b"sysfs", b"sysfs", nse | 1, b""),
            (
                b"/sys/fs/cgroup",
                b"cgroup2",
                b"cgroup2",
                nse | 1 | 1 << 21,
                b"",
            ),
        ];
        assert_eq!(got, want);
    }
}
