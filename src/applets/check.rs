//! `thinbox check [--cgroup-root DIR]`: what this kernel offers thinbox,
//! one line each, "ok" or "missing" with a hint; exits 1 when something
//! thinbox needs is missing (optional features only warn).

use super::{Opts, fail};
use crate::cgroup;
use crate::rt::{self, Buf, S, cat};
use crate::sys;

/// Namespaces and the kernel option each needs, in pairs.
const NS: &[u8] =
    b"mnt|NAMESPACES|uts|UTS_NS|ipc|IPC_NS|pid|PID_NS|net|NET_NS|cgroup|CGROUPS|user|USER_NS|time|TIME_NS";
/// Controllers and their names in /proc/cgroups (cgroup v1), in pairs.
const CTRL: &[u8] = b"memory|memory|cpu|cpu|pids|pids|io|blkio|cpuset|cpuset";
const PI: &[u8] = b" (Raspberry Pi: add cgroup_enable=memory cgroup_memory=1 to /boot/firmware/cmdline.txt (older OS: /boot/cmdline.txt), then reboot)";

/// The last checks, "what|hint" each, and which of them are needed.
const ROWS: &[u8] = b"user namespaces allowed|sysctl user.max_user_namespaces=10000|\
seccomp filters|a kernel with CONFIG_SECCOMP_FILTER|\
overlayfs|modprobe overlay, or a kernel with CONFIG_OVERLAY_FS|\
clone3|Linux 5.3; thinbox falls back to clone|\
CLONE_INTO_CGROUP|Linux 5.7; thinbox falls back to moving the process|\
pidfd|Linux 5.3";
const NEEDED: u32 = 0b110;

/// The '|'-separated fields of `t`: rt::split's iterator, shared with
/// every other split.
fn fields(t: &'static [u8]) -> impl Iterator<Item = &'static [u8]> {
    rt::split(t, b'|')
}

/// One line: "ok       WHAT" or "missing  WHAT[ (optional)]; HINT";
/// whether it is a needed one missing.
fn item(b: &mut Buf, ok: bool, needed: bool, what: &[&[u8]], hint: &[&[u8]]) -> bool {
    b.s(if ok { b"ok       " } else { b"missing  " });
    what.iter().for_each(|w| {
        b.s(w);
    });
    if !ok {
        b.s(if needed { b"; " } else { b" (optional); " });
        hint.iter().for_each(|h| {
            b.s(h);
        });
    }
    b.c(b'\n');
    !ok && needed
}

/// Runs `f` in a forked child (cloned with `flags`): whether it could
/// fork and `f` said yes.
fn probe(flags: u64, f: fn() -> bool) -> bool {
    match sys::clone_fork(flags) {
        Ok(0) => sys::exit(!f() as i32),
        Ok(pid) => matches!(sys::wait4(pid, 0), Ok((_, 0))),
        Err(_) => false,
    }
}

pub fn main(args: &[S]) -> i32 {
    let mut root = cgroup::DEFAULT_ROOT;
    let mut o = Opts::new(args);
    let usage = super::usage_line(b"check");
    loop {
        match o.flag(b"-:cgroup-root", usage) {
            Ok(None) => break,
            Ok(Some((_, _, v))) => root = v,
            Err(e) => return fail(e),
        }
    }
    let base = cgroup::parent(root);
    let (mut b, mut bad) = (Buf::new(), false);
    let v2 = cgroup::is_cgroup2(base);
    bad |= item(
        &mut b,
        v2,
        true,
        &[b"cgroup v2 at ", base],
        &[b"mount -t cgroup2 none /sys/fs/cgroup, or pass --cgroup-root DIR on a cgroup2 mount"],
    );
    let w = |f: &[u8]| sys::faccessat(sys::AT_FDCWD, cat(&[base, f]), 2).is_ok();
    bad |= item(
        &mut b,
        v2 && w(b"/cgroup.subtree_control") && w(b"/cgroup.procs"),
        true,
        &[b"cgroup v2 delegated"],
        &[b"run as root, or delegate the cgroup and pass --cgroup-root"],
    );
    // Leaked, as the output buffer is: check exits right after.
    let ctrls = rt::read_file(cat(&[base, b"/cgroup.controllers"]))
        .unwrap_or_default()
        .leak();
    // "name hierarchy count enabled" lines tell why one is missing.
    let v1 = rt::read_file(b"/proc/cgroups").unwrap_or_default().leak();
    let (mut f, mut i) = (fields(CTRL), 0);
    while let (Some(c), Some(n)) = (f.next(), f.next()) {
        let line = rt::split(v1, b'\n')
            .find(|l| l.starts_with(n) && l.get(n.len()) == Some(&b'\t'))
            .unwrap_or(b"");
        let held = line.len() > n.len() + 2
            && line.get(n.len() + 1) != Some(&b'0')
            && !line.ends_with(b"\t0");
        let hint: &[&[u8]] = if held {
            &[b"a cgroup v1 hierarchy holds it; boot with systemd.unified_cgroup_hierarchy=1"]
        } else {
            &[
                b"boot with cgroup_enable=",
                c,
                if i == 0 { PI } else { b"" },
            ]
        };
        let ok = rt::split(rt::trim(ctrls), b' ').any(|w| w == c);
        bad |= item(&mut b, ok, i < 3, &[c, b" controller"], hint);
        i += 1;
    }
    let (mut f, mut i) = (fields(NS), 0);
    while let (Some(ns), Some(cfg)) = (f.next(), f.next()) {
        let ok = sys::lstat(cat(&[b"/proc/self/ns/", ns])).is_ok();
        bad |= item(
            &mut b,
            ok,
            i < 6,
            &[ns, b" namespace"],
            &[b"a kernel with CONFIG_", cfg],
        );
        i += 1;
    }
    // An allow-all seccomp filter: BPF_RET|BPF_K with SECCOMP_RET_ALLOW.
    let seccomp = probe(0, || {
        sys::seccomp_filter(&[0x7fff_0000_0000_0006], 0).is_ok()
    });
    // A bad cgroup fd: EBADF means the kernel read it (5.7+), E2BIG means
    // clone3 without cgroups (5.3+); nothing is created either way.
    let c3 = sys::clone3(0, i32::MAX);
    if c3 == Ok(0) {
        sys::exit(0);
    }
    let oks = [
        probe(sys::CLONE_NEWUSER, || true),
        seccomp,
        crate::image::has_overlay(),
        c3 != Err(sys::ENOSYS),
        c3 == Err(sys::Errno(9)),
        sys::pidfd_open(sys::getpid()).is_ok(),
    ];
    let mut f = fields(ROWS);
    for (i, ok) in oks.into_iter().enumerate() {
        let what = f.next().unwrap_or(b"");
        let hint = f.next().unwrap_or(b"");
        bad |= item(&mut b, ok, NEEDED >> i & 1 != 0, &[what], &[hint]);
    }
    rt::out(b.leak());
    bad as i32
}
