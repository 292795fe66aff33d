//! `thinbox create [--bundle B] [--pid-file F] [--console-socket S]
//! [--preserve-fds N] ID`: sets a container up from config.json and leaves
//! its init waiting on the exec fifo for `start`. Also the first half of
//! the OCI `run`.

use super::{Opts, fail};
use crate::cgroup;
use crate::container;
use crate::hooks;
use crate::oci::{self, Bundle};
use crate::rt::{self, Buf, Ctx, Error, Res, S, cat};
use crate::spawn;
use crate::state::{self, State};
use crate::sys;
use core::mem::ManuallyDrop;

pub fn main(args: &[S]) -> i32 {
    match parse(args, false).and_then(|f| create(&f).map(|_| 0)) {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

#[derive(Default)]
pub struct Flags {
    pub bundle: Option<S>,
    pub pid_file: Option<S>,
    pub console_socket: Option<S>,
    pub preserve_fds: u32,
    pub detach: bool,
    pub id: S,
}

const FLAGS: &[u8] = b"-b --bundle --pid-file --console-socket --preserve-fds -d --detach --no-pivot --no-new-keyring --keep --no-subreaper";

/// Flags of create, and of run when `run` is set.
pub fn parse(args: &[S], run: bool) -> Res<Flags> {
    let mut f = Flags::default();
    let mut o = Opts::new(args);
    while let Some(flag) = o.next_flag() {
        match rt::pick(FLAGS, flag) {
            Some(n @ 0..=3) => {
                let slot = match n {
                    2 => &mut f.pid_file,
                    3 => &mut f.console_socket,
                    _ => &mut f.bundle,
                };
                *slot = Some(o.value(flag)?);
            }
            Some(4) => {
                let v = o.value(flag)?;
                f.preserve_fds = rt::parse_u64(v)
                    .filter(|&n| n < 1 << 16)
                    .ok_or_else(|| Error::new(cat(&[b"--preserve-fds ", v]), b"not a number"))?
                    as u32;
            }
            Some(5 | 6) if run => f.detach = true,
            Some(7..) => {}
            _ => {
                return Err(Error::new(
                    cat(&[b"unknown flag ", flag]),
                    b"see 'thinbox --help'",
                ));
            }
        }
    }
    f.id = match o.rest() {
        [id] => id,
        _ => {
            return Err(Error::new(
                b"container id",
                b"give exactly one: thinbox create --bundle DIR ID",
            ));
        }
    };
    if f.id.is_empty()
        || f.id.len() > 1024
        || f.id == b"."
        || f.id == b".."
        || !f
            .id
            .iter()
            .all(|&ch| ch.is_ascii_alphanumeric() || b"_.-+".contains(&ch))
    {
        return Err(Error::new(
            cat(&[b"container id ", f.id]),
            b"use letters, digits, '_', '.', '+' or '-'",
        ));
    }
    Ok(f)
}

fn absolute(p: S) -> S {
    if p.first() == Some(&b'/') {
        return p;
    }
    let mut buf = [0u8; 4096];
    match sys::getcwd(&mut buf) {
        Ok(cwd) if p == b"." => cat(&[cwd]),
        Ok(cwd) => cat(&[cwd, b"/", p]),
        Err(_) => p,
    }
}

pub struct Created {
    pub pid: i32,
    pub root: S,
    pub pty: Option<sys::Fd>,
}

/// Creates the container; on any failure nothing is left behind.
pub fn create(f: &Flags) -> Res<Created> {
    spawn::is_root()?;
    let root = state::root(None);
    let id = f.id;
    let bundle_dir = absolute(f.bundle.unwrap_or(b"."));
    let config = cat(&[bundle_dir, b"/config.json"]);
    let mut text: S = b"";
    // Never dropped (the arena frees only its newest block, which it
    // soon is not): no return has to drop it.
    let b = ManuallyDrop::new(container::load(config, bundle_dir, id, &mut text)?);
    if b.c.args.is_empty() {
        return Err(Error::new(
            b"process.args",
            b"missing; name the program to run",
        ));
    }
    match sys::stat(b.c.rootfs) {
        Ok(st) if sys::is_dir(&st) => {}
        _ => {
            return Err(Error::new(
                cat(&[b"root.path ", b.c.rootfs]),
                b"is not a directory; unpack a root filesystem there",
            ));
        }
    }
    if b.c.tty && f.console_socket.is_none() {
        return Err(Error::new(
            b"process.terminal",
            b"needs --console-socket to pass the terminal on",
        ));
    }
    let dir = state::create_dir(root, id).map_err(|e| {
        if sys::lstat(state::dir(root, id)).is_ok() {
            container::err(id, b"already exists")
        } else {
            e
        }
    })?;
    let mut st = ManuallyDrop::new(State::default());
    st.set(b"kind", b"oci");
    st.set(b"phase", b"creating");
    st.set(b"bundle", bundle_dir);
    let (secs, nanos) = sys::wall_time();
    st.set(b"created", state::rfc3339(secs, nanos));
    let r = (|| {
        let cfg = cat(&[dir, b"/config.json"]);
        state::write_new(cfg, text, 0o600).ctx(cfg)?;
        let cg = cgroup::create_oci(b.c.cgroup_path, id, &b.c.resources)?;
        if let Some(cg) = &cg {
            container::cgroups_into(&mut st, cg);
        }
        state::save(root, id, &st)?;
        spawn_init(f, root, &b, cg.as_ref(), &mut st)
    })();
    match r {
        Ok((pid, pty)) => Ok(Created { pid, root, pty }),
        Err(e) => {
            teardown(root, id, &st);
            Err(e)
        }
    }
}

/// Destroys the container as its state file has it, else as `st` does.
#[inline(never)]
fn teardown(root: S, id: S, st: &State) {
    let loaded = ManuallyDrop::new(state::load(root, id));
    container::destroy(root, id, loaded.as_ref().unwrap_or(st));
}

fn spawn_init(
    f: &Flags,
    root: S,
    b: &Bundle,
    cg: Option<&cgroup::Cgroup>,
    st: &mut State,
) -> Res<(i32, Option<sys::Fd>)> {
    let id = f.id;
    let fifo = container::fifo(root, id);
    let start = (|| {
        sys::mknodat(sys::AT_FDCWD, fifo, sys::S_IFIFO | 0o600, 0)?;
        sys::open(fifo, sys::O_RDWR | sys::O_CLOEXEC, 0)
    })()
    .ctx(fifo)?;
    let hook_state = |pid: i32| -> Res<alloc::vec::Vec<u8>> {
        let mut s = ManuallyDrop::new(st.clone());
        s.set_num(b"pid", pid as u64);
        // The deprecated prestart sees "created", as with crun and the
        // conformance suite; createRuntime runs during create.
        let pre = ManuallyDrop::new(container::state_json(id, &s, b"created", Some(b)));
        hooks::run(&b.hooks[oci::PRESTART], &pre, b"prestart")?;
        let js = ManuallyDrop::new(container::state_json(id, &s, b"creating", Some(b)));
        hooks::run(&b.hooks[oci::CREATE_RUNTIME], &js, b"createRuntime")?;
        Ok(ManuallyDrop::into_inner(js))
    };
    let opts = spawn::Opts {
        die_with_parent: false,
        start_fd: Some(start.raw()),
        preserve_fds: f.preserve_fds,
        hooks: Some(&*b.hooks),
        hook_sync: Some(&hook_state),
        winsize: b.console,
        sigmask: 0,
        init_fd: None,
        joining: false,
    };
    let child = spawn::spawn(&b.c, cg, &opts)?;
    st.set_num(b"pid", child.pid as u64);
    st.set_num(b"start", state::start_time(child.pid as u64).unwrap_or(0));
    st.set(b"phase", b"created");
    state::save(root, id, st)?;
    if let Some(p) = f.pid_file {
        write_pid_file(p, child.pid)?;
    }
    if let (Some(sock), Some(pty)) = (f.console_socket, &child.pty) {
        send_console(sock, pty.raw())?;
    }
    Ok((child.pid, child.pty))
}

/// Written atomically, as runc does: callers poll for it.
pub fn write_pid_file(path: S, pid: i32) -> Res<()> {
    let path = absolute(path);
    let tmp = cat(&[path, b".tmp"]);
    let mut b = Buf::new();
    b.u(pid as u64);
    state::write_new(tmp, b.leak(), 0o644)
        .and_then(|_| sys::rename(tmp, path))
        .map_err(|e| Error::sys2(b"--pid-file ", path, e))?;
    Ok(())
}

/// Sends the pty master over the unix socket, with SCM_RIGHTS.
pub fn send_console(path: &[u8], master: i32) -> Res<()> {
    (|| {
        let s = sys::socket(sys::AF_UNIX, sys::SOCK_STREAM | sys::SOCK_CLOEXEC)?;
        sys::connect_unix(s.raw(), path)?;
        sys::send_with_fd(s.raw(), b"/dev/ptmx", Some(master))
    })()
    .map_err(|e| Error::sys2(b"--console-socket ", path, e))?;
    Ok(())
}

/// Whether `run ARGS` is the OCI dialect (`run [--bundle B] ID`) rather
/// than `run [OPTIONS] ROOTFS|IMAGE CMD`.
pub fn is_oci_run(args: &[S]) -> bool {
    // create's flags up to --no-pivot, less --preserve-fds.
    let flagged = args
        .iter()
        .any(|a| matches!(rt::pick(FLAGS, a), Some(0..=3 | 7)) || a.starts_with(b"--bundle="));
    flagged
        || (args.len() == 1 && args[0].first() != Some(&b'-') && sys::stat(b"config.json").is_ok())
}

/// OCI `run`: create, start, and unless detached wait, relay signals and
/// the terminal, then delete; exits with the container's status.
pub fn run_oci(args: &[S]) -> i32 {
    let r = (|| -> Res<i32> {
        let f = parse(args, true)?;
        let set = spawn::forward_set();
        let old = sys::sigprocmask(sys::SIG_BLOCK, set).ctx(b"sigprocmask")?;
        let sigfd = sys::signalfd(set).ctx(b"signalfd")?;
        let cr = create(&f)?;
        let _ = sys::sigprocmask(sys::SIG_SETMASK, old);
        if let Err(e) = crate::applets::start::start(cr.root, f.id) {
            teardown(cr.root, f.id, &State::default());
            return Err(e);
        }
        if f.detach {
            return Ok(0);
        }
        let _ = sys::sigprocmask(sys::SIG_BLOCK, set);
        let (a, _b) = sys::socketpair(sys::SOCK_SEQPACKET).ctx(b"socketpair")?;
        let child = spawn::Child {
            pid: cr.pid,
            pty: if f.console_socket.is_none() {
                cr.pty
            } else {
                None
            },
            sync: a,
        };
        let status = spawn::wait_foreground(&child, &sigfd);
        teardown(cr.root, f.id, &State::default());
        Ok(sys::exit_code(status))
    })();
    match r {
        Ok(c) => c,
        Err(e) => fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&'static [u8]], run: bool) -> Result<Flags, String> {
        parse(args, run).map_err(|e| String::from_utf8_lossy(e.msg()).into_owned())
    }

    #[test]
    fn create_flags() {
        let f = flags(
            &[
                b"--bundle",
                b"/b",
                b"--pid-file=/p",
                b"--console-socket",
                b"/s",
                b"--preserve-fds",
                b"3",
                b"--no-pivot",
                b"--no-new-keyring",
                b"--keep",
                b"--no-subreaper",
                b"c1",
            ],
            false,
        )
        .unwrap();
        assert_eq!(f.bundle, Some(&b"/b"[..]));
        assert_eq!(f.pid_file, Some(&b"/p"[..]));
        assert_eq!(f.console_socket, Some(&b"/s"[..]));
        assert_eq!((f.preserve_fds, f.detach, f.id), (3, false, &b"c1"[..]));
        assert_eq!(
            flags(&[b"-b", b"x", b"i"], false).unwrap().bundle,
            Some(&b"x"[..])
        );
        // -d is run's alone.
        assert!(flags(&[b"-d", b"i"], true).unwrap().detach);
        assert!(flags(&[b"--detach", b"i"], true).unwrap().detach);
        assert_eq!(
            flags(&[b"-d", b"i"], false).err().unwrap(),
            "unknown flag -d: see 'thinbox --help'"
        );
        assert_eq!(
            flags(&[b"--bogus", b"i"], false).err().unwrap(),
            "unknown flag --bogus: see 'thinbox --help'"
        );
        assert_eq!(
            flags(&[b"--preserve-fds", b"65536", b"i"], false)
                .err()
                .unwrap(),
            "--preserve-fds 65536: not a number"
        );
        assert!(flags(&[b"a", b"b"], false).is_err());
        assert!(flags(&[b".."], false).is_err());
        assert!(flags(&[b"a/b"], false).is_err());
        assert_eq!(flags(&[b"a_b.c+d-1"], false).unwrap().id, b"a_b.c+d-1");
    }

    #[test]
    fn oci_run_detection() {
        for a in [
            &[&b"-b"[..], b"x", b"i"][..],
            &[b"--bundle", b"x", b"i"],
            &[b"--bundle=x", b"i"],
            &[b"--pid-file", b"p", b"i"],
            &[b"--console-socket", b"s", b"i"],
            &[b"--no-pivot", b"i"],
        ] {
            assert!(is_oci_run(a), "{:?}", a);
        }
        for a in [
            &[&b"--preserve-fds"[..], b"1", b"/rootfs", b"sh"][..],
            &[b"-d", b"/rootfs", b"sh"],
            &[b"--keep", b"/rootfs", b"sh"],
            &[b"--memory", b"64m", b"/rootfs", b"sh"],
            &[b"/rootfs", b"sh"],
        ] {
            assert!(!is_oci_run(a), "{:?}", a);
        }
    }
}
