//! One file per applet; `dispatch` maps a name to its entry point.

use crate::rt;

pub mod check;
pub mod create;
pub mod delete;
pub mod exec;
pub mod features;
pub mod images;
pub mod import;
pub mod init;
pub mod kill;
pub mod list;
pub mod logs;
pub mod pause;
pub mod ps;
pub mod rm;
pub mod rmi;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod stop;
pub mod update;

pub type Applet = fn(&[rt::S]) -> i32;

/// Name, entry point, usage (after "thinbox NAME"), description.
type Entry = (&'static [u8], Applet, &'static [u8], &'static [u8]);

const APPLETS: &[Entry] = &[
    (
        b"run",
        run::main,
        b"[OPTIONS] (IMAGE | --rootfs DIR) [--] CMD [ARG...]",
        b"run a container from a rootfs",
    ),
    (
        b"ps",
        ps::main,
        b"[-a] [--format json]",
        b"list detached containers",
    ),
    (
        b"exec",
        exec::main,
        b"[-t] [-e K=V] [-w DIR] [-u USER] NAME CMD [ARG...]",
        b"run a command in a running container",
    ),
    (
        b"stop",
        stop::main,
        b"[-t SECS] NAME...",
        b"stop a detached container (TERM, then KILL)",
    ),
    (
        b"kill",
        kill::main,
        b"[--all] NAME [SIGNAL]",
        b"signal a container",
    ),
    (b"rm", rm::main, b"[-f] NAME...", b"remove a container"),
    (
        b"logs",
        logs::main,
        b"[-f] NAME",
        b"show a detached container's output",
    ),
    (
        b"images",
        images::main,
        b"[--data-root DIR]",
        b"list images and whether they are unpacked",
    ),
    (
        b"import",
        import::main,
        b"[--data-root DIR] FILE NAME",
        b"add a rootfs tarball as an image",
    ),
    (
        b"rmi",
        rmi::main,
        b"[--data-root DIR] NAME...",
        b"remove an image",
    ),
    (
        b"check",
        check::main,
        b"[--cgroup-root DIR]",
        b"report what this kernel offers thinbox",
    ),
    (
        b"init",
        init::main,
        b"[-g] [--] CMD [ARG...]",
        b"be PID 1: reap zombies, forward signals",
    ),
    (
        b"create",
        create::main,
        b"[--bundle DIR] [--pid-file FILE] [--console-socket SOCKET] ID",
        b"OCI: create a container from a bundle",
    ),
    (
        b"start",
        start::main,
        b"ID",
        b"OCI: start a created container",
    ),
    (
        b"state",
        state::main,
        b"ID",
        b"OCI: print a container's state JSON",
    ),
    (
        b"delete",
        delete::main,
        b"[--force] ID",
        b"OCI: delete a container",
    ),
    (
        b"list",
        list::main,
        b"[--format table|json] [-q]",
        b"OCI: list containers",
    ),
    (b"pause", pause::pause, b"ID", b"OCI: freeze a container"),
    (b"resume", pause::resume, b"ID", b"OCI: thaw a container"),
    (
        b"update",
        update::main,
        b"--resources FILE|- ID",
        b"OCI: change a container's limits",
    ),
    (
        b"features",
        features::main,
        b"",
        b"OCI: supported features as JSON",
    ),
    (
        b"spec",
        spec::main,
        b"[--bundle DIR] [--rootless]",
        b"OCI: write a starting config.json",
    ),
];

pub fn dispatch(name: &[u8], args: &[rt::S]) -> Option<i32> {
    if let Some((n, f, _, help)) = APPLETS.iter().find(|a| a.0 == name) {
        // run has a longer help of its own.
        if args.first() == Some(&&b"--help"[..]) && *n != b"run" {
            rt::out(rt::cat(&[usage_line(n), b"\n", help, b"\n"]));
            return Some(0);
        }
        return Some(f(args));
    }
    // Not applets: no help line, no link.
    let f: Applet = match rt::pick(
        b"__supervise --help -h help --version version --install --list",
        name,
    )? {
        0 => crate::supervise::main,
        1..=3 => help,
        4 | 5 => version,
        6 => install,
        _ => list,
    };
    Some(f(args))
}

fn help(_: &[rt::S]) -> i32 {
    usage();
    0
}

fn version(_: &[rt::S]) -> i32 {
    rt::out(concat!("thinbox version ", env!("CARGO_PKG_VERSION"), "\n").as_bytes());
    0
}

fn list(_: &[rt::S]) -> i32 {
    let mut b = rt::Buf::new();
    for (n, ..) in APPLETS.iter() {
        b.s(n).c(b'\n');
    }
    rt::out(b.as_slice());
    0
}

/// `thinbox --install DIR`: a symlink per applet, busybox style.
fn install(args: &[rt::S]) -> i32 {
    let Some(&dir) = args.first() else {
        return fail(rt::Error::new(
            b"--install",
            b"needs a directory, e.g. thinbox --install /usr/local/bin",
        ));
    };
    let mut buf = [0u8; 4096];
    let exe = match crate::sys::readlinkat(crate::sys::AT_FDCWD, b"/proc/self/exe", &mut buf) {
        Ok(p) => rt::cat(&[p]),
        Err(e) => return fail(rt::Error::sys(b"reading /proc/self/exe", e)),
    };
    for (n, ..) in APPLETS.iter() {
        let link = rt::cat(&[dir, b"/", n]);
        let _ = crate::sys::unlink(link);
        if let Err(e) = crate::sys::symlinkat(exe, crate::sys::AT_FDCWD, link) {
            return fail(rt::Error::sys(link, e));
        }
    }
    0
}

/// "usage: thinbox NAME ARGS", from the table.
pub fn usage_line(name: &[u8]) -> rt::S {
    let args = APPLETS
        .iter()
        .find(|a| a.0 == name)
        .map_or(&b""[..], |a| a.2);
    let sep: &[u8] = if args.is_empty() { b"" } else { b" " };
    rt::cat(&[b"usage: thinbox ", name, sep, args])
}

/// The usage line as the error for bad arguments to `name`.
pub fn usage_error(name: &[u8]) -> rt::Error {
    rt::Error::new(name, usage_line(name))
}

pub fn usage() {
    let mut b = rt::Buf::new();
    b.s(b"usage: thinbox COMMAND [ARGS...]\n\ncommands:\n");
    for (n, _, _, help) in APPLETS.iter() {
        b.s(b"  ").pad(n, 10).s(help).c(b'\n');
    }
    rt::err(b.as_slice());
}

/// A tiny option parser: `--flag VALUE`, `--flag=VALUE`, and bundled
/// short booleans such as `-it`.
pub struct Opts<'a> {
    args: &'a [rt::S],
    pos: usize,
    /// The value of `--flag=VALUE`, when the current flag had one.
    inline: Option<rt::S>,
    /// Remaining bundled short flags, e.g. "t" after "-i" of "-it".
    bundle: rt::S,
}

/// What `Opts::flag` found: the table index, the flag as typed, its value
/// (empty for a boolean).
pub type Flag = (usize, rt::S, rt::S);

impl<'a> Opts<'a> {
    pub fn new(args: &'a [rt::S]) -> Opts<'a> {
        Opts {
            args,
            pos: 0,
            inline: None,
            bundle: b"",
        }
    }

    /// The next flag, or None at the first operand or after "--".
    pub fn next_flag(&mut self) -> Option<rt::S> {
        self.inline = None;
        if let [c, rest @ ..] = self.bundle {
            self.bundle = rest;
            return Some(rt::cat(&[b"-", &[*c]]));
        }
        let a = *self.args.get(self.pos)?;
        if a == b"--" {
            self.pos += 1;
            return None;
        }
        if a.len() < 2 || a[0] != b'-' {
            return None;
        }
        self.pos += 1;
        if a[1] == b'-' {
            if let Some(eq) = a.iter().position(|&c| c == b'=') {
                self.inline = Some(&a[eq + 1..]);
                return Some(&a[..eq]);
            }
            return Some(a);
        }
        // "-m64m" style values only for single short flags; "-it" bundles.
        self.bundle = &a[2..];
        Some(&a[..2])
    }

    /// The value for the flag just returned.
    pub fn value(&mut self, flag: &[u8]) -> rt::Res<rt::S> {
        if let Some(v) = self.inline.take() {
            return Ok(v);
        }
        if !self.bundle.is_empty() {
            return Ok(core::mem::take(&mut self.bundle));
        }
        match self.args.get(self.pos) {
            Some(v) => {
                self.pos += 1;
                Ok(v)
            }
            None => Err(rt::Error::new(flag, b"needs a value")),
        }
    }

    /// The next flag looked up in `table`: entries "SKname" split by
    /// spaces, S the short letter ('-' for none), K ':' when it takes a
    /// value, then long names split by '|'. An unknown flag is an error
    /// "unknown flag F: USAGE".
    #[inline(never)]
    pub fn flag(&mut self, table: &[u8], usage: &[u8]) -> rt::Res<Option<Flag>> {
        let Some(f) = self.next_flag() else {
            return Ok(None);
        };
        if f == b"--help" {
            rt::out(rt::cat(&[usage, b"\n"]));
            crate::sys::exit(0);
        }
        for (i, e) in table.split(|&c| c == b' ').enumerate() {
            let hit = match f {
                [b'-', b'-', long @ ..] => e[2..].split(|&c| c == b'|').any(|n| n == long),
                _ => f[1] == e[0],
            };
            if hit {
                let v = if e[1] == b':' { self.value(f)? } else { b"" };
                return Ok(Some((i, f, v)));
            }
        }
        // Errors are one line: the usage's first.
        let line = usage.split(|&c| c == b'\n').next().unwrap_or(b"");
        Err(rt::Error::new(rt::cat(&[b"unknown flag ", f]), line))
    }

    pub fn rest(&self) -> &'a [rt::S] {
        &self.args[self.pos.min(self.args.len())..]
    }
}

/// Prints an error line (and logs it for --log) and returns its exit code.
pub fn fail(e: rt::Error) -> i32 {
    rt::err(e.line());
    let g = rt::globals();
    if let Some(log) = g.log
        && let Ok(fd) = crate::sys::open(
            log,
            crate::sys::O_WRONLY
                | crate::sys::O_CREAT
                | crate::sys::O_APPEND
                | crate::sys::O_CLOEXEC,
            0o644,
        )
    {
        let line = if g.log_json {
            let mut b = rt::Buf::new();
            b.s(b"{\"level\":\"error\",\"msg\":");
            crate::json::put_str(&mut b, e.msg());
            b.s(b"}\n");
            b.leak()
        } else {
            e.line()
        };
        let _ = crate::sys::write_all(fd.raw(), line);
    }
    e.code()
}

#[cfg(test)]
mod tests {
    use super::Opts;
    use crate::rt::S;

    const T: &[u8] = b"-:rootfs e:env t.tty i.interactive m:memory -:cpu|cpus";

    /// Every flag as "index=value", then the operands, or the error.
    fn parse(args: &[S]) -> alloc::string::String {
        let mut o = Opts::new(args);
        let mut out = alloc::string::String::new();
        loop {
            match o.flag(T, b"usage: x") {
                Ok(Some((i, f, v))) => out += &std::format!("{i}{}={} ", s(f), s(v)),
                Ok(None) => break,
                Err(e) => return s(e.msg()).into(),
            }
        }
        for r in o.rest() {
            out += &std::format!("[{}]", s(r));
        }
        out
    }

    fn s(b: &[u8]) -> &str {
        core::str::from_utf8(b).unwrap()
    }

    #[test]
    fn flags() {
        assert_eq!(parse(&[b"--rootfs=/r", b"sh"]), "0--rootfs=/r [sh]");
        assert_eq!(parse(&[b"--rootfs", b"/r", b"sh"]), "0--rootfs=/r [sh]");
        assert_eq!(parse(&[b"--rootfs="]), "0--rootfs= ");
        assert_eq!(parse(&[b"-e", b"A=1", b"--env", b"B"]), "1-e=A=1 1--env=B ");
        assert_eq!(parse(&[b"-it", b"x"]), "3-i= 2-t= [x]");
        assert_eq!(parse(&[b"-m64m"]), "4-m=64m ");
        assert_eq!(parse(&[b"-tm", b"1g"]), "2-t= 4-m=1g ");
        assert_eq!(parse(&[b"--cpus", b"2"]), "5--cpus=2 ");
        assert_eq!(parse(&[b"--", b"-t", b"x"]), "[-t][x]");
        assert_eq!(parse(&[b"-t", b"-", b"-t"]), "2-t= [-][-t]");
        assert_eq!(parse(&[b"--bogus", b"x"]), "unknown flag --bogus: usage: x");
        assert_eq!(parse(&[b"-x"]), "unknown flag -x: usage: x");
        assert_eq!(parse(&[b"-tx"]), "unknown flag -x: usage: x");
        assert_eq!(parse(&[b"--cpu|cpus"]), "unknown flag --cpu|cpus: usage: x");
        assert_eq!(parse(&[b"--tty=1"]), "2--tty= ");
        assert_eq!(parse(&[b"-t", b"--memory"]), "--memory: needs a value");
        assert_eq!(parse(&[b"-m"]), "-m: needs a value");
        assert_eq!(parse(&[b"-_"]), "unknown flag -_: usage: x");
        assert_eq!(parse(&[b"--"]), "");
    }
}
