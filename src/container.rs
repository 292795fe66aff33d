//! The OCI lifecycle's shared parts: status from the state file, the exec
//! fifo and /proc; the state JSON; teardown that works from any point,
//! even after a SIGKILLed create.

use crate::cgroup::{self, Cgroup};
use crate::json;
use crate::oci::{self, Bundle};
use crate::rt::{self, Buf, Error, Res, S, cat};
use crate::state::{self, State};
use crate::sys;
use alloc::vec::Vec;

pub const FIFO: &[u8] = b"/exec.fifo";

pub fn fifo(root: &[u8], id: &[u8]) -> S {
    cat(&[root, b"/", id, FIFO])
}

/// creating, created, running, paused or stopped.
pub fn status(root: &[u8], id: &[u8], st: &State) -> S {
    let alive = state::live(st, false);
    if st.get(b"phase") == Some(b"creating") {
        return if alive || st.get(b"pid").is_none() {
            b"creating"
        } else {
            b"stopped"
        };
    }
    if !alive {
        return b"stopped";
    }
    if sys::lstat(fifo(root, id)).is_ok() {
        return b"created";
    }
    if frozen(st) {
        return b"paused";
    }
    b"running"
}

pub fn frozen(st: &State) -> bool {
    st.all(b"cgroup")
        .iter()
        .any(|d| reads(d, b"/cgroup.freeze", b"1") || reads(d, b"/freezer.state", b"FROZEN"))
}

/// Whether file `f` in `dir` holds `v`.
fn reads(dir: &[u8], f: &[u8], v: &[u8]) -> bool {
    rt::trim(&rt::read_file(cat(&[dir, f])).unwrap_or_default()) == v
}

pub fn cgroup_of(st: &State) -> Option<Cgroup> {
    let dirs = st.all(b"cgroup");
    let first = *dirs.first()?;
    Some(Cgroup {
        path: first,
        fd: None,
        v1: if st.get(b"cgroupv1").is_some() {
            dirs
        } else {
            Vec::new()
        },
    })
}

/// The config.json copy taken at create, if it is there and sound.
pub fn bundle_of(root: &[u8], id: &[u8], st: &State) -> Option<Bundle> {
    let file = cat(&[root, b"/", id, b"/config.json"]);
    let mut text: S = b"";
    load(
        file,
        st.get(b"bundle").unwrap_or(b"/"),
        cat(&[id]),
        &mut text,
    )
    .ok()
}

/// A config.json read and parsed, its text left in `text`: create's
/// and bundle_of's one copy of the sequence. Errors name the file.
pub fn load(file: S, bundle: S, id: S, text: &mut S) -> Res<Bundle> {
    // Leaked, as every caller is short-lived: no drop code.
    *text = rt::read_file(file)
        .map_err(|e| {
            Error::sys(file, e)
                .hint(b"pass --bundle DIR holding config.json (thinbox spec writes one)")
        })?
        .leak();
    let j = core::mem::ManuallyDrop::new(json::parse(text).map_err(|e| Error::new(file, e.msg()))?);
    oci::parse(&j, bundle, id)
}

/// The recorded pid, 0 once stopped.
pub fn pid(st: &State, status: &[u8]) -> u64 {
    if status == b"stopped" {
        0
    } else {
        st.num(b"pid").unwrap_or(0)
    }
}

/// The runtime-spec state JSON.
pub fn state_json(id: &[u8], st: &State, status: &[u8], b: Option<&Bundle>) -> Vec<u8> {
    let mut o = Buf::new();
    o.s(b"{\"ociVersion\":\"1.2.0\",\"id\":");
    json::put_str(&mut o, id);
    o.s(b",\"status\":");
    json::put_str(&mut o, status);
    o.s(b",\"pid\":").u(pid(st, status));
    o.s(b",\"bundle\":");
    json::put_str(&mut o, st.get(b"bundle").unwrap_or(b""));
    if let Some(b) = b {
        o.s(b",\"rootfs\":");
        json::put_str(&mut o, b.c.rootfs);
    }
    o.s(b",\"created\":");
    let created = st.get(b"created").unwrap_or(b"");
    // `run -d` keeps epoch seconds (ps counts uptime from them); the OCI
    // state wants RFC 3339, as `create` writes it.
    match rt::parse_u64(created) {
        Some(secs) => json::put_str(&mut o, state::rfc3339(secs, 0)),
        None => json::put_str(&mut o, created),
    }
    o.s(b",\"owner\":\"\",\"annotations\":{");
    if let Some(b) = b {
        for (i, (k, v)) in b.annotations.iter().enumerate() {
            if i > 0 {
                o.c(b',');
            }
            json::put_str(&mut o, k);
            o.c(b':');
            json::put_str(&mut o, v);
        }
    }
    o.s(b"}}");
    o.0
}

/// Kills what is left of a container (init, every process in its
/// cgroups), removes the cgroups, runs poststop hooks and the state dir.
pub fn destroy(root: &[u8], id: &[u8], st: &State) {
    if state::live(st, false) {
        let pid = st.num(b"pid").unwrap_or(0) as i32;
        let _ = sys::kill(pid, sys::SIGKILL);
        // Wait for it to be gone (reaped by its parent, or a zombie).
        for _ in 0..2000 {
            if !state::live(st, false) {
                break;
            }
            sys::sleep_ms(1);
        }
    }
    if let Some(cg) = cgroup_of(st) {
        cg.remove();
        // The default parent, /thinbox, goes with its last container.
        for d in cg.dirs() {
            let up = cgroup::parent(d);
            if up.ends_with(b"/thinbox") {
                let _ = sys::rmdir(up);
            }
        }
    }
    // Short-lived callers only: not dropped.
    let bundle = core::mem::ManuallyDrop::new(bundle_of(root, id, st));
    state::remove_dir(root, id);
    if let Some(b) = &*bundle
        && !b.hooks[oci::POSTSTOP].is_empty()
    {
        let js = state_json(id, st, b"stopped", Some(b));
        if let Err(e) = crate::hooks::run(&b.hooks[oci::POSTSTOP], &js, b"poststop") {
            warn(e);
        }
    }
}

/// "container ID: WHY".
#[inline(never)]
pub fn err(id: &[u8], why: &[u8]) -> Error {
    Error::new(cat(&[b"container ", id]), why)
}

pub fn warn(e: Error) {
    rt::err(cat(&[b"thinbox: warning: ", e.msg(), b"\n"]));
}

pub fn cgroups_into(st: &mut State, cg: &Cgroup) {
    for d in cg.dirs() {
        st.push(b"cgroup", d);
    }
    if !cg.v1.is_empty() {
        st.set(b"cgroupv1", b"1");
    }
}

/// Where an OCI container's limits live, for update and pause.
pub fn write_resources(cg: &Cgroup, r: &crate::spec::Resources) -> Res<()> {
    if cg.v1.is_empty() {
        if let Some(e) = r.v2_error {
            return Err(Error::new(e, b""));
        }
        return cgroup::write_limits(cg.path, r);
    }
    if let Some(e) = r.v1_error {
        return Err(Error::new(e, b""));
    }
    for (f, v) in &r.v1 {
        if let Ok(d) = cg.v1_dir(cgroup::ctrl_of(f)) {
            cgroup::put_as(d, f, v, false)?;
        }
    }
    Ok(())
}
