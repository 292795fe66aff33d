//! OCI hooks: each runs with the container's state JSON on stdin and must
//! exit 0 within its timeout.

use crate::oci::Hook;
use crate::rt::{Buf, Error, Res, cat};
use crate::spawn::cvec;
use crate::sys;

/// Runs `hooks` in order; the first failure is the error.
pub fn run(hooks: &[Hook], state: &[u8], kind: &[u8]) -> Res<()> {
    // A hook that does not read its stdin must not kill us with SIGPIPE;
    // the default comes back before anything execs the container.
    let _ = sys::signal_default(sys::SIGPIPE, true);
    let r = hooks.iter().enumerate().try_for_each(|(i, h)| {
        one(h, state).map_err(|why| {
            let mut b = Buf::new();
            b.s(kind)
                .s(b" hook ")
                .u(i as u64)
                .s(b" (")
                .s(h.path)
                .s(b")");
            Error::new(b.leak(), why)
        })
    });
    let _ = sys::signal_default(sys::SIGPIPE, false);
    r
}

fn one(h: &Hook, state: &[u8]) -> Result<(), &'static [u8]> {
    let (r, w) = sys::pipe2(sys::O_CLOEXEC).map_err(|_| &b"pipe failed"[..])?;
    let pid = sys::clone_fork(0).map_err(|_| &b"fork failed"[..])?;
    if pid == 0 {
        let _ = sys::dup3(r.raw(), 0, 0);
        let argv = cvec(if h.args.is_empty() {
            core::slice::from_ref(&h.path)
        } else {
            &h.args
        });
        let path = cat(&[h.path, b"\0"]);
        let env = core::mem::ManuallyDrop::new(cvec(&h.env));
        sys::execve(path.as_ptr(), &argv, &env);
        sys::exit(127);
    }
    drop(r);
    // A hook that does not read its stdin must not block us: EPIPE is fine.
    let _ = sys::write_all(w.raw(), state);
    drop(w);
    let deadline = h.timeout.map(|t| sys::now_ns() + t * 1_000_000_000);
    loop {
        let flags = if deadline.is_some() { sys::WNOHANG } else { 0 };
        match sys::wait4(pid, flags) {
            Ok((p, status)) if p == pid => {
                return match sys::exit_code(status) {
                    0 => Ok(()),
                    127 => Err(b"could not be executed"),
                    _ => Err(b"failed (non-zero exit)"),
                };
            }
            Err(sys::EINTR) | Ok(_) => {}
            Err(_) => return Err(b"wait failed"),
        }
        if let Some(d) = deadline {
            if sys::now_ns() > d {
                let _ = sys::kill(pid, sys::SIGKILL);
                let _ = sys::wait4(pid, 0);
                return Err(b"timed out");
            }
            sys::sleep_ms(1);
        }
    }
}
