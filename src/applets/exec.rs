//! `thinbox exec [-t] [-e K=V] [-w DIR] [-u USER] NAME CMD [ARG...]`, or
//! runc's `exec [--process F] [--detach] [--pid-file F] [--console-socket S]
//! ID [CMD...]`: runs a process inside a running container, with its namespaces, cgroup,
//! capabilities, no_new_privs and seccomp. The joining side runs from a
//! sealed memfd copy of thinbox, so the container can never reach the host
//! binary through /proc/PID/exe.

use super::{Opts, create, fail, run};
use crate::container;
use crate::json;
use crate::oci;
use crate::rt::{self, Error, Res, S, cat};
use crate::spawn;
use crate::state;
use crate::sys;
use alloc::vec::Vec;
use core::mem::ManuallyDrop;

pub fn main(args: &[S]) -> i32 {
    match exec(args) {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

/// Re-execs from a sealed memfd unless already running from one.
pub fn protect_self() -> Res<()> {
    let mut buf = [0u8; 256];
    if let Ok(p) = sys::readlinkat(sys::AT_FDCWD, b"/proc/self/exe", &mut buf)
        && p.starts_with(b"/memfd:")
    {
        return Ok(());
    }
    let fd = sys::sealed_self().map_err(|e| Error::sys(b"sealing a copy of thinbox", e))?;
    // The vectors leaked: on failure exec exits with the error.
    let e = sys::execveat(
        fd.raw(),
        spawn::cvec(rt::args()).leak(),
        spawn::cvec(rt::env()).leak(),
    );
    Err(Error::sys(b"re-executing from the sealed copy", e))
}

/// The namespaces a process joins, in order: flags (all below 2^32), and
/// their names under /proc/PID/ns in one string, a third of a slice table.
static JOIN: [u32; 6] = [
    sys::CLONE_NEWIPC as u32,
    sys::CLONE_NEWUTS as u32,
    sys::CLONE_NEWNET as u32,
    sys::CLONE_NEWCGROUP as u32,
    sys::CLONE_NEWNS as u32,
    sys::CLONE_NEWPID as u32,
];
const JOIN_NAMES: &[u8] = b"ipc uts net cgroup mnt pid";

fn exec(args: &[S]) -> Res<i32> {
    let (mut tty, mut user, mut cwd) = (false, None, None);
    let (mut process, mut pid_file, mut console, mut detach) = (None, None, None, false);
    // Never dropped: no drop code on the error paths.
    let mut env: ManuallyDrop<Vec<S>> = ManuallyDrop::new(Vec::new());
    let mut o = Opts::new(args);
    // runc's flags as containerd's shim passes them: process .. detach.
    let table = b"t.tty i.interactive e:env w:workdir|cwd u:user p:process -:pid-file -:console-socket d.detach";
    let usage = super::usage_line(b"exec");
    while let Some((i, _, v)) = o.flag(table, usage)? {
        match i {
            0 => tty = true,
            2 => env.push(v),
            3 => cwd = Some(v),
            4 => user = Some(v),
            5 => process = Some(v),
            6 => pid_file = Some(v),
            7 => console = Some(v),
            8 => detach = true,
            _ => {}
        }
    }
    let Some((&id, cmd)) = o
        .rest()
        .split_first()
        .filter(|(_, cmd)| !cmd.is_empty() || process.is_some())
    else {
        return Err(Error::new(b"exec", usage));
    };
    spawn::is_root()?;
    let root = state::root(None);
    // Never dropped: exec ends with the process, and no path needs the
    // drop code.
    let st = ManuallyDrop::new(state::load(root, id)?);
    let oci = st.get(b"kind") == Some(b"oci");
    // A paused container would freeze the new process as it joins.
    match rt::pick(b"running paused", container::status(root, id, &st)) {
        Some(0) => {}
        Some(_) => return Err(container::err(id, b"is paused; resume it first")),
        None => return Err(container::err(id, b"is not running")),
    }
    protect_self()?;
    // Never dropped, as the state: no drop code on any path.
    let mut c = ManuallyDrop::new(if oci {
        // Not dropped on an error, and only its container taken out.
        let mut b = ManuallyDrop::new(
            container::bundle_of(root, id, &st)
                .ok_or_else(|| container::err(id, b"its config.json copy is unreadable"))?,
        );
        if let Some(p) = process {
            // A whole OCI process object replaces the config's.
            // Leaked, as the state is: no drop code.
            let text = rt::read_file(p).map_err(|e| Error::sys2(b"--process ", p, e))?;
            let j =
                ManuallyDrop::new(json::parse(text.leak()).map_err(|e| Error::new(p, e.msg()))?);
            oci::process_json(&mut b, &j)?;
        }
        let oci::Bundle { c, annotations, .. } = ManuallyDrop::into_inner(b);
        core::mem::forget(annotations);
        c
    } else if process.is_some() {
        return Err(Error::new(
            b"--process",
            b"is for OCI containers (thinbox create)",
        ));
    } else {
        run::parse(st.all(b"argv").leak())?.0
    });
    if !cmd.is_empty() {
        core::mem::forget(core::mem::replace(&mut c.args, cmd.to_vec()));
        c.tty = tty;
    }
    if c.args.is_empty() {
        return Err(Error::new(
            b"process.args",
            b"missing; name the program to run",
        ));
    }
    if c.tty && !c.has_env(b"TERM") {
        c.env.push(b"TERM=xterm");
    }
    for &e in env.iter() {
        c.set_env(e);
    }
    if let Some(w) = cwd {
        c.cwd = w;
    }
    if let Some(u) = user {
        run::set_user(&mut c, u)?;
    }
    let pid = st.num(b"pid").unwrap_or(0);
    let mut b = ManuallyDrop::new(rt::Buf::new());
    b.s(b"/proc/").u(pid).s(b"/ns/");
    // Namespaces the config named by path are the init's too.
    let nss = c.join.iter().fold(c.namespaces, |a, j| a | j.0);
    c.join.clear();
    for (&flag, name) in JOIN.iter().zip(rt::split(JOIN_NAMES, b' ')) {
        let flag = flag as u64;
        if nss & flag != 0 {
            c.join.push((flag, cat(&[b.as_slice(), name])));
        }
    }
    c.namespaces = 0;
    let mut cg = ManuallyDrop::new(container::cgroup_of(&st));
    // A detached container's one cgroup directory, opened to join it.
    if let Some(g) = cg.as_mut().filter(|_| !oci) {
        g.fd = sys::open(g.path, sys::O_RDONLY | sys::O_DIRECTORY, 0).ok();
    }
    if !detach && pid_file.or(console).is_some() {
        return Err(Error::new(
            b"--pid-file and --console-socket",
            b"need --detach",
        ));
    }
    if !detach {
        let status = run::foreground(&c, cg.as_ref(), false, true)?;
        return Ok(sys::exit_code(status));
    }
    if c.tty && console.is_none() {
        return Err(Error::new(
            b"process.terminal",
            b"needs --console-socket to pass the terminal on",
        ));
    }
    let opts = spawn::Opts {
        die_with_parent: false,
        start_fd: None,
        preserve_fds: 0,
        hooks: None,
        hook_sync: None,
        winsize: None,
        sigmask: 0,
        init_fd: None,
        joining: true,
    };
    let child = ManuallyDrop::new(spawn::spawn(&c, cg.as_ref(), &opts)?);
    let sent = (|| {
        if let Some(p) = pid_file {
            create::write_pid_file(p, child.pid)?;
        }
        if let (Some(s), Some(pty)) = (console, &child.pty) {
            create::send_console(s, pty.raw())?;
        }
        Ok(())
    })();
    if let Err(e) = sent {
        let _ = sys::kill(child.pid, sys::SIGKILL);
        let _ = sys::wait4(child.pid, 0);
        return Err(e);
    }
    Ok(0)
}
