//! `thinbox logs [-f] NAME`: the captured output, the rotated part first;
//! `-f` follows it until the container is gone.

use super::fail;
use crate::rt::{self, Error, S, cat};
use crate::state;
use crate::sys;

pub fn main(args: &[S]) -> i32 {
    let (follow, rest) = match args.split_first() {
        Some((a, rest)) if rt::pick(b"-f --follow", a).is_some() => (true, rest),
        _ => (false, args),
    };
    let [id] = rest else {
        return fail(super::usage_error(b"logs"));
    };
    let root = state::root(None);
    let dir = state::dir(root, id);
    if let Err(e) = state::load(root, id) {
        return fail(e);
    }
    let path = cat(&[dir, b"/log"]);
    if let Ok(old) = rt::read_file(cat(&[dir, b"/log.1"])) {
        rt::out(&old);
    }
    let mut buf = [0u8; 4096];
    let mut fd = match sys::open(path, sys::O_RDONLY, 0) {
        Ok(fd) => fd,
        Err(e) => return fail(Error::sys(path, e)),
    };
    loop {
        while let Ok(n) = sys::read(fd.raw(), &mut buf) {
            if n == 0 {
                break;
            }
            rt::out(&buf[..n]);
        }
        if !follow {
            return 0;
        }
        let st = match state::load(root, id) {
            Ok(st) => st,
            Err(_) => return 0,
        };
        if !state::live(&st, false) && !state::live(&st, true) {
            return 0;
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
