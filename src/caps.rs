//! Capabilities: names, Docker's default set, and applying all five sets
//! (bounding, effective, permitted, inheritable, ambient) the OCI way.

use crate::rt::{Ctx, Error, Res, eq_ignore_case};
use crate::sys;

/// Capability names in number order, CAP_ prefix dropped.
pub const NAMES: [&[u8]; 41] = [
    b"CHOWN",
    b"DAC_OVERRIDE",
    b"DAC_READ_SEARCH",
    b"FOWNER",
    b"FSETID",
    b"KILL",
    b"SETGID",
    b"SETUID",
    b"SETPCAP",
    b"LINUX_IMMUTABLE",
    b"NET_BIND_SERVICE",
    b"NET_BROADCAST",
    b"NET_ADMIN",
    b"NET_RAW",
    b"IPC_LOCK",
    b"IPC_OWNER",
    b"SYS_MODULE",
    b"SYS_RAWIO",
    b"SYS_CHROOT",
    b"SYS_PTRACE",
    b"SYS_PACCT",
    b"SYS_ADMIN",
    b"SYS_BOOT",
    b"SYS_NICE",
    b"SYS_RESOURCE",
    b"SYS_TIME",
    b"SYS_TTY_CONFIG",
    b"MKNOD",
    b"LEASE",
    b"AUDIT_WRITE",
    b"AUDIT_CONTROL",
    b"SETFCAP",
    b"MAC_OVERRIDE",
    b"MAC_ADMIN",
    b"SYSLOG",
    b"WAKE_ALARM",
    b"BLOCK_SUSPEND",
    b"AUDIT_READ",
    b"PERFMON",
    b"BPF",
    b"CHECKPOINT_RESTORE",
];

pub const ALL: u64 = (1 << NAMES.len()) - 1;

/// Docker's and containerd's 14: CHOWN, DAC_OVERRIDE, FSETID, FOWNER,
/// MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE,
/// SYS_CHROOT, KILL and AUDIT_WRITE.
pub const DEFAULT: u64 = 0xa804_25fb;

pub const SYS_ADMIN: u32 = 21;

#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Caps {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

impl Caps {
    /// The kernel raises an ambient capability only if it is also permitted
    /// and inheritable; the runtime-spec asks for a warning, not a failure,
    /// for the others (`crun spec` lists ambient ones with no inheritable).
    pub fn raisable_ambient(&self) -> u64 {
        self.ambient & self.permitted & self.inheritable
    }

    /// Every set equal to `m` except inheritable and ambient, as Docker does.
    pub fn docker(m: u64) -> Caps {
        Caps {
            bounding: m,
            effective: m,
            permitted: m,
            inheritable: 0,
            ambient: 0,
        }
    }
}

/// "net_admin", "CAP_NET_ADMIN" and "Net_Admin" all name CAP_NET_ADMIN.
pub fn parse(name: &[u8]) -> Option<u32> {
    let n = if name.len() > 4 && eq_ignore_case(&name[..4], b"CAP_") {
        &name[4..]
    } else {
        name
    };
    NAMES
        .iter()
        .position(|c| eq_ignore_case(c, n))
        .map(|i| i as u32)
}

/// A mask from a name, with ALL allowed; unknown names are an error.
pub fn mask(name: &[u8], what: &[u8]) -> Res<u64> {
    if eq_ignore_case(name, b"ALL") {
        return Ok(ALL);
    }
    parse(name).map(|c| 1u64 << c).ok_or_else(|| {
        Error::new(
            crate::rt::cat(&[what, b" ", name]),
            b"unknown capability; use a name such as NET_ADMIN or ALL",
        )
    })
}

/// Fails naming the first capability in `want` that thinbox does not hold.
pub fn check_held(want: u64, held: u64) -> Res<()> {
    let missing = want & !held;
    if missing == 0 {
        return Ok(());
    }
    let name = NAMES
        .get(missing.trailing_zeros() as usize)
        .copied()
        .unwrap_or(b"?");
    Err(Error::new(
        crate::rt::cat(&[b"capability CAP_", name]),
        b"thinbox itself does not hold it, so the container cannot have it; drop it or run thinbox with it",
    ))
}

/// The capabilities the kernel knows: 0 to its last capability number.
/// Read once: setup asks for it twice.
fn known() -> u64 {
    use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
    static KNOWN: AtomicU64 = AtomicU64::new(0);
    let m = KNOWN.load(Relaxed);
    if m != 0 {
        return m;
    }
    let last = crate::rt::read_file(b"/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|v| crate::rt::parse_u64(crate::rt::trim(&v)))
        .unwrap_or(NAMES.len() as u64 - 1);
    let m = u64::MAX >> (63 - last.min(63));
    KNOWN.store(m, Relaxed);
    m
}

/// Calls `f` with each capability number in `m`, lowest first.
fn each(mut m: u64, mut f: impl FnMut(usize) -> Res<()>) -> Res<()> {
    while m != 0 {
        f(m.trailing_zeros() as usize)?;
        m &= m - 1;
    }
    Ok(())
}

const PR_CAPBSET_DROP: u32 = 24;
const PR_SET_KEEPCAPS: u32 = 8;
const PR_CAP_AMBIENT: u32 = 47;
const PR_CAP_AMBIENT_RAISE: usize = 2;
const PR_CAP_AMBIENT_CLEAR_ALL: usize = 4;

/// Shrinks the bounding set and keeps permitted capabilities across the
/// coming setuid; runs while still fully privileged.
pub fn before_setuid(c: &Caps) -> Res<()> {
    each(!c.bounding & known(), |cap| {
        match sys::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) {
            Ok(_) | Err(sys::EINVAL) => Ok(()),
            Err(e) => Err(Error::sys(b"dropping the capability bounding set", e)),
        }
    })?;
    sys::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0).ctx(b"keepcaps")?;
    Ok(())
}

/// Sets effective, permitted, inheritable and ambient after setuid.
pub fn after_setuid(c: &Caps) -> Res<()> {
    // Capabilities the kernel does not know cannot be held; asking for them
    // (e.g. CHECKPOINT_RESTORE on an old kernel) would make capset fail.
    let known = known();
    sys::capset(
        c.effective & known,
        c.permitted & known,
        c.inheritable & known,
    )
    .ctx(b"capset")?;
    let _ = sys::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    each(c.raisable_ambient() & known, |cap| {
        sys::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0)
            .map(|_| ())
            .ctx(b"raising an ambient capability")
    })?;
    let _ = sys::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse(b"CHOWN"), Some(0));
        assert_eq!(parse(b"cap_net_admin"), Some(12));
        assert_eq!(parse(b"Sys_Admin"), Some(21));
        assert_eq!(parse(b"CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(parse(b"CAP_"), None);
        assert_eq!(parse(b"bogus"), None);
        assert_eq!(mask(b"all", b"--cap-add").ok(), Some(ALL));
        assert!(mask(b"NOPE", b"--cap-add").is_err());
    }

    #[test]
    fn default_set_is_dockers() {
        let names = [
            "CHOWN",
            "DAC_OVERRIDE",
            "FSETID",
            "FOWNER",
            "MKNOD",
            "NET_RAW",
            "SETGID",
            "SETUID",
            "SETFCAP",
            "SETPCAP",
            "NET_BIND_SERVICE",
            "SYS_CHROOT",
            "KILL",
            "AUDIT_WRITE",
        ];
        let m = names
            .iter()
            .fold(0u64, |m, n| m | 1 << parse(n.as_bytes()).unwrap());
        assert_eq!(m, DEFAULT);
        assert_eq!(DEFAULT, 0x00000000a80425fb);
    }
}
