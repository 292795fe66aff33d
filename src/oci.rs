//! OCI runtime-spec config.json (1.0 to 1.2) into the one internal
//! `Container`. Unknown fields are ignored; a wrong type, a bad value or a
//! property thinbox cannot apply is an error naming the JSON path.

use crate::caps::{self, Caps};
use crate::json::{self, Json, want_arr, want_bool, want_i64, want_obj, want_str, want_u64};
use crate::rt::{self, Buf, Error, Res, S, cat};
use crate::spec::{self, Container, Device, IdMap, Mount, Rlimit};
use crate::sys;
use alloc::vec::Vec;

#[derive(Clone)]
pub struct Hook {
    pub path: S,
    pub args: Vec<S>,
    pub env: Vec<S>,
    pub timeout: Option<u64>,
}

/// Hook lists in spec order: prestart, createRuntime, createContainer,
/// startContainer, poststart, poststop.
pub const HOOK_NAMES: [&[u8]; 6] = [
    b"prestart",
    b"createRuntime",
    b"createContainer",
    b"startContainer",
    b"poststart",
    b"poststop",
];
pub const PRESTART: usize = 0;
pub const CREATE_RUNTIME: usize = 1;
pub const CREATE_CONTAINER: usize = 2;
pub const START_CONTAINER: usize = 3;
pub const POSTSTART: usize = 4;
pub const POSTSTOP: usize = 5;

pub struct Bundle {
    pub c: Container,
    pub hooks: [Vec<Hook>; 6],
    pub annotations: Vec<(S, S)>,
    pub console: Option<sys::Winsize>,
}

fn bad(path: &[u8], v: &Json, why: &[u8]) -> Error {
    Error::new(path, cat(&[why, b", got ", v.text()]))
}

fn p(a: &[u8], b: &[u8]) -> S {
    cat(&[a, b".", b])
}

fn idx(a: &[u8], i: usize) -> S {
    let mut b = Buf::new();
    b.s(a).c(b'[').u(i as u64).c(b']');
    b.leak()
}

fn strs(v: &Json, path: &[u8]) -> Res<Vec<S>> {
    want_arr(v, path)?
        .iter()
        .enumerate()
        .map(|(i, s)| want_str(s, idx(path, i)))
        .collect()
}

fn u32_of(v: &Json, path: &[u8]) -> Res<u32> {
    let n = want_u64(v, path)?;
    u32::try_from(n).map_err(|_| bad(path, v, b"expected a 32-bit value"))
}

/// Reads `<bundle>/config.json` for container `id`.
pub fn load(bundle: S, id: S) -> Res<Bundle> {
    let path = cat(&[bundle, b"/config.json"]);
    let text = rt::read_file(path).map_err(|e| {
        Error::sys(path, e).hint(b"pass --bundle DIR holding config.json (thinbox spec writes one)")
    })?;
    let j = json::parse(&text).map_err(|e| Error::new(path, e.msg))?;
    parse(&j, bundle, id)
}

pub fn parse(j: &Json, bundle: S, id: S) -> Res<Bundle> {
    want_obj(j, b"config")?;
    let root = j
        .get(b"root")
        .ok_or_else(|| Error::new(b"root", b"missing; config.json needs root.path"))?;
    let rpath = want_str(
        root.get(b"path")
            .ok_or_else(|| Error::new(b"root.path", b"missing"))?,
        b"root.path",
    )?;
    let rootfs = if rpath.first() == Some(&b'/') {
        rpath
    } else {
        cat(&[bundle, b"/", rpath])
    };
    let mut c = Container::new(id, rootfs);
    c.caps = Caps::default();
    c.no_new_privs = false;
    if let Some(v) = root.get(b"readonly") {
        c.readonly_root = want_bool(v, b"root.readonly")?;
    }
    let mut b = Bundle {
        c,
        hooks: Default::default(),
        annotations: Vec::new(),
        console: None,
    };
    if let Some(v) = j.get(b"hostname") {
        b.c.hostname = Some(want_str(v, b"hostname")?);
    }
    if let Some(v) = j.get(b"domainname") {
        b.c.domainname = Some(want_str(v, b"domainname")?);
    }
    if let Some(pr) = j.get(b"process") {
        process(&mut b, pr)?;
    }
    if let Some(ms) = j.get(b"mounts") {
        for (i, m) in want_arr(ms, b"mounts")?.iter().enumerate() {
            b.c.mounts.push(mount(m, idx(b"mounts", i), bundle)?);
        }
    }
    if let Some(a) = j.get(b"annotations") {
        for (k, v) in want_obj(a, b"annotations")? {
            b.annotations.push((k, want_str(v, p(b"annotations", k))?));
        }
    }
    if let Some(h) = j.get(b"hooks") {
        want_obj(h, b"hooks")?;
        for (n, name) in HOOK_NAMES.iter().enumerate() {
            if let Some(list) = h.get(name) {
                let path = p(b"hooks", name);
                for (i, e) in want_arr(list, path)?.iter().enumerate() {
                    b.hooks[n].push(hook(e, idx(path, i))?);
                }
            }
        }
    }
    b.c.namespaces = 0;
    if let Some(l) = j.get(b"linux") {
        linux(&mut b.c, l)?;
    }
    Ok(b)
}

fn hook(h: &Json, path: &[u8]) -> Res<Hook> {
    let hp = want_str(
        h.get(b"path")
            .ok_or_else(|| Error::new(p(path, b"path"), b"missing"))?,
        p(path, b"path"),
    )?;
    if hp.first() != Some(&b'/') {
        return Err(Error::new(
            p(path, b"path"),
            cat(&[b"must be absolute, got ", hp]),
        ));
    }
    let mut k = Hook {
        path: hp,
        args: Vec::new(),
        env: Vec::new(),
        timeout: None,
    };
    if let Some(a) = h.get(b"args") {
        k.args = strs(a, p(path, b"args"))?;
    }
    if let Some(e) = h.get(b"env") {
        k.env = strs(e, p(path, b"env"))?;
    }
    if let Some(t) = h.get(b"timeout") {
        let n = want_i64(t, p(path, b"timeout"))?;
        if n <= 0 {
            return Err(bad(p(path, b"timeout"), t, b"must be positive"));
        }
        k.timeout = Some(n as u64);
    }
    Ok(k)
}

const RLIMITS: [&[u8]; 16] = [
    b"CPU",
    b"FSIZE",
    b"DATA",
    b"STACK",
    b"CORE",
    b"RSS",
    b"NPROC",
    b"NOFILE",
    b"MEMLOCK",
    b"AS",
    b"LOCKS",
    b"SIGPENDING",
    b"MSGQUEUE",
    b"NICE",
    b"RTPRIO",
    b"RTTIME",
];

pub fn process(b: &mut Bundle, pr: &Json) -> Res<()> {
    want_obj(pr, b"process")?;
    let c = &mut b.c;
    if let Some(v) = pr.get(b"terminal") {
        c.tty = want_bool(v, b"process.terminal")?;
    }
    if let Some(cs) = pr.get(b"consoleSize") {
        let h = cs
            .get(b"height")
            .map(|v| want_u64(v, b"process.consoleSize.height"));
        let w = cs
            .get(b"width")
            .map(|v| want_u64(v, b"process.consoleSize.width"));
        b.console = Some(sys::Winsize {
            ws_row: h.transpose()?.unwrap_or(0) as u16,
            ws_col: w.transpose()?.unwrap_or(0) as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        });
    }
    if let Some(a) = pr.get(b"args") {
        c.args = strs(a, b"process.args")?;
    }
    if let Some(e) = pr.get(b"env") {
        c.env = strs(e, b"process.env")?;
    }
    if let Some(v) = pr.get(b"cwd") {
        c.cwd = want_str(v, b"process.cwd")?;
        if c.cwd.first() != Some(&b'/') {
            return Err(bad(b"process.cwd", v, b"must be an absolute path"));
        }
    }
    if let Some(u) = pr.get(b"user") {
        want_obj(u, b"process.user")?;
        if let Some(v) = u.get(b"uid") {
            c.uid = u32_of(v, b"process.user.uid")?;
        }
        if let Some(v) = u.get(b"gid") {
            c.gid = u32_of(v, b"process.user.gid")?;
        }
        if let Some(v) = u.get(b"umask") {
            c.umask = Some(u32_of(v, b"process.user.umask")?);
        }
        if let Some(g) = u.get(b"additionalGids") {
            for (i, v) in want_arr(g, b"process.user.additionalGids")?
                .iter()
                .enumerate()
            {
                c.groups
                    .push(u32_of(v, idx(b"process.user.additionalGids", i))?);
            }
        }
        if let Some(v) = u.get(b"username") {
            want_str(v, b"process.user.username")?;
        }
    }
    if let Some(cp) = pr.get(b"capabilities") {
        want_obj(cp, b"process.capabilities")?;
        let sets: [(&[u8], &mut u64); 5] = [
            (b"bounding", &mut c.caps.bounding),
            (b"effective", &mut c.caps.effective),
            (b"inheritable", &mut c.caps.inheritable),
            (b"permitted", &mut c.caps.permitted),
            (b"ambient", &mut c.caps.ambient),
        ];
        for (name, set) in sets {
            if let Some(list) = cp.get(name) {
                let path = p(b"process.capabilities", name);
                for (i, v) in want_arr(list, path)?.iter().enumerate() {
                    let n = want_str(v, idx(path, i))?;
                    let cap = caps::parse(n)
                        .ok_or_else(|| bad(idx(path, i), v, b"unknown capability"))?;
                    *set |= 1 << cap;
                }
            }
        }
    }
    if let Some(rl) = pr.get(b"rlimits") {
        for (i, r) in want_arr(rl, b"process.rlimits")?.iter().enumerate() {
            let path = idx(b"process.rlimits", i);
            let tp = p(path, b"type");
            let tv = r.get(b"type").ok_or_else(|| Error::new(tp, b"missing"))?;
            let t = want_str(tv, tp)?;
            let res = t
                .strip_prefix(b"RLIMIT_")
                .and_then(|n| RLIMITS.iter().position(|x| *x == n))
                .ok_or_else(|| bad(tp, tv, b"unknown rlimit"))?;
            let get = |k: &[u8]| match r.get(k) {
                Some(v) => want_u64(v, p(path, k)),
                None => Ok(0),
            };
            let (soft, hard) = (get(b"soft")?, get(b"hard")?);
            if soft > hard {
                return Err(Error::new(path, b"soft limit is above the hard limit"));
            }
            c.rlimits.push(Rlimit {
                resource: res as u32,
                soft,
                hard,
            });
        }
    }
    if let Some(v) = pr.get(b"noNewPrivileges") {
        c.no_new_privs = want_bool(v, b"process.noNewPrivileges")?;
    }
    if let Some(v) = pr.get(b"oomScoreAdj") {
        let n = want_i64(v, b"process.oomScoreAdj")?;
        if !(-1000..=1000).contains(&n) {
            return Err(bad(b"process.oomScoreAdj", v, b"must be -1000 to 1000"));
        }
        c.oom_score_adj = Some(n as i32);
    }
    if let Some(v) = pr.get(b"apparmorProfile")
        && !want_str(v, b"process.apparmorProfile")?.is_empty()
    {
        return Err(bad(
            b"process.apparmorProfile",
            v,
            b"AppArmor is not supported by thinbox; remove it",
        ));
    }
    if let Some(v) = pr.get(b"selinuxLabel") {
        selinux(v, b"process.selinuxLabel")?;
    }
    Ok(())
}

/// Labels only apply where SELinux is enabled; thinbox has no SELinux
/// support, so a label on an SELinux host is an error.
fn selinux(v: &Json, path: &[u8]) -> Res<()> {
    if !want_str(v, path)?.is_empty() && sys::stat(b"/sys/fs/selinux/enforce").is_ok() {
        return Err(bad(path, v, b"SELinux labels are not supported by thinbox"));
    }
    Ok(())
}

/// Mount option words and their flag effect: (word, set, clear).
const MOUNT_OPTS: [(&[u8], u64, u64); 26] = [
    (b"ro", spec::MS_RDONLY, 0),
    (b"rw", 0, spec::MS_RDONLY),
    (b"nosuid", spec::MS_NOSUID, 0),
    (b"suid", 0, spec::MS_NOSUID),
    (b"nodev", spec::MS_NODEV, 0),
    (b"dev", 0, spec::MS_NODEV),
    (b"noexec", spec::MS_NOEXEC, 0),
    (b"exec", 0, spec::MS_NOEXEC),
    (b"sync", 16, 0),
    (b"async", 0, 16),
    (b"dirsync", 128, 0),
    (b"remount", spec::MS_REMOUNT, 0),
    (b"mand", 64, 0),
    (b"nomand", 0, 64),
    (b"atime", 0, spec::MS_NOATIME),
    (b"noatime", spec::MS_NOATIME, 0),
    (b"diratime", 0, spec::MS_NODIRATIME),
    (b"nodiratime", spec::MS_NODIRATIME, 0),
    (b"relatime", spec::MS_RELATIME, 0),
    (b"norelatime", 0, spec::MS_RELATIME),
    (b"strictatime", spec::MS_STRICTATIME, 0),
    (b"nostrictatime", 0, spec::MS_STRICTATIME),
    (b"bind", spec::MS_BIND, 0),
    (b"rbind", spec::MS_BIND | spec::MS_REC, 0),
    (b"silent", 32768, 0),
    (b"loud", 0, 32768),
];

/// Propagation words; the "r" forms add MS_REC.
fn propagation(w: &[u8]) -> Option<u64> {
    let (rec, w) = match w.strip_prefix(b"r") {
        Some(rest) if rest != b"o" && rest != b"w" && rest != b"bind" => (spec::MS_REC, rest),
        _ => (0, w),
    };
    let f = match w {
        b"private" => spec::MS_PRIVATE,
        b"shared" => spec::MS_SHARED,
        b"slave" => spec::MS_SLAVE,
        b"unbindable" => spec::MS_UNBINDABLE,
        _ => return None,
    };
    Some(f | rec)
}

fn mount(m: &Json, path: &[u8], bundle: S) -> Res<Mount> {
    want_obj(m, path)?;
    let dp = p(path, b"destination");
    let dest = want_str(
        m.get(b"destination")
            .ok_or_else(|| Error::new(dp, b"missing"))?,
        dp,
    )?;
    let kind = match m.get(b"type") {
        Some(v) => want_str(v, p(path, b"type"))?,
        None => b"",
    };
    let mut source = match m.get(b"source") {
        Some(v) => want_str(v, p(path, b"source"))?,
        None => kind,
    };
    let mut flags = 0u64;
    let mut data = Buf::new();
    if let Some(o) = m.get(b"options") {
        for w in strs(o, p(path, b"options"))? {
            if let Some((_, set, clear)) = MOUNT_OPTS.iter().find(|(n, _, _)| *n == w) {
                flags = (flags | set) & !clear;
            } else if let Some(f) = propagation(w) {
                flags |= f;
            } else if w == b"tmpcopyup" || w.starts_with(b"x-") {
                // Userspace-only options, as runc and crun treat them.
            } else {
                if !data.0.is_empty() {
                    data.c(b',');
                }
                data.s(w);
            }
        }
    }
    if kind == b"bind" {
        flags |= spec::MS_BIND;
    }
    if flags & spec::MS_BIND != 0 && source.first() != Some(&b'/') {
        source = cat(&[bundle, b"/", source]);
    }
    Ok(Mount {
        dest,
        kind,
        source,
        flags,
        data: data.leak(),
    })
}

const NAMESPACES: [(&[u8], u64); 8] = [
    (b"pid", sys::CLONE_NEWPID),
    (b"network", sys::CLONE_NEWNET),
    (b"mount", sys::CLONE_NEWNS),
    (b"ipc", sys::CLONE_NEWIPC),
    (b"uts", sys::CLONE_NEWUTS),
    (b"user", sys::CLONE_NEWUSER),
    (b"cgroup", sys::CLONE_NEWCGROUP),
    (b"time", sys::CLONE_NEWTIME),
];

fn idmaps(v: &Json, path: &[u8]) -> Res<Vec<IdMap>> {
    let mut out = Vec::new();
    for (i, m) in want_arr(v, path)?.iter().enumerate() {
        let ip = idx(path, i);
        let get = |k: &[u8]| match m.get(k) {
            Some(v) => u32_of(v, p(ip, k)),
            None => Err(Error::new(p(ip, k), b"missing")),
        };
        out.push(IdMap {
            container: get(b"containerID")?,
            host: get(b"hostID")?,
            size: get(b"size")?,
        });
    }
    Ok(out)
}

fn linux(c: &mut Container, l: &Json) -> Res<()> {
    want_obj(l, b"linux")?;
    if let Some(ns) = l.get(b"namespaces") {
        for (i, n) in want_arr(ns, b"linux.namespaces")?.iter().enumerate() {
            let ip = idx(b"linux.namespaces", i);
            let tp = p(ip, b"type");
            let tv = n.get(b"type").ok_or_else(|| Error::new(tp, b"missing"))?;
            let t = want_str(tv, tp)?;
            let flag = NAMESPACES
                .iter()
                .find(|(name, _)| *name == t)
                .map(|(_, f)| *f)
                .ok_or_else(|| bad(tp, tv, b"unknown namespace type"))?;
            if c.namespaces & flag != 0 || c.join.iter().any(|(f, _)| *f == flag) {
                return Err(bad(tp, tv, b"namespace listed twice"));
            }
            match n.get(b"path") {
                Some(pv) => {
                    let path = want_str(pv, p(ip, b"path"))?;
                    if sys::stat(path).is_err() {
                        return Err(bad(p(ip, b"path"), pv, b"no such namespace file"));
                    }
                    c.join.push((flag, path));
                }
                None => c.namespaces |= flag,
            }
        }
    }
    if let Some(v) = l.get(b"uidMappings") {
        c.uid_map = idmaps(v, b"linux.uidMappings")?;
    }
    if let Some(v) = l.get(b"gidMappings") {
        c.gid_map = idmaps(v, b"linux.gidMappings")?;
    }
    if (!c.uid_map.is_empty() || !c.gid_map.is_empty()) && c.namespaces & sys::CLONE_NEWUSER == 0 {
        return Err(Error::new(
            b"linux.uidMappings",
            b"needs a new user namespace in linux.namespaces",
        ));
    }
    if let Some(ds) = l.get(b"devices") {
        for (i, d) in want_arr(ds, b"linux.devices")?.iter().enumerate() {
            c.devices.push(device(d, idx(b"linux.devices", i))?);
        }
    }
    if let Some(v) = l.get(b"cgroupsPath") {
        let cp = want_str(v, b"linux.cgroupsPath")?;
        if !cp.is_empty() {
            c.cgroup_path = Some(cp);
            c.cgroup_explicit = true;
        }
    }
    if let Some(r) = l.get(b"resources") {
        crate::oci_res::resources(c, r)?;
    }
    if !c.resources.devices.is_empty() {
        allow_devices(c);
    }
    if let Some(s) = l.get(b"sysctl") {
        for (k, v) in want_obj(s, b"linux.sysctl")? {
            c.sysctl.push((k, want_str(v, p(b"linux.sysctl", k))?));
        }
    }
    if let Some(v) = l.get(b"maskedPaths") {
        c.masked_paths = strs(v, b"linux.maskedPaths")?;
    }
    if let Some(v) = l.get(b"readonlyPaths") {
        c.readonly_paths = strs(v, b"linux.readonlyPaths")?;
    }
    if let Some(v) = l.get(b"rootfsPropagation") {
        let w = want_str(v, b"linux.rootfsPropagation")?;
        c.rootfs_propagation = propagation(w)
            .ok_or_else(|| bad(b"linux.rootfsPropagation", v, b"unknown propagation"))?
            | spec::MS_REC;
    }
    if let Some(v) = l.get(b"mountLabel") {
        selinux(v, b"linux.mountLabel")?;
    }
    if let Some(s) = l.get(b"seccomp")
        && !s.is_null()
    {
        c.seccomp = Some(crate::seccomp::from_json(s, c.caps.bounding)?);
    }
    for unsupported in [&b"intelRdt"[..], b"personality", b"timeOffsets"] {
        if let Some(v) = l.get(unsupported)
            && !v.is_null()
        {
            return Err(bad(
                p(b"linux", unsupported),
                v,
                b"not supported by thinbox; remove it",
            ));
        }
    }
    Ok(())
}

fn device(d: &Json, path: &[u8]) -> Res<Device> {
    want_obj(d, path)?;
    let pp = p(path, b"path");
    let dpath = want_str(
        d.get(b"path").ok_or_else(|| Error::new(pp, b"missing"))?,
        pp,
    )?;
    let tp = p(path, b"type");
    let tv = d.get(b"type").ok_or_else(|| Error::new(tp, b"missing"))?;
    let kind = match want_str(tv, tp)? {
        b"c" | b"u" => b'c',
        b"b" => b'b',
        b"p" => b'p',
        _ => return Err(bad(tp, tv, b"expected c, u, b or p")),
    };
    let num = |k: &[u8], required: bool| match d.get(k) {
        Some(v) => u32_of(v, p(path, k)),
        None if required => Err(Error::new(p(path, k), b"missing")),
        None => Ok(0),
    };
    let need = kind != b'p';
    Ok(Device {
        path: dpath,
        kind,
        major: num(b"major", need)?,
        minor: num(b"minor", need)?,
        mode: match d.get(b"fileMode") {
            Some(v) => u32_of(v, p(path, b"fileMode"))?,
            None => 0o666,
        },
        uid: num(b"uid", false)?,
        gid: num(b"gid", false)?,
    })
}

/// Docker's device policy for the simple CLI: deny all, then the usual.
pub fn docker_devices(c: &mut Container) {
    c.resources.devices.push(crate::spec::DevRule {
        allow: false,
        kind: b'a',
        major: -1,
        minor: -1,
        access: 7,
    });
    allow_devices(c);
}

/// After the config's device rules: what every container needs (mknod
/// anywhere, the standard nodes, ptys) and the config's own devices, as
/// runc and crun add them.
fn allow_devices(c: &mut Container) {
    use crate::spec::DevRule;
    let rule = |kind: u8, major: i64, minor: i64, access: u8| DevRule {
        allow: true,
        kind,
        major,
        minor,
        access,
    };
    c.resources.devices.push(rule(b'c', -1, -1, 1));
    c.resources.devices.push(rule(b'b', -1, -1, 1));
    for (ma, mi) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
        (136, -1),
    ] {
        c.resources.devices.push(rule(b'c', ma, mi, 7));
    }
    for d in c.devices.clone() {
        if d.kind != b'p' {
            c.resources
                .devices
                .push(rule(d.kind, d.major as i64, d.minor as i64, 7));
        }
    }
}
