//! The container's filesystem: private propagation, the rootfs bind, the
//! mount list, /dev, pivot_root, then masked and read-only paths. Runs in
//! the child, inside its new mount namespace.

use crate::rt::{Buf, Ctx, Error, Res, S, cat};
use crate::spec::{self, Container, MS_BIND, MS_RDONLY, MS_REC, MS_REMOUNT, Mount};
use crate::sys;
use alloc::vec::Vec;

/// Resolves `path` inside `root` the way the container will see it:
/// symlinks are followed, but never out of `root`, and ".." stops at it.
pub fn resolve_in_root(root: &[u8], path: &[u8]) -> S {
    // ROOT then the resolved components: each prefix is readlink'ed as it
    // stands, and a link's target replaces what has been resolved (from
    // ROOT when absolute) and goes ahead of the rest of the path.
    let mut out = Buf::new();
    out.s(root);
    let base = root.len();
    let mut todo: Vec<u8> = path.to_vec();
    let mut lbuf = [0u8; 4096];
    let mut hops = 0;
    let mut i = 0;
    // Past the end, `get` ends the walk.
    while let Some(rest) = todo.get(i..) {
        let part = rest.split(|&c| c == b'/').next().unwrap_or(b"");
        i += part.len() + 1;
        if part.is_empty() || part == b"." {
            continue;
        }
        if part == b".." {
            // Back to the last '/' after ROOT (ROOT itself at most).
            let cut = out.0.iter().rposition(|&c| c == b'/').unwrap_or(0);
            out.0.truncate(cut.max(base));
            continue;
        }
        let before = out.0.len();
        out.c(b'/').s(part);
        if let Ok(target) = sys::readlinkat(sys::AT_FDCWD, out.as_slice(), &mut lbuf) {
            hops += 1;
            if hops > 40 {
                break;
            }
            out.0.truncate(if target.first() == Some(&b'/') {
                base
            } else {
                before
            });
            let mut next = target.to_vec();
            next.push(b'/');
            next.extend_from_slice(todo.get(i..).unwrap_or(b""));
            todo = next;
            i = 0;
        }
    }
    out.leak()
}

/// mkdir -p, treating existing entries as fine.
pub fn mkdir_all(path: &[u8], mode: u32) -> sys::R<()> {
    match sys::mkdir(path, mode) {
        Ok(_) | Err(sys::EEXIST) => Ok(()),
        Err(sys::ENOENT) => {
            let p = crate::cgroup::parent(path);
            if p.len() >= path.len() {
                return Err(sys::ENOENT);
            }
            mkdir_all(p, 0o755)?;
            match sys::mkdir(path, mode) {
                Ok(_) | Err(sys::EEXIST) => Ok(()),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Creates a mount point: a directory, or an empty file when binding a
/// non-directory.
fn make_mountpoint(target: &[u8], file: bool) -> sys::R<()> {
    if !file {
        return mkdir_all(target, 0o755);
    }
    if sys::lstat(target).is_ok() {
        return Ok(());
    }
    mkdir_all(crate::cgroup::parent(target), 0o755)?;
    sys::open(target, sys::O_WRONLY | sys::O_CREAT, 0o644).map(|_| ())
}

fn mount_one(root: &[u8], m: &Mount) -> Res<()> {
    mount_at(resolve_in_root(root, m.dest), m)
        .map_err(|e| Error::sys(cat(&[b"mount ", m.kind, b" on ", m.dest]), e))
}

/// mount_one's steps; every failure becomes the same "mount KIND on DEST".
#[inline(never)]
fn mount_at(target: &[u8], m: &Mount) -> sys::R<()> {
    let bind = m.flags & MS_BIND != 0;
    let is_file = bind
        && sys::stat(m.source)
            .map(|st| !sys::is_dir(&st))
            .unwrap_or(false);
    make_mountpoint(target, is_file)?;
    let base = m.flags & !(spec::MS_PROPAGATION | MS_RDONLY);
    if bind {
        mount(Some(m.source), target, base & (MS_BIND | MS_REC))?;
        // Bind flags beyond MS_BIND/MS_REC only take effect on a remount.
        if m.flags & !(MS_BIND | MS_REC | spec::MS_PROPAGATION) != 0 {
            mount(
                None,
                target,
                (m.flags & !(MS_REC | spec::MS_PROPAGATION)) | MS_REMOUNT,
            )?;
        }
    } else {
        let data = if m.data.is_empty() {
            None
        } else {
            Some(m.data)
        };
        let flags = m.flags & !spec::MS_PROPAGATION;
        // OCI "cgroup": the host's kind; on a v1 host an empty tmpfs, as
        // the hierarchies are not namespaced the same way.
        // (One compare: a match on byte strings repeats it per arm.)
        let (kind, data): (&[u8], _) = if m.kind != b"cgroup" {
            (m.kind, data)
        } else if crate::cgroup::is_cgroup2(b"/sys/fs/cgroup") {
            (b"cgroup2", None)
        } else {
            (b"tmpfs", Some(&b"size=0,mode=755"[..]))
        };
        match sys::mount(Some(m.source), target, Some(kind), flags, data) {
            // sysfs needs a network namespace of our own; with the host
            // network, bind the host's /sys instead.
            Err(sys::EPERM) if m.kind == b"sysfs" => {
                mount(Some(b"/sys"), target, MS_BIND | MS_REC)?;
                let _ = mount(None, target, flags | MS_BIND | MS_REMOUNT);
            }
            r => {
                r?;
            }
        }
    }
    if m.flags & spec::MS_PROPAGATION != 0 {
        mount(None, target, m.flags & (spec::MS_PROPAGATION | MS_REC))?;
    }
    Ok(())
}

fn dev_t(major: u32, minor: u32) -> u64 {
    let (ma, mi) = (major as u64, minor as u64);
    (mi & 0xff) | ((ma & 0xfff) << 8) | ((mi & !0xff) << 12) | ((ma & !0xfff) << 32)
}

/// The major and minor numbers of a dev_t, the inverse of `dev_t`.
pub fn dev_numbers(rdev: u64) -> (u32, u32) {
    (
        ((rdev >> 8) & 0xfff) as u32 | ((rdev >> 32) as u32 & !0xfff),
        (rdev & 0xff) as u32 | ((rdev >> 12) as u32 & !0xff),
    )
}

fn make_devices(root: &[u8], c: &Container) -> Res<()> {
    // ROOT/dev/NAME, in one buffer cut back to ROOT/dev/ for each name.
    let mut b = Buf::new();
    b.s(root).s(b"/dev/");
    let dev = b.0.len();
    for (name, ma, mi) in spec::DEFAULT_DEVICES {
        b.0.truncate(dev);
        make_node(b.s(name).as_slice(), sys::S_IFCHR | 0o666, ma, mi, 0, 0)?;
    }
    for d in &c.devices {
        let path = resolve_in_root(root, d.path);
        let kind = match d.kind {
            b'b' => sys::S_IFBLK,
            b'p' => sys::S_IFIFO,
            _ => sys::S_IFCHR,
        };
        let _ = mkdir_all(crate::cgroup::parent(path), 0o755);
        let _ = sys::unlink(path);
        make_node(
            path,
            kind | (d.mode & 0o7777),
            d.major,
            d.minor,
            d.uid,
            d.gid,
        )?;
    }
    // NAME TARGET pairs: one string, not a table of slices built on the
    // stack.
    let mut links = crate::rt::split(
        b"fd /proc/self/fd stdin /proc/self/fd/0 stdout /proc/self/fd/1 stderr /proc/self/fd/2 ptmx pts/ptmx",
        b' ',
    );
    while let (Some(name), Some(target)) = (links.next(), links.next()) {
        b.0.truncate(dev);
        match sys::symlinkat(target, sys::AT_FDCWD, b.s(name).as_slice()) {
            Ok(_) | Err(sys::EEXIST) => {}
            Err(e) => return Err(Error::sys2(b"creating /dev/", name, e)),
        }
    }
    Ok(())
}

/// mknod, or a bind of the host's node where mknod is not allowed (a user
/// namespace).
fn make_node(path: &[u8], mode: u32, ma: u32, mi: u32, uid: u32, gid: u32) -> Res<()> {
    match sys::mknodat(sys::AT_FDCWD, path, mode, dev_t(ma, mi)) {
        Ok(_) => {}
        Err(sys::EEXIST) => return Ok(()),
        Err(sys::EPERM) if mode & sys::S_IFMT == sys::S_IFCHR => {
            let host = cat(&[
                b"/dev/",
                &path[path.iter().rposition(|&c| c == b'/').unwrap_or(0) + 1..],
            ]);
            make_mountpoint(path, true).ctx(path)?;
            mount(Some(host), path, MS_BIND).map_err(|e| Error::sys2(b"binding ", host, e))?;
            return Ok(());
        }
        Err(e) => return Err(Error::sys2(b"mknod ", path, e)),
    }
    // The child runs with umask 0 (spawn), so mknod set the mode already.
    if uid != 0 || gid != 0 {
        sys::fchownat(sys::AT_FDCWD, path, uid, gid, 0).ctx(path)?;
    }
    Ok(())
}

/// mount(2) without a filesystem type or data: binds, remounts and
/// propagation changes, in one place instead of at each caller.
#[inline(never)]
fn mount(src: Option<&[u8]>, target: &[u8], flags: u64) -> sys::R<usize> {
    sys::mount(src, target, None, flags, None)
}

/// Everything from the private "/" to the detached old root.
pub fn setup(c: &Container, before_pivot: &mut dyn FnMut() -> Res<()>) -> Res<()> {
    let root = c.rootfs;
    if !own_mounts(c) {
        // Sharing the runtime's mount namespace: mounting there would
        // change the host, so the root is a plain chroot.
        before_pivot()?;
        sys::chroot(root).map_err(|e| Error::sys2(b"chroot ", root, e))?;
        return sys::chdir(b"/").map(|_| ()).ctx(b"chdir /");
    }
    let shared = c.rootfs_propagation & spec::MS_SHARED != 0;
    // Shared and unbindable apply to the new root after the pivot: the
    // rootfs cannot be bound from under an unbindable /.
    let last = c.rootfs_propagation & (spec::MS_SHARED | spec::MS_UNBINDABLE);
    let first = if shared {
        spec::MS_SLAVE
    } else if last != 0 {
        spec::MS_PRIVATE
    } else {
        c.rootfs_propagation & spec::MS_PROPAGATION
    };
    mount(None, b"/", MS_REC | first).ctx(b"making / private")?;
    mount(Some(root), root, MS_BIND | MS_REC)
        .map_err(|e| Error::sys2(b"binding rootfs ", root, e))?;
    let mut has_dev = false;
    for m in &c.mounts {
        mount_one(root, m)?;
        has_dev |= m.dest == b"/dev";
    }
    if has_dev {
        make_devices(root, c)?;
    }
    before_pivot()?;
    sys::chdir(root).map_err(|e| Error::sys2(b"entering rootfs ", root, e))?;
    sys::pivot_root(b".", b".").ctx(b"pivot_root")?;
    sys::umount2(b".", 2).ctx(b"detaching the old root")?; // MNT_DETACH
    sys::chdir(b"/").ctx(b"chdir /")?;
    if last != 0 {
        mount(None, b"/", MS_REC | last).ctx(b"rootfs propagation")?;
    }
    Ok(())
}

/// Whether the container has a mount namespace of its own to set up.
pub fn own_mounts(c: &Container) -> bool {
    c.namespaces & sys::CLONE_NEWNS != 0
}

/// Masks and write-protects paths; runs after sysctls are written.
pub fn protect(c: &Container) -> Res<()> {
    if !own_mounts(c) {
        return Ok(());
    }
    for (list, ro) in [(&c.masked_paths, false), (&c.readonly_paths, true)] {
        for p in list {
            let r = if ro { readonly(p) } else { mask(p) };
            r.map_err(|e| {
                let what: &[u8] = if ro { b"read-only " } else { b"mask " };
                Error::sys2(what, p, e)
            })?;
        }
    }
    if c.readonly_root {
        mount(None, b"/", MS_BIND | MS_REMOUNT | MS_RDONLY).ctx(b"read-only root")?;
    }
    Ok(())
}

/// Hides a path: /dev/null over files, an empty read-only tmpfs over
/// directories. A path that is not there needs no hiding.
fn mask(p: &[u8]) -> sys::R<()> {
    let st = match sys::stat(p) {
        Err(sys::ENOENT) => return Ok(()),
        r => r?,
    };
    if sys::is_dir(&st) {
        sys::mount(
            Some(b"tmpfs"),
            p,
            Some(b"tmpfs"),
            MS_RDONLY,
            Some(b"size=0"),
        )
    } else {
        mount(Some(b"/dev/null"), p, MS_BIND)
    }?;
    Ok(())
}

/// Binds a path onto itself read-only (nosuid, nodev, noexec where the
/// mount allows them); a path that is not there is skipped.
fn readonly(p: &[u8]) -> sys::R<()> {
    match mount(Some(p), p, MS_BIND | MS_REC) {
        Err(sys::ENOENT) => return Ok(()),
        r => r?,
    };
    mount(
        None,
        p,
        MS_BIND
            | MS_REC
            | MS_REMOUNT
            | MS_RDONLY
            | spec::MS_NOSUID
            | spec::MS_NODEV
            | spec::MS_NOEXEC,
    )
    .or_else(|_| mount(None, p, MS_BIND | MS_REMOUNT | MS_RDONLY))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn dev_numbers_invert_dev_t() {
        for (ma, mi) in [(1, 11), (7, 1), (300, 70000), (4095, 255), (4096, 256)] {
            assert_eq!(dev_numbers(dev_t(ma, mi)), (ma, mi));
        }
        // /dev/null as the kernel encodes it.
        assert_eq!(dev_numbers(0x103), (1, 3));
    }

    #[test]
    fn resolve_stays_inside() {
        let d = std::env::temp_dir().join(format!("tb-resolve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("var")).unwrap();
        std::fs::create_dir_all(d.join("run")).unwrap();
        symlink("/run", d.join("var/run")).unwrap();
        symlink("../../../..", d.join("up")).unwrap();
        symlink("/", d.join("abs")).unwrap();
        let root = d.to_str().unwrap().as_bytes();
        let r = |p: &[u8]| String::from_utf8(resolve_in_root(root, p).to_vec()).unwrap();
        let base = d.to_str().unwrap();
        assert_eq!(r(b"/var/run/x"), format!("{base}/run/x"));
        assert_eq!(r(b"/up/etc"), format!("{base}/etc"));
        assert_eq!(r(b"/abs/proc"), format!("{base}/proc"));
        assert_eq!(r(b"/../../proc"), format!("{base}/proc"));
        assert_eq!(r(b"/dev/pts"), format!("{base}/dev/pts"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn devt() {
        assert_eq!(dev_t(1, 3), 0x103);
        assert_eq!(dev_t(5, 0), 0x500);
    }
}
