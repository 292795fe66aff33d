//! `thinbox run [OPTIONS] --rootfs DIR [--] CMD [ARG...]`

use super::{Opts, fail};
use crate::caps;
use crate::cgroup::{self, Cgroup};
use crate::rootfs;
use crate::rt::{self, Buf, Error, Res, S, cat};
use crate::spawn;
use crate::spec::{Container, DevRule, Device, MS_BIND, MS_PRIVATE, MS_RDONLY, MS_REC, Mount};
use crate::supervise::{self, Restart};
use crate::sys;
use core::mem::{ManuallyDrop, forget, replace};

const MIN_MEMORY: u64 = 6 << 20;

pub fn main(args: &[S]) -> i32 {
    if super::create::is_oci_run(args) {
        return super::create::run_oci(args);
    }
    match run(args) {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

/// Everything `run` was asked for, beyond the container description.
pub struct RunFlags {
    pub cgroup_root: Option<S>,
    /// Run thinbox's init as PID 1 ahead of the command.
    pub init: bool,
    pub detach: bool,
    /// Delete the container's state when it exits (detached).
    pub remove: bool,
    pub restart: Restart,
    pub log_size: Option<u64>,
    pub state_root: Option<S>,
    /// The image name the rootfs came from, for `ps`.
    pub image: Option<S>,
    /// --data-root: where images live (crate::image::data_root).
    pub data_root: Option<S>,
    /// `--seccomp`: unconfined or a JSON profile; None is the default.
    pub seccomp: Option<S>,
}

/// run's flags for `Opts::flag`; `parse` matches on the index.
const FLAGS: &[u8] = b"-:rootfs -:data-root -:name h:hostname e:env w:workdir u:user t.tty \
i.interactive -.read-only -:cap-add -:cap-drop -.privileged -:seccomp -.init d.detach -.rm \
-:restart -:log-size -:root|state-root m:memory -:memory-swap -:cpu|cpus -:pids|pids-limit \
-:net|network -:cgroup-root v:volume -:device";

const HELP: &[u8] = b"usage: thinbox run [OPTIONS] (IMAGE | --rootfs DIR) [--] CMD [ARG...]; see 'thinbox run --help'
  --rootfs DIR          root filesystem (or IMAGE from DATA/images/IMAGE.tar[.gz])
  --data-root DIR       images and layers (default /var/lib/thinbox, or THINBOX_ROOT)
  --name NAME           container id (default random); -h, --hostname H
  -e K=V, -w DIR, -u U[:G]  environment, working directory, user
  -t, -i                a pty; -i is accepted
  --read-only           read-only root
  -m, --memory SIZE     memory.max (k/m/g); --memory-swap SIZE|-1
  --cpu N, --pids N     cpu.max in CPUs (0.5); pids.max
  --cgroup-root DIR     default /sys/fs/cgroup/thinbox
  -v HOST:DIR[:ro]      bind a host file or directory
  --device DEV[:PATH][:rwm]  a host device node, and access to it
  --net host            keep the host network
  --cap-add C, --cap-drop C, --privileged
  --seccomp unconfined|FILE
  --init                thinbox's init as PID 1
  -d, --rm, --restart no|on-failure[:N]|always, --log-size SIZE, --root DIR";

fn bad(flag: &[u8], val: &[u8], why: &[u8]) -> Error {
    Error::new(cat(&[flag, b" ", val]), why)
}

/// The container's command in a `run` command line, for `ps`: without
/// parse's checks, which can fail long after the start (a volume gone).
pub fn command(args: &[S]) -> &[S] {
    let mut o = Opts::new(args);
    let mut image = true;
    while let Ok(Some((i, _, _))) = o.flag(FLAGS, HELP) {
        image &= i != 0; // --rootfs
    }
    let cmd = o.rest();
    if image {
        cmd.get(1..).unwrap_or_default()
    } else {
        cmd
    }
}

/// Parses the command line into a container description.
pub fn parse(args: &[S]) -> Res<(Container, RunFlags)> {
    // Built in place and returned whole: one copy, not one per field.
    // Not dropped on an error, nor the fields it starts with: every caller
    // exits soon after (the supervisor parses once).
    let mut out = ManuallyDrop::new((
        Container::new(b"", b""),
        RunFlags {
            cgroup_root: None,
            init: false,
            detach: false,
            remove: false,
            restart: Restart::No,
            log_size: None,
            state_root: None,
            image: None,
            data_root: None,
            seccomp: None,
        },
    ));
    let (c, f) = &mut *out;
    let mut rootfs: Option<S> = None;
    let mut name: Option<S> = None;
    let mut user: Option<S> = None;
    let mut memory_swap: Option<S> = None;
    let (mut cap_add, mut cap_drop, mut privileged) = (0u64, 0u64, false);
    let mut o = Opts::new(args);
    while let Some((i, flag, v)) = o.flag(FLAGS, HELP)? {
        let why: &[u8] = match i {
            0 => {
                rootfs = Some(v);
                b""
            }
            1 => {
                f.data_root = Some(v);
                b""
            }
            2 => {
                name = Some(v);
                b""
            }
            3 => {
                c.hostname = Some(v);
                b""
            }
            5 | 25 => {
                if i == 5 {
                    c.cwd = v;
                } else {
                    f.cgroup_root = Some(v);
                }
                if v.first() == Some(&b'/') {
                    b""
                } else {
                    b"must be an absolute path"
                }
            }
            6 => {
                user = Some(v);
                b""
            }
            7 => {
                c.tty = true;
                b""
            }
            9 => {
                c.readonly_root = true;
                b""
            }
            10 => {
                cap_add |= caps::mask(v, flag)?;
                b""
            }
            11 => {
                cap_drop |= caps::mask(v, flag)?;
                b""
            }
            12 => {
                privileged = true;
                b""
            }
            13 => {
                f.seccomp = Some(v);
                b""
            }
            14 => {
                f.init = true;
                b""
            }
            15 => {
                f.detach = true;
                b""
            }
            16 => {
                f.remove = true;
                b""
            }
            17 => match supervise::parse_restart(v) {
                Some(r) => {
                    f.restart = r;
                    b""
                }
                None => b"must be no, on-failure[:N] or always",
            },
            18 => {
                f.log_size = rt::parse_size(v).filter(|&n| n >= 4096);
                if f.log_size.is_some() {
                    b""
                } else {
                    b"must be a size of at least 4k"
                }
            }
            19 => {
                f.state_root = Some(v);
                b""
            }
            20 => match rt::parse_size(v) {
                None => b"is not a size such as 64m, 512k or 1g",
                Some(n) if n < MIN_MEMORY => b"is below the minimum of 6m",
                Some(n) => {
                    c.resources.memory = Some(n as i64);
                    b""
                }
            },
            21 => {
                memory_swap = Some(v);
                b""
            }
            22 => {
                let n = sys::cpu_count() as u64;
                match rt::parse_micro(v) {
                    None => b"is not a number of CPUs such as 0.5",
                    // The kernel's smallest quota is 1 ms per 100 ms period.
                    Some(m) if m < 10_000 => b"must be at least 0.01",
                    Some(m) if m > n * 1_000_000 => {
                        let mut b = Buf::new();
                        b.s(b"is more than this machine has (").u(n).s(b")");
                        b.leak()
                    }
                    Some(m) => {
                        c.resources.cpu_quota = Some((m / 10) as i64);
                        c.resources.cpu_period = Some(100_000);
                        b""
                    }
                }
            }
            23 => match rt::parse_u64(v) {
                Some(n) if n > 0 => {
                    c.resources.pids = Some(n as i64);
                    b""
                }
                _ => b"must be a whole number of at least 1",
            },
            24 => match rt::pick(b"host none private", v) {
                Some(0) => {
                    c.namespaces &= !sys::CLONE_NEWNET;
                    b""
                }
                Some(_) => {
                    c.namespaces |= sys::CLONE_NEWNET;
                    b""
                }
                None => b"must be host or none",
            },
            // -e, -v and --device are taken up by a second pass below,
            // once the defaults are in place: no vectors to keep them in.
            _ => b"",
        };
        if !why.is_empty() {
            return Err(bad(flag, v, why));
        }
    }
    let cmd = o.rest();
    if f.restart != Restart::No && !f.detach {
        return Err(Error::new(
            b"--restart",
            b"needs -d (a detached container has a supervisor to restart it)",
        ));
    }
    // Without --rootfs the first operand names an image.
    let mut cmd = cmd;
    if rootfs.is_none() {
        let Some((img, rest)) = cmd.split_first() else {
            return Err(Error::new(
                b"run: no image",
                b"name one (see 'thinbox images') or pass --rootfs DIR",
            ));
        };
        f.image = Some(img);
        cmd = rest;
    }
    if cmd.is_empty() {
        return Err(Error::new(
            b"run: no command",
            b"name the program to run after the options, e.g. /bin/sh",
        ));
    }
    if let Some(v) = memory_swap {
        let (why, swap): (&[u8], i64) = match (c.resources.memory, rt::parse_size(v)) {
            (None, _) => (b"needs --memory", 0),
            _ if v == b"-1" => (b"", -1),
            (_, None) => (b"is not a size", 0),
            (Some(mem), Some(total)) if (total as i64) < mem => {
                (b"must be at least --memory (it is memory plus swap)", 0)
            }
            (Some(mem), Some(total)) => (b"", total as i64 - mem),
        };
        if !why.is_empty() {
            return Err(bad(b"--memory-swap", v, why));
        }
        c.resources.swap = Some(swap);
    }
    forget(replace(&mut c.args, cmd.to_vec()));
    c.id = match name {
        Some(n) => {
            if n.is_empty()
                || n.len() > 64
                || !n
                    .iter()
                    .all(|&ch| ch.is_ascii_alphanumeric() || b"_.-".contains(&ch))
            {
                return Err(bad(
                    b"--name",
                    n,
                    b"use 1 to 64 letters, digits, '_', '.' or '-'",
                ));
            }
            n
        }
        None => spawn::new_id(),
    };
    c.rootfs = match rootfs {
        Some(r) => absolute(r),
        // Empty until run unpacks the image and parses again.
        None => f
            .image
            .and_then(|i| crate::image::cached(crate::image::data_root(f.data_root), i))
            .unwrap_or(b""),
    };
    if let Some(u) = user.filter(|_| !c.rootfs.is_empty()) {
        set_user(c, u)?;
    }
    c.env.push(crate::spec::DEFAULT_PATH);
    c.env
        .push(if c.uid == 0 { b"HOME=/root" } else { b"HOME=/" });
    if c.tty {
        c.env.push(b"TERM=xterm");
    }
    c.add_default_mounts();
    // After the defaults, so that a volume may sit on /dev or /sys.
    let mut o = Opts::new(args);
    while let Ok(Some((i, _, v))) = o.flag(FLAGS, HELP) {
        if i == 4 {
            if v.contains(&b'=') {
                c.set_env(v);
            } else if let Some(val) = rt::getenv(v) {
                c.set_env(cat(&[v, b"=", val]));
            }
            continue;
        }
        if i != 26 {
            continue;
        }
        let m = volume(v)?;
        // A read-only image is the shared unpacked copy: no mount point
        // may be made in it.
        if f.image.is_some()
            && c.readonly_root
            && !c.rootfs.is_empty()
            && sys::lstat(rootfs::resolve_in_root(c.rootfs, m.dest)).is_err()
        {
            return Err(bad(
                b"-v",
                v,
                b"the read-only image has no such directory or file to mount on; drop --read-only",
            ));
        }
        c.mounts.push(m);
    }
    let held = sys::capget().map(|(_, perm, _)| perm).unwrap_or(caps::ALL);
    if privileged {
        c.caps = caps::Caps::docker(held);
    } else {
        let want = (caps::DEFAULT & !cap_drop) | cap_add;
        caps::check_held(
            want & if cap_add == caps::ALL {
                held
            } else {
                caps::ALL
            },
            held,
        )?;
        c.caps = caps::Caps::docker(want & held);
        c.add_default_protection();
        forget(replace(
            &mut c.seccomp,
            crate::seccomp::for_run(f.seccomp, c.caps.bounding)?,
        ));
        crate::oci::docker_devices(c);
    }
    let mut o = Opts::new(args);
    while let Ok(Some((i, _, v))) = o.flag(FLAGS, HELP) {
        if i != 27 {
            continue;
        }
        let (d, access) = device(v)?;
        if !c.resources.devices.is_empty() {
            c.resources.devices.push(DevRule {
                allow: true,
                kind: d.kind,
                major: d.major as i64,
                minor: d.minor as i64,
                access,
            });
        }
        c.devices.push(d);
    }
    Ok(ManuallyDrop::into_inner(out))
}

/// Splits at the first ':' (the rest is empty where there is none).
fn colon(s: S) -> (S, S) {
    let (a, b) = s.split_at(s.iter().position(|&ch| ch == b':').unwrap_or(s.len()));
    (a, b.get(1..).unwrap_or_default())
}

/// `-v HOST:DIR[:ro|rw]`: a recursive, private bind, as Docker makes it.
fn volume(v: S) -> Res<Mount> {
    let (src, rest) = colon(v);
    let (dest, opt) = colon(rest);
    let opt = rt::pick(b" rw ro", opt);
    if src.is_empty() || dest.len() < 2 || dest[0] != b'/' || opt.is_none() {
        return Err(bad(b"-v", v, b"use HOST:DIR[:ro], DIR absolute and not /"));
    }
    let source = absolute(src);
    sys::stat(source).map_err(|e| Error::sys2(b"-v ", v, e))?;
    Ok(Mount {
        dest,
        kind: b"bind",
        source,
        flags: MS_BIND | MS_REC | MS_PRIVATE | if opt == Some(2) { MS_RDONLY } else { 0 },
        data: b"",
    })
}

/// `--device HOST[:PATH][:rwm]`: the host node's kind, numbers, mode and
/// owner at PATH (default HOST), and a device rule for that access.
fn device(v: S) -> Res<(Device, u8)> {
    let (host, mut perms) = colon(v);
    let mut path = host;
    if perms.first() == Some(&b'/') {
        (path, perms) = colon(perms);
    }
    let st = sys::stat(host).map_err(|e| Error::sys2(b"--device ", host, e))?;
    let kind = match st.st_mode & sys::S_IFMT {
        sys::S_IFCHR => b'c',
        sys::S_IFBLK => b'b',
        _ => 0,
    };
    // The node goes in the container's /dev tmpfs, never into the rootfs.
    let in_dev = path.starts_with(b"/dev/") && !rt::split(path, b'/').any(|p| p == b"..");
    // access_bits is 0 for a letter outside rwm; no letters is all three.
    let access = if perms.is_empty() {
        7
    } else {
        crate::oci_res::access_bits(perms)
    };
    if !in_dev || access == 0 || kind == 0 {
        return Err(bad(
            b"--device",
            v,
            b"use /dev/NODE[:/dev/PATH][:rwm], NODE a device",
        ));
    }
    let (major, minor) = rootfs::dev_numbers(st.st_rdev as u64);
    Ok((
        Device {
            path,
            kind,
            major,
            minor,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
        },
        access,
    ))
}

fn absolute(p: S) -> S {
    if p.first() == Some(&b'/') {
        return p;
    }
    let mut buf = [0u8; 4096];
    match sys::getcwd(&mut buf) {
        Ok(cwd) => cat(&[cwd, b"/", p]),
        Err(_) => p,
    }
}

/// `-u UID[:GID]` or `-u NAME[:GROUP]`, names looked up in the rootfs.
pub fn set_user(c: &mut Container, u: S) -> Res<()> {
    let (user, group) = colon(u);
    let group = (user.len() < u.len()).then_some(group);
    let entry = id_entry(c.rootfs, b"/etc/passwd", user, true);
    c.uid = match rt::parse_u64(user).or(entry.and_then(|e| e.0)) {
        Some(n) => n as u32,
        None => {
            return Err(bad(
                b"-u",
                u,
                b"no such user in the container's /etc/passwd; use a numeric UID",
            ));
        }
    };
    c.gid = match group {
        Some(g) => match rt::parse_u64(g)
            .or_else(|| id_entry(c.rootfs, b"/etc/group", g, false).and_then(|e| e.0))
        {
            Some(n) => n as u32,
            None => {
                return Err(bad(
                    b"-u",
                    u,
                    b"no such group in the container's /etc/group; use a numeric GID",
                ));
            }
        },
        None => entry.and_then(|e| e.1).unwrap_or(0) as u32,
    };
    Ok(())
}

/// The third and fourth fields (ids) of the line of `file` in `root`
/// whose name is `key` (or whose id is, for passwd, which needs four).
#[inline(never)]
fn id_entry(root: S, file: &[u8], key: &[u8], passwd: bool) -> Option<(Option<u64>, Option<u64>)> {
    let data = rt::read_file(rootfs::resolve_in_root(root, file)).ok()?;
    // rt::split: its Split::next is shared, not one more copy.
    rt::split(&data, b'\n').find_map(|line| {
        let mut f = rt::split(line, b':');
        let (name, _, id, gid) = (f.next()?, f.next()?, f.next()?, f.next());
        let hit = if passwd {
            gid.is_some() && (name == key || id == key)
        } else {
            name == key
        };
        hit.then(|| (rt::parse_u64(id), gid.and_then(rt::parse_u64)))
    })
}

fn check_rootfs(path: &[u8]) -> Res<()> {
    let what = cat(&[b"rootfs ", path]);
    let e = match sys::stat(path) {
        Ok(st) if sys::is_dir(&st) => return Ok(()),
        Ok(_) => Error::new(what, b"is not a directory"),
        Err(e) => Error::sys(what, e),
    };
    Err(e.hint(b"pass --rootfs DIR pointing at an unpacked root filesystem"))
}

/// Picks the cgroup: the one asked for, the default where cgroup2 is
/// mounted, or none where it is not and no limit needs one.
pub fn cgroup_for(c: &mut Container, root: Option<S>) {
    let explicit = root.is_some();
    let root = root.unwrap_or(cgroup::DEFAULT_ROOT);
    if explicit || c.resources.any() || cgroup::is_cgroup2(cgroup::parent(root)) {
        c.cgroup_path = Some(spawn::cgroup_path(root, c.id));
        c.cgroup_explicit = true;
    } else if !c.resources.devices.is_empty() {
        // No cgroup, so no device policy: without CAP_MKNOD the container
        // cannot make a node for a host disk.
        let no_mknod = !(1u64 << 27);
        c.caps.bounding &= no_mknod;
        c.caps.effective &= no_mknod;
        c.caps.permitted &= no_mknod;
    }
}

fn mib(b: &mut Buf, n: u64) {
    if n.is_multiple_of(1 << 20) {
        b.u(n >> 20).s(b" MiB");
    } else {
        b.u(n).s(b" bytes");
    }
}

fn run(args: &[S]) -> Res<i32> {
    spawn::is_root()?;
    // Used in place through references: no copy out of the tuple. One
    // call site: an image's first use unpacks it, then parses again (for
    // -u names); the first result is leaked, not dropped.
    let mut again = true;
    let (c, flags) = &mut loop {
        let p = parse(args)?;
        if let Some(img) = p.1.image
            && p.0.rootfs.is_empty()
            && again
        {
            again = false;
            crate::image::resolve(crate::image::data_root(p.1.data_root), img)?;
            core::mem::forget(p);
            continue;
        }
        break p;
    };
    check_rootfs(c.rootfs)?;
    if flags.detach {
        return supervise::detach(args, c, flags);
    }
    // Never dropped: run exits right after (its lock closes then), and the
    // supervisor is left the only user of Prepared's drop code.
    let img = core::mem::ManuallyDrop::new(image(c, flags, c.id)?);
    let r = run_foreground(c, flags);
    if let Some(p) = &*img {
        crate::image::release(p)?;
    }
    r
}

/// The image, if any, made ready for container `id` and applied to `c`;
/// shared with the supervisor.
pub fn image(c: &mut Container, f: &RunFlags, id: S) -> Res<Option<crate::image::Prepared>> {
    let Some(i) = f.image else {
        return Ok(None);
    };
    let p = crate::image::prepare(crate::image::data_root(f.data_root), i, id, c.readonly_root)?;
    p.apply(c);
    Ok(Some(p))
}

fn run_foreground(c: &mut Container, flags: &RunFlags) -> Res<i32> {
    cgroup_for(c, flags.cgroup_root);
    let cg = match c.cgroup_path {
        Some(p) => Some(cgroup::create(p, &c.resources)?),
        None => None,
    };
    let status = foreground(c, cg.as_ref(), flags.init, false);
    // The cgroup goes whether or not the container ran.
    if let Some(g) = &cg {
        if let Ok(s) = status
            && sys::term_signal(s) == sys::SIGKILL
            && let Some(mem) = c.resources.memory
            && g.oom_killed()
        {
            let mut b = Buf::new();
            b.s(b"thinbox: container ")
                .s(c.id)
                .s(b" was killed by the OOM killer (memory limit ");
            mib(&mut b, mem as u64);
            b.s(b"); raise --memory\n");
            rt::err(b.as_slice());
        }
        g.remove();
    }
    Ok(sys::exit_code(status?))
}

/// For --init: a sealed copy of thinbox to exec as the container's PID 1.
pub fn init_image(init: bool) -> Res<Option<sys::Fd>> {
    if !init {
        return Ok(None);
    }
    let fd = sys::sealed_self().map_err(|e| Error::sys(b"copying thinbox for --init", e))?;
    Ok(Some(fd))
}

/// Spawns and waits with signals forwarded; the raw wait status.
pub fn foreground(c: &Container, cg: Option<&Cgroup>, init: bool, joining: bool) -> Res<i32> {
    let init_fd = init_image(init)?;
    let set = spawn::forward_set();
    let old = sys::sigprocmask(sys::SIG_BLOCK, set).map_err(|e| Error::sys(b"sigprocmask", e))?;
    let sigfd = sys::signalfd(set).map_err(|e| Error::sys(b"signalfd", e))?;
    let opts = spawn::Opts {
        die_with_parent: true,
        start_fd: None,
        preserve_fds: 0,
        hooks: None,
        hook_sync: None,
        winsize: if c.tty {
            crate::tty::host_winsize()
        } else {
            None
        },
        sigmask: old,
        init_fd: init_fd.as_ref().map(|f| f.raw()),
        joining,
    };
    let child = spawn::spawn(c, cg, &opts)?;
    Ok(spawn::wait_foreground(&child, &sigfd))
}

#[cfg(test)]
mod tests {
    use super::{command, parse};

    fn swap(args: &[&'static [u8]]) -> Option<i64> {
        let mut v: alloc::vec::Vec<&'static [u8]> = alloc::vec![&b"--rootfs"[..], b"/"];
        v.extend_from_slice(args);
        v.push(b"true");
        parse(v.leak()).ok().and_then(|(c, _)| c.resources.swap)
    }

    #[test]
    fn command_operands() {
        let rootfs: &[&[u8]] = &[
            b"-d",
            b"--rootfs=/r",
            b"-v",
            b"/a:/b",
            b"-it",
            b"sh",
            b"-c",
            b"x",
        ];
        assert_eq!(command(rootfs), &rootfs[5..]);
        let image: &[&[u8]] = &[b"--name", b"n", b"-e", b"A=1", b"alpine", b"top", b"-b"];
        assert_eq!(command(image), &image[5..]);
    }

    #[test]
    fn env_in_order() {
        let args: &[&[u8]] = &[
            b"--rootfs",
            b"/",
            b"-e",
            b"A=1",
            b"-te",
            b"C=3",
            b"-e",
            b"A=2",
            b"true",
        ];
        let (c, _) = parse(args.to_vec().leak()).ok().unwrap();
        let want: [&[u8]; 5] = [
            crate::spec::DEFAULT_PATH,
            b"HOME=/root",
            b"TERM=xterm",
            b"A=2",
            b"C=3",
        ];
        assert_eq!(c.env, want);
    }

    #[test]
    fn memory_swap() {
        assert_eq!(
            swap(&[b"-m", b"64m", b"--memory-swap", b"96m"]),
            Some(32 << 20)
        );
        assert_eq!(swap(&[b"-m", b"64m", b"--memory-swap", b"64m"]), Some(0));
        assert_eq!(swap(&[b"-m", b"64m", b"--memory-swap", b"-1"]), Some(-1));
        assert_eq!(swap(&[b"-m", b"64m", b"--memory-swap", b"32m"]), None);
        assert_eq!(swap(&[b"--memory-swap", b"-1"]), None);
        assert_eq!(swap(&[b"-m", b"64m"]), None);
    }
}
