//! Namespaces and spawn: clone3 straight into the cgroup (or a handshake
//! where the kernel lacks CLONE_INTO_CGROUP), the child's setup sequence,
//! and the sync channel that reports the child's failures to the parent.

use crate::caps;
use crate::cgroup::Cgroup;
use crate::rootfs;
use crate::rt::{self, Buf, Ctx, Error, Res, S, cat};
use crate::spec::Container;
use crate::sys::{self, Fd};
use alloc::vec::Vec;

/// Signals `run` forwards to the container.
pub const FORWARD: [i32; 5] = [
    sys::SIGINT,
    sys::SIGTERM,
    sys::SIGHUP,
    sys::SIGQUIT,
    sys::SIGWINCH,
];

pub fn forward_set() -> sys::SigSet {
    FORWARD
        .iter()
        .fold(sys::sigbit(sys::SIGCHLD), |s, &g| s | sys::sigbit(g))
}

// Messages from child to parent on the sync socket.
const MSG_ERROR: u8 = b'E';
const MSG_PTY: u8 = b'T';
const MSG_READY: u8 = b'R';
const MSG_HOOKS: u8 = b'H';
// Parent to child.
const MSG_GO: u8 = b'G';

pub struct Child {
    pub pid: i32,
    /// The pty master, for `-t`.
    pub pty: Option<Fd>,
    pub sync: Fd,
}

/// Runs createRuntime and prestart hooks for the child's pid while the
/// child waits before pivot_root; returns the state JSON for its hooks.
pub type HookSync<'a> = &'a dyn Fn(i32) -> Res<Vec<u8>>;

/// What the child needs besides the container description.
pub struct Opts<'a> {
    /// Kill the container when thinbox dies (foreground `run`).
    pub die_with_parent: bool,
    /// OCI create: after setup, report ready and block reading this fd (the
    /// exec fifo) until `start` writes to it.
    pub start_fd: Option<i32>,
    /// Inherited fds 3..3+N that stay open in the container.
    pub preserve_fds: u32,
    pub hooks: Option<&'a [Vec<crate::oci::Hook>; 6]>,
    pub hook_sync: Option<HookSync<'a>>,
    pub winsize: Option<sys::Winsize>,
    pub sigmask: sys::SigSet,
    /// A sealed copy of thinbox to exec as the container's init.
    pub init_fd: Option<i32>,
    /// Join `c.join` of a running container instead of setting one up.
    pub joining: bool,
}

/// Clones the container's init. On success the child has exec'd (or, with
/// `start_fd`, is waiting for start); every setup failure comes back
/// as an Error naming the step, with the child reaped.
pub fn spawn(c: &Container, cg: Option<&Cgroup>, o: &Opts) -> Res<Child> {
    if c.caps.raisable_ambient() != c.caps.ambient {
        crate::container::warn(Error::new(
            b"process.capabilities.ambient",
            b"a capability that is not also permitted and inheritable is not raised",
        ));
    }
    let (parent_end, child_end) = sys::socketpair(sys::SOCK_SEQPACKET).ctx(b"socketpair")?;
    let cgfd = cg
        .and_then(|g| g.fd.as_ref())
        .map(|f| f.raw())
        .unwrap_or(-1);
    let mut flags = c.namespaces;
    let userns = c.namespaces & sys::CLONE_NEWUSER != 0;
    let mut handshake = cg.is_some() || userns;
    // The device program loads while the child mounts; the child waits for
    // it before its last steps. Early hooks use the channel, so not then.
    // (v1 hierarchies take device rules as files, at creation.)
    let devices = cg.filter(|g| g.v1.is_empty() && !c.resources.devices.is_empty() && !o.joining);
    let late = devices.is_some() && !has_early_hooks(o);
    if !late && let Some(g) = devices {
        g.attach_devices(&c.resources.devices)?;
    }
    // Joining a PID namespace only applies to children: do it here.
    for &(ns, path) in &c.join {
        if ns == sys::CLONE_NEWPID {
            let fd = open_ns(path)?;
            sys::setns(fd.raw(), ns).ctx(b"joining the container's PID namespace")?;
        }
    }
    // The cgroup namespace must be made after the child joins its cgroup,
    // so a handshake unshares it in the child instead.
    if cgfd < 0 && cg.is_some() {
        flags &= !sys::CLONE_NEWCGROUP;
    }
    let mut r = sys::clone3(flags, cgfd);
    if cgfd >= 0 {
        handshake = userns;
        if matches!(r, Err(sys::E2BIG) | Err(sys::EINVAL)) {
            // Kernels 5.3 to 5.6: clone3 without CLONE_INTO_CGROUP.
            handshake = true;
            flags &= !sys::CLONE_NEWCGROUP;
            r = sys::clone3(flags, -1);
        }
    }
    if r == Err(sys::ENOSYS) {
        handshake = cg.is_some() || userns;
        if handshake {
            flags &= !sys::CLONE_NEWCGROUP;
        }
        r = sys::clone_fork(flags);
    }
    let pid = r.ctx(b"clone")?;
    if pid == 0 {
        drop(parent_end);
        let code = match child(c, o, child_end.raw(), handshake, late, flags) {
            Ok(never) => match never {},
            Err(e) => {
                report(child_end.raw(), &e);
                e.code()
            }
        };
        sys::exit(code);
    }
    drop(child_end);
    let fail = |e: Error| {
        let _ = sys::kill(pid, sys::SIGKILL);
        let _ = sys::wait4(pid, 0);
        e
    };
    if handshake {
        if let Some(g) = cg
            && g.fd.is_none()
        {
            g.place(pid).map_err(fail)?;
        }
        if userns {
            write_idmaps(c, pid).map_err(fail)?;
        }
        let _ = sys::send_with_fd(parent_end.raw(), &[MSG_GO], None);
    }
    if late && let Some(g) = devices {
        g.attach_devices(&c.resources.devices).map_err(fail)?;
        let _ = sys::send_with_fd(parent_end.raw(), &[MSG_GO], None);
    }
    let mut child = Child {
        pid,
        pty: None,
        sync: parent_end,
    };
    loop {
        let mut buf = [0u8; 1024];
        let (n, fd) = match sys::recv_with_fd(child.sync.raw(), &mut buf) {
            Ok(x) => x,
            Err(e) => return Err(fail(Error::sys(b"reading from the container", e))),
        };
        match (n > 0).then_some(buf[0]) {
            // EOF: the socket closed on a successful exec.
            None => return Ok(child),
            Some(MSG_PTY) => child.pty = fd,
            Some(MSG_HOOKS) => {
                let json = match o.hook_sync {
                    Some(f) => f(pid).map_err(fail)?,
                    None => Vec::new(),
                };
                let msg = cat(&[&[MSG_GO], &json]);
                let _ = sys::send_with_fd(child.sync.raw(), msg, None);
            }
            Some(MSG_READY) => return Ok(child),
            Some(MSG_ERROR) => {
                let _ = sys::wait4(pid, 0);
                return Err(Error::with(
                    buf.get(2..n).unwrap_or_default(),
                    buf[1] as i32,
                ));
            }
            Some(_) => {}
        }
    }
}

/// Sends a setup failure to the parent, who prints it once; once the
/// parent is gone (after OCI create), to the container's stderr.
fn report(sock: i32, e: &Error) {
    let msg = cat(&[&[MSG_ERROR, e.code() as u8], e.msg()]);
    if sys::send_with_fd(sock, msg, None).is_err() {
        rt::err(e.line());
    }
}

fn write_idmaps(c: &Container, pid: i32) -> Res<()> {
    write_idmap(pid, b"uid_map", &c.uid_map)?;
    write_idmap(pid, b"gid_map", &c.gid_map)
}

/// /proc/PID/NAME from `maps`; none leaves it unwritten.
#[inline(never)]
fn write_idmap(pid: i32, name: &[u8], maps: &[crate::spec::IdMap]) -> Res<()> {
    if maps.is_empty() {
        return Ok(());
    }
    let mut b = Buf::new();
    for m in maps {
        b.u(m.container as u64)
            .c(b' ')
            .u(m.host as u64)
            .c(b' ')
            .u(m.size as u64)
            .c(b'\n');
    }
    let mut path = Buf::new();
    path.s(b"/proc/").u(pid as u64).c(b'/').s(name);
    rt::write_file(path.as_slice(), b.as_slice()).map_err(|e| Error::sys2(b"writing ", name, e))
}

/// Opens a namespace to join (/proc/PID/ns/NAME or a bind of one).
#[inline(never)]
fn open_ns(path: &[u8]) -> Res<Fd> {
    sys::open(path, sys::O_RDONLY, 0).map_err(|e| Error::sys2(b"opening namespace ", path, e))
}

/// Whether the child stops before pivot_root for hooks.
fn has_early_hooks(o: &Opts) -> bool {
    o.hooks
        .is_some_and(|h| h[..4].iter().any(|l| !l.is_empty()))
}

enum Never {}

/// `handshake`: wait for the cgroup first; `late`: wait for the device
/// program before the last steps.
fn child(
    c: &Container,
    o: &Opts,
    sock: i32,
    handshake: bool,
    late: bool,
    flags: u64,
) -> Res<Never> {
    if o.die_with_parent {
        let _ = sys::prctl(1, sys::SIGKILL as usize, 0, 0, 0); // PR_SET_PDEATHSIG
    }
    if handshake {
        wait_go(sock, &mut [0], b"waiting for the cgroup")?;
        if c.namespaces & sys::CLONE_NEWCGROUP != 0 && flags & sys::CLONE_NEWCGROUP == 0 {
            sys::unshare(sys::CLONE_NEWCGROUP).ctx(b"unshare cgroup namespace")?;
        }
    }
    // Open every namespace first: after joining a mount namespace, /proc
    // paths would resolve in the container's /proc.
    let mut fds: Vec<(u64, Fd)> = Vec::new();
    for &(ns, path) in &c.join {
        if ns != sys::CLONE_NEWPID {
            fds.push((ns, open_ns(path)?));
        }
    }
    for (ns, fd) in &fds {
        sys::setns(fd.raw(), *ns).ctx(b"joining a namespace of the container")?;
    }
    drop(fds);
    // Marks every inherited fd but 0-2 close-on-exec: nothing from the host
    // reaches the container. The sync socket is already close-on-exec.
    let _ = sys::close_range(3 + o.preserve_fds, u32::MAX, sys::CLOSE_RANGE_CLOEXEC);
    // Exact modes for the nodes and dirs setup makes; finish restores.
    let umask = if o.joining {
        sys::umask(0o022)
    } else {
        sys::umask(0)
    };
    if o.joining {
        // `exec`: a process joining a running container must not expose
        // its (thinbox) image through /proc/PID/exe until it execs.
        let _ = sys::prctl(4, 0, 0, 0, 0); // PR_SET_DUMPABLE
        return finish(c, o, sock, b"", umask);
    }
    if c.namespaces & sys::CLONE_NEWUSER != 0 {
        // Become the mapped root of the new user namespace.
        sys::setresgid(0).ctx(b"setgid in the user namespace")?;
        sys::setresuid(0).ctx(b"setuid in the user namespace")?;
    }
    if c.namespaces & sys::CLONE_NEWUTS != 0 {
        sys::sethostname(c.hostname.unwrap_or(c.id)).ctx(b"sethostname")?;
        if let Some(d) = c.domainname {
            sys::setdomainname(d).ctx(b"setdomainname")?;
        }
    }
    if c.namespaces & sys::CLONE_NEWNET != 0 {
        sys::loopback_up().ctx(b"bringing up loopback")?;
    }
    let mut state_json: &[u8] = b"";
    let mut before_pivot = || -> Res<()> {
        if !has_early_hooks(o) {
            return Ok(());
        }
        sys::send_with_fd(sock, &[MSG_HOOKS], None).ctx(b"hooks")?;
        let mut buf = alloc::vec![0u8; 65536];
        let n = wait_go(sock, &mut buf, b"waiting for hooks")?;
        state_json = cat(&[buf.get(1..n).unwrap_or_default()]);
        if let Some(h) = o.hooks {
            crate::hooks::run(
                &h[crate::oci::CREATE_CONTAINER],
                state_json,
                b"createContainer",
            )?;
        }
        Ok(())
    };
    if !(rootfs::own_mounts(c) || c.mounts.is_empty() && c.sysctl.is_empty()) {
        rt::err(b"thinbox: warning: no mount namespace: mounts, sysctls, masked and read-only paths are not applied; the root is a chroot\n");
    }
    rootfs::setup(c, &mut before_pivot)?;
    for (key, val) in c.sysctl.iter().filter(|_| rootfs::own_mounts(c)) {
        let mut path = Buf::new();
        path.s(b"/proc/sys/").s(key);
        for ch in path.0.iter_mut().skip(10) {
            if *ch == b'.' {
                *ch = b'/';
            }
        }
        rt::write_file(path.as_slice(), val).map_err(|e| Error::sys2(b"sysctl ", key, e))?;
    }
    rootfs::protect(c)?;
    if let Some(adj) = c.oom_score_adj {
        let mut b = Buf::new();
        b.i(adj as i64);
        rt::write_file(b"/proc/self/oom_score_adj", b.as_slice()).ctx(b"oom_score_adj")?;
    }
    for l in &c.rlimits {
        sys::prlimit(l.resource, l.soft, l.hard).ctx(b"setrlimit")?;
    }
    if late {
        wait_go(sock, &mut [0], b"waiting for the cgroup")?;
    }
    finish(c, o, sock, state_json, umask)
}

/// Waits for the parent's go; what follows it is left in `buf`.
/// Returns the length received.
fn wait_go(sock: i32, buf: &mut [u8], what: &[u8]) -> Res<usize> {
    match sys::recv_with_fd(sock, buf) {
        Ok((n, _)) if n >= 1 && buf.first() == Some(&MSG_GO) => Ok(n),
        _ => Err(Error::new(what, b"the runtime went away")),
    }
}

/// The part every process of a container goes through: terminal, user,
/// capabilities, working directory, no_new_privs, seccomp, exec.
fn finish(c: &Container, o: &Opts, sock: i32, state_json: &[u8], umask: u32) -> Res<Never> {
    if c.tty {
        open_pty(sock, o)?;
    } else if !o.joining {
        // A new session: no controlling terminal shared with the caller, so
        // no TIOCSTI into it.
        let _ = sys::setsid();
    }
    if let Some(m) = c.umask {
        sys::umask(m);
    } else {
        sys::umask(umask);
    }
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which the
    // capability sets below may drop: load it first then.
    if !c.no_new_privs {
        load_seccomp(c)?;
    }
    if let Some(p) = c.apparmor {
        crate::apparmor::exec_into(p)?;
    }
    caps::before_setuid(&c.caps)?;
    sys::setgroups(&c.groups).ctx(b"setgroups")?;
    sys::setresgid(c.gid).ctx(b"setgid")?;
    sys::setresuid(c.uid).ctx(b"setuid")?;
    caps::after_setuid(&c.caps)?;
    if let Err(e) = sys::chdir(c.cwd) {
        return Err(Error::sys2(b"working directory ", c.cwd, e)
            .hint(b"create it in the rootfs or pick another -w"));
    }
    if let Some(fd) = o.start_fd {
        let _ = sys::send_with_fd(sock, &[MSG_READY], None);
        let _ = sys::close(sock);
        let mut b = [0u8; 1];
        loop {
            match sys::read(fd, &mut b) {
                Ok(1) => break,
                Err(sys::EINTR) => continue,
                _ => sys::exit(0),
            }
        }
        let _ = sys::close(fd);
        if let Some(h) = o.hooks {
            crate::hooks::run(
                &h[crate::oci::START_CONTAINER],
                state_json,
                b"startContainer",
            )?;
        }
    }
    if c.no_new_privs {
        sys::prctl(38, 1, 0, 0, 0).ctx(b"no_new_privs")?; // PR_SET_NO_NEW_PRIVS
        load_seccomp(c)?;
    }
    sys::sigprocmask(sys::SIG_SETMASK, o.sigmask).ctx(b"sigprocmask")?;
    Err(exec(c, o.init_fd))
}

fn load_seccomp(c: &Container) -> Res<()> {
    match &c.seccomp {
        Some(f) => sys::seccomp_filter(&f.prog, f.flags)
            .map(|_| ())
            .ctx(b"loading the seccomp filter"),
        None => Ok(()),
    }
}

/// Allocates a pty from the container's own devpts and makes it the
/// controlling terminal; the master goes to the parent.
fn open_pty(sock: i32, o: &Opts) -> Res<()> {
    let master = sys::open(b"/dev/pts/ptmx", sys::O_RDWR | sys::O_NOCTTY, 0)
        .ctx(b"opening /dev/pts/ptmx")?;
    let n = sys::pty_unlock(master.raw()).ctx(b"unlocking the pty")?;
    let mut p = Buf::new();
    p.s(b"/dev/pts/").u(n as u64);
    let slave = sys::open(p.as_slice(), sys::O_RDWR | sys::O_NOCTTY, 0).ctx(p.as_slice())?;
    if let Some(w) = &o.winsize {
        let _ = sys::set_winsize(slave.raw(), w);
    }
    sys::send_with_fd(sock, &[MSG_PTY], Some(master.raw())).ctx(b"sending the pty")?;
    drop(master);
    sys::setsid().ctx(b"setsid")?;
    sys::set_ctty(slave.raw()).ctx(b"setting the controlling terminal")?;
    for fd in 0..3 {
        sys::dup3(slave.raw(), fd, 0).ctx(b"dup")?;
    }
    Ok(())
}

/// Builds a NULL-terminated pointer array over NUL-terminated copies.
pub fn cvec(items: &[S]) -> Vec<*const u8> {
    // A plain loop: an iterator chain with collect was 80 B more.
    let mut v: Vec<*const u8> = Vec::with_capacity(items.len() + 1);
    for s in items {
        let mut b: Vec<u8> = Vec::with_capacity(s.len() + 1);
        b.extend_from_slice(s);
        b.push(0);
        v.push(b.leak().as_ptr());
    }
    v.push(core::ptr::null());
    v
}

/// Execs the container's command, searching the container's PATH; with
/// `init_fd`, execs thinbox's sealed copy as init ahead of it.
/// Returns the error to report (exit 127 for not found, 126 otherwise).
pub fn exec(c: &Container, init_fd: Option<i32>) -> Error {
    if let Some(fd) = init_fd {
        let mut argv: Vec<S> = alloc::vec![&b"init"[..], b"--"];
        argv.extend_from_slice(&c.args);
        let e = sys::execveat(fd, &cvec(&argv), &cvec(&c.env));
        return Error::sys(b"exec init", e);
    }
    exec_search(&c.args, &c.env)
}

/// execvp: `args[0]` searched in the PATH of `env`.
pub fn exec_search(args: &[S], env: &[S]) -> Error {
    let argv = cvec(args);
    let envp = cvec(env);
    let cmd = args[0];
    let path_var = env
        .iter()
        .find_map(|e| e.strip_prefix(b"PATH="))
        .unwrap_or(b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let missing = |e: sys::Errno| e == sys::ENOENT || e == sys::ENOTDIR;
    // A command with a '/' is tried as it is: one empty "dir" and no
    // separator. An empty PATH entry is the current directory.
    let (dirs, dot): (&[u8], &[u8]) = if cmd.contains(&b'/') {
        (b"", b"")
    } else {
        (path_var, b"./")
    };
    // The most telling error: anything beats "not found" from a PATH entry.
    let mut last = sys::ENOENT;
    for dir in dirs.split(|&ch| ch == b':') {
        let sep: &[u8] = if dir.is_empty() { dot } else { b"/" };
        let e = sys::execve(cat(&[dir, sep, cmd, b"\0"]).as_ptr(), &argv, &envp);
        if !missing(e) || last == sys::ENOENT {
            last = e;
        }
        if !missing(last) {
            break;
        }
    }
    let (hint, code): (&[u8], i32) = if missing(last) {
        (b"no such command in the container's rootfs", 127)
    } else {
        (
            b"check that it is an executable file for this architecture",
            126,
        )
    };
    Error::sys2(b"exec ", cmd, last).hint(hint).exit(code)
}

/// Waits for the container, forwarding signals, and relaying the pty when
/// there is one. Returns the raw wait status.
pub fn wait_foreground(child: &Child, sigfd: &Fd) -> i32 {
    let mut relay = child.pty.as_ref().map(|m| crate::tty::Relay::new(m.raw()));
    // Checked first too: a child that exited while SIGCHLD was unblocked
    // (run --bundle, during start) left no signal to wake us.
    let mut reap = true;
    loop {
        if reap
            && let Ok((p, status)) = sys::wait4(child.pid, sys::WNOHANG)
            && p == child.pid
        {
            if let Some(r) = &mut relay {
                r.drain();
            }
            return status;
        }
        reap = false;
        let mut fds = [
            sys::PollFd {
                fd: sigfd.raw(),
                events: sys::POLLIN,
                revents: 0,
            },
            sys::PollFd {
                fd: -1,
                events: sys::POLLIN,
                revents: 0,
            },
            sys::PollFd {
                fd: -1,
                events: sys::POLLIN,
                revents: 0,
            },
        ];
        if let Some(r) = &relay {
            r.poll_fds(&mut fds[1..]);
        }
        match sys::poll(&mut fds, -1) {
            Ok(_) | Err(sys::EINTR) => {}
            Err(_) => sys::sleep_ms(10),
        }
        if let Some(r) = &mut relay {
            r.pump(&fds[1..]);
        }
        if fds[0].revents & sys::POLLIN != 0 {
            while let Ok(sig) = sys::signalfd_read(sigfd.raw()) {
                if sig == sys::SIGCHLD {
                    reap = true;
                } else if sig == sys::SIGWINCH && relay.is_some() {
                    if let Some(r) = &relay {
                        r.resize();
                    }
                } else {
                    let _ = sys::kill(child.pid, sig);
                }
            }
        }
    }
}

/// A 12-hex-digit random id.
pub fn new_id() -> S {
    let mut r = [0u8; 6];
    let _ = sys::getrandom(&mut r);
    let mut b = Buf::new();
    for x in r {
        b.c(b"0123456789abcdef"[(x >> 4) as usize])
            .c(b"0123456789abcdef"[(x & 15) as usize]);
    }
    b.leak()
}

/// The cgroup directory of container `id` under `root`.
pub fn cgroup_path(root: &[u8], id: &[u8]) -> S {
    cat(&[root, b"/", id])
}

pub fn is_root() -> Res<()> {
    if sys::geteuid() != 0 {
        return Err(Error::new(
            b"thinbox must run as root; run it with sudo",
            b"",
        ));
    }
    Ok(())
}
