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

// The applets' names, space-separated for rt::pick, then the entry
// points in the same order and two lines each of TEXT: the usage (after
// "thinbox NAME") and the description. Strings, not a table of rows:
// a row of three fat pointers and an entry point cost 56 bytes.
macro_rules! names {
    () => {
        "run ps exec stop kill rm logs images import rmi check init create start state delete list pause resume update features spec"
    };
}
/// The applets, then names that are not applets: no help line, no link.
const ALL: &[u8] = concat!(
    names!(),
    " __supervise --help -h help --version version --install --list"
)
.as_bytes();
const NAMES: &[u8] = ALL.split_at(names!().len()).0;
const N: usize = 22;

const MAINS: [Applet; N + 8] = [
    run::main,
    ps::main,
    exec::main,
    stop::main,
    kill::main,
    rm::main,
    logs::main,
    images::main,
    import::main,
    rmi::main,
    check::main,
    init::main,
    create::main,
    start::main,
    state::main,
    delete::main,
    list::main,
    pause::pause,
    pause::resume,
    update::main,
    features::main,
    spec::main,
    crate::supervise::main,
    help,
    help,
    help,
    version,
    version,
    install,
    list,
];

const TEXT: &[u8] = b"\
    [OPTIONS] (IMAGE | --rootfs DIR) [--] CMD [ARG...]\n\
    run a container from a rootfs\n\
    [-a] [--format json]\n\
    list detached containers\n\
    [-t] [-e K=V] [-w DIR] [-u USER] NAME CMD [ARG...]\n\
    run a command in a running container\n\
    [-t SECS] NAME...\n\
    stop a detached container (TERM, then KILL)\n\
    [--all] NAME [SIGNAL]\n\
    signal a container\n\
    [-f] NAME...\n\
    remove a container\n\
    [-f] NAME\n\
    show a detached container's output\n\
    [--data-root DIR]\n\
    list images and whether they are unpacked\n\
    [--data-root DIR] FILE NAME\n\
    add a rootfs tarball as an image\n\
    [--data-root DIR] NAME...\n\
    remove an image\n\
    [--cgroup-root DIR]\n\
    report what this kernel offers thinbox\n\
    [-g] [--] CMD [ARG...]\n\
    be PID 1: reap zombies, forward signals\n\
    [--bundle DIR] [--pid-file FILE] [--console-socket SOCKET] ID\n\
    OCI: create a container from a bundle\n\
    ID\n\
    OCI: start a created container\n\
    ID\n\
    OCI: print a container's state JSON\n\
    [--force] ID\n\
    OCI: delete a container\n\
    [--format table|json] [-q]\n\
    OCI: list containers\n\
    ID\n\
    OCI: freeze a container\n\
    ID\n\
    OCI: thaw a container\n\
    --resources FILE|- ID\n\
    OCI: change a container's limits\n\
    \n\
    OCI: supported features as JSON\n\
    [--bundle DIR] [--rootless]\n\
    OCI: write a starting config.json\n";

/// Line `k` of applet `i`'s two in TEXT: 0 the usage, 1 the description.
fn text(i: usize, k: usize) -> &'static [u8] {
    rt::split(TEXT, b'\n').nth(2 * i + k).unwrap_or(b"")
}

pub fn dispatch(name: &[u8], args: &[rt::S]) -> Option<i32> {
    let i = rt::pick(ALL, name)?;
    // run has a longer help of its own.
    if (1..N).contains(&i) && args.first() == Some(&&b"--help"[..]) {
        rt::out(rt::cat(&[usage_line(name), b"\n", text(i, 1), b"\n"]));
        return Some(0);
    }
    Some(MAINS[i](args))
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
    for n in rt::split(NAMES, b' ') {
        b.s(n).c(b'\n');
    }
    // Leaked: thinbox exits right after.
    rt::out(b.leak());
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
    for n in rt::split(NAMES, b' ') {
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
    let args = rt::pick(NAMES, name).map_or(&b""[..], |i| text(i, 0));
    let sep: &[u8] = if args.is_empty() { b"" } else { b" " };
    rt::cat(&[b"usage: thinbox ", name, sep, args])
}

/// The usage line as the error for bad arguments to `name`.
pub fn usage_error(name: &[u8]) -> rt::Error {
    rt::Error::new(name, usage_line(name))
}

/// "APPLET: unknown flag F: WHY" for the OCI applets' own flag loops,
/// one copy of the text and the cat.
#[inline(never)]
pub fn unknown_flag(applet: &[u8], flag: &[u8], why: &[u8]) -> rt::Error {
    rt::Error::new(rt::cat(&[applet, b": unknown flag ", flag]), why)
}

pub fn usage() {
    let mut b = rt::Buf::new();
    b.s(b"usage: thinbox COMMAND [ARGS...]\n\ncommands:\n");
    let mut t = rt::split(TEXT, b'\n');
    for n in rt::split(NAMES, b' ') {
        t.next();
        b.s(b"  ").pad(n, 10).s(t.next().unwrap_or(b"")).c(b'\n');
    }
    // Leaked: thinbox exits right after.
    rt::err(b.leak());
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
        for (i, e) in rt::split(table, b' ').enumerate() {
            let [short, kind, longs @ ..] = e else {
                continue;
            };
            let hit = match f {
                [b'-', b'-', long @ ..] => rt::split(longs, b'|').any(|n| n == long),
                [_, c, ..] => c == short,
                _ => false,
            };
            if hit {
                let v = if *kind == b':' { self.value(f)? } else { b"" };
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

    #[test]
    fn table() {
        assert_eq!(crate::rt::split(super::NAMES, b' ').count(), super::N);
        assert_eq!(
            super::TEXT.iter().filter(|&&c| c == b'\n').count(),
            2 * super::N
        );
        assert_eq!(
            super::usage_line(b"spec"),
            b"usage: thinbox spec [--bundle DIR] [--rootless]"
        );
        assert_eq!(super::usage_line(b"features"), b"usage: thinbox features");
        assert_eq!(super::text(21, 1), b"OCI: write a starting config.json");
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
