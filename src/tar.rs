//! Safe tar extraction (ustar, pax, GNU long names) and tree removal.
//! Every path is walked from a directory fd one component at a time with
//! O_NOFOLLOW, so no symlink (from the archive or already on disk) can
//! redirect a write; absolute paths and ".." are refused outright.

use crate::gzip::Stream;
use crate::rt::{self, Error, Res, S, cat};
use crate::sys::{self, Errno, Fd};
use alloc::vec::Vec;

const DIR: u32 = sys::O_RDONLY | sys::O_DIRECTORY | sys::O_NOFOLLOW;
const NOFOLLOW: u32 = 0x100; // AT_SYMLINK_NOFOLLOW
const REMOVEDIR: u32 = 0x200; // AT_REMOVEDIR
const EISDIR: Errno = Errno(21);
// Refusals, as codes the kernel never returns.
const ABSOLUTE: Errno = Errno(4096);
const DOTDOT: Errno = Errno(4097);
const UNSUPPORTED: Errno = Errno(4098);

/// Header fields: mode, uid, gid, size, mtime, devmajor, devminor.
const FIELDS: [(u16, u16); 7] = [
    (100, 108),
    (108, 116),
    (116, 124),
    (124, 136),
    (136, 148),
    (329, 337),
    (337, 345),
];
/// pax keys that override FIELDS[1..5].
/// pax keys kept: the two names, then numbers that override the header.
const PAX: &[u8] = b"path linkpath uid gid size mtime";

#[inline(never)]
fn bad(why: &[u8]) -> Error {
    Error::new(b"corrupt tar archive", why)
}

/// The one error of an entry: its path and what went wrong.
#[inline(never)]
fn entry_err(path: &[u8], e: Errno) -> Error {
    // The refusals by code from ABSOLUTE on, then what ELOOP and
    // ENOTDIR mean here.
    const WHY: &[u8] = b"absolute path refused|'..' in the path refused|\
unsupported entry type|a parent is a symlink or a file; writing through it is refused";
    let i = match e {
        sys::ELOOP | sys::ENOTDIR => 3,
        _ => (e.0 as usize).wrapping_sub(ABSOLUTE.0 as usize),
    };
    let why = rt::split(WHY, b'|')
        .nth(i)
        .unwrap_or_else(|| rt::strerror(e));
    Error::new(cat(&[b"tar entry ", path]), why)
}

/// A NUL-terminated header field.
fn field(f: &[u8]) -> &[u8] {
    upto(f, 0)
}

/// `f` up to the first `end`, if any.
#[inline(never)]
fn upto(f: &[u8], end: u8) -> &[u8] {
    &f[..f.iter().position(|&c| c == end).unwrap_or(f.len())]
}

/// Octal, space or NUL padded; or GNU base-256 when the top bit is set,
/// two's complement (a negative, such as a pre-1970 mtime, leads with 0xff
/// and comes back as its u64 bit pattern).
fn num(f: &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    if f[0] & 0x80 != 0 {
        let sign = if f[0] & 0x40 != 0 { -1 } else { 0 };
        v = f[0] as u64 & 0x7f | if sign < 0 { !0x7f } else { 0 };
        for &c in &f[1..] {
            if (v as i64) >> 55 != sign {
                return None;
            }
            v = v << 8 | c as u64;
        }
        return Some(v);
    }
    for &c in f.iter().skip_while(|&&c| c == b' ') {
        match c {
            b'0'..=b'7' if v >> 60 == 0 => v = v << 3 | (c - b'0') as u64,
            0 | b' ' => break,
            _ => return None,
        }
    }
    Some(v)
}

/// Opens the parent directory of `path` under `root` (creating missing
/// directories when `create`), one component at a time, never following
/// a symlink; returns it with the last component ("." for the root).
fn walk(root: i32, path: &[u8], create: bool) -> sys::R<(Fd, &[u8])> {
    if path.first() == Some(&b'/') {
        return Err(ABSOLUTE);
    }
    let mut cur = sys::openat(root, b".", DIR, 0)?;
    let mut last: &[u8] = b".";
    for p in rt::split(path, b'/') {
        if p == b".." {
            return Err(DOTDOT);
        }
        if p.is_empty() || p == b"." {
            continue;
        }
        if last != b"." {
            if create {
                let _ = sys::mkdirat(cur.raw(), last, 0o755);
            }
            cur = sys::openat(cur.raw(), last, DIR, 0)?;
        }
        last = p;
    }
    Ok((cur, last))
}

/// Makes room for a new entry: unlinks a non-directory, or removes an
/// empty directory.
fn clear(dir: i32, name: &[u8]) -> sys::R<()> {
    match sys::unlinkat(dir, name, 0) {
        Ok(_) | Err(sys::ENOENT) => Ok(()),
        Err(EISDIR) | Err(sys::EPERM) => sys::unlinkat(dir, name, REMOVEDIR).map(|_| ()),
        Err(e) => Err(e),
    }
}

fn read_exact(s: &mut Stream, buf: &mut [u8]) -> Res<()> {
    let mut n = 0;
    while n < buf.len() {
        let k = s.read(&mut buf[n..])?;
        if k == 0 {
            return Err(Error::new(b"truncated tar archive", b""));
        }
        n += k;
    }
    Ok(())
}

/// Applies pax records ("LEN key=value\n"); None if malformed.
#[inline(never)]
fn pax(
    mut d: S,
    over: &mut [Option<u64>; 7],
    path: &mut Option<S>,
    link: &mut Option<S>,
) -> Option<()> {
    while !d.is_empty() {
        // Without a space, the length runs to the end: too long.
        let sp = upto(d, b' ').len();
        let len = rt::parse_u64(&d[..sp])? as usize;
        if len <= sp + 1 || len > d.len() || d[len - 1] != b'\n' {
            return None;
        }
        let rec = &d[sp + 1..len - 1];
        d = &d[len..];
        let k = upto(rec, b'=');
        let v = rec.get(k.len() + 1..)?;
        match rt::pick(PAX, k) {
            Some(0) => *path = Some(v),
            Some(1) => *link = Some(v),
            Some(i) => {
                // mtime may carry a fraction (whole seconds are enough) and
                // a sign, before 1970.
                let neg = i == 5 && v.first() == Some(&b'-');
                let n = rt::parse_u64(upto(&v[neg as usize..], b'.'))?;
                over[i - 1] = Some(if neg { n.wrapping_neg() } else { n });
            }
            None => {}
        }
    }
    Some(())
}

/// Creates one entry with its owner and mode (not yet its mtime); a
/// regular file comes back open for its data.
#[inline(never)]
fn create<'a>(
    root: i32,
    kind: u8,
    path: &'a [u8],
    link: &[u8],
    v: &[u64; 7],
) -> sys::R<(Fd, &'a [u8], Option<Fd>)> {
    let (dir, name) = walk(root, path, true)?;
    let d = dir.raw();
    let mut file = None;
    if kind != b'5' || sys::fstatat(d, name, NOFOLLOW).map(|st| sys::is_dir(&st)) != Ok(true) {
        clear(d, name)?;
    }
    match kind {
        b'5' => match sys::mkdirat(d, name, 0o700) {
            Ok(_) | Err(sys::EEXIST) => {}
            Err(e) => return Err(e),
        },
        b'0' | 0 | b'7' => {
            let flags = sys::O_WRONLY | sys::O_CREAT | sys::O_EXCL | sys::O_NOFOLLOW;
            file = Some(sys::openat(d, name, flags, 0o600)?);
        }
        b'1' => {
            let (td, tn) = walk(root, link, false)?;
            sys::linkat(td.raw(), tn, d, name, 0)?;
        }
        b'2' => {
            sys::symlinkat(link, d, name)?;
        }
        b'3' | b'4' | b'6' => {
            let t = match kind {
                b'3' => sys::S_IFCHR,
                b'4' => sys::S_IFBLK,
                _ => sys::S_IFIFO,
            };
            let (ma, mi) = (v[5], v[6]);
            let dev = (mi & 0xff) | ma << 8 | (mi & !0xff) << 12;
            sys::mknodat(d, name, t | 0o600, dev)?;
        }
        _ => return Err(UNSUPPORTED),
    }
    if kind != b'1' {
        // Owner before mode: chown clears set-id bits.
        sys::fchownat(d, name, v[1] as u32, v[2] as u32, NOFOLLOW)?;
        if kind != b'2' {
            sys::fchmodat(d, name, v[0] as u32 & 0o7777)?;
        }
    }
    Ok((dir, name, file))
}

/// Extracts the archive in `s` into the existing directory `dest`, then
/// reads `s` to its end (so a gzip trailer is checked and the hash sees
/// every byte). Stops at the first problem; the caller removes `dest`.
#[inline(never)]
pub fn extract(s: &mut Stream, dest: &[u8]) -> Res<()> {
    let root = sys::open(dest, DIR, 0).map_err(|e| Error::sys(dest, e))?;
    let root = root.raw();
    // Never dropped, like the names (the arena frees only its newest
    // block, which these soon are not): no return has to drop them.
    let mut buf = core::mem::ManuallyDrop::new(alloc::vec![0u8; 1 << 16]);
    let mut h = [0u8; 512];
    let (mut path, mut link): (Option<S>, Option<S>) = (None, None);
    let mut over = [None; 7];
    let mut dirs = core::mem::ManuallyDrop::new(Vec::<(S, u64)>::new());
    let mut first = true;
    loop {
        read_exact(s, &mut h)?;
        if h.iter().all(|&c| c == 0) {
            break;
        }
        // The checksum field counts as spaces.
        let sum: u64 = h
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    c as u64
                }
            })
            .sum();
        if num(&h[148..156]) != Some(sum) {
            return Err(if first {
                Error::new(b"not a tar archive", b"")
            } else {
                bad(b"bad header checksum")
            });
        }
        first = false;
        let kind = h[156];
        let meta = matches!(kind, b'x' | b'g' | b'L' | b'K');
        let mut v = [0u64; 7];
        for (i, &(a, b)) in FIELDS.iter().enumerate() {
            v[i] = match over[i] {
                Some(x) if !meta => x,
                _ => num(&h[a as usize..b as usize])
                    // Only an mtime (4) may be negative.
                    .filter(|&n| i == 4 || n >> 63 == 0)
                    .ok_or_else(|| bad(b"bad number in a header"))?,
            };
        }
        let size = v[3];
        if meta {
            if size > 1 << 16 {
                return Err(bad(b"header record too large"));
            }
            let mut d = alloc::vec![0u8; size.div_ceil(512) as usize * 512];
            read_exact(s, &mut d)?;
            d.truncate(size as usize);
            let d: S = d.leak();
            match kind {
                b'x' => {
                    pax(d, &mut over, &mut path, &mut link).ok_or_else(|| bad(b"bad pax record"))?
                }
                b'L' => path = Some(field(d)),
                b'K' => link = Some(field(d)),
                // Global pax records (git archive's comment) change nothing
                // thinbox uses.
                _ => {}
            }
            continue;
        }
        over = [None; 7];
        let name: S = path.take().unwrap_or_else(|| {
            if &h[257..263] == b"ustar\0" && h[345] != 0 {
                cat(&[field(&h[345..500]), b"/", field(&h[..100])])
            } else {
                cat(&[field(&h[..100])])
            }
        });
        // Only create reads the target: no copy of the header's.
        let target = link.take().unwrap_or_else(|| field(&h[157..257]));
        let (dir, last, file) =
            create(root, kind, name, target, &v).map_err(|e| entry_err(name, e))?;
        // Entry data (only regular files have any in practice), padded.
        let mut left = size.div_ceil(512) * 512;
        let mut keep = size;
        while left > 0 {
            let n = (buf.len() as u64).min(left) as usize;
            read_exact(s, &mut buf[..n])?;
            if let Some(f) = &file {
                let k = keep.min(n as u64) as usize;
                sys::write_all(f.raw(), &buf[..k]).map_err(|e| entry_err(name, e))?;
                keep -= k as u64;
            }
            left -= n as u64;
        }
        drop(file);
        if kind == b'5' {
            dirs.push((name, v[4]));
        } else if kind != b'1' {
            sys::utimensat(dir.raw(), last, v[4] as i64, NOFOLLOW)
                .map_err(|e| entry_err(name, e))?;
        }
    }
    // Directory times last: creating their entries changed them.
    for (p, t) in dirs.iter().rev() {
        walk(root, p, false)
            .and_then(|(d, n)| sys::utimensat(d.raw(), n, *t as i64, NOFOLLOW))
            .map_err(|e| entry_err(p, e))?;
    }
    while s.read(&mut buf)? > 0 {}
    Ok(())
}

/// rm -rf without following symlinks and without holding an fd per level:
/// descends by name and climbs back through "..", where the next pass
/// over the parent removes the directory just emptied.
pub fn remove_tree(path: &[u8]) -> sys::R<()> {
    let mut cur = match sys::open(path, DIR, 0) {
        Ok(f) => f,
        Err(sys::ENOENT) => return Ok(()),
        Err(_) => return sys::unlink(path).map(|_| ()),
    };
    let mut depth = 0u32;
    let mut buf = [0u8; 2048];
    loop {
        let n = sys::getdents64(cur.raw(), &mut buf)?;
        if n == 0 {
            // Empty now: climb back, or finish.
            if depth == 0 {
                break;
            }
            depth -= 1;
            cur = sys::openat(cur.raw(), b"..", DIR, 0)?;
            continue;
        }
        let mut off = 0;
        while off < n {
            let len = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
            let name = field(&buf[off + 19..off + len]);
            off += len;
            if name == b"." || name == b".." {
                continue;
            }
            let mut r = sys::unlinkat(cur.raw(), name, 0);
            if r == Err(EISDIR) {
                r = sys::unlinkat(cur.raw(), name, REMOVEDIR);
                if r == Err(sys::ENOTEMPTY) {
                    cur = sys::openat(cur.raw(), name, DIR, 0)?;
                    depth += 1;
                    break;
                }
            }
            match r {
                Err(e) if e != sys::ENOENT => return Err(e),
                _ => {}
            }
        }
    }
    drop(cur);
    sys::rmdir(path).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
    use std::path::{Path, PathBuf};
    use std::process::Command;

    #[test]
    fn pax_records() {
        let (mut over, mut path, mut link) = ([None; 7], None, None);
        let d = b"12 path=a/b\n17 linkpath=/etc\n12 uid=1000\n11 gid=100\n13 size=4096\n22 mtime=1700000000.5\n14 atime=1.25\n";
        assert_eq!(pax(d, &mut over, &mut path, &mut link), Some(()));
        assert_eq!(path, Some(&b"a/b"[..]));
        assert_eq!(link, Some(&b"/etc"[..]));
        assert_eq!(
            over[1..5],
            [Some(1000), Some(100), Some(4096), Some(1700000000)]
        );
        assert_eq!((over[0], over[5], over[6]), (None, None, None));
        assert_eq!(pax(b"9 uid=x\n", &mut over, &mut path, &mut link), None);
        assert_eq!(pax(b"99 path=y\n", &mut over, &mut path, &mut link), None);
        assert_eq!(pax(b"6 abc\n", &mut over, &mut path, &mut link), None);
        assert_eq!(pax(b"12", &mut over, &mut path, &mut link), None);
        assert_eq!(pax(b"5 =x\n", &mut over, &mut path, &mut link), Some(()));
        // GNU tar's pre-1970 mtime; no other field may be negative.
        assert_eq!(
            pax(b"22 mtime=-315619200.5\n", &mut over, &mut path, &mut link),
            Some(())
        );
        assert_eq!(over[4], Some(-315619200i64 as u64));
        assert_eq!(pax(b"11 uid=-1\n", &mut over, &mut path, &mut link), None);
    }

    #[test]
    fn base_256() {
        let mut f = [0u8; 12];
        f[0] = 0x80;
        f[11] = 5;
        assert_eq!(num(&f), Some(5));
        f[4] = 1;
        assert_eq!(num(&f), Some(1 << 56 | 5));
        assert_eq!(num(&[0xff; 12]), Some(u64::MAX));
        let mut g = [0xffu8; 12];
        g[8..].copy_from_slice(&(-315619200i32).to_be_bytes());
        assert_eq!(num(&g) as Option<u64>, Some(-315619200i64 as u64));
        // Beyond 63 bits either way.
        f[3] = 0x80;
        assert_eq!(num(&f), None);
        g[2] = 0x7f;
        assert_eq!(num(&g), None);
    }

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tb-tar-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn sh(cmd: &str) {
        let st = Command::new("sh").arg("-c").arg(cmd).status().unwrap();
        assert!(st.success(), "{cmd}");
    }

    fn b(p: &Path) -> &[u8] {
        p.to_str().unwrap().as_bytes()
    }

    /// Extracts the archive file `a` into the new directory `dest`.
    fn unpack(a: &Path, dest: &Path) -> Result<(), String> {
        fs::create_dir_all(dest).unwrap();
        let f = fs::File::open(a).unwrap();
        let mut s = Stream::new(f.as_raw_fd(), None);
        extract(&mut s, b(dest)).map_err(|e| String::from_utf8(e.msg().to_vec()).unwrap())
    }

    /// Every entry under `d` with its type, mode, owner, times, size,
    /// device, link target, content digest and hard-link group.
    fn listing(d: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut inodes: Vec<(u64, String)> = Vec::new();
        fn walk(root: &Path, d: &Path, out: &mut Vec<String>, inodes: &mut Vec<(u64, String)>) {
            let mut names: Vec<_> = fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            names.sort();
            for p in names {
                let m = fs::symlink_metadata(&p).unwrap();
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                let link = fs::read_link(&p)
                    .map(|l| l.display().to_string())
                    .unwrap_or_default();
                let sum = if m.file_type().is_file() {
                    let d = fs::read(&p).unwrap();
                    crate::gzip::crc32(0, &d)
                } else {
                    0
                };
                let group = if m.nlink() > 1 && !m.is_dir() {
                    match inodes.iter().find(|(i, _)| *i == m.ino()) {
                        Some((_, first)) => first.clone(),
                        None => {
                            inodes.push((m.ino(), rel.clone()));
                            rel.clone()
                        }
                    }
                } else {
                    String::new()
                };
                let mtime = if m.file_type().is_symlink() {
                    0
                } else {
                    m.mtime()
                };
                out.push(format!(
                    "{rel} mode={:o} uid={} gid={} mtime={mtime} size={} rdev={:x} link={link} crc={sum:x} group={group}",
                    m.mode(), m.uid(), m.gid(), if m.is_dir() { 0 } else { m.size() }, m.rdev()
                ));
                if m.is_dir() {
                    walk(root, &p, out, inodes);
                }
            }
        }
        walk(d, d, &mut out, &mut inodes);
        out
    }

    /// A tree with every kind of entry, long names and special modes.
    fn make_tree(src: &Path) {
        let long = "d".repeat(90);
        sh(&format!(
            "set -e; cd {src}
            mkdir -p bin etc/sub tmp {long}/{long}/{long}
            printf 'hello\\n' > etc/hosts; chmod 640 etc/hosts
            head -c 70000 /dev/urandom > bin/big; chmod 755 bin/big
            cp bin/big bin/suid; chmod 4755 bin/suid
            cp etc/hosts bin/sgid; chown 1234:5678 bin/sgid; chmod 2711 bin/sgid
            chmod 1777 tmp
            echo deep > {long}/{long}/{long}/file-with-a-rather-long-name-{long}
            ln -s ../etc/hosts bin/rel; ln -s /etc/passwd bin/abs
            ln -s {long}/{long}/{long}/x{long} longlink
            ln etc/hosts etc/sub/hard
            mknod dev-null c 1 3; mknod dev-loop b 7 1; mknod dev-big c 300 70000; mkfifo fifo
            : > empty; chown 3000000:3000001 empty
            chown -h 42:43 bin/rel; chown 7:8 etc/sub
            touch -h -d '2001-02-03 04:05:06' bin/big bin/rel fifo etc/sub {long}
            touch -d '1999-12-31 23:59:59' etc tmp
            : > old; touch -d '1960-01-01 00:00:00 UTC' old",
            src = src.display()
        ));
    }

    #[test]
    fn matches_gnu_tar() {
        let d = scratch("formats");
        let src = d.join("src");
        fs::create_dir(&src).unwrap();
        make_tree(&src);
        for (fmt, z) in [
            ("gnu", ""),
            ("pax", ""),
            ("gnu", "z"),
            ("pax", "z"),
            ("ustar", ""),
        ] {
            let a = d.join(format!("{fmt}{z}.tar"));
            let (want, got) = (
                d.join(format!("want-{fmt}{z}")),
                d.join(format!("got-{fmt}{z}")),
            );
            fs::create_dir(&want).unwrap();
            if fmt == "ustar" {
                // ustar cannot hold the long names: the rest of the tree.
                sh(&format!(
                    "cd {} && tar --format=ustar -cf {} ./bin ./etc ./tmp ./dev-null ./fifo",
                    src.display(),
                    a.display()
                ));
            } else {
                sh(&format!(
                    "cd {} && tar --format={fmt} -c{z}f {} .",
                    src.display(),
                    a.display()
                ));
            }
            sh(&format!(
                "tar -xpf {} -C {} --numeric-owner",
                a.display(),
                want.display()
            ));
            unpack(&a, &got).unwrap();
            let (w, g) = (listing(&want), listing(&got));
            assert!(w.len() > 8, "{fmt}: {w:?}");
            assert_eq!(w, g, "{fmt}{z}");
        }
        let got = d.join("got-pax");
        let m = fs::metadata(got.join("bin/suid")).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o4755);
        assert_eq!(
            fs::metadata(got.join("bin/sgid")).unwrap().mode() & 0o7777,
            0o2711
        );
        assert_eq!(fs::metadata(got.join("bin/sgid")).unwrap().uid(), 1234);
        assert_eq!(
            fs::metadata(got.join("tmp")).unwrap().mode() & 0o7777,
            0o1777
        );
        assert_eq!(fs::metadata(got.join("etc")).unwrap().mtime(), 946684799);
        assert_eq!(
            fs::metadata(got.join("etc/hosts")).unwrap().ino(),
            fs::metadata(got.join("etc/sub/hard")).unwrap().ino()
        );
        fs::remove_dir_all(&d).unwrap();
    }

    /// A ustar header with a valid checksum.
    fn hdr(name: &str, kind: u8, size: usize, link: &str) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&c| c as u32).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    fn archive(entries: &[(&str, u8, &[u8], &str)]) -> Vec<u8> {
        let mut a = Vec::new();
        for (name, kind, data, link) in entries {
            a.extend(hdr(name, *kind, data.len(), link));
            a.extend_from_slice(data);
            a.resize(a.len().div_ceil(512) * 512, 0);
        }
        a.extend([0u8; 1024]);
        a
    }

    /// Unpacks `a` into d/root; the error, and what exists outside root.
    fn hostile(tag: &str, a: &[u8]) -> (String, Vec<String>) {
        let d = scratch(tag);
        fs::create_dir(d.join("outside")).unwrap();
        fs::write(d.join("outside/secret"), "keep").unwrap();
        fs::write(d.join("a.tar"), a).unwrap();
        let e = unpack(&d.join("a.tar"), &d.join("root")).unwrap_err();
        let mut seen: Vec<String> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        seen.sort();
        for e in fs::read_dir(d.join("outside")).unwrap() {
            seen.push(format!(
                "outside/{}",
                e.unwrap().file_name().into_string().unwrap()
            ));
        }
        assert_eq!(
            fs::read_to_string(d.join("outside/secret")).unwrap(),
            "keep"
        );
        assert_eq!(fs::metadata(d.join("outside/secret")).unwrap().nlink(), 1);
        fs::remove_dir_all(&d).unwrap();
        (e, seen)
    }

    const CLEAN: [&str; 4] = ["a.tar", "outside", "root", "outside/secret"];

    #[test]
    fn refuses_traversal() {
        let (e, seen) = hostile("dotdot", &archive(&[("../evil", b'0', b"x", "")]));
        assert_eq!(e, "tar entry ../evil: '..' in the path refused");
        assert_eq!(seen, CLEAN);
        let (e, seen) = hostile(
            "dotdot2",
            &archive(&[("a/../../outside/x", b'0', b"x", "")]),
        );
        assert!(e.ends_with("'..' in the path refused"), "{e}");
        assert_eq!(seen, CLEAN);
        let (e, _) = hostile("abs", &archive(&[("/tmp/evil", b'0', b"x", "")]));
        assert_eq!(e, "tar entry /tmp/evil: absolute path refused");
    }

    #[test]
    fn refuses_writes_through_symlinks() {
        let d = std::env::temp_dir().join(format!("tb-tar-{}-sym", std::process::id()));
        let out = format!("{}/outside", d.display());
        let (e, seen) = hostile(
            "sym",
            &archive(&[
                ("evil", b'2', b"", &out),
                ("evil/secret", b'0', b"pwned", ""),
            ]),
        );
        assert_eq!(
            e,
            "tar entry evil/secret: a parent is a symlink or a file; writing through it is refused"
        );
        assert_eq!(seen, CLEAN);
        // Through a relative link that climbs out.
        let (e, _) = hostile(
            "sym2",
            &archive(&[("up", b'2', b"", ".."), ("up/outside/new", b'0', b"x", "")]),
        );
        assert!(e.contains("a parent is a symlink"), "{e}");
        // A hard link through a symlink, and one that climbs out.
        let (e, _) = hostile(
            "hard",
            &archive(&[("s", b'2', b"", &out), ("hl", b'1', b"", "s/secret")]),
        );
        assert!(e.starts_with("tar entry hl: a parent is a symlink"), "{e}");
        let (e, _) = hostile("hard2", &archive(&[("hl", b'1', b"", "../outside/secret")]));
        assert!(e.ends_with("'..' in the path refused"), "{e}");
        let (e, _) = hostile(
            "hard3",
            &archive(&[("hl", b'1', b"", &format!("{out}/secret"))]),
        );
        assert!(e.ends_with("absolute path refused"), "{e}");
    }

    #[test]
    fn replaces_a_symlink_instead_of_following_it() {
        let d = scratch("replace");
        fs::write(d.join("victim"), "keep").unwrap();
        let victim = format!("{}/victim", d.display());
        fs::write(
            d.join("a.tar"),
            archive(&[("f", b'2', b"", &victim), ("f", b'0', b"new", "")]),
        )
        .unwrap();
        unpack(&d.join("a.tar"), &d.join("root")).unwrap();
        assert_eq!(fs::read_to_string(d.join("victim")).unwrap(), "keep");
        assert_eq!(fs::read_to_string(d.join("root/f")).unwrap(), "new");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn damaged_archives() {
        let good = archive(&[("a", b'5', b"", ""), ("a/b", b'0', &[7u8; 3000], "")]);
        let (e, _) = hostile("trunc", &good[..2048]);
        assert_eq!(e, "truncated tar archive");
        let (e, _) = hostile("trunc2", &good[..512 * 5]);
        assert_eq!(e, "truncated tar archive");
        let mut bad = good.clone();
        bad[512 + 10] ^= 1;
        let (e, _) = hostile("sum", &bad);
        assert_eq!(e, "corrupt tar archive: bad header checksum");
        let (e, _) = hostile("text", &[b'x'; 1024]);
        assert_eq!(e, "not a tar archive");
        let mut pax = archive(&[("x", b'x', b"99 path=y\n", ""), ("f", b'0', b"", "")]);
        let (e, _) = hostile("pax", &pax);
        assert_eq!(e, "corrupt tar archive: bad pax record");
        pax = archive(&[("x", b'S', b"", "")]);
        let (e, _) = hostile("sparse", &pax);
        assert_eq!(e, "tar entry x: unsupported entry type");
    }

    #[test]
    fn numbers() {
        assert_eq!(num(b"0000644\0"), Some(0o644));
        assert_eq!(num(b"   755 \0"), Some(0o755));
        assert_eq!(num(b"\0\0\0\0"), Some(0));
        assert_eq!(
            num(&[0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1]),
            Some((2 << 32) + 1)
        );
        assert!(num(b"12x4").is_none());
    }

    #[test]
    fn removes_trees_without_following_links() {
        let d = scratch("rm");
        fs::create_dir_all(d.join("keep")).unwrap();
        fs::write(d.join("keep/f"), "x").unwrap();
        let t = d.join("t");
        let deep: PathBuf = (0..300).fold(t.clone(), |p, _| p.join("a"));
        fs::create_dir_all(&deep).unwrap();
        fs::write(deep.join("f"), "x").unwrap();
        symlink(d.join("keep"), t.join("link")).unwrap();
        fs::create_dir_all(t.join("ro/inner")).unwrap();
        fs::set_permissions(t.join("ro"), fs::Permissions::from_mode(0o0)).unwrap();
        remove_tree(b(&t)).unwrap();
        assert!(!t.exists());
        assert!(d.join("keep/f").exists());
        remove_tree(b(&t)).unwrap();
        fs::remove_dir_all(&d).unwrap();
    }
}
