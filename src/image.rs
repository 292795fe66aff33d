//! The image store under the data root:
//!   images/NAME.tar[.gz|.tgz]  archives, dropped in or imported
//!   cache/DIGEST/              each archive unpacked once, never written
//!   cache/NAME=KEY -> DIGEST   KEY is the archive's dev.ino.size.mtime,
//!                              so a start costs a stat and a readlink,
//!                              never a re-hash
//!   containers/ID/upper, work  a container's writable overlayfs layer
//!   containers/ID/lock         flock'ed while a process uses the layer
//!   containers/ID/image        -> the cache directory it sits on
//! The overlay is mounted inside the container's own mount namespace (the
//! first entry of its mount list): it vanishes with the container, and
//! nothing is ever mounted on the host.

use crate::gzip::Stream;
use crate::rt::{self, Buf, Ctx, Error, Res, S, cat};
use crate::spec::{Container, Mount};
use crate::sys::{self, Fd};
use crate::tar;
use alloc::vec::Vec;

pub const DEFAULT_ROOT: &[u8] = b"/var/lib/thinbox";
pub const EXTS: [&[u8]; 3] = [b".tar", b".tar.gz", b".tgz"];
const LOCK_EX_NB: u32 = 2 | 4;

/// --data-root, else $THINBOX_ROOT, else /var/lib/thinbox; absolute.
pub fn data_root(flag: Option<S>) -> S {
    let r = flag
        .or_else(|| rt::getenv(b"THINBOX_ROOT"))
        .unwrap_or(DEFAULT_ROOT);
    if r.first() == Some(&b'/') {
        return r;
    }
    let mut buf = [0u8; 4096];
    match sys::getcwd(&mut buf) {
        Ok(cwd) => cat(&[cwd, b"/", r]),
        _ => r,
    }
}

/// `[--data-root DIR] ARGS...` of the image applets: the data root and
/// the operands, which must number `min` to `max`.
pub fn args<'a>(args: &'a [S], min: usize, max: usize, usage: &[u8]) -> Res<(S, &'a [S])> {
    let mut root = None;
    let mut o = crate::applets::Opts::new(args);
    while let Some((_, _, v)) = o.flag(b"-:data-root", usage)? {
        root = Some(v);
    }
    let rest = o.rest();
    if rest.len() < min || rest.len() > max {
        return Err(Error::new(usage, b""));
    }
    Ok((data_root(root), rest))
}

/// Names in a directory, sorted, without "." and "..".
pub fn names(dir: &[u8]) -> Vec<S> {
    rt::names(dir, false)
}

pub fn check_name(name: &[u8]) -> Res<()> {
    if name.is_empty()
        || name.len() > 128
        || name[0] == b'.'
        || !name
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"_.-:+@".contains(&c))
    {
        return Err(Error::new(
            cat(&[b"image name '", name, b"'"]),
            b"use letters, digits and _.-:+@, not starting with '.'",
        ));
    }
    Ok(())
}

/// The archive of image `name`, if there is one.
pub fn archive(root: &[u8], name: &[u8]) -> Option<(S, sys::Stat)> {
    for e in EXTS {
        let p = cat(&[root, b"/images/", name, e]);
        if let Ok(st) = sys::stat(p)
            && st.st_mode & sys::S_IFMT == sys::S_IFREG
        {
            return Some((p, st));
        }
    }
    None
}

/// "image NAME: WHY[; HINT]", the one shape of an image's errors.
#[inline(never)]
pub fn err(name: &[u8], why: &[u8], hint: &[u8]) -> Error {
    let e = Error::new(cat(&[b"image ", name]), why);
    if hint.is_empty() { e } else { e.hint(hint) }
}

fn not_found(root: &[u8], name: &[u8]) -> Error {
    let hint = cat(&[
        b"put ",
        name,
        b".tar.gz in ",
        root,
        b"/images or run 'thinbox import FILE ",
        name,
        b"'",
    ]);
    err(name, b"not found", hint)
}

/// cache/NAME=KEY: what identifies an archive's content without reading
/// it.
#[allow(clippy::unnecessary_cast)] // the stat types differ by arch
fn link(root: &[u8], name: &[u8], st: &sys::Stat) -> S {
    let mut b = Buf::new();
    b.s(root).s(b"/cache/").s(name);
    for v in [
        st.st_dev as u64,
        st.st_ino as u64,
        st.st_size as u64,
        st.st_mtime as u64,
        st.st_mtime_nsec as u64,
    ] {
        b.c(b'=').u(v);
    }
    b.leak()
}

/// The digest a cache link or a layer's image link points to.
fn target(path: &[u8]) -> Option<S> {
    let mut buf = [0u8; 4096];
    let t = sys::readlinkat(sys::AT_FDCWD, path, &mut buf).ok()?;
    Some(cat(&[&t[t.len().saturating_sub(64)..]]))
}

/// The unpacked copy of `name`'s archive if it is current: a readlink,
/// never a look at the archive's content.
pub fn unpacked(root: &[u8], name: &[u8], st: &sys::Stat) -> Option<S> {
    let d = cat(&[root, b"/cache/", target(link(root, name, st))?]);
    sys::stat(d).ok().map(|_| d)
}

/// Unpacks the archive at `path` into cache/DIGEST (hashing it on the
/// way) and links it as `name`; that directory, and whether the archive
/// was gzip. On any error nothing is left in the cache.
pub fn unpack(root: &[u8], name: &[u8], path: &[u8]) -> Res<(S, bool)> {
    let cache = cat(&[root, b"/cache"]);
    crate::rootfs::mkdir_all(cache, 0o700).ctx(cache)?;
    let fd = sys::open(path, sys::O_RDONLY, 0).ctx(path)?;
    let st = sys::fstat(fd.raw()).ctx(path)?;
    let mut t = Buf::new();
    t.s(cache).s(b"/tmp.").u(sys::getpid() as u64);
    let tmp = t.leak();
    let _ = tar::remove_tree(tmp);
    sys::mkdir(tmp, 0o755).ctx(tmp)?;
    let tty = sys::isatty(2);
    let label = cat(&[b"thinbox: unpacking ", name]);
    // Leaked, as extract's buffers are: no return has to drop it.
    let s = alloc::boxed::Box::leak(Stream::new(
        fd.raw(),
        tty.then_some((label, st.st_size as u64)),
    ));
    let r = if !s.gz && !path.ends_with(b".tar") {
        Err(Error::new(b"not a gzip file", b""))
    } else {
        tar::extract(s, tmp)
    };
    if tty {
        rt::err(b"\n");
    }
    if let Err(e) = r {
        let _ = tar::remove_tree(tmp);
        return Err(err(name, e.msg(), b""));
    }
    let digest = crate::sha256::hex(&s.hash.clone().finish());
    // Mount points every container needs, so that a read-only run never
    // has to create them in the cache.
    for d in [&b"/proc"[..], b"/sys", b"/dev"] {
        let _ = sys::mkdir(cat(&[tmp, d]), 0o755);
    }
    let dest = cat(&[cache, b"/", digest]);
    if sys::rename(tmp, dest).is_err() {
        // The same content under another name, or a race: keep the first.
        let _ = tar::remove_tree(tmp);
    }
    // Without the link (a racing start made it) the next start re-hashes.
    let l = link(root, name, &st);
    let _ = sys::unlink(l);
    let _ = sys::symlinkat(digest, sys::AT_FDCWD, l);
    Ok((dest, s.gz))
}

/// The unpacked image if it is current; never unpacks (cheap), for
/// parsing a command line.
pub fn cached(root: &[u8], image: &[u8]) -> Option<S> {
    let (_, st) = archive(root, image)?;
    unpacked(root, image, &st)
}

/// The unpacked image, unpacking it on first use.
pub fn resolve(root: &[u8], image: &[u8]) -> Res<S> {
    check_name(image)?;
    let (path, st) = archive(root, image).ok_or_else(|| not_found(root, image))?;
    match unpacked(root, image, &st) {
        Some(d) => Ok(d),
        None => unpack(root, image, path).map(|u| u.0),
    }
}

/// An image made ready for one container.
pub struct Prepared {
    /// The unpacked image: the container's rootfs (never written).
    pub rootfs: S,
    /// containers/ID: the writable layer, removed with the container.
    pub layer: Option<S>,
    /// overlayfs options for the mount over the rootfs.
    pub overlay: Option<S>,
    /// Held while the layer is in use.
    pub lock: Option<Fd>,
}

impl Prepared {
    /// Points the container at the image: the overlay is mounted first,
    /// over the rootfs, in the container's mount namespace.
    pub fn apply(&self, c: &mut Container) {
        c.rootfs = self.rootfs;
        match self.overlay {
            Some(data) => c.mounts.insert(
                0,
                Mount {
                    dest: b"/",
                    kind: b"overlay",
                    source: b"overlay",
                    flags: 0,
                    data,
                },
            ),
            None => c.readonly_root = true,
        }
    }
}

pub fn has_overlay() -> bool {
    rt::read_file(b"/proc/filesystems")
        .unwrap_or_default()
        .windows(9)
        .any(|w| w == b"\toverlay\n")
}

/// Resolves `image` (unpacking it on first use) and makes container
/// `id`'s layer, locked until the Prepared is dropped; a layer left by a
/// process that is gone starts afresh. Cheap after the first use: a stat,
/// a readlink, a few mkdirs.
pub fn prepare(root: &[u8], image: &[u8], id: &[u8], read_only: bool) -> Res<Prepared> {
    let lower = resolve(root, image)?;
    let mut p = Prepared {
        rootfs: lower,
        layer: None,
        overlay: None,
        lock: None,
    };
    if read_only {
        return Ok(p);
    }
    if !has_overlay() {
        return Err(Error::new(b"overlayfs", b"not available in this kernel")
            .hint(b"load it (modprobe overlay), or run with --read-only"));
    }
    if root.iter().any(|&c| c == b',' || c == b':') {
        return Err(Error::new(
            cat(&[b"data root ", root]),
            b"contains ',' or ':', which overlayfs options cannot hold",
        ));
    }
    let layer = cat(&[root, b"/containers/", id]);
    crate::rootfs::mkdir_all(layer, 0o700).ctx(layer)?;
    let lock = cat(&[layer, b"/lock"]);
    let fd = sys::open(lock, sys::O_RDWR | sys::O_CREAT, 0o600).ctx(lock)?;
    if sys::flock(fd.raw(), LOCK_EX_NB).is_err() {
        return Err(
            Error::new(cat(&[b"name ", id]), b"is already in use").hint(b"pick another --name")
        );
    }
    let r = (|| {
        for d in [&b"/upper"[..], b"/work"] {
            let d = cat(&[layer, d]);
            tar::remove_tree(d)?;
            sys::mkdir(d, 0o755)?;
        }
        let img = cat(&[layer, b"/image"]);
        let _ = sys::unlink(img);
        sys::symlinkat(lower, sys::AT_FDCWD, img)
    })();
    if let Err(e) = r {
        let _ = tar::remove_tree(layer);
        return Err(Error::sys(layer, e));
    }
    p.layer = Some(layer);
    p.lock = Some(fd);
    p.overlay = Some(cat(&[
        b"lowerdir=",
        lower,
        b",upperdir=",
        layer,
        b"/upper,workdir=",
        layer,
        b"/work",
    ]));
    Ok(p)
}

/// Removes the container's layer; the overlay went with its namespace.
pub fn release(p: &Prepared) -> Res<()> {
    match p.layer {
        Some(l) => tar::remove_tree(l).ctx(l),
        None => Ok(()),
    }
}

/// Removes the layer a detached container's state records.
pub fn remove_layer(st: &crate::state::State) {
    if let Some(l) = st.get(b"layer") {
        let _ = tar::remove_tree(l);
    }
}

/// Removes image `name`: its archive, its unpacked copies no other name
/// shares, and idle layers on them. Refuses while a container uses it.
pub fn remove(root: &[u8], name: &[u8]) -> Res<()> {
    check_name(name)?;
    let cache = cat(&[root, b"/cache/"]);
    let dir = cat(&[root, b"/containers/"]);
    let prefix = cat(&[name, b"="]);
    // Digests linked as `name` (with the links), and as anything else;
    // leaked, as all of a command's strings are, so no path drops them.
    let (mut mine, mut others): (Vec<(S, S)>, Vec<S>) = (Vec::new(), Vec::new());
    for &e in names(cache).leak().iter() {
        let l = cat(&[cache, e]);
        match target(l) {
            Some(d) if e.starts_with(prefix) => mine.push((d, l)),
            Some(d) => others.push(d),
            None => {}
        }
    }
    let (mine, others): (&[(S, S)], &[S]) = (mine.leak(), others.leak());
    let arch = archive(root, name);
    if arch.is_none() && mine.is_empty() {
        return Err(not_found(root, name));
    }
    let layers: &[S] = names(dir).leak();
    let on = |id: &[u8], d: &[u8]| target(cat(&[dir, id, b"/image"])).is_some_and(|t| t == d);
    for &id in layers {
        let busy = sys::open(cat(&[dir, id, b"/lock"]), sys::O_RDONLY, 0)
            .is_ok_and(|f| sys::flock(f.raw(), LOCK_EX_NB).is_err());
        if busy && mine.iter().any(|m| on(id, m.0)) {
            return Err(err(
                name,
                cat(&[b"is used by container ", id]),
                b"stop it first",
            ));
        }
    }
    if let Some((p, _)) = arch {
        sys::unlink(p).ctx(p)?;
    }
    for &(d, l) in mine {
        let _ = sys::unlink(l);
        if rt::index_of(others, d).is_none() {
            for &id in layers {
                if on(id, d) {
                    let _ = tar::remove_tree(cat(&[dir, id]));
                }
            }
            let c = cat(&[cache, d]);
            tar::remove_tree(c).ctx(c)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tb-img-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("images")).unwrap();
        d
    }

    fn b(p: &Path) -> &'static [u8] {
        p.to_str().unwrap().to_string().leak().as_bytes()
    }

    fn sh(cmd: &str) {
        assert!(
            Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .status()
                .unwrap()
                .success(),
            "{cmd}"
        );
    }

    /// A small rootfs tarball with a ./ prefix, as Alpine ships it.
    fn tarball(d: &Path, file: &str, content: &str) {
        sh(&format!(
            "set -e; t={d}/tree; rm -rf $t; mkdir -p $t/etc $t/bin; echo {content} > $t/etc/os-release
             ln -s ../etc/os-release $t/bin/link; tar czf {d}/images/{file} -C $t .; rm -rf $t",
            d = d.display()
        ));
    }

    fn msg(e: Error) -> String {
        String::from_utf8(e.msg().to_vec()).unwrap()
    }

    /// The cache: unpacked digests and NAME=KEY links.
    fn cache_entries(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(d.join("cache"))
            .map(|r| {
                r.map(|e| e.unwrap().file_name().into_string().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    fn sha256sum(p: &Path) -> String {
        let o = Command::new("sha256sum").arg(p).output().unwrap();
        String::from_utf8(o.stdout).unwrap()[..64].to_string()
    }

    #[test]
    fn unpacks_once_keyed_by_digest() {
        let d = scratch("once");
        let root = b(&d);
        tarball(&d, "alpine.tar.gz", "one");
        let digest = sha256sum(&d.join("images/alpine.tar.gz"));
        assert!(cached(root, b"alpine").is_none());
        let p = prepare(root, b"alpine", b"c1", true).ok().unwrap();
        let lower = d.join("cache").join(&digest);
        assert_eq!(p.rootfs, b(&lower));
        assert!(p.layer.is_none() && p.overlay.is_none());
        assert_eq!(
            fs::read_to_string(lower.join("etc/os-release")).unwrap(),
            "one\n"
        );
        assert!(lower.join("proc").is_dir() && lower.join("dev").is_dir());
        assert_eq!(cached(root, b"alpine"), Some(p.rootfs));
        // A second start reads the index, not the archive: a marker in
        // the cache survives.
        fs::write(lower.join("marker"), "").unwrap();
        assert_eq!(resolve(root, b"alpine").ok(), Some(p.rootfs));
        assert!(lower.join("marker").exists());
        // A changed archive is a new digest; the old one stays recorded
        // for rmi.
        tarball(&d, "alpine.tar.gz", "two");
        assert!(cached(root, b"alpine").is_none());
        let second = resolve(root, b"alpine").ok().unwrap();
        assert_ne!(second, p.rootfs);
        let c = cache_entries(&d);
        assert_eq!(c.len(), 4, "{c:?}");
        assert_eq!(c.iter().filter(|e| e.starts_with("alpine=")).count(), 2);
        remove(root, b"alpine").ok().unwrap();
        assert!(cache_entries(&d).is_empty(), "{:?}", cache_entries(&d));
        assert!(!d.join("images/alpine.tar.gz").exists());
        assert_eq!(
            msg(remove(root, b"alpine").unwrap_err()),
            format!(
                "image alpine: not found; put alpine.tar.gz in {}/images or run 'thinbox import FILE alpine'",
                d.display()
            )
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn bad_archives_leave_no_partial_image() {
        let d = scratch("bad");
        let root = b(&d);
        tarball(&d, "good.tar.gz", "x");
        let good = fs::read(d.join("images/good.tar.gz")).unwrap();
        fs::write(d.join("images/cut.tgz"), &good[..good.len() / 2]).unwrap();
        let mut flip = good.clone();
        let n = flip.len();
        flip[n - 7] ^= 0xff;
        fs::write(d.join("images/crc.tar.gz"), &flip).unwrap();
        fs::write(d.join("images/plain.tar.gz"), vec![0u8; 2048]).unwrap();
        sh(&format!(
            "cd {} && mkdir -p t && echo x > t/f && tar cf images/evil.tar --transform='s,^t/f,../../evil,' t/f",
            d.display()
        ));
        for (name, want) in [
            ("cut", "image cut: truncated gzip data"),
            ("crc", "image crc: corrupt gzip data: CRC mismatch"),
            ("plain", "image plain: not a gzip file"),
            (
                "evil",
                "image evil: tar entry ../../evil: '..' in the path refused",
            ),
        ] {
            let e = msg(prepare(root, name.as_bytes(), b"c", false).err().unwrap());
            assert_eq!(e, want);
            assert!(
                cache_entries(&d).iter().all(|e| e == "index"),
                "{:?}",
                cache_entries(&d)
            );
            assert!(!d.join("containers/c").exists());
        }
        assert!(!d.parent().unwrap().join("evil").exists());
        assert_eq!(
            msg(prepare(root, b"../x", b"c", false).err().unwrap()),
            "image name '../x': use letters, digits and _.-:+@, not starting with '.'"
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn layers_and_removal() {
        let d = scratch("layers");
        let root = b(&d);
        tarball(&d, "a.tar.gz", "a");
        fs::copy(d.join("images/a.tar.gz"), d.join("images/b.tar.gz")).unwrap();
        let p = prepare(root, b"a", b"c1", false).ok().unwrap();
        let layer = d.join("containers/c1");
        assert_eq!(p.layer, Some(b(&layer)));
        assert!(layer.join("upper").is_dir() && layer.join("work").is_dir());
        let lower = String::from_utf8(p.rootfs.to_vec()).unwrap();
        assert_eq!(
            String::from_utf8(p.overlay.unwrap().to_vec()).unwrap(),
            format!(
                "lowerdir={lower},upperdir={l}/upper,workdir={l}/work",
                l = layer.display()
            )
        );
        let mut c = Container::new(b"c1", b"");
        p.apply(&mut c);
        assert_eq!(c.rootfs, p.rootfs);
        assert_eq!(c.mounts[0].kind, b"overlay");
        assert_eq!(c.mounts[0].dest, b"/");
        // A second container of that name waits for this one.
        assert_eq!(
            msg(prepare(root, b"a", b"c1", false).err().unwrap()),
            "name c1: is already in use; pick another --name"
        );
        assert!(layer.join("upper").is_dir());
        assert_eq!(
            fs::read_link(layer.join("image")).unwrap(),
            Path::new(&lower)
        );
        // Same content under another name shares the cache.
        let pb = prepare(root, b"b", b"c2", true).ok().unwrap();
        assert_eq!(pb.rootfs, p.rootfs);
        assert_eq!(
            msg(remove(root, b"a").unwrap_err()),
            "image a: is used by container c1; stop it first"
        );
        assert!(d.join("images/a.tar.gz").exists());
        release(&p).ok().unwrap();
        drop(p);
        assert!(!layer.exists());
        remove(root, b"a").ok().unwrap();
        assert!(Path::new(&lower).is_dir(), "b still uses the cache");
        remove(root, b"b").ok().unwrap();
        assert!(!Path::new(&lower).exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn stale_layers_are_replaced_and_live_ones_refused() {
        let d = scratch("stale");
        let root = b(&d);
        tarball(&d, "a.tar.gz", "a");
        let layer = d.join("containers/c1");
        fs::create_dir_all(layer.join("upper")).unwrap();
        fs::write(layer.join("upper/old"), "").unwrap();
        fs::write(layer.join("lock"), "").unwrap();
        let p = prepare(root, b"a", b"c1", false).ok().unwrap();
        assert!(layer.join("upper").is_dir());
        assert!(!layer.join("upper/old").exists());
        drop(p);
        // A lock held elsewhere (another open file) means a live user.
        let f = sys::open(b(&layer.join("lock")), sys::O_RDWR, 0)
            .ok()
            .unwrap();
        // Parallel tests fork and exec (the seccomp oracle): a child between
        // the two still shares prepare's lock for a moment.
        let mut tries = 0;
        while sys::flock(f.raw(), LOCK_EX_NB).is_err() {
            tries += 1;
            assert!(tries < 500, "the layer lock was never released");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(
            msg(prepare(root, b"a", b"c1", false).err().unwrap()),
            "name c1: is already in use; pick another --name"
        );
        assert!(layer.join("upper").exists());
        drop(f);
        prepare(root, b"a", b"c1", false).ok().unwrap();
        fs::remove_dir_all(&d).unwrap();
    }
}
