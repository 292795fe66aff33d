//! `thinbox exec [-t] [-e K=V] [-w DIR] [-u USER] NAME CMD [ARG...]`: runs a
//! process inside a running container, with its namespaces, cgroup,
//! capabilities, no_new_privs and seccomp. The joining side runs from a
//! sealed memfd copy of thinbox, so the container can never reach the host
//! binary through /proc/PID/exe.

use super::{Opts, fail, run};
use crate::cgroup::Cgroup;
use crate::rt::{self, Error, Res, S, cat};
use crate::spawn;
use crate::state;
use crate::sys;
use alloc::vec::Vec;

pub fn main(args: &[S]) -> i32 {
    match exec(args) {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

/// Re-execs from a sealed memfd unless already running from one.
pub fn protect_self() -> Res<()> {
    let mut buf = [0u8; 256];
    if let Ok(p) = sys::readlinkat(sys::AT_FDCWD, b"/proc/self/exe", &mut buf)
        && p.starts_with(b"/memfd:")
    {
        return Ok(());
    }
    let fd = sys::sealed_self().map_err(|e| Error::sys(b"sealing a copy of thinbox", e))?;
    let e = sys::execveat(fd.raw(), &spawn::cvec(rt::args()), &spawn::cvec(rt::env()));
    Err(Error::sys(b"re-executing from the sealed copy", e))
}

const JOIN: [(u64, &[u8]); 6] = [
    (sys::CLONE_NEWIPC, b"ipc"),
    (sys::CLONE_NEWUTS, b"uts"),
    (sys::CLONE_NEWNET, b"net"),
    (sys::CLONE_NEWCGROUP, b"cgroup"),
    (sys::CLONE_NEWNS, b"mnt"),
    (sys::CLONE_NEWPID, b"pid"),
];

const USAGE: &[u8] = b"usage: thinbox exec [-t] [-e K=V] [-w DIR] [-u USER] NAME CMD [ARG...]";

fn exec(args: &[S]) -> Res<i32> {
    let (mut tty, mut user, mut cwd) = (false, None, None);
    let mut env: Vec<S> = Vec::new();
    let mut o = Opts::new(args);
    while let Some((i, _, v)) = o.flag(b"t.tty i.interactive e:env w:workdir u:user", USAGE)? {
        match i {
            0 => tty = true,
            2 => env.push(v),
            3 => cwd = Some(v),
            4 => user = Some(v),
            _ => {}
        }
    }
    let rest = o.rest();
    if rest.len() < 2 {
        return Err(Error::new(b"exec", USAGE));
    }
    spawn::is_root()?;
    let id = rest[0];
    let root = state::root(None);
    let st = state::load(root, id)?;
    if !state::alive(&st, b"pid", b"start") {
        return Err(Error::new(cat(&[b"container ", id]), b"is not running"));
    }
    protect_self()?;
    let (mut c, _) = run::parse(&st.all(b"argv"))?;
    c.args = rest[1..].to_vec();
    c.tty = tty;
    if tty && !c.has_env(b"TERM") {
        c.env.push(b"TERM=xterm");
    }
    for e in env {
        c.set_env(e);
    }
    if let Some(w) = cwd {
        c.cwd = w;
    }
    if let Some(u) = user {
        run::set_user(&mut c, u)?;
    }
    let pid = st.num(b"pid").unwrap_or(0);
    let mut b = rt::Buf::new();
    b.s(b"/proc/").u(pid).s(b"/ns/");
    for (flag, name) in JOIN {
        if c.namespaces & flag != 0 {
            c.join.push((flag, cat(&[b.as_slice(), name])));
        }
    }
    c.namespaces = 0;
    let cg = st.get(b"cgroup").map(|p| Cgroup {
        path: p,
        fd: sys::open(p, sys::O_RDONLY | sys::O_DIRECTORY, 0).ok(),
        v1: Vec::new(),
    });
    let status = run::foreground(&c, cg.as_ref(), false, true)?;
    Ok(sys::exit_code(status))
}
