//! config.json parsing: targeted cases, and a sweep that mutates every
//! node of a config using every field and pins what the parser makes of
//! each variant (a digest; THINBOX_SWEEP=FILE writes the listing).

use super::*;
use std::fmt::Write;
use std::string::String;

const BASE: &str = r#"{
 "ociVersion": "1.2.0",
 "root": {"path": "rootfs", "readonly": true},
 "hostname": "h", "domainname": "d",
 "process": {
  "terminal": false,
  "consoleSize": {"height": 24, "width": 80},
  "args": ["sh", "-c", "x"],
  "env": ["A=1"],
  "cwd": "/w",
  "user": {"uid": 1, "gid": 2, "umask": 18, "additionalGids": [3, 4], "username": "u"},
  "capabilities": {"bounding": ["CAP_KILL", "CAP_SYS_ADMIN"], "effective": ["CAP_KILL"],
   "inheritable": [], "permitted": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
  "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}, {"type": "RLIMIT_CORE", "hard": 5}],
  "noNewPrivileges": true,
  "oomScoreAdj": 5,
  "apparmorProfile": "",
  "selinuxLabel": ""
 },
 "mounts": [
  {"destination": "/proc", "type": "proc", "source": "proc"},
  {"destination": "/b", "type": "bind", "source": "rel",
   "options": ["rbind", "ro", "rprivate", "x-foo", "tmpcopyup", "mode=755", "size=1k", "nosuid", "rw"]},
  {"destination": "/c", "options": ["bind", "shared", "runbindable", "rslave"]}
 ],
 "annotations": {"a": "b", "c": "d"},
 "hooks": {
  "prestart": [{"path": "/bin/true", "args": ["true"], "env": ["X=1"], "timeout": 3}],
  "createRuntime": [{"path": "/cr"}], "createContainer": [{"path": "/cc"}],
  "startContainer": [{"path": "/sc"}], "poststart": [{"path": "/ps"}], "poststop": [{"path": "/po"}]
 },
 "linux": {
  "namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/self/ns/net"},
   {"type": "mount"}, {"type": "user"}, {"type": "ipc"}],
  "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
  "gidMappings": [{"containerID": 0, "hostID": 2000, "size": 20}],
  "devices": [{"path": "/dev/x", "type": "c", "major": 1, "minor": 2, "fileMode": 438, "uid": 3, "gid": 4},
   {"path": "/dev/p", "type": "p"}],
  "cgroupsPath": "/a/b",
  "resources": {
   "memory": {"limit": 1000000, "reservation": 500, "swap": 2000000, "kernel": 1,
    "kernelTCP": 2, "swappiness": 10, "disableOOMKiller": true},
   "cpu": {"shares": 1024, "quota": 1000, "period": 100000, "realtimeRuntime": 1,
    "realtimePeriod": 2, "cpus": "0-1", "mems": "0", "idle": 1},
   "pids": {"limit": 10},
   "blockIO": {"weight": 10, "leafWeight": 11, "weightDevice": [{"major": 8, "minor": 0, "weight": 12}],
    "throttleReadBpsDevice": [{"major": 8, "minor": 1, "rate": 100}],
    "throttleWriteBpsDevice": [{"major": 8, "minor": 2, "rate": 200}],
    "throttleReadIOPSDevice": [{"major": 8, "minor": 3, "rate": 300}],
    "throttleWriteIOPSDevice": [{"major": 8, "minor": 4, "rate": 400}]},
   "hugepageLimits": [{"pageSize": "2MB", "limit": 100}],
   "network": {"classID": 1, "priorities": [{"name": "eth0", "priority": 1}]},
   "unified": {"memory.high": "100"},
   "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
   "rdma": {}
  },
  "sysctl": {"net.x": "1"},
  "maskedPaths": ["/m"],
  "readonlyPaths": ["/r"],
  "rootfsPropagation": "rshared",
  "mountLabel": "",
  "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]},
  "intelRdt": null, "personality": null, "timeOffsets": null
 }
}"#;

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ss(v: &[S]) -> String {
    let v: Vec<String> = v.iter().map(|x| s(x)).collect();
    v.join("|")
}

/// Every field of what the parser made, one per line.
fn dump(b: &Bundle) -> String {
    let c = &b.c;
    let mut o = String::new();
    let w = &mut o;
    let _ = writeln!(
        w,
        "id {} rootfs {} ro {}",
        s(c.id),
        s(c.rootfs),
        c.readonly_root
    );
    let _ = writeln!(w, "hostname {:?}", c.hostname.map(s));
    let _ = writeln!(w, "domainname {:?}", c.domainname.map(s));
    let _ = writeln!(w, "args {}", ss(&c.args));
    let _ = writeln!(w, "env {}", ss(&c.env));
    let _ = writeln!(w, "cwd {} uid {} gid {}", s(c.cwd), c.uid, c.gid);
    let _ = writeln!(w, "groups {:?} umask {:?} tty {}", c.groups, c.umask, c.tty);
    let _ = writeln!(w, "namespaces {:#x}", c.namespaces);
    for (f, p) in &c.join {
        let _ = writeln!(w, "join {f:#x} {}", s(p));
    }
    for (n, m) in [("uid", &c.uid_map), ("gid", &c.gid_map)] {
        for x in m.iter() {
            let _ = writeln!(w, "{n}map {} {} {}", x.container, x.host, x.size);
        }
    }
    for m in &c.mounts {
        let _ = writeln!(
            w,
            "mount {} {} {} {:#x} {}",
            s(m.dest),
            s(m.kind),
            s(m.source),
            m.flags,
            s(m.data)
        );
    }
    for d in &c.devices {
        let _ = writeln!(
            w,
            "device {} {} {} {} {:o} {} {}",
            s(d.path),
            d.kind as char,
            d.major,
            d.minor,
            d.mode,
            d.uid,
            d.gid
        );
    }
    let _ = writeln!(w, "propagation {:#x}", c.rootfs_propagation);
    let _ = writeln!(
        w,
        "cgroup {:?} explicit {}",
        c.cgroup_path.map(s),
        c.cgroup_explicit
    );
    let r = &c.resources;
    let _ = writeln!(
        w,
        "mem {:?} low {:?} swap {:?} quota {:?} period {:?} weight {:?}",
        r.memory, r.memory_low, r.swap, r.cpu_quota, r.cpu_period, r.cpu_weight
    );
    let _ = writeln!(
        w,
        "cpus {:?} mems {:?} pids {:?}",
        r.cpuset_cpus.map(s),
        r.cpuset_mems.map(s),
        r.pids,
    );
    for (f, v) in &r.files {
        let _ = writeln!(w, "v2 {} = {}", s(f), s(v));
    }
    for (f, v) in &r.v1 {
        let _ = writeln!(w, "v1 {} = {}", s(f), s(v));
    }
    let _ = writeln!(w, "v1err {:?}", r.v1_error.map(s));
    let _ = writeln!(w, "v2err {:?}", r.v2_error.map(s));
    for d in &r.devices {
        let _ = writeln!(
            w,
            "devrule {} {} {} {} {}",
            d.allow, d.kind as char, d.major, d.minor, d.access
        );
    }
    for l in &c.rlimits {
        let _ = writeln!(w, "rlimit {} {} {}", l.resource, l.soft, l.hard);
    }
    for (k, v) in &c.sysctl {
        let _ = writeln!(w, "sysctl {}={}", s(k), s(v));
    }
    let _ = writeln!(
        w,
        "oom {:?} nnp {} masked {} ro {}",
        c.oom_score_adj,
        c.no_new_privs,
        ss(&c.masked_paths),
        ss(&c.readonly_paths)
    );
    let k = &c.caps;
    let _ = writeln!(
        w,
        "caps {:x} {:x} {:x} {:x} {:x}",
        k.bounding, k.effective, k.permitted, k.inheritable, k.ambient
    );
    if let Some(p) = c.apparmor {
        let _ = writeln!(w, "apparmor {}", s(p));
    }
    match &c.seccomp {
        Some(f) => {
            let h = f.prog.iter().fold(0u64, |h, x| h.rotate_left(7) ^ x);
            let _ = writeln!(w, "seccomp {} {:x} {}", f.prog.len(), h, f.flags);
        }
        None => {
            let _ = writeln!(w, "seccomp none");
        }
    }
    for (n, hs) in b.hooks.iter().enumerate() {
        for h in hs {
            let _ = writeln!(
                w,
                "hook {n} {} {} {} {:?}",
                s(h.path),
                ss(&h.args),
                ss(&h.env),
                h.timeout
            );
        }
    }
    for (k, v) in &b.annotations {
        let _ = writeln!(w, "annotation {}={}", s(k), s(v));
    }
    if let Some(ws) = &b.console {
        let _ = writeln!(w, "console {} {}", ws.ws_row, ws.ws_col);
    }
    o
}

fn run(text: &str) -> Result<String, String> {
    let j = json::parse(text.as_bytes()).map_err(|e| s(e.msg()))?;
    match parse(&j, b"/bundle", b"id") {
        Ok(b) => Ok(dump(&b)),
        Err(e) => Err(s(e.msg())),
    }
}

fn err(text: &str) -> String {
    match run(text) {
        Ok(d) => panic!("accepted {text}:\n{d}"),
        Err(e) => e,
    }
}

fn ok(text: &str) -> String {
    match run(text) {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    }
}

/// Compact JSON text of `j` with the node at `target` replaced (None:
/// removed).
fn emit(j: &Json, path: &str, target: &str, with: Option<&str>, o: &mut String) {
    match j {
        Json::Arr(a) => {
            o.push('[');
            let mut first = true;
            for (i, v) in a.iter().enumerate() {
                let p = format!("{path}[{i}]");
                if p == target && with.is_none() {
                    continue;
                }
                if !first {
                    o.push(',');
                }
                first = false;
                node(v, &p, target, with, o);
            }
            o.push(']');
        }
        Json::Obj(m) => {
            o.push('{');
            let mut first = true;
            for (k, v) in m {
                let p = if path.is_empty() {
                    s(k)
                } else {
                    format!("{path}.{}", s(k))
                };
                if p == target && with.is_none() {
                    continue;
                }
                if !first {
                    o.push(',');
                }
                first = false;
                let mut kb = crate::rt::Buf::new();
                json::put_str(&mut kb, k);
                o.push_str(&s(kb.as_slice()));
                o.push(':');
                node(v, &p, target, with, o);
            }
            o.push('}');
        }
        Json::Str(t) => {
            let mut kb = crate::rt::Buf::new();
            json::put_str(&mut kb, t);
            o.push_str(&s(kb.as_slice()));
        }
        Json::Num(t) => o.push_str(&s(t)),
        Json::Bool(b) => o.push_str(if *b { "true" } else { "false" }),
        Json::Null => o.push_str("null"),
    }
}

fn node(v: &Json, p: &str, target: &str, with: Option<&str>, o: &mut String) {
    match with {
        Some(w) if p == target => o.push_str(w),
        _ => emit(v, p, target, with, o),
    }
}

fn paths(j: &Json, path: &str, out: &mut Vec<String>) {
    match j {
        Json::Arr(a) => {
            for (i, v) in a.iter().enumerate() {
                let p = format!("{path}[{i}]");
                out.push(p.clone());
                paths(v, &p, out);
            }
        }
        Json::Obj(m) => {
            for (k, v) in m {
                let p = if path.is_empty() {
                    s(k)
                } else {
                    format!("{path}.{}", s(k))
                };
                out.push(p.clone());
                paths(v, &p, out);
            }
        }
        _ => {}
    }
}

const VALUES: [&str; 33] = [
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1",
    "7",
    "101",
    "1.5",
    "4294967296",
    "300000",
    "-1001",
    "1001",
    "\"x\"",
    "\"\"",
    "\"/abs\"",
    "\"rel\"",
    "\"c\"",
    "\"b\"",
    "\"p\"",
    "\"a\"",
    "\"pid\"",
    "\"rw\"",
    "\"CAP_CHOWN\"",
    "\"RLIMIT_CPU\"",
    "\"rshared\"",
    "\"cgroup.procs\"",
    "{}",
    "[]",
    "[\"x\"]",
    "[{}]",
    "{\"a\":1}",
    "{\"type\":\"uts\"}",
];

#[test]
fn sweep() {
    let base = json::parse(BASE.as_bytes()).ok().unwrap();
    let base_dump = ok(BASE);
    let mut ps = Vec::new();
    paths(&base, "", &mut ps);
    let mut listing = String::new();
    for p in &ps {
        for with in VALUES.iter().map(|v| Some(*v)).chain([None]) {
            let mut t = String::new();
            node(&base, "", p, with, &mut t);
            let _ = write!(listing, "{p} = {}: ", with.unwrap_or("(absent)"));
            match run(&t) {
                Ok(d) => {
                    // Only what differs from the base config's result.
                    let old: Vec<&str> = base_dump.lines().collect();
                    let new: Vec<&str> = d.lines().collect();
                    listing.push_str("ok");
                    for l in &new {
                        if !old.contains(l) {
                            let _ = write!(listing, "\n  + {l}");
                        }
                    }
                    for l in &old {
                        if !new.contains(l) {
                            let _ = write!(listing, "\n  - {l}");
                        }
                    }
                    listing.push('\n');
                }
                Err(e) => {
                    let _ = writeln!(listing, "{e}");
                }
            }
        }
    }
    let full = format!("{base_dump}{listing}");
    let digest = full.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    // THINBOX_SWEEP=FILE keeps the listing, to diff before and after.
    if let Ok(out) = std::env::var("THINBOX_SWEEP") {
        std::fs::write(out, &full).unwrap();
    }
    assert_eq!(
        format!("{digest:016x}"),
        "8f6a51ea048a06fb",
        "config.json parsing changed; THINBOX_SWEEP=FILE writes the listing"
    );
}

fn with_linux(linux: &str) -> String {
    format!(r#"{{"root": {{"path": "/r"}}, "linux": {linux}}}"#)
}

#[test]
fn resources_for_both_hierarchies() {
    let d = ok(&with_linux(
        r#"{"resources": {
            "memory": {"limit": 1048576, "swap": 3145728, "swappiness": null},
            "cpu": {"quota": 50000, "period": 100000, "shares": 1},
            "pids": {"limit": 0},
            "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 5}]},
            "unified": {"io.weight": "20"}}}"#,
    ));
    // v2: typed values (swap without memory, shares clamped to 2 and
    // mapped to a weight, pids 0 is "max") and extra files.
    assert!(d.contains(
        "mem Some(1048576) low None swap Some(2097152) quota Some(50000) period Some(100000) weight Some(1)\n"
    ));
    assert!(d.contains("pids Some(-1)"));
    assert!(d.contains("v2 io.max = 8:0 rbps=5\nv2 io.weight = 20\n"));
    // v1: files in write order, the period first.
    let v1: Vec<&str> = d.lines().filter(|l| l.starts_with("v1 ")).collect();
    assert_eq!(
        v1,
        [
            "v1 cpu.cfs_period_us = 100000",
            "v1 memory.limit_in_bytes = 1048576",
            "v1 memory.memsw.limit_in_bytes = 3145728",
            "v1 cpu.shares = 2",
            "v1 cpu.cfs_quota_us = 50000",
            "v1 pids.max = max",
            "v1 blkio.throttle.read_bps_device = 8:0 5",
        ]
    );
    // unified has no v1 form; nothing lacks a v2 form.
    assert!(d.contains("v1err Some(\"linux.resources.unified: needs cgroup v2\")"));
    assert!(d.contains("v2err None"));
    let d = ok(&with_linux(
        r#"{"resources": {"memory": {"kernel": 5}, "network": {"classID": 3}}}"#,
    ));
    assert!(d.contains("v1 memory.kmem.limit_in_bytes = 5\nv1 net_cls.classid = 3\n"));
    assert!(
        d.contains("v2err Some(\"linux.resources.memory.kernel: cgroup v2 has no equivalent\")")
    );
}

#[test]
fn errors_name_the_path_and_value() {
    let cases = [
        (
            r#"{"resources": {"memory": {"limit": "1G"}}}"#,
            r#"linux.resources.memory.limit: expected an integer, got "1G""#,
        ),
        (
            r#"{"resources": {"memory": {"limit": 100, "swap": 50}}}"#,
            "linux.resources.memory.swap: must be at least memory.limit (it is memory plus swap)",
        ),
        (
            r#"{"resources": {"memory": {"swappiness": 101}}}"#,
            "linux.resources.memory.swappiness: must be 0 to 100, got 101",
        ),
        (
            r#"{"resources": {"devices": [{"allow": true, "access": "rwx"}]}}"#,
            "linux.resources.devices.access: expected letters of rwm",
        ),
        (
            r#"{"resources": {"unified": {"cgroup.procs": "1"}}}"#,
            "linux.resources.unified.cgroup.procs: not a controller file",
        ),
        (
            r#"{"namespaces": [{"type": "pid"}, {"type": "pid"}]}"#,
            r#"linux.namespaces[1].type: namespace listed twice, got "pid""#,
        ),
        (
            r#"{"namespaces": [{"type": "mnt"}]}"#,
            r#"linux.namespaces[0].type: unknown namespace type, got "mnt""#,
        ),
        (
            r#"{"uidMappings": [{"containerID": 0, "hostID": 1}]}"#,
            "linux.uidMappings[0].size: missing",
        ),
        (
            r#"{"devices": [{"path": "/dev/x", "type": "c", "major": 4294967296, "minor": 1}]}"#,
            "linux.devices[0].major: expected a 32-bit value, got 4294967296",
        ),
        (
            r#"{"intelRdt": {}}"#,
            "linux.intelRdt: not supported by thinbox; remove it, got {}",
        ),
    ];
    for (linux, want) in cases {
        assert_eq!(err(&with_linux(linux)), want);
    }
    assert_eq!(err(r#"{"root": {}}"#), "root.path: missing");
    assert_eq!(err(r#"{}"#), "root: missing; config.json needs root.path");
    assert_eq!(err(r#"[]"#), "config: expected an object, got []");
    // The first error wins.
    assert_eq!(
        err(r#"{"root": {"path": "/r"}, "hostname": 1, "process": {"cwd": "rel"}}"#),
        "hostname: expected a string, got 1"
    );
    assert_eq!(
        err(r#"{"root": {"path": "/r"}, "process": {"cwd": "rel"}}"#),
        r#"process.cwd: must be an absolute path, got "rel""#
    );
    assert_eq!(
        err(r#"{"root": {"path": "/r"}, "hooks": {"prestart": [{"path": "rel"}]}}"#),
        "hooks.prestart[0].path: must be absolute, got rel"
    );
}

#[test]
fn oci_version_must_be_semver() {
    for v in ["1.0.0", "1.2.0", "1.0.2-dev", "1.1.0-rc.1+build"] {
        ok(&format!(
            r#"{{"ociVersion": "{v}", "root": {{"path": "/r"}}}}"#
        ));
    }
    for v in ["invalid", "1.0", "1.0.x", "1.0.0-", ""] {
        let e = err(&format!(
            r#"{{"ociVersion": "{v}", "root": {{"path": "/r"}}}}"#
        ));
        assert!(e.starts_with("ociVersion: expected a SemVer"), "{v}: {e}");
    }
}
