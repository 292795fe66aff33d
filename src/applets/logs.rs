//! `thinbox logs [-f] NAME`: the captured output, the rotated part first;
//! `-f` follows it until the container is gone.

use super::fail;
use crate::rt::{self, Ctx, Res, S, cat};
use crate::state;
use crate::sys;

pub fn main(args: &[S]) -> i32 {
    match logs(args) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

fn logs(args: &[S]) -> Res<()> {
    let (follow, rest) = match args.split_first() {
        Some((a, rest)) if rt::pick(b"-f --follow", a).is_some() => (true, rest),
        _ => (false, args),
    };
    let [id] = rest else {
        return Err(super::usage_error(b"logs"));
    };
    let root = state::root(None);
    let dir = state::dir(root, id);
    // Loaded once: the recorded processes (the supervisor across
    // restarts) say how long to follow; reloading each turn leaked it.
    // Never dropped, nor the old log: nothing is allocated after them.
    let st = core::mem::ManuallyDrop::new(state::load(root, id)?);
    let path = cat(&[dir, b"/log"]);
    if let Ok(old) = rt::read_file(cat(&[dir, b"/log.1"])) {
        rt::out(old.leak());
    }
    let mut buf = [0u8; 4096];
    let mut fd = sys::open(path, sys::O_RDONLY, 0).ctx(path)?;
    loop {
        while let Ok(n) = sys::read(fd.raw(), &mut buf) {
            if n == 0 {
                break;
            }
            rt::out(&buf[..n]);
        }
        if !follow {
            return Ok(());
        }
        if !state::live(&st, false) && !state::live(&st, true) {
            return Ok(());
        }
        sys::sleep_ms(100);
        // Rotation replaced the file: read the new one from its start.
        let here = sys::lseek(fd.raw(), 0, 1).unwrap_or(0) as i64;
        if let Ok(s) = sys::stat(path)
            && (s.st_size < here
                || sys::fstat(fd.raw())
                    .map(|f| f.st_ino != s.st_ino)
                    .unwrap_or(true))
            && let Ok(n) = sys::open(path, sys::O_RDONLY, 0)
        {
            fd = n;
        }
    }
}
