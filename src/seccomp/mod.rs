//! seccomp: Docker's default profile, precompiled by build.rs for Docker's
//! 14 capabilities and recompiled at run time for other sets, and OCI or
//! Docker JSON profiles; bpf.rs turns rules into classic BPF either way.
//!
//! One program per binary: x86_64 with an i386 section (x32 is a bad arch),
//! or aarch64 with an arm32 section. Other arches are killed.

pub mod bpf;
#[cfg(test)]
mod profile;
#[cfg(test)]
mod tests;

use crate::json::{self, Json};
use crate::rt::{self, Buf, Error, Res, cat};
use alloc::vec::Vec;
use bpf::{Arches, Cond, Rules};
use core::mem::ManuallyDrop;

/// The tables build.rs generates for one binary's arches.
pub struct Group {
    pub arches: Arches,
    /// Every syscall name of both arches with its numbers (bpf::names).
    pub names: &'static [u8],
    /// Docker's default profile as a rule table (bpf::load).
    pub rules: &'static [u8],
    /// The default profile compiled for bpf::DEFAULT_CAPS, packed
    /// (bpf::pack).
    pub default: &'static [u8],
}

#[cfg(any(test, target_arch = "x86_64"))]
pub mod x86_64 {
    use super::{Group, bpf::Arches};
    include!(concat!(env!("OUT_DIR"), "/seccomp_x86_64.rs"));
}

#[cfg(any(test, target_arch = "aarch64"))]
pub mod aarch64 {
    use super::{Group, bpf::Arches};
    include!(concat!(env!("OUT_DIR"), "/seccomp_aarch64.rs"));
}

#[cfg(target_arch = "aarch64")]
use aarch64::GROUP;
#[cfg(target_arch = "x86_64")]
use x86_64::GROUP;

/// Installed as `sys::seccomp_filter(&f.prog, f.flags)`.
#[derive(Clone)]
pub struct Filter {
    pub prog: Vec<u64>,
    /// SECCOMP_FILTER_FLAG_* from the profile's "flags".
    pub flags: u32,
}

/// `run --seccomp`: None is Docker's default profile for bounding set
/// `caps`, "unconfined" is no filter, anything else a JSON profile file.
#[inline(never)]
pub fn for_run(arg: Option<&[u8]>, caps: u64) -> Res<Option<Filter>> {
    let Some(file) = arg else {
        return Ok(Some(Filter {
            prog: default_in(&GROUP, caps),
            flags: 0,
        }));
    };
    if file == b"unconfined" {
        return Ok(None);
    }
    let what = cat(&[b"--seccomp ", file]);
    // Leaked: json::parse keeps its own copy, so freeing did nothing.
    let text = rt::read_file(file)
        .map_err(|e| Error::sys(what, e).hint(b"pass a JSON seccomp profile or unconfined"))?
        .leak();
    let j = json::parse(text).map_err(|e| Error::new(what, e.msg()))?;
    from_json_in(&GROUP, &j, caps, cat(&[file, b": "])).map(Some)
}

/// `run`'s "FILE: " prefix alone names the file, without its separator.
fn bare(path: &[u8]) -> &[u8] {
    path.strip_suffix(b": ").unwrap_or(path)
}

/// Compiles an OCI `linux.seccomp` object for bounding set `caps`.
pub fn from_json(profile: &Json, caps: u64) -> Res<Filter> {
    from_json_in(&GROUP, profile, caps, b"linux.seccomp")
}

/// Docker's default profile for bounding set `caps`.
#[inline(never)]
pub fn default_in(g: &Group, caps: u64) -> Vec<u64> {
    if caps == bpf::DEFAULT_CAPS {
        return bpf::unpack(g.default);
    }
    let (_, names) = bpf::names(g.names);
    // Not dropped: they are older than the program, so freeing them in
    // the bump arena would do nothing, and the drop code costs bytes.
    let names = ManuallyDrop::new(names);
    let mut r = ManuallyDrop::new(Rules::new(&g.arches, bpf::table_default(g.rules), true));
    bpf::load(&mut r, g.rules, &names, caps);
    r.compile(bpf::RET_KILL_PROCESS)
}

/// Where the walk of a profile is, to name it in errors (the root, then
/// `.syscalls[i]` and `.args[k]`), and the first error met: the getters
/// note it and go on with an empty value, and the walk reports it at the
/// end.
struct At<'a> {
    root: &'a [u8],
    sys: Option<usize>,
    arg: Option<usize>,
    e: Option<Error>,
}

impl At<'_> {
    /// Notes `PATH.KEY: WHAT`; a root ending in a space ("FILE: ") takes
    /// no dot.
    #[inline(never)]
    fn err(&mut self, key: &[u8], what: &[u8]) {
        if self.e.is_some() {
            return;
        }
        let mut b = Buf::new();
        b.s(self.root);
        let dot = |b: &mut Buf| {
            if b.0.last() != Some(&b' ') {
                b.c(b'.');
            }
        };
        for (name, i) in [(&b"syscalls"[..], self.sys), (b"args", self.arg)] {
            if let Some(i) = i {
                dot(&mut b);
                b.s(name).c(b'[').u(i as u64).c(b']');
            }
        }
        if !key.is_empty() {
            dot(&mut b);
            b.s(key);
        }
        self.e = Some(Error::new(bare(b.leak()), what));
    }
    /// Notes `PATH.KEY: WHAT "V"; use HINT`.
    #[inline(never)]
    fn bad(&mut self, key: &[u8], what: &[u8], v: &[u8], hint: &[u8]) {
        self.err(key, cat(&[what, b" \"", v, b"\"; use ", hint]))
    }
    /// The position in `table` of `s` after `prefix`, else `bad`; one
    /// lookup for actions, ops and flags.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn word(
        &mut self,
        key: &[u8],
        s: &[u8],
        prefix: &[u8],
        table: &[u8],
        what: &[u8],
        hint: &[u8],
    ) -> Option<usize> {
        let i = s.strip_prefix(prefix).and_then(|n| rt::pick(table, n));
        if i.is_none() {
            self.bad(key, what, s, hint);
        }
        i
    }
    /// A member by dotted key ("includes.caps"); null counts as absent.
    #[inline(never)]
    fn get<'j>(&self, v: &'j Json, key: &[u8]) -> Option<&'j Json> {
        let mut v = Some(v);
        for k in rt::split(key, b'.') {
            v = v?.get(k);
        }
        v.filter(|x| !x.is_null())
    }
    /// An array, empty when absent.
    #[inline(never)]
    fn arr<'j>(&mut self, v: &'j Json, key: &[u8]) -> &'j [Json] {
        let a = self.get(v, key);
        match a.map(|a| a.as_arr()) {
            None => &[],
            Some(Some(a)) => a,
            Some(None) => {
                self.err(key, b"expected an array");
                &[]
            }
        }
    }
    /// A number, 0 when absent.
    #[inline(never)]
    fn num(&mut self, v: &Json, key: &[u8]) -> u64 {
        let n = self.get(v, key);
        match n.map(|n| n.as_u64()) {
            None => 0,
            Some(Some(n)) => n,
            Some(None) => {
                self.err(key, b"expected a non-negative integer");
                0
            }
        }
    }
    /// A string, empty when absent.
    #[inline(never)]
    fn str<'j>(&mut self, v: &'j Json, key: &[u8]) -> &'j [u8] {
        let n = self.get(v, key);
        match n.map(|n| n.as_str()) {
            None => b"",
            Some(Some(s)) => s,
            Some(None) => {
                self.err(key, b"expected a string");
                b""
            }
        }
    }

    /// The action at `key`, with its errno from `errno_key` (EPERM when
    /// absent, as runc).
    #[inline(never)]
    fn action(&mut self, o: &Json, key: &[u8], errno_key: &[u8]) -> u32 {
        let errno = match self.get(o, errno_key) {
            Some(_) => self.num(o, errno_key) as u32 & 0xffff,
            None => 1,
        };
        let s = self.str(o, key);
        if s.is_empty() {
            self.err(key, b"missing; use an action such as SCMP_ACT_ERRNO");
            return 0;
        }
        if s == b"SCMP_ACT_NOTIFY" {
            self.bad(
                key,
                b"unsupported action",
                s,
                b"another: thinbox has no seccomp agent",
            );
            return 0;
        }
        let hint = b"SCMP_ACT_ALLOW, _ERRNO, _KILL_PROCESS, _KILL_THREAD, _TRAP, _TRACE or _LOG";
        match self.word(key, s, b"SCMP_ACT_", ACTION_NAMES, b"unknown action", hint) {
            Some(i) => {
                let act = ACTIONS[i & 7];
                if act == bpf::RET_ERRNO || act == bpf::RET_TRACE {
                    act | errno
                } else {
                    act
                }
            }
            None => 0,
        }
    }
}

/// Action names after "SCMP_ACT_", and their SECCOMP_RET_* values; ERRNO
/// and TRACE take the errno.
const ACTION_NAMES: &[u8] = b"ALLOW ERRNO KILL KILL_THREAD KILL_PROCESS TRAP TRACE LOG";
const ACTIONS: [u32; 8] = [
    bpf::RET_ALLOW,
    bpf::RET_ERRNO,
    bpf::RET_KILL_THREAD,
    bpf::RET_KILL_THREAD,
    bpf::RET_KILL_PROCESS,
    bpf::RET_TRAP,
    bpf::RET_TRACE,
    bpf::RET_LOG,
];

/// Comparison names after "SCMP_CMP_", in bpf's op order (NE = 1).
const OPS: &[u8] = b"NE LT LE EQ GE GT MASKED_EQ";

/// SECCOMP_FILTER_FLAG_* names after the prefix, and their bits.
const FLAG_NAMES: &[u8] = b"TSYNC LOG SPEC_ALLOW WAIT_KILLABLE_RECV";
const FLAGS: [u32; 4] = [
    0, // TSYNC: single-threaded at exec, nothing to sync
    2, 4, 32,
];

/// The capabilities named in `list`; bit 63 stands for unknown names, so
/// that they are never held.
#[inline(never)]
fn cap_mask(list: &[Json]) -> u64 {
    list.iter().fold(0, |m, c| {
        m | 1 << c.as_str().and_then(crate::caps::parse).unwrap_or(63)
    })
}

#[inline(never)]
fn has(list: &[Json], s: &[u8]) -> bool {
    list.iter().any(|v| v.as_str() == Some(s))
}

/// Compiles an OCI `linux.seccomp` object, or a Docker profile (archMap,
/// includes/excludes), for bounding set `caps`. `root` names the object in
/// errors. minKernel conditions are taken as met; names the arches lack
/// are skipped, as runc does.
#[inline(never)]
pub fn from_json_in(g: &Group, j: &Json, caps: u64, root: &[u8]) -> Res<Filter> {
    let mut at = At {
        root,
        sys: None,
        arg: None,
        e: None,
    };
    if j.as_obj().is_none() {
        at.err(b"", b"expected an object");
    }
    let default = at.action(j, b"defaultAction", b"defaultErrnoRet");
    let x86 = g.arches.native == bpf::AUDIT_ARCH_X86_64;
    let (native, compat_arch, host): (&[u8], &[u8], &[u8]) = if x86 {
        (b"SCMP_ARCH_X86_64", b"SCMP_ARCH_X86", b"amd64")
    } else {
        (b"SCMP_ARCH_AARCH64", b"SCMP_ARCH_ARM", b"arm64")
    };
    // x32 and foreign arches are left out: they stay bad arches.
    let mut compat = has(at.arr(j, b"architectures"), compat_arch);
    // Docker's archMap; malformed entries just add no arch.
    for m in at.arr(j, b"archMap") {
        if m.get(b"architecture").and_then(Json::as_str) == Some(native) {
            let subs = m.get(b"subArchitectures").and_then(Json::as_arr);
            compat |= has(subs.unwrap_or(&[]), compat_arch);
        }
    }
    let mut flags = 0;
    for f in at.arr(j, b"flags") {
        let s = f.as_str().unwrap_or(b"");
        if let Some(i) = at.word(
            b"flags",
            s,
            b"SECCOMP_FILTER_FLAG_",
            FLAG_NAMES,
            b"unknown flag",
            b"SECCOMP_FILTER_FLAG_LOG, _SPEC_ALLOW, _WAIT_KILLABLE_RECV or _TSYNC",
        ) {
            flags |= FLAGS[i & 3];
        }
    }

    // Never dropped (run and create are short-lived, and freeing in the
    // bump arena mostly does nothing): no drop code.
    let (blob, names) = &*ManuallyDrop::new(bpf::names(g.names));
    let mut r = ManuallyDrop::new(Rules::new(&g.arches, default, compat));
    let mut conds = ManuallyDrop::new(Vec::<Cond>::new());
    for (i, s) in at.arr(j, b"syscalls").iter().enumerate() {
        at.sys = Some(i);
        at.arg = None;
        // Docker's includes (all must hold) and excludes (any rules out).
        let arches = at.arr(s, b"includes.arches");
        if cap_mask(at.arr(s, b"includes.caps")) & !caps != 0
            || cap_mask(at.arr(s, b"excludes.caps")) & caps != 0
            || !arches.is_empty() && !has(arches, host)
            || has(at.arr(s, b"excludes.arches"), host)
        {
            continue;
        }
        let act = at.action(s, b"action", b"errnoRet");
        conds.clear();
        let mut dup = false;
        for (k, a) in at.arr(s, b"args").iter().enumerate() {
            at.arg = Some(k);
            let arg = at.num(a, b"index");
            if arg > 5 {
                at.err(b"index", b"must be 0 to 5");
            }
            let o = at.str(a, b"op");
            let op = at
                .word(
                    b"op",
                    o,
                    b"SCMP_CMP_",
                    OPS,
                    b"unknown op",
                    b"SCMP_CMP_EQ, _NE, _LT, _LE, _GT, _GE or _MASKED_EQ",
                )
                .unwrap_or(0);
            dup |= conds.iter().any(|c| c.arg == arg as u8);
            conds.push(Cond {
                arg: arg as u8,
                op: op as u8 + 1,
                a: at.num(a, b"value"),
                b: at.num(a, b"valueTwo"),
            });
        }
        let one = at.get(s, b"name").into_iter();
        for nm in at.arr(s, b"names").iter().chain(one) {
            // Unknown names are skipped, as runc does.
            let Some(e) = bpf::find(blob, names, nm.as_str().unwrap_or(b"")) else {
                continue;
            };
            if dup {
                // runc's fallback: one rule per condition.
                for c in conds.iter() {
                    r.add(e.nr, e.mux, act, core::slice::from_ref(c));
                }
            } else {
                r.add(e.nr, e.mux, act, &conds);
            }
        }
    }
    if let Some(e) = at.e {
        return Err(e);
    }
    let prog = ManuallyDrop::new(r.compile(bpf::RET_KILL_PROCESS));
    if prog.len() > 4096 {
        return Err(Error::new(
            bare(root),
            b"compiles to more than 4096 BPF instructions; merge rules or drop argument conditions",
        ));
    }
    Ok(Filter {
        prog: ManuallyDrop::into_inner(prog),
        flags,
    })
}
