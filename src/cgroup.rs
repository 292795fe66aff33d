//! cgroup v2: create the container's cgroup, enable only the controllers
//! its limits need, write every limit before the container runs, and
//! remove the cgroup afterwards.

use crate::rt::{self, Buf, Ctx, Error, Res, S, cat};
use crate::spec::Resources;
use crate::sys::{self, Fd};
use alloc::vec::Vec;

pub const CGROUP2_MAGIC: u64 = 0x6367_7270;
pub const DEFAULT_ROOT: &[u8] = b"/sys/fs/cgroup/thinbox";

const PI_HINT: &[u8] = b"; on a Raspberry Pi add cgroup_enable=memory cgroup_memory=1 to /boot/firmware/cmdline.txt (/boot/cmdline.txt on older OS) and reboot";

pub struct Cgroup {
    pub path: S,
    pub fd: Option<Fd>,
    /// cgroup v1: one directory per controller hierarchy.
    pub v1: Vec<S>,
}

pub fn parent(p: &[u8]) -> &[u8] {
    match p.iter().rposition(|&c| c == b'/') {
        Some(0) => b"/",
        Some(i) => &p[..i],
        None => b".",
    }
}

fn file(dir: &[u8], name: &[u8]) -> S {
    cat(&[dir, b"/", name])
}

/// Whether `list` (space separated, as in cgroup.controllers) has `word`.
fn has_word(list: &[u8], word: &[u8]) -> bool {
    // One line: trimmed, its words are split by single spaces.
    rt::split(rt::trim(list), b' ').any(|w| w == word)
}

/// Whether the list in file `dir/name` (unreadable is empty) has `word`.
fn listed(dir: &[u8], name: &[u8], word: &[u8]) -> bool {
    has_word(&rt::read_file(file(dir, name)).unwrap_or_default(), word)
}

pub fn is_cgroup2(path: &[u8]) -> bool {
    sys::statfs_magic(path)
        .map(|m| m == CGROUP2_MAGIC)
        .unwrap_or(false)
}

/// The controller of a cgroup file: "memory" of "memory.max".
pub fn ctrl_of(f: &[u8]) -> &[u8] {
    rt::split(f, b'.').next().unwrap_or(f)
}

/// Controllers limits can need: the first five have fields in Resources.
const CTRLS: &[u8] = b"memory cpu cpuset pids io hugetlb rdma misc";

/// Calls `f` with each controller the requested limits need, once: those
/// of the fields in CTRLS order, then those of `files` as they come.
pub fn needed(r: &Resources, f: &mut dyn FnMut(S) -> Res<()>) -> Res<()> {
    let fields = [
        r.memory.is_some() || r.memory_low.is_some() || r.swap.is_some(),
        r.cpu_quota.is_some() || r.cpu_period.is_some() || r.cpu_weight.is_some(),
        r.cpuset_cpus.is_some() || r.cpuset_mems.is_some(),
        r.pids.is_some(),
    ];
    let mut seen = 0u32;
    // The fields' controllers, then the files': one loop, one call.
    for k in 0..4 + r.files.len() {
        let i = match r.files.get(k.wrapping_sub(4)) {
            Some((file, _)) => rt::pick(CTRLS, ctrl_of(file)),
            None => (fields.get(k) == Some(&true)).then_some(k),
        };
        if let Some(i) = i
            && seen & 1 << i == 0
        {
            seen |= 1 << i;
            f(rt::split(CTRLS, b' ').nth(i).unwrap_or(b""))?;
        }
    }
    Ok(())
}

/// Makes `ctrl` available to children of `dir`, enabling it upwards as
/// far as the mount root if needed.
fn enable(dir: &[u8], ctrl: &[u8], mount_root: &[u8]) -> Res<()> {
    if listed(dir, b"cgroup.subtree_control", ctrl) {
        return Ok(());
    }
    if !listed(dir, b"cgroup.controllers", ctrl) {
        // Not past the mount root (which is as long only if it is dir).
        if dir.len() <= mount_root.len() {
            return Err(missing(ctrl, dir));
        }
        enable(parent(dir), ctrl, mount_root)?;
    }
    rt::write_file(file(dir, b"cgroup.subtree_control"), cat(&[b"+", ctrl])).map_err(|e| {
        if e == sys::ENOENT || e == sys::EINVAL {
            missing(ctrl, dir)
        } else {
            Error::sys(
                cat(&[b"enabling cgroup controller ", ctrl, b" in ", dir]),
                e,
            )
        }
    })
}

fn missing(ctrl: &[u8], dir: &[u8]) -> Error {
    Error::with(
        cat(&[
            b"cgroup controller '",
            ctrl,
            b"' is not available in ",
            dir,
            b"; enable it on the kernel command line (cgroup_enable=",
            ctrl,
            b")",
            if ctrl == b"memory" { PI_HINT } else { b"" },
        ]),
        125,
    )
}

/// Finds where the cgroup2 filesystem holding `dir` is mounted.
fn mount_root(dir: &[u8]) -> S {
    let mut d = dir;
    loop {
        let p = parent(d);
        if p == d || !is_cgroup2(p) {
            return cat(&[d]);
        }
        d = p;
    }
}

/// Creates the cgroup `root/id` (or the absolute `path`), enables what the
/// limits need, and writes every limit. On error nothing is left behind.
pub fn create(path: S, r: &Resources) -> Res<Cgroup> {
    let root = parent(path);
    let base = parent(root);
    if !is_cgroup2(root) && !is_cgroup2(base) {
        // The hint in the one literal: no Error::hint call.
        return Err(Error::with(
            cat(&[
                b"cgroup2 is not mounted at ",
                base,
                b"; mount it (mount -t cgroup2 none /sys/fs/cgroup) or pass --cgroup-root DIR on a cgroup2 mount",
            ]),
            125,
        ));
    }
    let made_root = match sys::mkdir(root, 0o755) {
        Ok(_) => Ok(true),
        Err(sys::EEXIST) => Ok(false),
        Err(sys::ENOENT) => crate::rootfs::mkdir_all(root, 0o755).map(|_| false),
        Err(e) => Err(e),
    }
    .map_err(|e| mkdir_err(root, e))?;
    let result = (|| {
        let mroot = mount_root(root);
        needed(r, &mut |ctrl| enable(root, ctrl, mroot))?;
        // An empty leftover (its thinbox was SIGKILLed) is taken over; a
        // live container's cgroup is never empty, so rmdir fails there.
        let made = match sys::mkdir(path, 0o755) {
            Err(sys::EEXIST) if sys::rmdir(path).is_ok() => sys::mkdir(path, 0o755),
            r => r,
        };
        match made {
            Ok(_) => {}
            Err(sys::EEXIST) => {
                return Err(Error::new(
                    cat(&[b"cgroup ", path]),
                    b"already exists; another container uses this name; pick another --name",
                ));
            }
            Err(e) => return Err(mkdir_err(path, e)),
        }
        write_limits(path, r).inspect_err(|_| remove_dir(path))
    })();
    if let Err(e) = result {
        if made_root {
            let _ = sys::rmdir(root);
        }
        return Err(e);
    }
    Ok(Cgroup {
        path,
        fd: sys::open(path, sys::O_RDONLY | sys::O_DIRECTORY, 0).ok(),
        v1: Vec::new(),
    })
}

fn mkdir_err(dir: &[u8], e: sys::Errno) -> Error {
    Error::sys2(b"creating cgroup ", dir, e)
}

fn num_or_max(b: &mut Buf, v: i64) {
    if v < 0 {
        b.s(b"max");
    } else {
        b.u(v as u64);
    }
}

fn put(dir: &[u8], name: &[u8], val: &[u8]) -> Res<()> {
    put_as(dir, name, val, true)
}

/// Writes `val` to file `name` in `dir`; errors say "cgroup NAME = VAL",
/// and with `hint` a missing file is blamed on the kernel.
pub fn put_as(dir: &[u8], name: &[u8], val: &[u8], hint: bool) -> Res<()> {
    rt::write_file(file(dir, name), val).map_err(|e| {
        let what = cat(&[b"cgroup ", name, b" = ", val]);
        if e == sys::ENOENT && hint {
            Error::new(what, b"this kernel does not offer that file")
        } else {
            Error::sys(what, e)
        }
    })
}

/// Writes the limits of `r` into the cgroup directory `dir`.
pub fn write_limits(dir: &[u8], r: &Resources) -> Res<()> {
    let mut b = Buf::new();
    if let Some(v) = r.cpuset_cpus {
        put(dir, b"cpuset.cpus", v)?;
    }
    if let Some(v) = r.cpuset_mems {
        put(dir, b"cpuset.mems", v)?;
    }
    if let Some(v) = r.memory_low {
        b.0.clear();
        num_or_max(&mut b, v);
        put(dir, b"memory.low", b.as_slice())?;
    }
    if let Some(v) = r.memory {
        b.0.clear();
        num_or_max(&mut b, v);
        put(dir, b"memory.max", b.as_slice())?;
    }
    match r.swap {
        Some(v) => {
            b.0.clear();
            num_or_max(&mut b, v);
            put(dir, b"memory.swap.max", b.as_slice())?;
        }
        // No swap unless asked for; kernels without swap accounting have
        // no file, and then there is nothing to turn off.
        None if r.memory.is_some() => {
            let _ = rt::write_file(file(dir, b"memory.swap.max"), b"0");
        }
        None => {}
    }
    if r.cpu_quota.is_some() || r.cpu_period.is_some() {
        b.0.clear();
        num_or_max(&mut b, r.cpu_quota.unwrap_or(-1));
        b.c(b' ').u(r.cpu_period.unwrap_or(100_000));
        put(dir, b"cpu.max", b.as_slice())?;
    }
    if let Some(w) = r.cpu_weight {
        b.0.clear();
        b.u(w);
        put(dir, b"cpu.weight", b.as_slice())?;
    }
    if let Some(v) = r.pids {
        b.0.clear();
        num_or_max(&mut b, v);
        put(dir, b"pids.max", b.as_slice())?;
    }
    for (f, v) in &r.files {
        put(dir, f, v)?;
    }
    Ok(())
}

impl Cgroup {
    /// Moves `pid` into the cgroup (without CLONE_INTO_CGROUP).
    pub fn place(&self, pid: i32) -> Res<()> {
        let mut b = Buf::new();
        b.u(pid as u64);
        self.dirs().iter().try_for_each(|d| {
            rt::write_file(file(d, b"cgroup.procs"), b.as_slice())
                .map_err(|e| Error::sys2(b"joining cgroup ", d, e))
        })
    }

    /// The directory in v1 hierarchy `ctrl`.
    pub fn v1_dir(&self, ctrl: &[u8]) -> Res<S> {
        let mnt = cat(&[b"/sys/fs/cgroup/", ctrl, b"/"]);
        self.v1
            .iter()
            .find(|d| d.starts_with(mnt))
            .copied()
            .ok_or_else(|| missing(ctrl, b"/sys/fs/cgroup"))
    }

    /// Every directory: the v2 one, or one per v1 hierarchy.
    #[inline(never)]
    pub fn dirs(&self) -> &[S] {
        if self.v1.is_empty() {
            core::slice::from_ref(&self.path)
        } else {
            &self.v1
        }
    }
}

/// v1 hierarchies thinbox joins, where mounted.
const V1: &[u8] =
    b"cpu cpuacct cpuset memory pids devices blkio hugetlb net_cls net_prio freezer perf_event";

/// This process's own cgroup in hierarchy `ctrl` ("" for v2), from
/// /proc/self/cgroup.
fn own(ctrl: &[u8]) -> S {
    let data = rt::read_file(b"/proc/self/cgroup").unwrap_or_default();
    for line in rt::split(&data, b'\n') {
        // "ID:CTRLS:PATH"; missing fields are empty.
        let (ctrls, path) = cut(cut(line, b':').1, b':');
        if rt::split(ctrls, b',').any(|c| c == ctrl) {
            return cat(&[if path == b"/" { b"" } else { path }]);
        }
    }
    b""
}

/// `s` before and after its first `sep` (all and nothing without one).
fn cut(s: &[u8], sep: u8) -> (&[u8], &[u8]) {
    let i = s.iter().position(|&c| c == sep).unwrap_or(s.len());
    (&s[..i], s.get(i + 1..).unwrap_or(b""))
}

/// The cgroup of an OCI container: cgroupsPath (absolute from the mount,
/// relative to thinbox's own cgroup) or /thinbox/ID, on cgroup v2 or on
/// the v1 hierarchies of a legacy or hybrid host.
pub fn create_oci(spec: Option<S>, id: &[u8], r: &Resources) -> Res<Option<Cgroup>> {
    let p = spec.unwrap_or_else(|| cat(&[b"/thinbox/", id]));
    let under = |base: &[u8], ctrl: &[u8]| {
        if p.first() == Some(&b'/') {
            cat(&[base, p])
        } else {
            cat(&[base, own(ctrl), b"/", p])
        }
    };
    if is_cgroup2(b"/sys/fs/cgroup") {
        if let Some(e) = r.v2_error {
            return Err(Error::new(e, b"this host uses cgroup v2"));
        }
        return create(under(b"/sys/fs/cgroup", b""), r).map(Some);
    }
    if sys::stat(b"/sys/fs/cgroup/cpu").is_err() {
        if r.any() {
            return Err(Error::new(
                b"cgroups",
                b"neither cgroup v2 nor v1 is mounted at /sys/fs/cgroup",
            ));
        }
        return Ok(None);
    }
    if let Some(e) = r.v1_error {
        return Err(Error::new(e, b"this host uses cgroup v1"));
    }
    let mut cg = Cgroup {
        path: b"",
        fd: None,
        v1: Vec::new(),
    };
    let res = (|| {
        for ctrl in rt::split(V1, b' ') {
            let mnt = cat(&[b"/sys/fs/cgroup/", ctrl]);
            if sys::stat(mnt).is_err() {
                continue;
            }
            let dir = under(mnt, ctrl);
            mkdir_v1(dir, mnt.len(), ctrl == b"cpuset")?;
            cg.v1.push(dir);
        }
        cg.path = cg.v1[0];
        for (f, v) in &r.v1 {
            put(cg.v1_dir(ctrl_of(f))?, f, v)?;
        }
        if !r.devices.is_empty() {
            let dir = cg.v1_dir(b"devices")?;
            for d in &r.devices {
                let name: &[u8] = if d.allow {
                    b"devices.allow"
                } else {
                    b"devices.deny"
                };
                put(dir, name, dev_line(d))?;
            }
        }
        Ok(())
    })();
    match res {
        Ok(()) => Ok(Some(cg)),
        Err(e) => {
            cg.remove();
            Err(e)
        }
    }
}

/// "c 1:3 rwm", "a *:* rwm".
fn dev_line(d: &crate::spec::DevRule) -> S {
    let mut b = Buf::new();
    b.c(d.kind).c(b' ');
    let n = |b: &mut Buf, v: i64| {
        if v < 0 {
            b.c(b'*');
        } else {
            b.u(v as u64);
        }
    };
    n(&mut b, d.major);
    b.c(b':');
    n(&mut b, d.minor);
    b.c(b' ');
    for (bit, ch) in [(2u8, b'r'), (4, b'w'), (1, b'm')] {
        if d.access & bit != 0 {
            b.c(ch);
        }
    }
    b.leak()
}

/// mkdir -p in a v1 hierarchy; new cpuset levels inherit their parent's
/// cpus and mems, which start out empty.
fn mkdir_v1(dir: &[u8], mount_len: usize, cpuset: bool) -> Res<()> {
    if dir.len() <= mount_len || sys::stat(dir).is_ok() {
        return Ok(());
    }
    mkdir_v1(parent(dir), mount_len, cpuset)?;
    match sys::mkdir(dir, 0o755) {
        Ok(_) | Err(sys::EEXIST) => {}
        Err(e) => return Err(mkdir_err(dir, e)),
    }
    if cpuset {
        for f in rt::split(b"cpuset.cpus cpuset.mems", b' ') {
            let mine = rt::read_file(file(dir, f)).unwrap_or_default();
            if rt::trim(&mine).is_empty() {
                let up = rt::read_file(file(parent(dir), f)).unwrap_or_default();
                put(dir, f, rt::trim(&up))?;
            }
        }
    }
    Ok(())
}

/// Reads a "key value" line from a flat-keyed file such as memory.events.
pub fn read_key(path: &[u8], name: &[u8], key: &[u8]) -> Option<u64> {
    let data = rt::read_file(file(path, name)).ok()?;
    for line in rt::split(&data, b'\n') {
        if line.len() > key.len() && line.starts_with(key) && line[key.len()] == b' ' {
            return rt::parse_u64(&line[key.len() + 1..]);
        }
    }
    None
}

impl Cgroup {
    /// Whether the OOM killer killed something in this cgroup.
    pub fn oom_killed(&self) -> bool {
        read_key(self.path, b"memory.events", b"oom_kill").unwrap_or(0) > 0
    }

    /// Kills whatever is left and removes the directories.
    pub fn remove(&self) {
        for d in self.dirs() {
            remove_dir(d);
        }
    }
}

/// Sends `sig` to every process listed in `dir`'s cgroup.procs.
pub fn kill_procs(dir: &[u8], sig: i32) {
    let procs = rt::read_file(file(dir, b"cgroup.procs")).unwrap_or_default();
    for p in rt::split(&procs, b'\n') {
        if let Some(pid) = rt::parse_u64(p) {
            let _ = sys::kill(pid as i32, sig);
        }
    }
}

fn remove_dir(path: &[u8]) {
    {
        for i in 0..200 {
            match sys::rmdir(path) {
                Ok(_) | Err(sys::ENOENT) => return,
                Err(sys::EBUSY) => {
                    // cgroup.kill (5.14+) takes out stragglers, such as
                    // processes that joined with exec; older kernels get a
                    // SIGKILL per pid. Usually the cgroup is empty already.
                    if i == 0 {
                        let _ = rt::write_file(file(path, b"cgroup.kill"), b"1");
                        continue;
                    }
                    kill_procs(path, sys::SIGKILL);
                    sys::sleep_ms(1);
                }
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents() {
        assert_eq!(parent(b"/sys/fs/cgroup/thinbox"), b"/sys/fs/cgroup");
        assert_eq!(parent(b"/x"), b"/");
    }

    #[test]
    fn controllers_needed() {
        let mut r = Resources::default();
        let needed = |r: &Resources| {
            let mut v = Vec::new();
            let _ = needed(r, &mut |c| {
                v.push(c);
                Ok(())
            });
            v
        };
        assert!(needed(&r).is_empty());
        r.memory = Some(1 << 20);
        r.pids = Some(8);
        assert_eq!(needed(&r), [&b"memory"[..], b"pids"]);
        r.files.push((b"hugetlb.2MB.max", b"0"));
        assert_eq!(needed(&r).last().copied(), Some(&b"hugetlb"[..]));
        r.files.push((b"memory.high", b"1"));
        r.files.push((b"cgroup.x", b"1"));
        assert_eq!(needed(&r), [&b"memory"[..], b"pids", b"hugetlb"]);
    }

    #[test]
    fn device_prog_golden() {
        use crate::spec::DevRule;
        let mut rules = Vec::new();
        for (i, kind) in b"acb".iter().enumerate() {
            for (major, minor) in [(-1, -1), (1, -1), (-1, 5), (136, 3)] {
                rules.push(DevRule {
                    allow: (i as i64 + major) % 2 == 0,
                    kind: *kind,
                    major,
                    minor,
                    access: (major as u8).wrapping_add(i as u8) & 7 | 1,
                });
            }
        }
        let mut h = crate::sha256::Sha256::new();
        for i in device_prog(&rules) {
            h.update(&i.to_le_bytes());
        }
        // The program as first written: rewrites must load the same one.
        assert_eq!(
            &crate::sha256::hex(&h.finish())[..],
            b"1e8a986869ba4546488ce0d8c760617727f3dc1cf61f7e94f9ab3bd05bc5a9d3"
        );
    }

    #[test]
    fn words() {
        assert!(has_word(b"cpuset cpu io memory pids\n", b"memory"));
        assert!(!has_word(b"cpuset cpu io\n", b"memory"));
        assert!(!has_word(b"hugetlb", b"huge"));
    }
}

/// eBPF instruction: opcode, dst, src, offset, immediate.
const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    code as u64
        | ((dst | src << 4) as u64) << 8
        | (off as u16 as u64) << 16
        | (imm as u32 as u64) << 32
}

const MOVK: u8 = 0xb7;
const ANDK: u8 = 0x57;
const JNEK: u8 = 0x55;
const EXIT: u64 = insn(0x95, 0, 0, 0, 0);
/// Loads the request.
const HEAD: [u64; 7] = [
    insn(0x61, 2, 1, 0, 0), // access_type
    insn(0xbf, 3, 2, 0, 0),
    insn(ANDK, 3, 0, 0, 0xffff), // device type: block 1, char 2
    insn(0xbf, 4, 2, 0, 0),
    insn(0x77, 4, 0, 0, 16), // access: mknod 1, read 2, write 4
    insn(0x61, 5, 1, 4, 0),  // major
    insn(0x61, 6, 1, 8, 0),  // minor
];
/// A rule's opcodes and registers (immediates and jump offsets left out,
/// 2 bytes a row rather than 8): tests of type, major and minor (each
/// only where the rule names one), then of the access (a match needs
/// every requested access in the rule), and the verdict.
const RULE: [u16; 8] = [
    insn(JNEK, 3, 0, 0, 0) as u16,
    insn(JNEK, 5, 0, 0, 0) as u16,
    insn(JNEK, 6, 0, 0, 0) as u16,
    insn(0xbf, 7, 4, 0, 0) as u16,
    insn(ANDK, 7, 0, 0, 0) as u16,
    insn(JNEK, 7, 0, 0, 0) as u16,
    insn(MOVK, 0, 0, 0, 0) as u16,
    EXIT as u16,
];

/// A cgroup v2 device program: the last matching rule decides, and
/// anything no rule matches is denied, as with the v1 devices controller.
pub fn device_prog(rules: &[crate::spec::DevRule]) -> Vec<u64> {
    let mut p = Vec::new();
    for &i in HEAD.iter() {
        p.push(i);
    }
    for d in rules.iter().rev() {
        // RULE's immediates; a negative one drops its test.
        let kind = match d.kind {
            b'b' => 1,
            b'c' => 2,
            _ => -1,
        };
        let imms = [
            kind,
            d.major,
            d.minor,
            0,
            (!d.access & 7) as i64,
            0,
            d.allow as i64,
            0,
        ];
        let mut left = imms.iter().filter(|&&v| v >= 0).count() as u64;
        for (&t, &v) in RULE.iter().zip(imms.iter()) {
            if v >= 0 {
                left -= 1;
                // A failed test jumps past the rest of the rule.
                let off = if t as u8 == JNEK { left << 16 } else { 0 };
                p.push(t as u64 | off | (v as u32 as u64) << 32);
            }
        }
    }
    // Nothing matched: deny.
    p.push(insn(MOVK, 0, 0, 0, 0));
    p.push(EXIT);
    p
}

/// Where a device program is kept: named by its instructions' digest, in
/// a root-only directory of the bpffs that systemd mounts.
const BPF_DIR: &[u8] = b"/sys/fs/bpf/thinbox";

/// A loaded device program: the kept one for these instructions, or a
/// fresh load, kept when a bpffs is there (else nothing is left behind).
fn device_prog_fd(insns: &[u64]) -> Res<sys::Fd> {
    let path = (sys::statfs_magic(b"/sys/fs/bpf")
        == Ok(linux_raw_sys::general::BPF_FS_MAGIC as u64))
    .then(|| {
        let mut h = crate::sha256::Sha256::new();
        for i in insns {
            h.update(&i.to_le_bytes());
        }
        cat(&[BPF_DIR, b"/dev-", &crate::sha256::hex(&h.finish())[..32]])
    });
    if let Some(p) = path
        && let Ok(fd) = sys::bpf_obj_get(p)
    {
        return Ok(fd);
    }
    let prog = sys::bpf_load_device_prog(insns)
        .map_err(|e| Error::sys(b"loading the device cgroup program", e))?;
    if let Some(p) = path {
        let _ = sys::mkdir(BPF_DIR, 0o700);
        // A concurrent start may have kept the same program first (EEXIST).
        let _ = sys::bpf_obj_pin(prog.raw(), p);
    }
    Ok(prog)
}

impl Cgroup {
    /// Device rules on cgroup v2: an eBPF program attached to the cgroup.
    /// Loading costs ~0.25 ms (verifier, JIT), so spawn does it while the
    /// child sets up its mounts, and where a bpffs is mounted the program
    /// is kept there for the next container with the same rules.
    pub fn attach_devices(&self, rules: &[crate::spec::DevRule]) -> Res<()> {
        let prog = device_prog_fd(&device_prog(rules))?;
        let opened;
        let fd = match &self.fd {
            Some(f) => f.raw(),
            None => {
                opened =
                    sys::open(self.path, sys::O_RDONLY | sys::O_DIRECTORY, 0).ctx(self.path)?;
                opened.raw()
            }
        };
        sys::bpf_attach_device(fd, prog.raw())
            .map_err(|e| Error::sys(b"attaching the device cgroup program", e))?;
        Ok(())
    }
}
