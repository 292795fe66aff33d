//! Detached containers: `run -d` hands the container to a supervisor, a
//! fresh exec of thinbox that stays its parent: it reaps it, records the
//! exit status, captures stdout and stderr to a capped log with one
//! rotation, and restarts it by policy with exponential backoff.

use crate::applets::run::{self, RunFlags};
use crate::cgroup;
use crate::rt::{self, Buf, Ctx, Error, Res, S, cat};
use crate::spawn;
use crate::spec::Container;
use crate::state::{self, State};
use crate::sys::{self, Fd};
use core::mem::ManuallyDrop;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    No,
    OnFailure(u64),
    Always,
}

pub fn parse_restart(v: &[u8]) -> Option<Restart> {
    match rt::pick(b"no always unless-stopped on-failure", v) {
        Some(0) => Some(Restart::No),
        Some(3) => Some(Restart::OnFailure(u64::MAX)),
        Some(_) => Some(Restart::Always),
        None => v
            .strip_prefix(b"on-failure:")
            .and_then(rt::parse_u64)
            .map(Restart::OnFailure),
    }
}

pub const LOG_CAP: u64 = 1 << 20;

fn now() -> u64 {
    sys::wall_time().0
}

/// `run -d`: records the container, starts its supervisor and returns once
/// the container runs (or with the error that stopped it).
pub fn detach(args: &[S], c: &Container, f: &RunFlags) -> Res<i32> {
    let root = state::root(f.state_root);
    state::create_dir(root, c.id)?;
    // Any failure past this point removes the state directory, in one place.
    let r = start(root, args, c, f);
    if r.is_err() {
        state::remove_dir(root, c.id);
    }
    r
}

fn start(root: S, args: &[S], c: &Container, f: &RunFlags) -> Res<i32> {
    // Never dropped: run -d exits right after.
    let mut st = ManuallyDrop::new(State::default());
    st.set(b"status", b"starting");
    st.set(b"rootfs", c.rootfs);
    st.set(b"image", f.image.unwrap_or(c.rootfs));
    st.set_num(b"created", now());
    for a in args {
        st.push(b"argv", a);
    }
    state::save(root, c.id, &st)?;
    let (rd, wr) = sys::pipe2(sys::O_CLOEXEC).ctx(b"pipe")?;
    match sys::clone_fork(0) {
        Ok(0) => {
            drop(rd);
            let _ = sys::setsid();
            // The supervisor gets the readiness pipe as fd 3 and a fresh
            // image, so that it holds only the pages it uses. dup3 fails
            // if it is 3 already; F_SETFD then keeps it across exec.
            let _ = sys::dup3(wr.raw(), 3, 0);
            let _ = sys::fcntl(3, 2, 0);
            let _ = sys::close_range(4, u32::MAX, 0);
            // Leaked: the child execs or exits.
            let e = sys::execve(
                c"/proc/self/exe".as_ptr().cast::<u8>(),
                spawn::cvec(&[b"thinbox", b"__supervise", root, c.id]).leak(),
                spawn::cvec(rt::env()).leak(),
            );
            let _ = sys::write(3, Error::sys(b"starting the supervisor", e).msg());
            sys::exit(125);
        }
        Ok(_) => {}
        Err(e) => return Err(Error::sys(b"fork", e)),
    }
    drop(wr);
    let msg = rt::read_fd(rd.raw()).unwrap_or_default().leak();
    if msg == b"ok" {
        rt::out(cat(&[c.id, b"\n"]));
        return Ok(0);
    }
    let msg = if msg.is_empty() {
        &b"the supervisor died while starting the container"[..]
    } else {
        msg
    };
    Err(Error::with(msg, 125))
}

struct Log {
    path: S,
    rotated: S,
    fd: Fd,
    size: u64,
    cap: u64,
}

impl Log {
    fn open(dir: &[u8], cap: u64) -> Res<Log> {
        let path = cat(&[dir, b"/log"]);
        let fd = sys::open(path, sys::O_WRONLY | sys::O_CREAT | sys::O_APPEND, 0o600).ctx(path)?;
        // SEEK_END: the size, where O_APPEND writes anyway.
        let size = sys::lseek(fd.raw(), 0, 2).unwrap_or(0) as u64;
        Ok(Log {
            path,
            rotated: cat(&[dir, b"/log.1"]),
            fd,
            size,
            cap,
        })
    }
    fn write(&mut self, data: &[u8]) {
        if self.size + data.len() as u64 > self.cap && self.size > 0 {
            let _ = sys::rename(self.path, self.rotated);
            if let Ok(fd) = sys::open(
                self.path,
                sys::O_WRONLY | sys::O_CREAT | sys::O_TRUNC | sys::O_APPEND,
                0o600,
            ) {
                self.fd = fd;
                self.size = 0;
            }
        }
        if sys::write_all(self.fd.raw(), data).is_ok() {
            self.size += data.len() as u64;
        }
    }
    /// One read from `fd` into the log; false at end of file or error.
    fn pull(&mut self, fd: i32) -> bool {
        let mut buf = [0u8; 4096];
        match sys::read(fd, &mut buf) {
            Ok(n) if n > 0 => {
                self.write(&buf[..n]);
                true
            }
            _ => false,
        }
    }
}

/// `thinbox __supervise ROOT ID`, exec'd by `detach` with fd 3 to report
/// the first start on.
pub fn main(args: &[S]) -> i32 {
    let (root, id) = match args {
        [r, i] => (*r, *i),
        _ => return 2,
    };
    let mut ready = Some(Fd(3));

    // A failed start, or --rm at the end: the layer and the state go.
    let code = match supervise(root, id, &mut ready) {
        Ok(false) => return 0,
        Ok(true) => 0,
        Err(e) => {
            if let Some(r) = &ready {
                let _ = sys::write(r.raw(), e.msg());
            }
            e.code()
        }
    };
    if let Ok(st) = state::load(root, id) {
        crate::image::remove_layer(&ManuallyDrop::new(st));
    }
    state::remove_dir(root, id);
    code
}

/// Ok(true) when the container is to be removed (--rm).
fn supervise(root: S, id: S, ready: &mut Option<Fd>) -> Res<bool> {
    // Neither dropped: the supervisor exits soon after this returns.
    let mut st = ManuallyDrop::new(state::load(root, id)?);
    let argv = st.all(b"argv").leak();
    // Used in place, never dropped: the supervisor exits soon after this
    // returns, and no return path needs the drop code.
    let mut parsed = ManuallyDrop::new(run::parse(argv)?);
    let (c, f) = &mut *parsed;
    // Without --name, parsing again drew a new random id: keep the one
    // the state directory and `run -d` reported (hostname, cgroup).
    c.id = id;
    // The image's layer lives as long as the container (restarts keep
    // it, under its lock); recorded for rm and for a failed start.
    let img = run::image(c, f, id)?;
    if let Some(l) = img.as_ref().and_then(|p| p.layer) {
        st.set(b"layer", l);
        state::save(root, id, &st)?;
    }
    run::cgroup_for(c, f.cgroup_root);
    let dir = state::dir(root, id);
    // These fds live until the supervisor exits: never dropped.
    let mut log = ManuallyDrop::new(Log::open(dir, f.log_size.unwrap_or(LOG_CAP))?);
    let (out_rd, out_wr) = sys::pipe2(sys::O_CLOEXEC).ctx(b"pipe")?;
    let out_rd = ManuallyDrop::new(out_rd);
    let null = sys::open(b"/dev/null", sys::O_RDWR, 0).ctx(b"/dev/null")?;
    // The container inherits 0, 1 and 2: /dev/null in, the log pipe out.
    let _ = sys::dup3(null.raw(), 0, 0);
    let _ = sys::dup3(out_wr.raw(), 1, 0);
    let _ = sys::dup3(out_wr.raw(), 2, 0);
    drop((out_wr, null));
    let set = sys::sigbit(sys::SIGCHLD)
        | sys::sigbit(sys::SIGTERM)
        | sys::sigbit(sys::SIGINT)
        | sys::sigbit(sys::SIGHUP);
    let old = sys::sigprocmask(sys::SIG_BLOCK, set).ctx(b"sigprocmask")?;
    let sigfd = ManuallyDrop::new(sys::signalfd(set).ctx(b"signalfd")?);
    let stop_flag = cat(&[dir, b"/stop"]);
    let mut restarts: u64 = 0;
    let mut backoff_ms: u64 = 100;
    let init = ManuallyDrop::new(run::init_image(f.init)?);
    loop {
        let cg = match c.cgroup_path {
            Some(p) => Some(cgroup::create(p, &c.resources)?),
            None => None,
        };
        let opts = spawn::Opts {
            die_with_parent: true,
            start_fd: None,
            preserve_fds: 0,
            hooks: None,
            hook_sync: None,
            winsize: None,
            sigmask: old,
            init_fd: init.as_ref().map(|f| f.raw()),
            joining: false,
        };
        let child = match spawn::spawn(c, cg.as_ref(), &opts) {
            Ok(ch) => ch,
            Err(e) => {
                if let Some(g) = &cg {
                    g.remove();
                }
                return Err(e);
            }
        };
        let started = now();
        st.set(b"status", b"running");
        st.set_num(b"pid", child.pid as u64);
        st.set_num(b"start", state::start_time(child.pid as u64).unwrap_or(0));
        let me = sys::getpid() as u64;
        st.set_num(b"sup", me);
        st.set_num(b"supstart", state::start_time(me).unwrap_or(0));
        st.set_num(b"started", started);
        st.set_num(b"restarts", restarts);
        if let Some(p) = c.cgroup_path {
            st.set(b"cgroup", p);
        }
        state::save(root, id, &st)?;
        if let Some(r) = ready.take() {
            let _ = sys::write(r.raw(), b"ok");
        }
        // With -t the output comes through the pty.
        let out = child.pty.as_ref().map_or(out_rd.raw(), |p| p.raw());
        let status = pump(&child, &sigfd, out, &mut log, stop_flag);
        let oom = cg
            .as_ref()
            .is_some_and(|g| sys::term_signal(status) == sys::SIGKILL && g.oom_killed());
        if let Some(g) = &cg {
            g.remove();
        }
        let code = sys::exit_code(status);
        st.set(b"status", b"exited");
        st.set_num(b"exit", code as u64);
        st.set_num(b"finished", now());
        st.set(b"oom", if oom { b"1" } else { b"0" });
        let stopping = sys::stat(stop_flag).is_ok();
        let again = !stopping
            && match f.restart {
                Restart::No => false,
                Restart::Always => true,
                Restart::OnFailure(max) => code != 0 && restarts < max,
            };
        if again {
            // A container that ran for a while starts over at a short delay.
            if now() - started > 10 {
                backoff_ms = 100;
            }
            st.set(b"status", b"restarting");
            let _ = state::save(root, id, &st);
            if wait_backoff(&sigfd, out_rd.raw(), &mut log, backoff_ms, stop_flag) {
                backoff_ms = (backoff_ms * 2).min(60_000);
                restarts += 1;
                continue;
            }
            st.set(b"status", b"exited");
        }
        // Done, or stopped while waiting to restart: --rm applies either way.
        if !f.remove {
            let _ = state::save(root, id, &st);
        }
        return Ok(f.remove);
    }
}

/// Copies output to the log until the container exits; a SIGTERM to the
/// supervisor stops it for good.
fn pump(child: &spawn::Child, sigfd: &Fd, out: i32, log: &mut Log, stop_flag: S) -> i32 {
    loop {
        let mut fds = [
            sys::PollFd {
                fd: sigfd.raw(),
                events: sys::POLLIN,
                revents: 0,
            },
            sys::PollFd {
                fd: out,
                events: sys::POLLIN,
                revents: 0,
            },
        ];
        // After a second without events, give back the pages setup used:
        // an idle supervisor should cost next to nothing.
        if let Ok(0) = sys::poll(&mut fds, 1000)
            && sys::idle_poll(&mut fds).is_err()
        {
            continue;
        }
        if fds[1].revents & (sys::POLLIN | sys::POLLHUP) != 0 {
            log.pull(out);
        }
        if fds[0].revents & sys::POLLIN == 0 {
            continue;
        }
        while let Ok(sig) = sys::signalfd_read(sigfd.raw()) {
            if sig == sys::SIGCHLD {
                if let Ok((p, status)) = sys::wait4(child.pid, sys::WNOHANG)
                    && p == child.pid
                {
                    drain(out, log);
                    return status;
                }
            } else {
                let _ = sys::open(stop_flag, sys::O_WRONLY | sys::O_CREAT, 0o600);
                let _ = sys::kill(child.pid, sig);
            }
        }
    }
}

fn drain(out: i32, log: &mut Log) {
    let _ = sys::fcntl(out, 4, sys::O_NONBLOCK as usize);
    while log.pull(out) {}
    let _ = sys::fcntl(out, 4, 0);
}

/// Sleeps `ms` while still serving signals; false if told to stop.
fn wait_backoff(sigfd: &Fd, out: i32, log: &mut Log, ms: u64, stop_flag: S) -> bool {
    let end = sys::now_ns() + ms * 1_000_000;
    loop {
        if sys::stat(stop_flag).is_ok() {
            return false;
        }
        let now = sys::now_ns();
        if now >= end {
            return true;
        }
        let mut fds = [sys::PollFd {
            fd: sigfd.raw(),
            events: sys::POLLIN,
            revents: 0,
        }];
        let _ = sys::poll(&mut fds, ((end - now) / 1_000_000) as i64 + 1);
        drain(out, log);
        while let Ok(sig) = sys::signalfd_read(sigfd.raw()) {
            if sig != sys::SIGCHLD {
                return false;
            }
        }
    }
}

/// What `ps` shows in STATUS, always checked against /proc.
pub fn status(st: &State) -> S {
    let recorded = st.get(b"status").unwrap_or(b"unknown");
    let running = state::live(st, false);
    match rt::pick(b"running restarting exited starting", recorded) {
        Some(0) if running && crate::container::frozen(st) => b"paused",
        Some(0) if running => recorded,
        Some(1) if state::live(st, true) => recorded,
        Some(0 | 1) => b"dead",
        Some(2) => {
            let mut b = Buf::new();
            b.s(b"exited (").u(st.num(b"exit").unwrap_or(0)).c(b')');
            b.leak()
        }
        _ => recorded,
    }
}
