//! `thinbox stop [-t SECS] NAME...`: SIGTERM, then SIGKILL after SECS
//! (default 10); no restart afterwards.

use super::{Opts, fail};
use crate::rt::{self, Error, Res, S};
use crate::state::{self, State};
use crate::sys;

pub fn main(args: &[S]) -> i32 {
    let (secs, names) = match parse(args) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let root = state::root(None);
    let mut code = 0;
    for id in names {
        match state::load(root, id) {
            // Never dropped: stop's process ends soon, no drop code.
            Ok(st) => stop(root, id, &core::mem::ManuallyDrop::new(st), secs),
            Err(e) => code = fail(e),
        }
    }
    code
}

/// The seconds to wait and the names.
fn parse(args: &[S]) -> Res<(u64, &[S])> {
    let mut secs = 10;
    let mut o = Opts::new(args);
    let usage = super::usage_line(b"stop");
    while let Some((_, _, v)) = o.flag(b"t:time", usage)? {
        secs =
            rt::parse_u64(v).ok_or_else(|| Error::new(b"stop -t", b"needs a number of seconds"))?;
    }
    match o.rest() {
        [] => Err(Error::new(b"stop", usage)),
        names => Ok((secs, names)),
    }
}

/// Marks the container stopped (so its supervisor does not restart it),
/// then TERM, wait, KILL; returns once the supervisor has let go.
pub fn stop(root: &[u8], id: &[u8], st: &State, secs: u64) {
    let _ = sys::open(
        state::file(root, id, b"/stop"),
        sys::O_WRONLY | sys::O_CREAT,
        0o600,
    );
    let pid = st.num(b"pid").unwrap_or(0) as i32;
    let sup = st.num(b"sup").unwrap_or(0) as i32;
    let running = state::live(st, false);
    if running {
        let _ = sys::kill(pid, sys::SIGTERM);
    } else if state::live(st, true) {
        // Waiting to restart: wake it so it sees the stop mark.
        let _ = sys::kill(sup, sys::SIGTERM);
    }
    let deadline = sys::now_ns() + secs * 1_000_000_000;
    let mut killed = false;
    loop {
        let c = state::live(st, false);
        let s = state::live(st, true);
        if !c && !s {
            return;
        }
        let now = sys::now_ns();
        if c && !killed && now >= deadline {
            let _ = sys::kill(pid, sys::SIGKILL);
            killed = true;
        }
        if !c && now >= deadline + 5_000_000_000 {
            return;
        }
        sys::sleep_ms(10);
    }
}
