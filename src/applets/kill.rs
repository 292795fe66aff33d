//! `thinbox kill NAME [SIGNAL]`, and signal names for every applet.

use super::fail;
use crate::rt::{self, Error, Res, S, cat};
use crate::state;
use crate::sys;
use core::mem::ManuallyDrop;

/// Signal names in number order, from 1.
const SIGNALS: &[u8] = b"HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM \
STKFLT CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS";

/// "TERM", "SIGTERM", "sigterm" or "15".
pub fn parse_signal(s: &[u8]) -> Res<i32> {
    if let Some(n) = rt::parse_u64(s)
        && (1..=64).contains(&n)
    {
        return Ok(n as i32);
    }
    let name = match s.split_at_checked(3) {
        Some((p, n)) if !n.is_empty() && rt::eq_ignore_case(p, b"SIG") => n,
        _ => s,
    };
    match rt::split(SIGNALS, b' ').position(|t| rt::eq_ignore_case(t, name)) {
        Some(i) => Ok(i as i32 + 1),
        None => Err(Error::new(
            cat(&[b"signal ", s]),
            b"unknown; use a name such as TERM or a number",
        )),
    }
}

pub fn main(args: &[S]) -> i32 {
    let (all, args) = match args.split_first() {
        Some((a, rest)) if rt::pick(b"-a --all", a).is_some() => (true, rest),
        _ => (false, args),
    };
    let (id, sig) = match args {
        [id] => (*id, None),
        [id, s] => match parse_signal(s) {
            Ok(n) => (*id, Some(n)),
            Err(e) => return fail(e),
        },
        _ => {
            return fail(super::usage_error(b"kill"));
        }
    };
    match kill(state::root(None), id, sig, all) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

/// Signals the container's init (or, with `all`, every process in its
/// cgroups); a container that is not running is an error. The default
/// signal is TERM for OCI containers and KILL for detached ones.
pub fn kill(root: &[u8], id: &[u8], sig: Option<i32>, all: bool) -> Res<()> {
    // Never dropped, nor what is read (the arena frees only its newest
    // block).
    let st = ManuallyDrop::new(state::load(root, id)?);
    let oci = st.get(b"kind") == Some(b"oci");
    let sig = sig.unwrap_or(if oci { sys::SIGTERM } else { sys::SIGKILL });
    if !state::live(&st, false) {
        return Err(crate::container::err(id, b"is not running"));
    }
    if all {
        // Every recorded cgroup: one on v2, one per hierarchy on v1.
        for &d in ManuallyDrop::new(st.all(b"cgroup")).iter() {
            crate::cgroup::kill_procs(d, sig);
        }
    }
    let pid = st.num(b"pid").unwrap_or(0) as i32;
    sys::kill(pid, sig)
        .map(|_| ())
        .map_err(|e| Error::sys2(b"signalling ", id, e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn signals() {
        assert_eq!(super::parse_signal(b"TERM").ok(), Some(15));
        assert_eq!(super::parse_signal(b"sigkill").ok(), Some(9));
        assert_eq!(super::parse_signal(b"SIGWINCH").ok(), Some(28));
        assert_eq!(super::parse_signal(b"10").ok(), Some(10));
        assert!(super::parse_signal(b"0").is_err());
        assert!(super::parse_signal(b"NOPE").is_err());
        assert_eq!(super::parse_signal(b"HUP").ok(), Some(1));
        assert_eq!(super::parse_signal(b"sigSys").ok(), Some(31));
        assert_eq!(super::parse_signal(b"64").ok(), Some(64));
        assert!(super::parse_signal(b"65").is_err());
        assert!(super::parse_signal(b"SIG").is_err());
        assert!(super::parse_signal(b"").is_err());
        assert!(super::parse_signal(b"TERM ").is_err());
    }
}
