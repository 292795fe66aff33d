//! OCI runtime-spec config.json (1.0 to 1.2) into the one internal
//! `Container`. Unknown fields are ignored; a wrong type, a bad value or a
//! property thinbox cannot apply is an error naming the JSON path.

use crate::caps::{self, Caps};
use crate::json::{self, ANY, ARR, At, Json, OBJ, Rd, STR, U32, join};
use crate::oci_res::word;
use crate::rt::{self, Buf, Res, S, cat};
use crate::spec::{self, Container, Device, IdMap, Mount, Rlimit};
use crate::sys;
use alloc::vec::Vec;
use core::mem::ManuallyDrop;

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
    /// Never dropped, like most things (the arena frees only its newest
    /// block): no drop glue for six lists of hooks.
    pub hooks: ManuallyDrop<[Vec<Hook>; 6]>,
    pub annotations: Vec<(S, S)>,
    pub console: Option<sys::Winsize>,
}

pub fn parse(j: &Json, bundle: S, id: S) -> Res<Bundle> {
    let mut r = Rd::new();
    let top = At { j, path: b"" };
    r.check(Some(j), b"config", b"", OBJ);
    let root = j.get(b"root");
    if root.is_none() {
        r.fail(b"root", b"missing; config.json needs root.path");
    }
    let ra = At {
        j: root.unwrap_or(&json::NULL),
        path: b"root",
    };
    let rpath = r.need_s(ra, b"path");
    let rootfs = if rpath.first() == Some(&b'/') {
        rpath
    } else {
        cat(&[bundle, b"/", rpath])
    };
    // Not dropped on an error (the arena frees only its newest block):
    // no drop glue here.
    let mut b = ManuallyDrop::new(Bundle {
        c: Container::new(id, rootfs),
        hooks: Default::default(),
        annotations: Vec::new(),
        console: None,
    });
    let c = &mut b.c;
    c.caps = Caps::default();
    c.no_new_privs = false;
    c.namespaces = 0;
    if let Some(v) = r.bool(ra, b"readonly") {
        c.readonly_root = v;
    }
    if let Some(v) = r.str(top, b"ociVersion")
        && !semver(v)
    {
        r.fail(
            b"ociVersion",
            cat(&[b"expected a SemVer version such as 1.2.0, got ", v]),
        );
    }
    c.hostname = r.str(top, b"hostname");
    c.domainname = r.str(top, b"domainname");
    if let Some(pr) = r.sub(top, b"process", OBJ) {
        process(&mut r, &mut b, pr);
    }
    for e in elems(&mut r, top, b"mounts") {
        let m = mount(&mut r, e, bundle);
        b.c.mounts.push(m);
    }
    str_map(&mut r, top, b"annotations", &mut b.annotations);
    if let Some(h) = r.sub(top, b"hooks", OBJ) {
        for (name, list) in HOOK_NAMES.iter().zip(b.hooks.iter_mut()) {
            for e in elems(&mut r, h, name) {
                let k = hook(&mut r, e);
                list.push(k);
            }
        }
    }
    if let Some(l) = r.sub(top, b"linux", OBJ) {
        linux(&mut r, &mut b.c, l);
    }
    r.done(())?;
    Ok(ManuallyDrop::into_inner(b))
}

/// The elements of array `k` of `o` (none if absent or not an array),
/// each named by its path.
fn elems<'a>(r: &mut Rd<'a>, o: At<'a>, k: &'a [u8]) -> impl Iterator<Item = At<'a>> + use<'a> {
    let a = r.sub(o, k, ARR).unwrap_or(At {
        j: &json::NULL,
        path: b"",
    });
    (0..a.items().len()).map(move |i| a.at(i))
}

/// An object of strings (annotations, sysctl), appended to `out`.
fn str_map<'a>(r: &mut Rd<'a>, o: At<'a>, k: &'a [u8], out: &mut Vec<(S, S)>) {
    if let Some(m) = r.sub(o, k, OBJ) {
        for (k, v) in m.j.as_obj().unwrap_or(&[]) {
            if let Some(v) = r.check(Some(v), m.path, k, STR).and_then(Json::as_str) {
                out.push((k, v));
            }
        }
    }
}

/// MAJOR.MINOR.PATCH, then an optional -pre-release and +build. One
/// pass, counting the dots and the digits of the current part.
fn semver(v: &[u8]) -> bool {
    let (mut dots, mut digits) = (0, 0);
    for (i, &c) in v.iter().enumerate() {
        match c {
            b'0'..=b'9' => digits += 1,
            b'.' if digits > 0 => (dots, digits) = (dots + 1, 0),
            b'-' | b'+' => return dots == 2 && digits > 0 && i + 1 != v.len(),
            _ => return false,
        }
    }
    dots == 2 && digits > 0
}

#[inline(never)]
fn hook<'a>(r: &mut Rd<'a>, h: At<'a>) -> Hook {
    let hp = r.need_s(h, b"path");
    if hp.first() != Some(&b'/') {
        r.fail(join(h.path, b"path"), cat(&[b"must be absolute, got ", hp]));
    }
    let mut k = Hook {
        path: hp,
        args: Vec::new(),
        env: Vec::new(),
        timeout: None,
    };
    r.strs(h, b"args", &mut k.args);
    r.strs(h, b"env", &mut k.env);
    k.timeout = match r.int(h, b"timeout") {
        Some(n) if n <= 0 => {
            r.no(b"must be positive");
            None
        }
        n => n.map(|n| n as u64),
    };
    k
}

/// RLIMIT_ names in number order, one string for rt::pick.
const RLIMITS: &[u8] = b"CPU FSIZE DATA STACK CORE RSS NPROC NOFILE MEMLOCK AS LOCKS SIGPENDING MSGQUEUE NICE RTPRIO RTTIME";

/// `exec --process`: an OCI process object replacing the bundle's. The
/// lists process() appends to start empty, as in parse().
pub fn process_json(b: &mut Bundle, pr: &Json) -> Res<()> {
    let c = &mut b.c;
    c.caps = Caps::default();
    c.groups.clear();
    c.env.clear();
    c.args.clear();
    c.rlimits.clear();
    let mut r = Rd::new();
    if r.check(Some(pr), b"process", b"", OBJ).is_some() {
        process(
            &mut r,
            b,
            At {
                j: pr,
                path: b"process",
            },
        );
    }
    r.done(())
}

/// process.capabilities' sets, in the order they are read.
const CAP_SETS: &[u8] = b"bounding effective inheritable permitted ambient";

#[inline(never)]
fn process<'a>(r: &mut Rd<'a>, b: &mut Bundle, pr: At<'a>) {
    let c = &mut b.c;
    if let Some(v) = r.bool(pr, b"terminal") {
        c.tty = v;
    }
    if let Some(cs) = r.sub(pr, b"consoleSize", ANY) {
        b.console = Some(sys::Winsize {
            ws_row: r.uint(cs, b"height").unwrap_or(0) as u16,
            ws_col: r.uint(cs, b"width").unwrap_or(0) as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        });
    }
    r.strs(pr, b"args", &mut c.args);
    r.strs(pr, b"env", &mut c.env);
    if let Some(v) = r.str(pr, b"cwd") {
        c.cwd = v;
        if v.first() != Some(&b'/') {
            r.no(b"must be an absolute path");
        }
    }
    if let Some(u) = r.sub(pr, b"user", OBJ) {
        if let Some(v) = r.u32(u, b"uid") {
            c.uid = v;
        }
        if let Some(v) = r.u32(u, b"gid") {
            c.gid = v;
        }
        if let Some(v) = r.u32(u, b"umask") {
            c.umask = Some(v);
        }
        for e in elems(r, u, b"additionalGids") {
            if let Some(v) = r.check(Some(e.j), e.path, b"", U32) {
                c.groups.push(v.as_u64().unwrap_or(0) as u32);
            }
        }
        r.str(u, b"username");
    }
    if let Some(cp) = r.sub(pr, b"capabilities", OBJ) {
        // Read in CAP_SETS order; the sets start empty.
        let mut sets = [0u64; 5];
        let mut names = CAP_SETS;
        for set in &mut sets {
            let name = word(&mut names);
            for e in elems(r, cp, name) {
                if let Some(n) = r.check(Some(e.j), e.path, b"", STR).and_then(Json::as_str) {
                    match caps::parse(n) {
                        Some(cap) => *set |= 1 << cap,
                        None => r.no(b"unknown capability"),
                    }
                }
            }
        }
        let [bounding, effective, inheritable, permitted, ambient] = sets;
        c.caps = Caps {
            bounding,
            effective,
            permitted,
            inheritable,
            ambient,
        };
    }
    for e in elems(r, pr, b"rlimits") {
        let t = r.need_s(e, b"type");
        let res = t
            .strip_prefix(b"RLIMIT_")
            .and_then(|n| rt::pick(RLIMITS, n));
        if res.is_none() {
            r.no(b"unknown rlimit");
        }
        let soft = r.uint(e, b"soft").unwrap_or(0);
        let hard = r.uint(e, b"hard").unwrap_or(0);
        if soft > hard {
            r.fail(e.path, b"soft limit is above the hard limit");
        }
        c.rlimits.push(Rlimit {
            resource: res.unwrap_or(0) as u32,
            soft,
            hard,
        });
    }
    if let Some(v) = r.bool(pr, b"noNewPrivileges") {
        c.no_new_privs = v;
    }
    if let Some(n) = r.int(pr, b"oomScoreAdj") {
        if !(-1000..=1000).contains(&n) {
            r.no(b"must be -1000 to 1000");
        }
        c.oom_score_adj = Some(n as i32);
    }
    if let Some(v) = r.str(pr, b"apparmorProfile")
        && !v.is_empty()
    {
        // Unit tests see the same on every host.
        if !cfg!(test) && !crate::apparmor::enabled() {
            r.no(b"AppArmor is not enabled on this host; remove it, or boot with apparmor=1");
        }
        c.apparmor = Some(v);
    }
    selinux(r, pr, b"selinuxLabel");
}

/// Labels only apply where SELinux is enabled; thinbox has no SELinux
/// support, so a label on an SELinux host is an error.
fn selinux<'a>(r: &mut Rd<'a>, o: At<'a>, k: &'a [u8]) {
    if let Some(v) = r.str(o, k)
        && !v.is_empty()
        && sys::stat(b"/sys/fs/selinux/enforce").is_ok()
    {
        r.no(b"SELinux labels are not supported by thinbox");
    }
}

/// Mount option words, in `thinbox features` order, and their flag
/// effect in MOUNT_FLAGS: (set, clear). One string, as a table of
/// slices costs 16 bytes a word.
pub const MOUNT_WORDS: &[u8] = b"ro rw nosuid suid nodev dev noexec exec sync async dirsync remount mand nomand atime noatime diratime nodiratime relatime norelatime strictatime nostrictatime bind rbind private rprivate shared rshared slave rslave unbindable runbindable silent loud";
const MOUNT_FLAGS: [(u64, u64); 34] = [
    (spec::MS_RDONLY, 0),
    (0, spec::MS_RDONLY),
    (spec::MS_NOSUID, 0),
    (0, spec::MS_NOSUID),
    (spec::MS_NODEV, 0),
    (0, spec::MS_NODEV),
    (spec::MS_NOEXEC, 0),
    (0, spec::MS_NOEXEC),
    (16, 0),
    (0, 16),
    (128, 0),
    (spec::MS_REMOUNT, 0),
    (64, 0),
    (0, 64),
    (0, spec::MS_NOATIME),
    (spec::MS_NOATIME, 0),
    (0, spec::MS_NODIRATIME),
    (spec::MS_NODIRATIME, 0),
    (spec::MS_RELATIME, 0),
    (0, spec::MS_RELATIME),
    (spec::MS_STRICTATIME, 0),
    (0, spec::MS_STRICTATIME),
    (spec::MS_BIND, 0),
    (spec::MS_BIND | spec::MS_REC, 0),
    (spec::MS_PRIVATE, 0),
    (spec::MS_PRIVATE | spec::MS_REC, 0),
    (spec::MS_SHARED, 0),
    (spec::MS_SHARED | spec::MS_REC, 0),
    (spec::MS_SLAVE, 0),
    (spec::MS_SLAVE | spec::MS_REC, 0),
    (spec::MS_UNBINDABLE, 0),
    (spec::MS_UNBINDABLE | spec::MS_REC, 0),
    (32768, 0),
    (0, 32768),
];

/// MOUNT_FLAGS as a byte a word: the bit's number, 32 for MS_REC too, 64
/// when it clears; 34 bytes of table instead of 544.
const MOUNT_CODES: [u8; 34] = {
    let mut t = [0u8; 34];
    let mut i = 0;
    while i < 34 {
        let (set, clear) = MOUNT_FLAGS[i];
        let f = set | clear;
        let rec = if f & spec::MS_REC != 0 { 32 } else { 0 };
        t[i] = (f & !spec::MS_REC).trailing_zeros() as u8 | rec | if clear != 0 { 64 } else { 0 };
        let back = flags_of(t[i]);
        assert!(back.0 == set && back.1 == clear);
        i += 1;
    }
    t
};

const fn flags_of(e: u8) -> (u64, u64) {
    let f = 1 << (e & 31) | if e & 32 != 0 { spec::MS_REC } else { 0 };
    if e & 64 != 0 { (0, f) } else { (f, 0) }
}

/// (set, clear) of a mount option word.
#[inline(never)]
fn mount_opt(w: &[u8]) -> Option<(u64, u64)> {
    Some(flags_of(*MOUNT_CODES.get(rt::pick(MOUNT_WORDS, w)?)?))
}

#[inline(never)]
fn mount<'a>(r: &mut Rd<'a>, m: At<'a>, bundle: S) -> Mount {
    r.check(Some(m.j), m.path, b"", OBJ);
    let dest = r.need_s(m, b"destination");
    let kind = r.str(m, b"type").unwrap_or(b"");
    let mut source = r.str(m, b"source").unwrap_or(kind);
    let mut flags = 0u64;
    let mut data = Buf::new();
    // Leaked (short-lived callers): no drop code.
    let mut opts = ManuallyDrop::new(Vec::new());
    r.strs(m, b"options", &mut opts);
    for &w in opts.iter() {
        if let Some((set, clear)) = mount_opt(w) {
            flags = (flags | set) & !clear;
        } else if rt::pick(b"tmpcopyup", w).is_some() || matches!(w, [b'x', b'-', ..]) {
            // Userspace-only options, as runc and crun treat them (pick:
            // one out-of-line compare instead of an inlined one).
        } else {
            if !data.0.is_empty() {
                data.c(b',');
            }
            data.s(w);
        }
    }
    if kind == b"bind" {
        flags |= spec::MS_BIND;
    }
    if flags & spec::MS_BIND != 0 && source.first() != Some(&b'/') {
        source = cat(&[bundle, b"/", source]);
    }
    Mount {
        dest,
        kind,
        source,
        flags,
        data: data.leak(),
    }
}

/// Namespace types, in `thinbox features` order, and their clone flags.
pub const NS_NAMES: &[u8] = b"cgroup ipc mount network pid user uts time";
const NS_FLAGS: [u64; 8] = [
    sys::CLONE_NEWCGROUP,
    sys::CLONE_NEWIPC,
    sys::CLONE_NEWNS,
    sys::CLONE_NEWNET,
    sys::CLONE_NEWPID,
    sys::CLONE_NEWUSER,
    sys::CLONE_NEWUTS,
    sys::CLONE_NEWTIME,
];
/// NS_FLAGS as bit numbers: each is a single bit.
const NS_BITS: [u8; 8] = {
    let mut t = [0u8; 8];
    let mut i = 0;
    while i < 8 {
        t[i] = NS_FLAGS[i].trailing_zeros() as u8;
        assert!(1 << t[i] == NS_FLAGS[i]);
        i += 1;
    }
    t
};

fn idmaps<'a>(r: &mut Rd<'a>, l: At<'a>, k: &'static [u8], out: &mut Vec<IdMap>) {
    for e in elems(r, l, k) {
        let mut get = |k| r.need_n(e, k, U32) as u32;
        out.push(IdMap {
            container: get(b"containerID"),
            host: get(b"hostID"),
            size: get(b"size"),
        });
    }
}

#[inline(never)]
fn linux<'a>(r: &mut Rd<'a>, c: &mut Container, l: At<'a>) {
    for e in elems(r, l, b"namespaces") {
        let t = r.need_s(e, b"type");
        let Some(&bit) = rt::pick(NS_NAMES, t).and_then(|n| NS_BITS.get(n)) else {
            r.no(b"unknown namespace type");
            continue;
        };
        let flag = 1 << bit;
        if c.namespaces & flag != 0 || c.join.iter().any(|(f, _)| *f == flag) {
            r.no(b"namespace listed twice");
        }
        match r.str(e, b"path") {
            Some(path) => {
                if sys::stat(path).is_err() {
                    r.no(b"no such namespace file");
                }
                c.join.push((flag, path));
            }
            None => c.namespaces |= flag,
        }
    }
    idmaps(r, l, b"uidMappings", &mut c.uid_map);
    idmaps(r, l, b"gidMappings", &mut c.gid_map);
    if (!c.uid_map.is_empty() || !c.gid_map.is_empty()) && c.namespaces & sys::CLONE_NEWUSER == 0 {
        r.fail(
            b"linux.uidMappings",
            b"needs a new user namespace in linux.namespaces",
        );
    }
    for e in elems(r, l, b"devices") {
        let d = device(r, e);
        c.devices.push(d);
    }
    if let Some(cp) = r.str(l, b"cgroupsPath")
        && !cp.is_empty()
    {
        c.cgroup_path = Some(cp);
        c.cgroup_explicit = true;
    }
    if let Some(res) = l.j.get(b"resources") {
        crate::oci_res::resources(r, &mut c.resources, res);
    }
    if !c.resources.devices.is_empty() {
        allow_devices(c);
    }
    str_map(r, l, b"sysctl", &mut c.sysctl);
    r.strs(l, b"maskedPaths", &mut c.masked_paths);
    r.strs(l, b"readonlyPaths", &mut c.readonly_paths);
    if let Some(w) = r.str(l, b"rootfsPropagation") {
        match mount_opt(w) {
            Some((f, _)) if f & spec::MS_PROPAGATION != 0 => {
                c.rootfs_propagation = f | spec::MS_REC
            }
            _ => r.no(b"unknown propagation"),
        }
    }
    selinux(r, l, b"mountLabel");
    if let Some(s) = l.j.get(b"seccomp")
        && !s.is_null()
        && r.err.is_none()
    {
        match crate::seccomp::from_json(s, c.caps.bounding) {
            // The old value is None: no drop glue for it.
            Ok(f) => core::mem::forget(c.seccomp.replace(f)),
            Err(e) => r.set(e),
        }
    }
    for k in rt::split(b"intelRdt personality timeOffsets", b' ') {
        if let Some(v) = l.j.get(k)
            && !v.is_null()
        {
            r.check(Some(v), l.path, k, ANY);
            r.no(b"not supported by thinbox; remove it");
        }
    }
}

/// A device's numbers, in the order they are read.
const DEVICE_NUMS: [&[u8]; 5] = [b"major", b"minor", b"fileMode", b"uid", b"gid"];

#[inline(never)]
fn device<'a>(r: &mut Rd<'a>, d: At<'a>) -> Device {
    r.check(Some(d.j), d.path, b"", OBJ);
    let path = r.need_s(d, b"path");
    // One byte, compared as a byte rather than as four slices.
    let kind = match r.need_s(d, b"type") {
        b"u" => b'c',
        &[k @ (b'c' | b'b' | b'p')] => k,
        _ => {
            r.no(b"expected c, u, b or p");
            b'c'
        }
    };
    // major and minor are required but for a pipe.
    let mut n = [0, 0, 0o666, 0, 0];
    for (i, (k, n)) in DEVICE_NUMS.iter().zip(&mut n).enumerate() {
        let v = if i < 2 && kind != b'p' {
            r.need(d, k, U32)
        } else {
            r.get(d, k, U32)
        };
        if let Some(v) = v.and_then(Json::as_u64) {
            *n = v as u32;
        }
    }
    let [major, minor, mode, uid, gid] = n;
    Device {
        path,
        kind,
        major,
        minor,
        mode,
        uid,
        gid,
    }
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
    // (kind, major, minor, access): mknod of any node, then the standard
    // nodes and ptys.
    const STD: [(u8, i16, i16, u8); 11] = [
        (b'c', -1, -1, 1),
        (b'b', -1, -1, 1),
        (b'c', 1, 3, 7),
        (b'c', 1, 5, 7),
        (b'c', 1, 7, 7),
        (b'c', 1, 8, 7),
        (b'c', 1, 9, 7),
        (b'c', 5, 0, 7),
        (b'c', 5, 1, 7),
        (b'c', 5, 2, 7),
        (b'c', 136, -1, 7),
    ];
    let own = c.devices.iter().filter(|d| d.kind != b'p');
    let own = own.map(|d| (d.kind, d.major as i64, d.minor as i64, 7));
    let all = STD
        .iter()
        .map(|&(k, ma, mi, a)| (k, ma as i64, mi as i64, a));
    for (kind, major, minor, access) in all.chain(own) {
        c.resources.devices.push(crate::spec::DevRule {
            allow: true,
            kind,
            major,
            minor,
            access,
        });
    }
}

#[cfg(test)]
#[path = "oci_tests.rs"]
mod tests;
