//! Process state (argv, envp), output without core::fmt, and the error
//! type every applet reports through.

use crate::sys::{self, Errno};
use alloc::vec::Vec;

pub type S = &'static [u8];

// Leaked slices, not Vecs: setting them drops nothing.
struct Proc {
    args: &'static [S],
    env: &'static [S],
}

static PROC: sys::Global<Proc> = sys::Global::new(Proc {
    args: &[],
    env: &[],
});

/// runc-style global flags: --root, --log, --log-format.
#[derive(Clone, Copy)]
pub struct Globals {
    pub root: Option<S>,
    pub log: Option<S>,
    pub log_json: bool,
}

static GLOBALS: sys::Global<Globals> = sys::Global::new(Globals {
    root: None,
    log: None,
    log_json: false,
});

pub fn set_globals(g: Globals) {
    GLOBALS.set(g);
}

pub fn globals() -> Globals {
    *GLOBALS.get()
}

pub fn init(args: Vec<S>, env: Vec<S>) {
    PROC.set(Proc {
        args: args.leak(),
        env: env.leak(),
    });
}

fn proc_() -> &'static Proc {
    PROC.get()
}

pub fn args() -> &'static [S] {
    proc_().args
}

/// thinbox's own environment.
pub fn env() -> &'static [S] {
    proc_().env
}

/// Looks up an environment variable of thinbox itself.
pub fn getenv(name: &[u8]) -> Option<S> {
    proc_()
        .env
        .iter()
        .find(|s| s.len() > name.len() && s.starts_with(name) && s[name.len()] == b'=')
        .map(|s| &s[name.len() + 1..])
}

/// A growable byte buffer with just the formatting thinbox needs.
#[derive(Default, Clone)]
pub struct Buf(pub Vec<u8>);

impl Buf {
    pub fn new() -> Buf {
        Buf(Vec::new())
    }
    #[inline(never)]
    pub fn s(&mut self, s: &[u8]) -> &mut Buf {
        self.0.extend_from_slice(s);
        self
    }
    #[inline(never)]
    pub fn c(&mut self, c: u8) -> &mut Buf {
        self.0.push(c);
        self
    }
    pub fn u(&mut self, n: u64) -> &mut Buf {
        let mut tmp = [0u8; 20];
        self.s(fmt_u64(n, &mut tmp))
    }
    pub fn i(&mut self, n: i64) -> &mut Buf {
        if n < 0 {
            self.c(b'-');
        }
        self.u(n.unsigned_abs())
    }
    /// Appends `n` right-aligned or left-aligned in `width` columns.
    pub fn pad(&mut self, s: &[u8], width: usize) -> &mut Buf {
        self.s(s);
        // At least one space, so that a long value never runs into the next.
        for _ in s.len()..width.max(s.len() + 1) {
            self.c(b' ');
        }
        self
    }
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
    pub fn leak(self) -> S {
        self.0.leak()
    }
}

pub fn fmt_u64(mut n: u64, tmp: &mut [u8; 20]) -> &[u8] {
    let mut i = 20;
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &tmp[i..]
}

pub fn out(s: &[u8]) {
    let _ = sys::write_all(1, s);
}

pub fn err(s: &[u8]) {
    let _ = sys::write_all(2, s);
}

/// Concatenates parts into one owned string.
pub fn cat(parts: &[&[u8]]) -> S {
    let mut b = Buf::new();
    for p in parts {
        b.s(p);
    }
    b.leak()
}

pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as u64;
    }
    Some(n)
}

/// Parses "64m"-style sizes (binary k/m/g/t suffixes, optional "b").
pub fn parse_size(s: &[u8]) -> Option<u64> {
    let mut s = s;
    if let [rest @ .., p, b'b' | b'B'] = s
        && !p.is_ascii_digit()
    {
        s = &s[..rest.len() + 1];
    }
    // The suffix by its place in "kmgt": a lookup, not a match per case.
    let mut shift = 0;
    if let [num @ .., c] = s
        && let Some(k) = b"kmgt".iter().position(|&x| x == c | 0x20)
    {
        (s, shift) = (num, 10 * (k + 1));
    }
    parse_u64(s)?.checked_mul(1 << shift)
}

/// Parses a decimal like "0.5" into millionths.
pub fn parse_micro(s: &[u8]) -> Option<u64> {
    let (int, frac) = match s.iter().position(|&c| c == b'.') {
        Some(p) => (&s[..p], &s[p + 1..]),
        None => (s, &b""[..]),
    };
    if (int.is_empty() && frac.is_empty()) || frac.len() > 6 {
        return None;
    }
    let i = if int.is_empty() { 0 } else { parse_u64(int)? };
    let mut f = if frac.is_empty() { 0 } else { parse_u64(frac)? };
    for _ in frac.len()..6 {
        f *= 10;
    }
    i.checked_mul(1_000_000)?.checked_add(f)
}

/// An error that becomes one line on stderr: "thinbox: WHAT: REASON[; HINT]".
/// The message is formatted once, where the error is made.
pub struct Error {
    /// The exit code as the first byte, then the message: a thin 16-byte
    /// error keeps every `?` cheap (24 bytes cost ~10 KB of copies).
    raw: S,
}

pub type Res<T> = Result<T, Error>;

impl Error {
    #[inline(never)]
    pub fn new(what: &[u8], reason: &[u8]) -> Error {
        if reason.is_empty() {
            Error::with(what, 125)
        } else {
            Error {
                raw: cat(&[&[125], what, b": ", reason]),
            }
        }
    }
    /// An error with this message and exit code.
    #[inline(never)]
    pub fn with(msg: &[u8], code: i32) -> Error {
        Error {
            raw: cat(&[&[code as u8], msg]),
        }
    }
    #[inline(never)]
    pub fn sys(what: &[u8], e: Errno) -> Error {
        Error::new(what, strerror(e))
    }
    /// "WHAT NAME: REASON", made only on failure (a `ctx(cat(..))`
    /// concatenates on success too), in one out-of-line copy.
    #[inline(never)]
    pub fn sys2(what: &[u8], name: &[u8], e: Errno) -> Error {
        Error::sys(cat(&[what, name]), e)
    }
    pub fn msg(&self) -> S {
        &self.raw[1..]
    }
    pub fn code(&self) -> i32 {
        self.raw[0] as i32
    }
    pub fn exit(self, code: i32) -> Error {
        Error::with(self.msg(), code)
    }
    #[inline(never)]
    pub fn hint(self, h: &[u8]) -> Error {
        Error {
            raw: cat(&[self.raw, b"; ", h]),
        }
    }
    pub fn line(&self) -> S {
        cat(&[b"thinbox: ", self.msg(), b"\n"])
    }
}

/// Attaches "what" to a raw errno.
pub trait Ctx<T> {
    fn ctx(self, what: &[u8]) -> Res<T>;
}

impl<T> Ctx<T> for sys::R<T> {
    // Inline: an out-of-line copy per T moved every result through memory
    // twice; at the call the Ok value stays where `?` wants it, and only
    // the call to the out-of-line Error::sys is added.
    #[inline(always)]
    fn ctx(self, what: &[u8]) -> Res<T> {
        match self {
            Ok(v) => Ok(v),
            Err(e) => Err(Error::sys(what, e)),
        }
    }
}

pub fn strerror(e: Errno) -> &'static [u8] {
    // The errnos, and their messages in the same order, "unknown error"
    // last: a scan and a split, far smaller than a 111-way match.
    const CODES: &[u8] = &[
        1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 16, 17, 18, 19, 20, 21, 22, 24, 26, 28, 30, 36, 38, 39,
        40, 95, 111,
    ];
    const MSGS: &[u8] = b"operation not permitted|no such file or directory|no such process|interrupted|I/O error|argument list too long|exec format error|bad file descriptor|resource temporarily unavailable|out of memory|permission denied|device or resource busy|file exists|cross-device link|no such device|not a directory|is a directory|invalid argument|too many open files|text file busy|no space left on device|read-only file system|file name too long|function not implemented|directory not empty|too many levels of symbolic links|operation not supported|connection refused|unknown error";
    let i = CODES
        .iter()
        .position(|&c| c as i32 == e.0)
        .unwrap_or(CODES.len());
    split(MSGS, b'|').nth(i).unwrap_or(b"")
}

/// Reads a whole file (small files: proc, cgroupfs, state, config).
pub fn read_file(path: &[u8]) -> sys::R<Vec<u8>> {
    let fd = sys::open(path, sys::O_RDONLY, 0)?;
    read_fd(fd.raw())
}

pub fn read_fd(fd: i32) -> sys::R<Vec<u8>> {
    let mut v = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        let n = sys::read(fd, &mut chunk)?;
        if n == 0 {
            return Ok(v);
        }
        v.extend_from_slice(&chunk[..n]);
    }
}

/// Names in a directory (only subdirectories with `dirs_only`), sorted,
/// without "." and "..".
pub fn names(dir: &[u8], dirs_only: bool) -> Vec<S> {
    let mut v: Vec<S> = Vec::new();
    if let Ok(fd) = sys::open(dir, sys::O_RDONLY | sys::O_DIRECTORY, 0) {
        let mut buf = [0u8; 2048];
        while let Ok(n @ 1..) = sys::getdents64(fd.raw(), &mut buf) {
            sys::dirents(&buf[..n], |name, kind| {
                if (kind == 4 || !dirs_only) && name != b"." && name != b".." {
                    v.push(cat(&[name]));
                }
            });
        }
    }
    // Insertion sort: directories here are small, core's sort is 3 KB.
    // Indices from ranges below the length: no bounds checks left.
    let s = &mut v[..];
    for i in 1..s.len() {
        for j in (0..i).rev() {
            if s[j] <= s[j + 1] {
                break;
            }
            s.swap(j, j + 1);
        }
    }
    v
}

/// Writes a whole small file (cgroupfs attributes, pid files).
pub fn write_file(path: &[u8], data: &[u8]) -> sys::R<()> {
    let fd = sys::open(path, sys::O_WRONLY | sys::O_TRUNC, 0)?;
    sys::write_all(fd.raw(), data)
}

pub fn trim(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b' ' | b'\t' | b'\r'] = s {
        s = rest;
    }
    while let [b'\n' | b' ' | b'\t' | b'\r', rest @ ..] = s {
        s = rest;
    }
    s
}

/// Splits on a byte, like str::split.
pub fn split(s: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    s.split(move |&c| c == sep)
}

/// The index of `w` among the space-separated words of `table`.
#[inline(never)]
pub fn pick(table: &[u8], w: &[u8]) -> Option<usize> {
    split(table, b' ').position(|t| t == w)
}

pub fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// Where `w` is in `list`: a table lookup, far smaller than a `match` on
/// byte strings, which compiles to byte-by-byte compares.
#[inline(never)]
pub fn index_of(list: &[&[u8]], w: &[u8]) -> Option<usize> {
    list.iter().position(|x| *x == w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size(b"64m"), Some(64 << 20));
        assert_eq!(parse_size(b"1G"), Some(1 << 30));
        assert_eq!(parse_size(b"512k"), Some(512 << 10));
        assert_eq!(parse_size(b"100"), Some(100));
        assert_eq!(parse_size(b"64mb"), Some(64 << 20));
        assert_eq!(parse_size(b"64x"), None);
        assert_eq!(parse_size(b"-1"), None);
        assert_eq!(parse_size(b""), None);
        assert_eq!(parse_size(b"m"), None);
        assert_eq!(parse_size(b"99999999999999999t"), None);
    }

    #[test]
    fn micro() {
        assert_eq!(parse_micro(b"0.5"), Some(500_000));
        assert_eq!(parse_micro(b"2"), Some(2_000_000));
        assert_eq!(parse_micro(b".25"), Some(250_000));
        assert_eq!(parse_micro(b"1.000001"), Some(1_000_001));
        assert_eq!(parse_micro(b"-1"), None);
        assert_eq!(parse_micro(b"."), None);
        assert_eq!(parse_micro(b"abc"), None);
    }

    #[test]
    fn numbers() {
        let mut t = [0u8; 20];
        assert_eq!(fmt_u64(0, &mut t), b"0");
        assert_eq!(fmt_u64(u64::MAX, &mut t), b"18446744073709551615");
        assert_eq!(Buf::new().i(-42).as_slice(), b"-42");
    }

    #[test]
    fn dir_names() {
        let d = std::env::temp_dir().join(std::format!("thinbox-names-{}", std::process::id()));
        for n in ["b", "a", "c.d", "ab", "B"] {
            std::fs::create_dir_all(d.join(n)).unwrap();
        }
        std::fs::write(d.join("f"), "").unwrap();
        let dir = std::format!("{}", d.display());
        let all: Vec<&[u8]> = names(dir.as_bytes(), false);
        assert_eq!(all, [&b"B"[..], b"a", b"ab", b"b", b"c.d", b"f"]);
        assert_eq!(names(dir.as_bytes(), true).len(), 5);
        assert!(names(b"/nonexistent-thinbox", false).is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn error_lines() {
        let e = Error::sys(b"rootfs /x", crate::sys::ENOENT).hint(b"create it");
        assert_eq!(
            e.line(),
            b"thinbox: rootfs /x: no such file or directory; create it\n"
        );
        assert_eq!(strerror(Errno(1)), b"operation not permitted");
        assert_eq!(strerror(Errno(40)), b"too many levels of symbolic links");
        assert_eq!(strerror(Errno(111)), b"connection refused");
        assert_eq!(strerror(Errno(0)), b"unknown error");
        assert_eq!(strerror(Errno(257)), b"unknown error");
        let e = Error::new(b"--cpu 0", b"must be greater than 0");
        assert_eq!(e.line(), b"thinbox: --cpu 0: must be greater than 0\n");
    }
}
