//! `thinbox start ID`: lets a created container's init exec the user's
//! program (one byte through the exec fifo), then runs poststart hooks.

use super::fail;
use crate::container;
use crate::oci;
use crate::rt::{Error, Res, S, cat};
use crate::state;
use crate::sys;
use core::mem::ManuallyDrop;

pub fn main(args: &[S]) -> i32 {
    let [id] = args else {
        return fail(super::usage_error(b"start"));
    };
    match start(state::root(None), id) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

pub fn start(root: &[u8], id: &[u8]) -> Res<()> {
    // Never dropped, nor the bundle (the arena frees only its newest
    // block): no return has to drop them.
    let st = ManuallyDrop::new(state::load(root, id)?);
    let status = container::status(root, id, &st);
    if status != b"created" {
        return Err(container::err(
            id,
            cat(&[b"cannot start: it is ", status, b", not created"]),
        ));
    }
    let fifo = container::fifo(root, id);
    let fd = sys::open(fifo, sys::O_WRONLY | sys::O_NONBLOCK | sys::O_CLOEXEC, 0)
        .map_err(|e| Error::sys2(b"starting ", id, e).hint(b"its init is gone; delete it"))?;
    sys::write(fd.raw(), b"0").map_err(|e| Error::sys2(b"starting ", id, e))?;
    let _ = sys::unlink(fifo);
    // Running means the user's program: wait until the init execs (or
    // dies), when its close-on-exec end of the fifo closes.
    for _ in 0..10_000 {
        let mut p = [sys::PollFd {
            fd: fd.raw(),
            events: sys::POLLOUT,
            revents: 0,
        }];
        let _ = sys::poll(&mut p, 10);
        if p[0].revents & sys::POLLERR != 0 {
            break;
        }
    }
    if let Some(b) = ManuallyDrop::new(container::bundle_of(root, id, &st)).as_ref()
        && !b.hooks[oci::POSTSTART].is_empty()
    {
        let js = ManuallyDrop::new(container::state_json(id, &st, b"running", Some(b)));
        if let Err(e) = crate::hooks::run(&b.hooks[oci::POSTSTART], &js, b"poststart") {
            container::warn(e);
        }
    }
    Ok(())
}
