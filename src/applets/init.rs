//! `thinbox init [-g] [--] CMD [ARG...]`: a minimal init for PID 1 (tini
//! and catatonit duty). Reaps every zombie, forwards signals to the child
//! (its process group with -g), and exits with the child's status.

use super::fail;
use crate::rt::{self, Error, S};
use crate::spawn;
use crate::sys;

const FORWARD: [i32; 7] = [
    sys::SIGTERM,
    sys::SIGINT,
    sys::SIGHUP,
    sys::SIGQUIT,
    sys::SIGUSR1,
    sys::SIGUSR2,
    sys::SIGWINCH,
];

pub fn main(args: &[S]) -> i32 {
    let (mut group, mut cmd) = (false, args);
    // An unknown flag, or None once the flags end.
    let bad = loop {
        let Some((&a, rest)) = cmd.split_first() else {
            break None;
        };
        match rt::pick(b"-g --", a) {
            Some(0) => group = true,
            Some(_) => {
                cmd = rest;
                break None;
            }
            None if a.first() == Some(&b'-') => break Some(rt::cat(&[b"init: unknown flag ", a])),
            None => break None,
        }
        cmd = rest;
    };
    if bad.is_some() || cmd.is_empty() {
        return fail(Error::new(
            bad.unwrap_or(b"init: no command"),
            b"usage: init [-g] [--] CMD [ARG...]",
        ));
    }
    if sys::getpid() != 1 {
        // PR_SET_CHILD_SUBREAPER: orphans below us come to us, not PID 1.
        let _ = sys::prctl(36, 1, 0, 0, 0);
    }
    let set = FORWARD
        .iter()
        .fold(sys::sigbit(sys::SIGCHLD), |s, &g| s | sys::sigbit(g));
    let old = sys::sigprocmask(sys::SIG_BLOCK, set).unwrap_or(0);
    let child = match sys::clone_fork(0) {
        Ok(0) => {
            if group {
                let _ = sys::setpgid(0, 0);
            }
            let _ = sys::sigprocmask(sys::SIG_SETMASK, old);
            let e = spawn::exec_search(cmd, rt::env());
            sys::exit(fail(e));
        }
        Ok(pid) => pid,
        Err(e) => return fail(Error::sys(b"init: fork", e)),
    };
    if group {
        let _ = sys::setpgid(child, child);
    }
    let mut status = None;
    loop {
        // After a second without signals, sleep at next to no memory.
        let sig = match sys::sigtimedwait(set, Some(1000)) {
            Err(sys::EAGAIN) => sys::idle_sigwait(set),
            r => r,
        };
        let Ok(sig) = sig else { continue };
        if sig != sys::SIGCHLD {
            let _ = sys::kill(if group { -child } else { child }, sig);
            continue;
        }
        // Reap everything that is ready; orphans included.
        while let Ok((pid, st)) = sys::wait4(-1, sys::WNOHANG) {
            if pid <= 0 {
                break;
            }
            if pid == child {
                status = Some(st);
            }
        }
        if let Some(st) = status {
            return sys::exit_code(st);
        }
    }
}
