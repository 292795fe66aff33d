//! The only module with `unsafe`: raw Linux syscalls, the memory
//! intrinsics a no-libc binary must supply, and the process entry.
//! Everything above this layer is safe Rust over `&[u8]` and `Fd`.

use core::mem::{size_of, zeroed};
use linux_raw_sys::general as g;
use syscalls::Sysno;
use syscalls::raw::{syscall0, syscall1, syscall2, syscall3, syscall4, syscall5, syscall6};

pub use linux_raw_sys::general::{stat as Stat, termios as Termios, winsize as Winsize};

/// A negative errno from the kernel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Errno(pub i32);

pub type R<T> = Result<T, Errno>;

pub const ENOENT: Errno = Errno(2);
pub const ESRCH: Errno = Errno(3);
pub const EINTR: Errno = Errno(4);
pub const EAGAIN: Errno = Errno(11);
pub const EACCES: Errno = Errno(13);
pub const EBUSY: Errno = Errno(16);
pub const EEXIST: Errno = Errno(17);
pub const ENOTDIR: Errno = Errno(20);
pub const EINVAL: Errno = Errno(22);
pub const ENOSPC: Errno = Errno(28);
pub const E2BIG: Errno = Errno(7);
pub const ENOEXEC: Errno = Errno(8);
pub const ECHILD: Errno = Errno(10);
pub const EPERM: Errno = Errno(1);
pub const ENOSYS: Errno = Errno(38);
pub const ENOTEMPTY: Errno = Errno(39);
pub const ELOOP: Errno = Errno(40);
pub const ECONNRESET: Errno = Errno(104);

#[inline]
fn ret(v: usize) -> R<usize> {
    if v > (-4096isize) as usize {
        Err(Errno(-(v as isize) as i32))
    } else {
        Ok(v)
    }
}

macro_rules! sc {
    ($n:ident) => {
        // SAFETY: a syscall without pointer arguments cannot break memory safety.
        ret(unsafe { syscall0(Sysno::$n as usize) })
    };
    ($n:ident, $a:expr) => {
        // SAFETY: every caller passes pointers that live across the call and
        // lengths that match them; the kernel validates the rest.
        ret(unsafe { syscall1(Sysno::$n as usize, $a as usize) })
    };
    ($n:ident, $a:expr, $b:expr) => {
        // SAFETY: as above.
        ret(unsafe { syscall2(Sysno::$n as usize, $a as usize, $b as usize) })
    };
    ($n:ident, $a:expr, $b:expr, $c:expr) => {
        // SAFETY: as above.
        ret(unsafe { syscall3(Sysno::$n as usize, $a as usize, $b as usize, $c as usize) })
    };
    ($n:ident, $a:expr, $b:expr, $c:expr, $d:expr) => {
        // SAFETY: as above.
        ret(unsafe {
            syscall4(Sysno::$n as usize, $a as usize, $b as usize, $c as usize, $d as usize)
        })
    };
    ($n:ident, $a:expr, $b:expr, $c:expr, $d:expr, $e:expr) => {
        // SAFETY: as above.
        ret(unsafe {
            syscall5(
                Sysno::$n as usize,
                $a as usize,
                $b as usize,
                $c as usize,
                $d as usize,
                $e as usize,
            )
        })
    };
    ($n:ident, $a:expr, $b:expr, $c:expr, $d:expr, $e:expr, $f:expr) => {
        // SAFETY: as above.
        ret(unsafe {
            syscall6(
                Sysno::$n as usize,
                $a as usize,
                $b as usize,
                $c as usize,
                $d as usize,
                $e as usize,
                $f as usize,
            )
        })
    };
}

/// A NUL-terminated copy of a path, so that syscalls can take `&[u8]`.
pub struct CPath(alloc::vec::Vec<u8>);

impl CPath {
    // On the heap: a 4 KiB stack buffer made every path syscall's frame
    // 12 KiB, and the stack probes faulted all of it in. The arena takes
    // the copy back on drop.
    #[inline(never)]
    pub fn new(s: &[u8]) -> R<CPath> {
        if s.len() >= 4096 || s.contains(&0) {
            return Err(Errno(36)); // ENAMETOOLONG
        }
        let mut v = alloc::vec::Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s);
        v.push(0);
        Ok(CPath(v))
    }
    pub fn ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }
}

fn with_path<T>(s: &[u8], f: impl FnOnce(*const u8) -> R<T>) -> R<T> {
    let p = CPath::new(s)?;
    f(p.ptr())
}

/// Syscall `nr` with arguments `a`, after a NUL-terminated copy of each of
/// `paths` (None: NULL) goes into the argument slot named by its nibble of
/// `slots`, lowest nibble first. One out-of-line copy of the path handling
/// for every path syscall, and one allocation for all of a call's paths.
#[inline(never)]
fn path_sc(nr: Sysno, slots: u32, paths: &[Option<&[u8]>], mut a: [usize; 6]) -> R<usize> {
    let mut n = 0;
    for p in paths.iter().flatten() {
        if p.len() >= 4096 || p.contains(&0) {
            return Err(Errno(36)); // ENAMETOOLONG
        }
        n += p.len() + 1;
    }
    // Never reallocated below (the capacity is exact), so addresses taken
    // while filling it stay valid.
    let mut v = alloc::vec::Vec::with_capacity(n);
    let mut s = slots;
    for p in paths {
        let at = match p {
            Some(p) => {
                let at = v.as_ptr() as usize + v.len();
                v.extend_from_slice(p);
                v.push(0);
                at
            }
            None => 0,
        };
        if let Some(x) = a.get_mut(s as usize & 7) {
            *x = at;
        }
        s >>= 4;
    }
    // SAFETY: every pointer argument lives across the call: the callers'
    // buffers, and `v` for the paths; the kernel validates the rest and
    // ignores the arguments past the syscall's own.
    ret(unsafe { syscall6(nr as usize, a[0], a[1], a[2], a[3], a[4], a[5]) })
}

pub const AT_FDCWD: i32 = -100;
pub const O_RDONLY: u32 = 0;
pub const O_WRONLY: u32 = 1;
pub const O_RDWR: u32 = 2;
pub const O_CREAT: u32 = g::O_CREAT;
pub const O_EXCL: u32 = g::O_EXCL;
pub const O_TRUNC: u32 = g::O_TRUNC;
pub const O_APPEND: u32 = g::O_APPEND;
pub const O_NOCTTY: u32 = g::O_NOCTTY;
pub const O_NONBLOCK: u32 = g::O_NONBLOCK;
pub const O_DIRECTORY: u32 = g::O_DIRECTORY;
pub const O_NOFOLLOW: u32 = g::O_NOFOLLOW;
pub const O_CLOEXEC: u32 = g::O_CLOEXEC;
pub const O_PATH: u32 = g::O_PATH;

/// An owned file descriptor, closed on drop.
pub struct Fd(pub i32);

impl Drop for Fd {
    fn drop(&mut self) {
        let _ = close(self.0);
    }
}

impl Fd {
    pub fn raw(&self) -> i32 {
        self.0
    }
    /// Gives up ownership without closing.
    pub fn leak(self) -> i32 {
        let fd = self.0;
        core::mem::forget(self);
        fd
    }
}

pub fn openat(dir: i32, path: &[u8], flags: u32, mode: u32) -> R<Fd> {
    path_sc(
        Sysno::openat,
        1,
        &[Some(path)],
        [
            dir as usize,
            0,
            (flags | O_CLOEXEC) as usize,
            mode as usize,
            0,
            0,
        ],
    )
    .map(|fd| Fd(fd as i32))
}

pub fn open(path: &[u8], flags: u32, mode: u32) -> R<Fd> {
    openat(AT_FDCWD, path, flags, mode)
}

// Out of line, like getpid and umask: every Fd's drop closes it, and a
// call is shorter than the syscall sequence (aarch64 most of all).
#[inline(never)]
pub fn close(fd: i32) -> R<usize> {
    sc!(close, fd)
}

/// read or write, made again when a signal interrupts it: one loop for
/// both.
#[inline(never)]
fn rw(nr: Sysno, fd: i32, p: usize, len: usize) -> R<usize> {
    loop {
        // SAFETY: the callers pass a buffer that lives across the call
        // and its length.
        match ret(unsafe { syscall3(nr as usize, fd as usize, p, len) }) {
            Err(EINTR) => continue,
            r => return r,
        }
    }
}

pub fn read(fd: i32, buf: &mut [u8]) -> R<usize> {
    rw(Sysno::read, fd, buf.as_mut_ptr() as usize, buf.len())
}

pub fn write(fd: i32, buf: &[u8]) -> R<usize> {
    rw(Sysno::write, fd, buf.as_ptr() as usize, buf.len())
}

pub fn write_all(fd: i32, mut buf: &[u8]) -> R<()> {
    while !buf.is_empty() {
        let n = write(fd, buf)?;
        if n == 0 {
            return Err(Errno(5));
        }
        buf = &buf[n..];
    }
    Ok(())
}

pub fn lseek(fd: i32, off: i64, whence: u32) -> R<usize> {
    sc!(lseek, fd, off, whence)
}

pub fn ftruncate(fd: i32, len: u64) -> R<usize> {
    sc!(ftruncate, fd, len)
}

pub fn fsync(fd: i32) -> R<usize> {
    sc!(fsync, fd)
}

pub fn dup3(old: i32, new: i32, flags: u32) -> R<usize> {
    sc!(dup3, old, new, flags)
}

pub fn fcntl(fd: i32, cmd: u32, arg: usize) -> R<usize> {
    sc!(fcntl, fd, cmd, arg)
}

pub fn pipe2(flags: u32) -> R<(Fd, Fd)> {
    let mut fds = [0i32; 2];
    sc!(pipe2, fds.as_mut_ptr(), flags)?;
    Ok((Fd(fds[0]), Fd(fds[1])))
}

pub fn mkdirat(dir: i32, path: &[u8], mode: u32) -> R<usize> {
    path_sc(
        Sysno::mkdirat,
        1,
        &[Some(path)],
        [dir as usize, 0, mode as usize, 0, 0, 0],
    )
}

pub fn mkdir(path: &[u8], mode: u32) -> R<usize> {
    mkdirat(AT_FDCWD, path, mode)
}

pub fn rmdir(path: &[u8]) -> R<usize> {
    unlinkat(AT_FDCWD, path, g::AT_REMOVEDIR)
}

pub fn unlinkat(dir: i32, path: &[u8], flags: u32) -> R<usize> {
    path_sc(
        Sysno::unlinkat,
        1,
        &[Some(path)],
        [dir as usize, 0, flags as usize, 0, 0, 0],
    )
}

pub fn unlink(path: &[u8]) -> R<usize> {
    unlinkat(AT_FDCWD, path, 0)
}

pub fn mknodat(dir: i32, path: &[u8], mode: u32, dev: u64) -> R<usize> {
    path_sc(
        Sysno::mknodat,
        1,
        &[Some(path)],
        [dir as usize, 0, mode as usize, dev as usize, 0, 0],
    )
}

pub fn symlinkat(target: &[u8], dir: i32, path: &[u8]) -> R<usize> {
    path_sc(
        Sysno::symlinkat,
        0x20,
        &[Some(target), Some(path)],
        [0, dir as usize, 0, 0, 0, 0],
    )
}

pub fn linkat(odir: i32, old: &[u8], ndir: i32, new: &[u8], flags: u32) -> R<usize> {
    path_sc(
        Sysno::linkat,
        0x31,
        &[Some(old), Some(new)],
        [odir as usize, 0, ndir as usize, 0, flags as usize, 0],
    )
}

pub fn renameat(odir: i32, old: &[u8], ndir: i32, new: &[u8]) -> R<usize> {
    path_sc(
        Sysno::renameat2,
        0x31,
        &[Some(old), Some(new)],
        [odir as usize, 0, ndir as usize, 0, 0, 0],
    )
}

pub fn rename(old: &[u8], new: &[u8]) -> R<usize> {
    renameat(AT_FDCWD, old, AT_FDCWD, new)
}

pub fn readlinkat<'a>(dir: i32, path: &[u8], buf: &'a mut [u8]) -> R<&'a [u8]> {
    let n = path_sc(
        Sysno::readlinkat,
        1,
        &[Some(path)],
        [dir as usize, 0, buf.as_mut_ptr() as usize, buf.len(), 0, 0],
    )?;
    Ok(&buf[..n])
}

pub fn fchmodat(dir: i32, path: &[u8], mode: u32) -> R<usize> {
    path_sc(
        Sysno::fchmodat,
        1,
        &[Some(path)],
        [dir as usize, 0, mode as usize, 0, 0, 0],
    )
}

pub fn fchownat(dir: i32, path: &[u8], uid: u32, gid: u32, flags: u32) -> R<usize> {
    path_sc(
        Sysno::fchownat,
        1,
        &[Some(path)],
        [
            dir as usize,
            0,
            uid as usize,
            gid as usize,
            flags as usize,
            0,
        ],
    )
}

pub fn utimensat(dir: i32, path: &[u8], sec: i64, flags: u32) -> R<usize> {
    let ts = [
        g::timespec {
            tv_sec: sec as _,
            tv_nsec: 0,
        },
        g::timespec {
            tv_sec: sec as _,
            tv_nsec: 0,
        },
    ];
    path_sc(
        Sysno::utimensat,
        1,
        &[Some(path)],
        [dir as usize, 0, ts.as_ptr() as usize, flags as usize, 0, 0],
    )
}

pub fn fstatat(dir: i32, path: &[u8], flags: u32) -> R<Stat> {
    // SAFETY: `stat` is plain old data; all-zero is a valid value.
    let mut st: Stat = unsafe { zeroed() };
    #[cfg(target_arch = "x86_64")]
    let nr = Sysno::newfstatat;
    #[cfg(target_arch = "aarch64")]
    let nr = Sysno::fstatat;
    path_sc(
        nr,
        1,
        &[Some(path)],
        [
            dir as usize,
            0,
            &mut st as *mut Stat as usize,
            flags as usize,
            0,
            0,
        ],
    )?;
    Ok(st)
}

pub fn stat(path: &[u8]) -> R<Stat> {
    fstatat(AT_FDCWD, path, 0)
}

pub fn lstat(path: &[u8]) -> R<Stat> {
    fstatat(AT_FDCWD, path, g::AT_SYMLINK_NOFOLLOW)
}

pub fn fstat(fd: i32) -> R<Stat> {
    fstatat(fd, b"", g::AT_EMPTY_PATH)
}

pub const S_IFMT: u32 = 0o170000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFBLK: u32 = 0o060000;
pub const S_IFIFO: u32 = 0o010000;

pub fn is_dir(st: &Stat) -> bool {
    st.st_mode & S_IFMT == S_IFDIR
}

/// Returns the filesystem magic of `path`.
#[inline(never)]
pub fn statfs_magic(path: &[u8]) -> R<u64> {
    // SAFETY: plain old data.
    let mut st: g::statfs = unsafe { zeroed() };
    path_sc(
        Sysno::statfs,
        0,
        &[Some(path)],
        [0, &mut st as *mut g::statfs as usize, 0, 0, 0, 0],
    )?;
    Ok(st.f_type as u64)
}

pub fn faccessat(dir: i32, path: &[u8], mode: u32) -> R<usize> {
    path_sc(
        Sysno::faccessat,
        1,
        &[Some(path)],
        [dir as usize, 0, mode as usize, 0, 0, 0],
    )
}

pub fn getdents64(fd: i32, buf: &mut [u8]) -> R<usize> {
    sc!(getdents64, fd, buf.as_mut_ptr(), buf.len())
}

/// Iterates the names in a getdents64 buffer.
pub fn dirents(buf: &[u8], mut f: impl FnMut(&[u8], u8)) {
    let mut off = 0;
    while off + 19 <= buf.len() {
        let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
        let kind = buf[off + 18];
        let name = &buf[off + 19..off + reclen];
        let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
        f(&name[..end], kind);
        off += reclen;
        if reclen == 0 {
            break;
        }
    }
}

pub fn chdir(path: &[u8]) -> R<usize> {
    path_sc(Sysno::chdir, 0, &[Some(path)], [0; 6])
}

pub fn fchdir(fd: i32) -> R<usize> {
    sc!(fchdir, fd)
}

pub fn chroot(path: &[u8]) -> R<usize> {
    path_sc(Sysno::chroot, 0, &[Some(path)], [0; 6])
}

pub fn mount(
    src: Option<&[u8]>,
    target: &[u8],
    fstype: Option<&[u8]>,
    flags: u64,
    data: Option<&[u8]>,
) -> R<usize> {
    path_sc(
        Sysno::mount,
        0x4210,
        &[src, Some(target), fstype, data],
        [0, 0, 0, flags as usize, 0, 0],
    )
}

pub fn umount2(target: &[u8], flags: u32) -> R<usize> {
    path_sc(
        Sysno::umount2,
        0,
        &[Some(target)],
        [0, flags as usize, 0, 0, 0, 0],
    )
}

pub fn pivot_root(new: &[u8], old: &[u8]) -> R<usize> {
    path_sc(Sysno::pivot_root, 0x10, &[Some(new), Some(old)], [0; 6])
}

pub fn sethostname(name: &[u8]) -> R<usize> {
    sc!(sethostname, name.as_ptr(), name.len())
}

pub fn setdomainname(name: &[u8]) -> R<usize> {
    sc!(setdomainname, name.as_ptr(), name.len())
}

#[inline(never)]
pub fn getpid() -> i32 {
    sc!(getpid).unwrap_or(0) as i32
}

pub fn getppid() -> i32 {
    sc!(getppid).unwrap_or(0) as i32
}

pub fn getegid() -> u32 {
    sc!(getegid).unwrap_or(0) as u32
}

pub fn geteuid() -> u32 {
    sc!(geteuid).unwrap_or(0) as u32
}

pub fn setsid() -> R<usize> {
    sc!(setsid)
}

pub fn setpgid(pid: i32, pgid: i32) -> R<usize> {
    sc!(setpgid, pid, pgid)
}

pub fn getpgid(pid: i32) -> R<usize> {
    sc!(getpgid, pid)
}

pub fn setresuid(u: u32) -> R<usize> {
    sc!(setresuid, u, u, u)
}

pub fn setresgid(g: u32) -> R<usize> {
    sc!(setresgid, g, g, g)
}

pub fn setgroups(groups: &[u32]) -> R<usize> {
    sc!(setgroups, groups.len(), groups.as_ptr())
}

#[inline(never)]
pub fn umask(mask: u32) -> u32 {
    sc!(umask, mask).unwrap_or(0) as u32
}

pub fn kill(pid: i32, sig: i32) -> R<usize> {
    sc!(kill, pid, sig)
}

pub fn exit(code: i32) -> ! {
    let _ = sc!(exit_group, code);
    // exit_group does not return; spin politely if it somehow did.
    loop {
        sched_yield();
    }
}

pub fn sched_yield() {
    let _ = sc!(sched_yield);
}

pub fn sleep_ms(ms: u64) {
    let ts = g::timespec {
        tv_sec: (ms / 1000) as _,
        tv_nsec: ((ms % 1000) * 1_000_000) as _,
    };
    let _ = sc!(nanosleep, &ts as *const g::timespec, 0);
}

/// Monotonic clock in nanoseconds.
pub fn now_ns() -> u64 {
    clock_ns(g::CLOCK_MONOTONIC)
}

/// Wall clock in seconds and nanoseconds.
pub fn wall_time() -> (u64, u32) {
    let ns = clock_ns(g::CLOCK_REALTIME);
    (ns / 1_000_000_000, (ns % 1_000_000_000) as u32)
}

fn clock_ns(clock: u32) -> u64 {
    let mut ts = g::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let _ = sc!(clock_gettime, clock, &mut ts as *mut g::timespec);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub fn getrandom(buf: &mut [u8]) -> R<usize> {
    sc!(getrandom, buf.as_mut_ptr(), buf.len(), 0)
}

// ---- processes ----

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGQUIT: i32 = 3;
pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGUSR2: i32 = 12;
pub const SIGPIPE: i32 = 13;
pub const SIGALRM: i32 = 14;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGSTOP: i32 = 19;
pub const SIGTSTP: i32 = 20;
pub const SIGTTIN: i32 = 21;
pub const SIGTTOU: i32 = 22;
pub const SIGWINCH: i32 = 28;

/// Arguments of clone3 (struct clone_args, version 2 with cgroup).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

pub const CLONE_NEWNS: u64 = g::CLONE_NEWNS as u64;
pub const CLONE_NEWUTS: u64 = g::CLONE_NEWUTS as u64;
pub const CLONE_NEWIPC: u64 = g::CLONE_NEWIPC as u64;
pub const CLONE_NEWPID: u64 = g::CLONE_NEWPID as u64;
pub const CLONE_NEWNET: u64 = g::CLONE_NEWNET as u64;
pub const CLONE_NEWUSER: u64 = g::CLONE_NEWUSER as u64;
pub const CLONE_NEWCGROUP: u64 = g::CLONE_NEWCGROUP as u64;
pub const CLONE_NEWTIME: u64 = 0x80;
pub const CLONE_INTO_CGROUP: u64 = g::CLONE_INTO_CGROUP;
pub const CLONE_PIDFD: u64 = g::CLONE_PIDFD as u64;

/// fork()-like clone: the child returns Ok(0) on a copy of our memory.
/// `cgroup` is a directory fd for CLONE_INTO_CGROUP, or -1.
pub fn clone3(flags: u64, cgroup: i32) -> R<i32> {
    let mut args = CloneArgs {
        flags,
        exit_signal: SIGCHLD as u64,
        ..Default::default()
    };
    if cgroup >= 0 {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = cgroup as u64;
    }
    let size = if cgroup >= 0 {
        size_of::<CloneArgs>()
    } else {
        64
    };
    // SAFETY: without a stack the child resumes here on a copy-on-write copy
    // of our address space, exactly like fork(); `args` outlives the call.
    let r = unsafe {
        syscall2(
            Sysno::clone3 as usize,
            &args as *const CloneArgs as usize,
            size,
        )
    };
    ret(r).map(|p| p as i32)
}

/// The clone fallback for kernels without clone3 (before 5.3).
pub fn clone_fork(flags: u64) -> R<i32> {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: fork semantics as in clone3 above (x86_64 order: flags, stack,
    // parent_tid, child_tid, tls).
    let r = unsafe {
        syscall5(
            Sysno::clone as usize,
            (flags | SIGCHLD as u64) as usize,
            0,
            0,
            0,
            0,
        )
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above (generic order: flags, stack, parent_tid, tls, child_tid).
    let r = unsafe {
        syscall5(
            Sysno::clone as usize,
            (flags | SIGCHLD as u64) as usize,
            0,
            0,
            0,
            0,
        )
    };
    ret(r).map(|p| p as i32)
}

pub fn unshare(flags: u64) -> R<usize> {
    sc!(unshare, flags)
}

pub fn setns(fd: i32, nstype: u64) -> R<usize> {
    sc!(setns, fd, nstype)
}

/// wait4 on `pid` (or -1); returns (pid, raw status).
pub fn wait4(pid: i32, options: u32) -> R<(i32, i32)> {
    let mut status = 0i32;
    loop {
        match sc!(wait4, pid, &mut status as *mut i32, options, 0) {
            Err(EINTR) => continue,
            Ok(p) => return Ok((p as i32, status)),
            Err(e) => return Err(e),
        }
    }
}

pub const WNOHANG: u32 = 1;

/// Turns a wait status into a shell-style exit code (128+N for a signal).
pub fn exit_code(status: i32) -> i32 {
    let sig = status & 0x7f;
    if sig == 0 {
        (status >> 8) & 0xff
    } else {
        128 + sig
    }
}

pub fn term_signal(status: i32) -> i32 {
    status & 0x7f
}

pub fn pidfd_open(pid: i32) -> R<Fd> {
    sc!(pidfd_open, pid, 0).map(|fd| Fd(fd as i32))
}

pub fn pidfd_send_signal(pidfd: i32, sig: i32) -> R<usize> {
    sc!(pidfd_send_signal, pidfd, sig, 0, 0)
}

/// execve with argv and envp as NUL-terminated pointer arrays; returns
/// only on failure.
pub fn execve(path: *const u8, argv: &[*const u8], envp: &[*const u8]) -> Errno {
    match sc!(execve, path, argv.as_ptr(), envp.as_ptr()) {
        Err(e) => e,
        Ok(_) => EINVAL,
    }
}

pub fn execveat(fd: i32, argv: &[*const u8], envp: &[*const u8]) -> Errno {
    match sc!(
        execveat,
        fd,
        c"".as_ptr().cast::<u8>(),
        argv.as_ptr(),
        envp.as_ptr(),
        g::AT_EMPTY_PATH
    ) {
        Err(e) => e,
        Ok(_) => EINVAL,
    }
}

pub fn close_range(first: u32, last: u32, flags: u32) -> R<usize> {
    sc!(close_range, first, last, flags)
}

pub const CLOSE_RANGE_CLOEXEC: u32 = 4;

pub fn prctl(op: u32, a: usize, b: usize, c: usize, d: usize) -> R<usize> {
    sc!(prctl, op, a, b, c, d)
}

pub fn memfd_create(name: &[u8], flags: u32) -> R<Fd> {
    path_sc(
        Sysno::memfd_create,
        0,
        &[Some(name)],
        [0, flags as usize, 0, 0, 0, 0],
    )
    .map(|fd| Fd(fd as i32))
}

/// Reads /proc/self/exe-like files: the whole fd into `out`.
pub fn sendfile(out: i32, inp: i32, count: usize) -> R<usize> {
    sc!(sendfile, out, inp, 0, count)
}

/// A sealed, read-only in-memory copy of our own executable: what runs
/// inside a container is never the writable host binary (CVE-2019-5736).
pub fn sealed_self() -> R<Fd> {
    let exe = open(b"/proc/self/exe", O_RDONLY, 0)?;
    let mem = memfd_create(b"thinbox", 1 | 2)?; // MFD_CLOEXEC | MFD_ALLOW_SEALING
    while sendfile(mem.raw(), exe.raw(), 1 << 20)? > 0 {}
    // F_ADD_SEALS: SEAL | SHRINK | GROW | WRITE
    fcntl(mem.raw(), 1033, 1 | 2 | 4 | 8)?;
    Ok(mem)
}

pub fn prlimit(resource: u32, soft: u64, hard: u64) -> R<usize> {
    let lim = [soft, hard];
    sc!(prlimit64, 0, resource, lim.as_ptr(), 0)
}

// ---- signals ----

pub type SigSet = u64;

pub fn sigbit(sig: i32) -> SigSet {
    1u64 << (sig - 1)
}

pub const SIG_BLOCK: u32 = 0;
pub const SIG_SETMASK: u32 = 2;

pub fn sigprocmask(how: u32, set: SigSet) -> R<SigSet> {
    let mut old: SigSet = 0;
    sc!(
        rt_sigprocmask,
        how,
        &set as *const SigSet,
        &mut old as *mut SigSet,
        8
    )?;
    Ok(old)
}

pub fn signalfd(set: SigSet) -> R<Fd> {
    sc!(
        signalfd4,
        -1i32,
        &set as *const SigSet,
        8,
        O_CLOEXEC | O_NONBLOCK
    )
    .map(|fd| Fd(fd as i32))
}

/// Reads one signal number from a signalfd (the struct is 128 bytes).
pub fn signalfd_read(fd: i32) -> R<i32> {
    let mut info = [0u8; 128];
    read(fd, &mut info)?;
    Ok(u32::from_ne_bytes([info[0], info[1], info[2], info[3]]) as i32)
}

/// Sets the disposition of `sig` to default (0) or ignore (1).
pub fn signal_default(sig: i32, ignore: bool) -> R<usize> {
    let act = [ignore as usize, 0, 0, 0];
    sc!(rt_sigaction, sig, act.as_ptr(), 0, 8)
}

/// Waits for one of `set` (which must be blocked); returns the signal.
pub fn sigtimedwait(set: SigSet, timeout_ms: Option<u64>) -> R<i32> {
    let ts = timeout_ms.map(|ms| g::timespec {
        tv_sec: (ms / 1000) as _,
        tv_nsec: ((ms % 1000) * 1_000_000) as _,
    });
    let tp = match &ts {
        Some(t) => t as *const g::timespec,
        None => core::ptr::null(),
    };
    sc!(rt_sigtimedwait, &set as *const SigSet, 0, tp, 8).map(|s| s as i32)
}

// ---- poll ----

#[repr(C)]
pub struct PollFd {
    pub fd: i32,
    pub events: i16,
    pub revents: i16,
}

pub const POLLIN: i16 = 1;
pub const POLLOUT: i16 = 4;
pub const POLLERR: i16 = 8;
pub const POLLHUP: i16 = 16;

pub fn poll(fds: &mut [PollFd], timeout_ms: i64) -> R<usize> {
    let ts = g::timespec {
        tv_sec: (timeout_ms / 1000) as _,
        tv_nsec: ((timeout_ms % 1000) * 1_000_000) as _,
    };
    let tp = if timeout_ms < 0 {
        core::ptr::null()
    } else {
        &ts as *const g::timespec
    };
    sc!(ppoll, fds.as_mut_ptr(), fds.len(), tp, 0, 8)
}

// ---- ioctl and terminals ----

pub fn ioctl(fd: i32, req: u32, arg: usize) -> R<usize> {
    sc!(ioctl, fd, req, arg)
}

pub fn tcgetattr(fd: i32) -> R<Termios> {
    // SAFETY: plain old data.
    let mut t: Termios = unsafe { zeroed() };
    ioctl(
        fd,
        linux_raw_sys::ioctl::TCGETS,
        &mut t as *mut Termios as usize,
    )?;
    Ok(t)
}

pub fn tcsetattr(fd: i32, t: &Termios) -> R<usize> {
    ioctl(
        fd,
        linux_raw_sys::ioctl::TCSETSW,
        t as *const Termios as usize,
    )
}

pub fn isatty(fd: i32) -> bool {
    tcgetattr(fd).is_ok()
}

pub fn get_winsize(fd: i32) -> R<Winsize> {
    let mut w = Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    ioctl(
        fd,
        linux_raw_sys::ioctl::TIOCGWINSZ,
        &mut w as *mut Winsize as usize,
    )?;
    Ok(w)
}

pub fn set_winsize(fd: i32, w: &Winsize) -> R<usize> {
    ioctl(
        fd,
        linux_raw_sys::ioctl::TIOCSWINSZ,
        w as *const Winsize as usize,
    )
}

/// Unlocks a pty master and returns its slave number.
pub fn pty_unlock(master: i32) -> R<u32> {
    let zero: i32 = 0;
    ioctl(
        master,
        linux_raw_sys::ioctl::TIOCSPTLCK,
        &zero as *const i32 as usize,
    )?;
    let mut n: u32 = 0;
    ioctl(
        master,
        linux_raw_sys::ioctl::TIOCGPTN,
        &mut n as *mut u32 as usize,
    )?;
    Ok(n)
}

pub fn set_ctty(fd: i32) -> R<usize> {
    ioctl(fd, linux_raw_sys::ioctl::TIOCSCTTY, 0)
}

// ---- sockets ----

pub const AF_UNIX: u32 = 1;
pub const AF_INET: u32 = 2;
pub const SOCK_STREAM: u32 = 1;
pub const SOCK_DGRAM: u32 = 2;
pub const SOCK_SEQPACKET: u32 = 5;
pub const SOCK_CLOEXEC: u32 = O_CLOEXEC;

pub fn socket(domain: u32, kind: u32) -> R<Fd> {
    sc!(socket, domain, kind | SOCK_CLOEXEC, 0).map(|fd| Fd(fd as i32))
}

pub fn socketpair(kind: u32) -> R<(Fd, Fd)> {
    let mut fds = [0i32; 2];
    sc!(
        socketpair,
        AF_UNIX,
        kind | SOCK_CLOEXEC,
        0,
        fds.as_mut_ptr()
    )?;
    Ok((Fd(fds[0]), Fd(fds[1])))
}

/// Builds a sockaddr_un; returns it with its length.
fn sockaddr_un(path: &[u8]) -> R<([u8; 110], usize)> {
    let mut a = [0u8; 110];
    if path.len() >= 108 {
        return Err(Errno(36));
    }
    a[..2].copy_from_slice(&(AF_UNIX as u16).to_ne_bytes());
    a[2..2 + path.len()].copy_from_slice(path);
    Ok((a, 2 + path.len() + 1))
}

pub fn connect_unix(fd: i32, path: &[u8]) -> R<usize> {
    let (a, len) = sockaddr_un(path)?;
    sc!(connect, fd, a.as_ptr(), len)
}

pub fn bind_unix(fd: i32, path: &[u8]) -> R<usize> {
    let (a, len) = sockaddr_un(path)?;
    sc!(bind, fd, a.as_ptr(), len)
}

pub fn listen(fd: i32) -> R<usize> {
    sc!(listen, fd, 16)
}

pub fn accept(fd: i32) -> R<Fd> {
    sc!(accept4, fd, 0, 0, O_CLOEXEC).map(|f| Fd(f as i32))
}

#[repr(C)]
struct IoVec {
    base: *const u8,
    len: usize,
}

#[repr(C)]
struct MsgHdr {
    name: usize,
    namelen: u32,
    iov: *const IoVec,
    iovlen: usize,
    control: *mut u8,
    controllen: usize,
    flags: u32,
}

const SOL_SOCKET: i32 = 1;
const SCM_RIGHTS: i32 = 1;

/// Sends `data` with an optional fd attached (SCM_RIGHTS).
pub fn send_with_fd(sock: i32, data: &[u8], fd: Option<i32>) -> R<usize> {
    let iov = IoVec {
        base: data.as_ptr(),
        len: data.len(),
    };
    // cmsghdr (len, level, type) + one int, padded to 8.
    let mut cbuf = [0u64; 3];
    let mut msg = MsgHdr {
        name: 0,
        namelen: 0,
        iov: &iov,
        iovlen: 1,
        control: core::ptr::null_mut(),
        controllen: 0,
        flags: 0,
    };
    if let Some(fd) = fd {
        cbuf[0] = 20; // CMSG_LEN(sizeof(int))
        cbuf[1] = (SOL_SOCKET as u32 as u64) | ((SCM_RIGHTS as u32 as u64) << 32);
        cbuf[2] = fd as u32 as u64;
        msg.control = cbuf.as_mut_ptr() as *mut u8;
        msg.controllen = 24;
    }
    sc!(sendmsg, sock, &msg as *const MsgHdr, 0x4000u32)
}

/// Receives into `data`; returns the byte count and an attached fd, if any.
pub fn recv_with_fd(sock: i32, data: &mut [u8]) -> R<(usize, Option<Fd>)> {
    let iov = IoVec {
        base: data.as_mut_ptr(),
        len: data.len(),
    };
    let mut cbuf = [0u64; 3];
    let mut msg = MsgHdr {
        name: 0,
        namelen: 0,
        iov: &iov,
        iovlen: 1,
        control: cbuf.as_mut_ptr() as *mut u8,
        controllen: 24,
        flags: 0,
    };
    let n = loop {
        match sc!(recvmsg, sock, &mut msg as *mut MsgHdr, 0x4000_0000u32) {
            // A peer that closed with our message unread leaves ECONNRESET,
            // reported once and ahead of what it sent us: read on past it.
            Err(EINTR | ECONNRESET) => continue,
            r => break r?,
        }
    };
    let fd = if msg.controllen >= 20 && cbuf[1] == (SOL_SOCKET as u64 | ((SCM_RIGHTS as u64) << 32))
    {
        Some(Fd(cbuf[2] as u32 as i32))
    } else {
        None
    };
    Ok((n, fd))
}

/// Brings up `lo` (SIOCSIFFLAGS with IFF_UP), the only interface a new network namespace has.
pub fn loopback_up() -> R<usize> {
    let s = socket(AF_INET, SOCK_DGRAM)?;
    let mut ifr = [0u8; 40];
    ifr[..2].copy_from_slice(b"lo");
    ioctl(
        s.0,
        linux_raw_sys::ioctl::SIOCGIFFLAGS,
        ifr.as_mut_ptr() as usize,
    )?;
    ifr[16] |= 1; // IFF_UP in ifr_flags
    ioctl(
        s.0,
        linux_raw_sys::ioctl::SIOCSIFFLAGS,
        ifr.as_mut_ptr() as usize,
    )
}

// ---- memory ----

pub fn mmap_anon(len: usize) -> R<*mut u8> {
    sc!(
        mmap,
        0,
        len,
        g::PROT_READ | g::PROT_WRITE,
        g::MAP_PRIVATE | g::MAP_ANONYMOUS,
        -1i32,
        0
    )
    .map(|p| p as *mut u8)
}

// ---- capabilities and seccomp ----

/// Sets the effective, permitted and inheritable sets (64-bit, v3).
pub fn capset(eff: u64, perm: u64, inh: u64) -> R<usize> {
    let hdr = [0x2008_0522u32, 0];
    let data = [
        eff as u32,
        perm as u32,
        inh as u32,
        (eff >> 32) as u32,
        (perm >> 32) as u32,
        (inh >> 32) as u32,
    ];
    sc!(capset, hdr.as_ptr(), data.as_ptr())
}

/// Returns (effective, permitted, inheritable).
pub fn capget() -> R<(u64, u64, u64)> {
    let hdr = [0x2008_0522u32, 0];
    let mut d = [0u32; 6];
    sc!(capget, hdr.as_ptr(), d.as_mut_ptr())?;
    let j = |lo: u32, hi: u32| lo as u64 | (hi as u64) << 32;
    Ok((j(d[0], d[3]), j(d[1], d[4]), j(d[2], d[5])))
}

/// Installs a classic BPF seccomp filter of 8-byte instructions.
pub fn seccomp_filter(prog: &[u64], flags: u32) -> R<usize> {
    #[repr(C)]
    struct Fprog {
        len: u16,
        filter: *const u64,
    }
    let p = Fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr(),
    };
    sc!(seccomp, 1, flags, &p as *const Fprog)
}

// ---- process entry and the intrinsics a no-libc binary must supply ----

#[cfg(all(not(test), target_arch = "x86_64"))]
core::arch::global_asm!(
    // Its own section, so that cross/hot.ld can place it with the hot path.
    ".pushsection .text._start,\"ax\",@progbits",
    ".globl _start",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {entry}",
    "ud2",
    ".popsection",
    entry = sym entry,
);

#[cfg(all(not(test), target_arch = "aarch64"))]
core::arch::global_asm!(
    ".pushsection .text._start,\"ax\",@progbits",
    ".globl _start",
    "_start:",
    "mov x29, #0",
    "mov x30, #0",
    "mov x0, sp",
    "bl {entry}",
    "brk #1",
    ".popsection",
    entry = sym entry,
);

/// Reads argc, argv and envp from the initial stack.
#[cfg(not(test))]
unsafe extern "C" fn entry(sp: *const usize) -> ! {
    // SAFETY: the kernel lays out argc, argv[argc], NULL, envp..., NULL at sp.
    let (argc, argv) = unsafe { (*sp, sp.add(1) as *const *const u8) };
    // SAFETY: as above; envp starts after argv's NULL terminator.
    let envp = unsafe { argv.add(argc + 1) };
    let mut v = alloc::vec::Vec::with_capacity(argc);
    for i in 0..argc {
        // SAFETY: i < argc, and each argv entry is a NUL-terminated string
        // that lives for the whole process.
        v.push(unsafe { cstr(*argv.add(i)) });
    }
    let mut e = alloc::vec::Vec::new();
    let mut i = 0;
    loop {
        // SAFETY: envp is NULL-terminated; we stop at the terminator.
        let p = unsafe { *envp.add(i) };
        if p.is_null() {
            break;
        }
        // SAFETY: a NUL-terminated string that lives for the whole process.
        e.push(unsafe { cstr(p) });
        i += 1;
    }
    crate::rt::init(v, e);
    exit(crate::main())
}

/// Borrows a C string as a slice that lives for the whole process.
///
/// # Safety
/// `p` must point to a NUL-terminated string that is never freed.
#[cfg(not(test))]
unsafe fn cstr(p: *const u8) -> &'static [u8] {
    // SAFETY: per the contract above.
    unsafe { core::slice::from_raw_parts(p, strlen(p)) }
}

// Volatile accesses keep LLVM from turning these loops back into calls to
// themselves.
#[cfg(not(test))]
#[unsafe(no_mangle)]
#[inline(never)]
unsafe extern "C" fn memcpy(d: *mut u8, s: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees both ranges are valid for n bytes.
    unsafe {
        for i in 0..n {
            core::ptr::write_volatile(d.add(i), core::ptr::read_volatile(s.add(i)));
        }
    }
    d
}

#[cfg(not(test))]
#[unsafe(no_mangle)]
#[inline(never)]
unsafe extern "C" fn memmove(d: *mut u8, s: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees both ranges are valid; copying backwards
    // when dst is above src handles overlap.
    unsafe {
        if (d as usize) <= (s as usize) {
            for i in 0..n {
                core::ptr::write_volatile(d.add(i), core::ptr::read_volatile(s.add(i)));
            }
        } else {
            let mut i = n;
            while i > 0 {
                i -= 1;
                core::ptr::write_volatile(d.add(i), core::ptr::read_volatile(s.add(i)));
            }
        }
    }
    d
}

#[cfg(not(test))]
#[unsafe(no_mangle)]
#[inline(never)]
unsafe extern "C" fn memset(d: *mut u8, c: i32, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees d is valid for n bytes.
    unsafe {
        for i in 0..n {
            core::ptr::write_volatile(d.add(i), c as u8);
        }
    }
    d
}

#[cfg(not(test))]
#[unsafe(no_mangle)]
#[inline(never)]
unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the caller guarantees both ranges are valid for n bytes.
    unsafe {
        for i in 0..n {
            let (x, y) = (
                core::ptr::read_volatile(a.add(i)),
                core::ptr::read_volatile(b.add(i)),
            );
            if x != y {
                return x as i32 - y as i32;
            }
        }
    }
    0
}

#[cfg(not(test))]
#[unsafe(no_mangle)]
#[inline(never)]
unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller passes a NUL-terminated string.
    unsafe {
        while core::ptr::read_volatile(s.add(n)) != 0 {
            n += 1;
        }
    }
    n
}

#[cfg(not(test))]
#[unsafe(no_mangle)]
#[inline(never)]
unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}

/// A process-wide value for a single-threaded program: set once at start
/// (before any `get`), read everywhere after.
pub struct Global<T>(core::cell::UnsafeCell<T>);

// SAFETY: thinbox is single-threaded; clone children get their own copy.
unsafe impl<T> Sync for Global<T> {}

impl<T> Global<T> {
    pub const fn new(v: T) -> Global<T> {
        Global(core::cell::UnsafeCell::new(v))
    }
    /// Callers set a Global only during start-up, before any `get`.
    pub fn set(&self, v: T) {
        // SAFETY: no reference from `get` exists yet (start-up only).
        unsafe { *self.0.get() = v }
    }
    pub fn get(&'static self) -> &'static T {
        // SAFETY: after start-up the value is never written again.
        unsafe { &*self.0.get() }
    }
}

/// The bump arena behind the global allocator: untouched pages cost no
/// memory, and a short-lived runtime never needs to give memory back.
pub struct Arena {
    base: core::cell::UnsafeCell<usize>,
    top: core::cell::UnsafeCell<usize>,
    end: core::cell::UnsafeCell<usize>,
}

// SAFETY: thinbox is single-threaded; clone children get their own copy.
unsafe impl Sync for Arena {}

const ARENA_CHUNK: usize = 1 << 20;
// Placed last by cross/layout.ld, so that the small statics share a page.
#[unsafe(link_section = ".bss.thinbox_arena")]
static mut ARENA_BSS: [u8; ARENA_CHUNK] = [0; ARENA_CHUNK];

impl Arena {
    pub const fn new() -> Arena {
        Arena {
            base: core::cell::UnsafeCell::new(0),
            top: core::cell::UnsafeCell::new(0),
            end: core::cell::UnsafeCell::new(0),
        }
    }
}

impl Default for Arena {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: blocks never overlap: top only grows, except when the most recent
// block is freed or resized in place.
unsafe impl core::alloc::GlobalAlloc for Arena {
    unsafe fn alloc(&self, l: core::alloc::Layout) -> *mut u8 {
        // SAFETY: single-threaded access to the cells.
        unsafe {
            let (top, end) = (&mut *self.top.get(), &mut *self.end.get());
            if *end == 0 {
                *top = core::ptr::addr_of_mut!(ARENA_BSS) as usize;
                *end = *top + ARENA_CHUNK;
            }
            let start = (*top + l.align() - 1) & !(l.align() - 1);
            if start + l.size() > *end {
                let len = (l.size() + l.align() + ARENA_CHUNK) & !(ARENA_CHUNK - 1);
                match mmap_anon(len) {
                    Ok(p) => {
                        *top = p as usize;
                        *end = p as usize + len;
                    }
                    Err(_) => return core::ptr::null_mut(),
                }
                return self.alloc(l);
            }
            *self.base.get() = start;
            *top = start + l.size();
            start as *mut u8
        }
    }

    #[inline(never)]
    unsafe fn dealloc(&self, p: *mut u8, l: core::alloc::Layout) {
        // SAFETY: single-threaded access; only the newest block rolls back.
        unsafe {
            if p as usize + l.size() == *self.top.get() {
                *self.top.get() = p as usize;
            }
        }
    }

    unsafe fn realloc(&self, p: *mut u8, l: core::alloc::Layout, new: usize) -> *mut u8 {
        // SAFETY: single-threaded; the newest block grows in place when it fits.
        unsafe {
            let top = &mut *self.top.get();
            if p as usize + l.size() == *top && p as usize + new <= *self.end.get() {
                *top = p as usize + new;
                return p;
            }
            let n = self.alloc(core::alloc::Layout::from_size_align_unchecked(
                new,
                l.align(),
            ));
            if !n.is_null() {
                core::ptr::copy_nonoverlapping(p, n, l.size().min(new));
            }
            n
        }
    }
}

pub fn getcwd(buf: &mut [u8]) -> R<&[u8]> {
    let n = sc!(getcwd, buf.as_mut_ptr(), buf.len())?;
    // The kernel counts the NUL.
    Ok(&buf[..n.saturating_sub(1)])
}

/// Number of CPUs this process may run on.
pub fn cpu_count() -> u32 {
    let mut mask = [0u64; 16];
    match sc!(
        sched_getaffinity,
        0,
        core::mem::size_of_val(&mask),
        mask.as_mut_ptr()
    ) {
        // Bit by bit: count_ones is ~200 B of bit tricks without popcnt.
        Ok(n) => (0..n * 8)
            .map(|i| (mask[i / 64] >> (i % 64)) as u32 & 1)
            .sum(),
        Err(_) => 1,
    }
}

/// flock(2); `op` is LOCK_SH 1, LOCK_EX 2, LOCK_UN 8, plus LOCK_NB 4.
pub fn flock(fd: i32, op: u32) -> R<usize> {
    sc!(flock, fd, op)
}

// ---- eBPF device programs (cgroup v2 device control) ----

/// Loads a BPF_PROG_TYPE_CGROUP_DEVICE program of 8-byte instructions.
pub fn bpf_load_device_prog(insns: &[u64]) -> R<Fd> {
    // union bpf_attr, BPF_PROG_LOAD part: prog_type, insn_cnt, insns,
    // license; the rest stays zero.
    let mut attr = [0u64; 16];
    attr[0] = 15 | ((insns.len() as u64) << 32); // BPF_PROG_TYPE_CGROUP_DEVICE
    attr[1] = insns.as_ptr() as u64;
    attr[2] = c"GPL".as_ptr() as u64;
    sc!(bpf, 5, attr.as_ptr(), core::mem::size_of_val(&attr)).map(|fd| Fd(fd as i32))
}

/// BPF_OBJ_GET: an fd for the object pinned at `path` in a bpffs.
// Out of line, like the other path calls: each holds a 4 KiB path buffer,
// and inlined ones would stack up in the caller's frame.
#[inline(never)]
pub fn bpf_obj_get(path: &[u8]) -> R<Fd> {
    with_path(path, |p| {
        let attr = [p as u64, 0, 0];
        sc!(bpf, 7, attr.as_ptr(), core::mem::size_of_val(&attr))
    })
    .map(|fd| Fd(fd as i32))
}

/// BPF_OBJ_PIN: keeps the object `fd` alive at `path` in a bpffs.
#[inline(never)]
pub fn bpf_obj_pin(fd: i32, path: &[u8]) -> R<usize> {
    with_path(path, |p| {
        let attr = [p as u64, fd as u32 as u64, 0];
        sc!(bpf, 6, attr.as_ptr(), core::mem::size_of_val(&attr))
    })
}

/// Attaches a device program to the cgroup directory `cgroup`.
pub fn bpf_attach_device(cgroup: i32, prog: i32) -> R<usize> {
    // target_fd, attach_bpf_fd, attach_type BPF_CGROUP_DEVICE (6),
    // attach_flags BPF_F_ALLOW_MULTI (2).
    let attr: [u32; 8] = [cgroup as u32, prog as u32, 6, 2, 0, 0, 0, 0];
    sc!(bpf, 8, attr.as_ptr(), core::mem::size_of_val(&attr))
}

unsafe extern "C" {
    // Defined by the linker: the ELF header (start of the image) and the
    // end of .text; read-only data lies between them on both targets.
    static __ehdr_start: u8;
    static etext: u8;
}

// The idle sleep itself: madvise(DONTNEED) over three ranges, then one
// blocking syscall. Hand-written so that it calls nothing and reads no
// constant: its page is the only page of the image that stays mapped while
// it sleeps. Aligned so that it cannot straddle two pages.
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".pushsection .text.thinbox_idle,\"ax\",@progbits",
    ".p2align 7",
    "thinbox_idle:",
    "mov r9, rdi",
    "mov eax, 28",
    "mov rdi, [r9]",
    "mov rsi, [r9 + 8]",
    "mov edx, 4",
    "syscall",
    "mov eax, 28",
    "mov rdi, [r9 + 16]",
    "mov rsi, [r9 + 24]",
    "mov edx, 4",
    "syscall",
    "mov eax, 28",
    "mov rdi, [r9 + 32]",
    "mov rsi, [r9 + 40]",
    "mov edx, 4",
    "syscall",
    "mov rax, [r9 + 48]",
    "mov rdi, [r9 + 56]",
    "mov rsi, [r9 + 64]",
    "mov rdx, [r9 + 72]",
    "mov r10, [r9 + 80]",
    "mov r8, [r9 + 88]",
    "syscall",
    "ret",
    ".popsection",
);

#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".pushsection .text.thinbox_idle,\"ax\",@progbits",
    ".p2align 7",
    "thinbox_idle:",
    "mov x9, x0",
    "mov x8, #233",
    "ldp x0, x1, [x9]",
    "mov x2, #4",
    "svc #0",
    "mov x8, #233",
    "ldp x0, x1, [x9, #16]",
    "mov x2, #4",
    "svc #0",
    "mov x8, #233",
    "ldp x0, x1, [x9, #32]",
    "mov x2, #4",
    "svc #0",
    "ldr x8, [x9, #48]",
    "ldp x0, x1, [x9, #56]",
    "ldp x2, x3, [x9, #72]",
    "ldr x4, [x9, #88]",
    "svc #0",
    "ret",
    ".popsection",
);

unsafe extern "C" {
    /// args: three (address, length) ranges to drop, then a syscall
    /// number and its five arguments.
    fn thinbox_idle(args: *const usize) -> usize;
}

/// Makes a blocking syscall holding only the pages an idle process needs:
/// the image's text and read-only data (file-backed, faulted back in when
/// it wakes) and the stack below this frame are dropped first. Sleeping
/// in ordinary code would fault 64 KiB of the image straight back in (the
/// kernel's fault-around).
#[inline(never)]
fn idle_syscall(nr: Sysno, a: [usize; 5]) -> R<usize> {
    let lo = &raw const __ehdr_start as usize;
    let hi = (&raw const etext as usize + 4095) & !4095;
    let keep = thinbox_idle as *const () as usize & !4095;
    let marker = 0u8;
    // One page of slack under this frame for the call into thinbox_idle.
    let sp = (core::ptr::addr_of!(marker) as usize & !4095) - 4096;
    let args = [
        lo,
        keep - lo,
        keep + 4096,
        hi.saturating_sub(keep + 4096),
        sp - (1 << 20),
        1 << 20,
        nr as usize,
        a[0],
        a[1],
        a[2],
        a[3],
        a[4],
    ];
    // SAFETY: the dropped image pages are private, read-only file mappings
    // that come back unchanged from the file on the next access; the stack
    // below this frame (less a page) holds nothing live. Unmapped parts of
    // the stack range are skipped (ENOMEM, which the last result replaces).
    // The callers' pointer arguments live across the call.
    ret(unsafe { thinbox_idle(args.as_ptr()) })
}

/// poll(2) without a timeout, asleep at next to no memory.
pub fn idle_poll(fds: &mut [PollFd]) -> R<usize> {
    idle_syscall(
        Sysno::ppoll,
        [fds.as_mut_ptr() as usize, fds.len(), 0, 0, 8],
    )
}

/// sigtimedwait(2) without a timeout, asleep at next to no memory.
pub fn idle_sigwait(set: SigSet) -> R<i32> {
    idle_syscall(
        Sysno::rt_sigtimedwait,
        [&set as *const SigSet as usize, 0, 0, 8, 0],
    )
    .map(|s| s as i32)
}
