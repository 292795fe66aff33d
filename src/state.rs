//! Container state under `<root>/<id>/state`: "key value" lines, written
//! atomically (write, then rename). Liveness is always re-checked against
//! /proc, so a dead process never reads as running.

use crate::rt::{self, Buf, Ctx, Error, Res, S, cat};
use crate::sys;
use alloc::vec::Vec;

pub const DEFAULT_ROOT: &[u8] = b"/run/thinbox";

/// The state root: --root, else $THINBOX_STATE, else /run/thinbox.
pub fn root(flag: Option<S>) -> S {
    flag.or(rt::globals().root)
        .or_else(|| rt::getenv(b"THINBOX_STATE"))
        .unwrap_or(DEFAULT_ROOT)
}

#[derive(Default, Clone)]
pub struct State {
    pub fields: Vec<(S, S)>,
}

impl State {
    pub fn get(&self, key: &[u8]) -> Option<S> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }
    pub fn num(&self, key: &[u8]) -> Option<u64> {
        self.get(key).and_then(rt::parse_u64)
    }
    pub fn set(&mut self, key: S, val: &[u8]) {
        let v = cat(&[val]);
        match self.fields.iter_mut().find(|(k, _)| *k == key) {
            Some(f) => f.1 = v,
            None => self.fields.push((key, v)),
        }
    }
    pub fn set_num(&mut self, key: S, n: u64) {
        let mut b = Buf::new();
        b.u(n);
        self.set(key, b.as_slice());
    }
    /// All values of a repeated key, such as "env" or "arg".
    pub fn all(&self, key: &[u8]) -> Vec<S> {
        let mut all = Vec::new();
        for &(k, v) in &self.fields {
            if k == key {
                all.push(v);
            }
        }
        all
    }
    pub fn push(&mut self, key: S, val: S) {
        self.fields.push((key, val));
    }

    /// Keys and values point into `data`, leaked; values are unescaped
    /// in place (escapes only shrink), so no value needs a copy.
    pub fn parse(data: Vec<u8>) -> State {
        let mut s = State::default();
        for line in data.leak().split_mut(|&c| c == b'\n') {
            if line.is_empty() {
                continue;
            }
            let sp = line.iter().position(|&c| c == b' ').unwrap_or(line.len());
            // Unescaped in place: each escape is two bytes for one.
            let (mut r, mut w) = (sp + 1, sp + 1);
            while r < line.len() {
                let mut c = line[r];
                if c == b'\\' && r + 1 < line.len() {
                    r += 1;
                    c = if line[r] == b'n' { b'\n' } else { line[r] };
                }
                line[w] = c;
                w += 1;
                r += 1;
            }
            let line: S = line;
            s.fields
                .push((&line[..sp], line.get(sp + 1..w).unwrap_or_default()));
        }
        s
    }

    pub fn render(&self) -> Vec<u8> {
        let mut b = Buf::new();
        for (k, v) in &self.fields {
            b.s(k).c(b' ');
            for &c in v.iter() {
                match c {
                    b'\n' => b.s(b"\\n"),
                    b'\\' => b.s(b"\\\\"),
                    _ => b.c(c),
                };
            }
            b.c(b'\n');
        }
        b.0
    }
}

pub fn dir(root: &[u8], id: &[u8]) -> S {
    file(root, id, b"")
}

/// `<root>/<id><name>`: a file of the container's state directory.
#[inline(never)]
pub fn file(root: &[u8], id: &[u8], name: &[u8]) -> S {
    cat(&[root, b"/", id, name])
}

pub fn load(root: &[u8], id: &[u8]) -> Res<State> {
    match rt::read_file(file(root, id, b"/state")) {
        Ok(d) => Ok(State::parse(d)),
        Err(sys::ENOENT) => Err(crate::container::err(id, b"does not exist")),
        Err(e) => Err(Error::sys2(b"reading the state of ", id, e)),
    }
}

/// Writes the state atomically.
pub fn save(root: &[u8], id: &[u8], s: &State) -> Res<()> {
    let tmp = file(root, id, b"/state.tmp");
    let fin = &tmp[..tmp.len() - 4];
    write_new(tmp, &s.render(), 0o600).ctx(tmp)?;
    sys::rename(tmp, fin).ctx(fin)?;
    Ok(())
}

/// Creates (or truncates) `path` and writes `data` to it: the state,
/// the config copy and pid files.
#[inline(never)]
pub fn write_new(path: &[u8], data: &[u8], mode: u32) -> sys::R<()> {
    let flags = sys::O_WRONLY | sys::O_CREAT | sys::O_TRUNC | sys::O_CLOEXEC;
    let fd = sys::open(path, flags, mode)?;
    sys::write_all(fd.raw(), data)
}

/// Creates `<root>/<id>`; an existing one means the name is taken.
pub fn create_dir(root: &[u8], id: &[u8]) -> Res<S> {
    crate::rootfs::mkdir_all(root, 0o700).ctx(root)?;
    let d = dir(root, id);
    match sys::mkdir(d, 0o700) {
        Ok(_) => Ok(d),
        // The whole line in one cat: no Error::new, no hint.
        Err(sys::EEXIST) => Err(Error::with(
            cat(&[
                b"name ",
                id,
                b": is already in use; remove it with 'thinbox rm ",
                id,
                b"' or pick another --name",
            ]),
            125,
        )),
        Err(e) => Err(Error::sys(d, e)),
    }
}

/// Removes the state directory and everything in it.
pub fn remove_dir(root: &[u8], id: &[u8]) {
    let d = dir(root, id);
    for name in rt::names(d, false) {
        let _ = sys::unlink(cat(&[d, b"/", name]));
    }
    let _ = sys::rmdir(d);
}

/// Ids of every container under `root`, sorted.
pub fn list(root: &[u8]) -> Vec<S> {
    crate::rt::names(root, true)
}

/// A process's start time (field 22 of /proc/PID/stat), which tells a
/// live process from a reused pid; None if it is gone or a zombie.
pub fn start_time(pid: u64) -> Option<u64> {
    let mut b = Buf::new();
    b.s(b"/proc/").u(pid).s(b"/stat");
    let data = rt::read_file(b.as_slice()).ok()?;
    let close = data.iter().rposition(|&c| c == b')')?;
    let mut fields = rt::split(&data[close + 2..], b' ');
    let state = fields.next()?;
    if state == b"Z" || state == b"X" {
        return None;
    }
    // Field 22 overall is the 20th after the state.
    rt::parse_u64(fields.nth(18)?)
}

/// Whether the container's process runs, or with `sup` its supervisor:
/// one flag at each call instead of two key strings.
#[inline(never)]
pub fn live(s: &State, sup: bool) -> bool {
    if sup {
        alive(s, b"sup", b"supstart")
    } else {
        alive(s, b"pid", b"start")
    }
}

/// Whether the process recorded under `pid_key`/`start_key` still runs.
fn alive(s: &State, pid_key: &[u8], start_key: &[u8]) -> bool {
    match (s.num(pid_key), s.num(start_key)) {
        (Some(pid), Some(start)) if pid > 0 => start_time(pid) == Some(start),
        _ => false,
    }
}

/// RFC 3339 UTC time from seconds and nanoseconds since the epoch.
pub fn rfc3339(secs: u64, nanos: u32) -> S {
    // Civil from days (Howard Hinnant's algorithm); nothing here is
    // negative from 1970 on, so unsigned division serves.
    let (days, rem) = (secs / 86400, secs % 86400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as u64;
    // Each field zero-padded to its width, then the separator after it:
    // seven calls, smaller than a loop over a table of them.
    fn put(b: &mut Buf, n: u64, width: usize, sep: u8) {
        // A zero for each power of ten up to the width that n is below.
        let mut p = 1;
        for _ in 1..width {
            p *= 10;
            if n < p {
                b.c(b'0');
            }
        }
        b.u(n).c(sep);
    }
    let mut b = Buf::new();
    put(&mut b, y, 1, b'-');
    put(&mut b, m, 2, b'-');
    put(&mut b, d, 2, b'T');
    put(&mut b, rem / 3600, 2, b':');
    put(&mut b, rem % 3600 / 60, 2, b':');
    put(&mut b, rem % 60, 2, b'.');
    put(&mut b, nanos as u64, 9, b'Z');
    b.leak()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let mut s = State::default();
        s.set(b"pid", b"42");
        s.push(b"arg", b"sh");
        s.push(b"arg", b"-c");
        s.push(b"arg", b"echo a\\b\nc");
        s.set(b"pid", b"43");
        let back = State::parse(s.render());
        assert_eq!(back.num(b"pid"), Some(43));
        assert_eq!(back.all(b"arg"), [&b"sh"[..], b"-c", b"echo a\\b\nc"]);
        assert_eq!(back.get(b"none"), None);
        let odd = State::parse(b"bare\nk a\\\\b\\nc\\\nend x\\".to_vec());
        assert_eq!(odd.get(b"bare"), Some(&b""[..]));
        assert_eq!(odd.get(b"k"), Some(&b"a\\b\nc\\"[..]));
        assert_eq!(odd.get(b"end"), Some(&b"x\\"[..]));
    }

    #[test]
    fn times() {
        assert_eq!(rfc3339(0, 0), b"1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(1_795_305_600, 5), b"2026-11-22T00:00:00.000000005Z");
        assert_eq!(rfc3339(951_782_400, 0), b"2000-02-29T00:00:00.000000000Z");
        assert_eq!(
            rfc3339(1_795_305_600 + 45_296, 123_456_789),
            b"2026-11-22T12:34:56.123456789Z"
        );
    }

    #[test]
    fn own_start_time() {
        let me = std::process::id() as u64;
        assert!(start_time(me).is_some());
        assert_eq!(start_time(u32::MAX as u64), None);
    }
}
