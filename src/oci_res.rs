//! `linux.resources` of config.json into cgroup writes for both hierarchies:
//! typed v2 values plus the v1 file list. A property one hierarchy cannot
//! express is recorded as that hierarchy's error, raised only if it is used.

use crate::json::{Json, want_arr, want_bool, want_i64, want_obj, want_str, want_u64};
use crate::rt::{Buf, Error, Res, S, cat};
use crate::spec::Container;

fn p(a: &[u8], b: &[u8]) -> S {
    cat(&[a, b".", b])
}

fn num(n: i64) -> S {
    let mut b = Buf::new();
    b.i(n);
    b.leak()
}

fn v1(c: &mut Container, file: &[u8], val: S) {
    c.resources.v1.push((cat(&[file]), val));
}

fn v2_only(c: &mut Container, path: &[u8]) {
    if c.resources.v1_error.is_none() {
        c.resources.v1_error = Some(cat(&[path, b": needs cgroup v2"]));
    }
}

fn v1_only(c: &mut Container, path: &[u8]) {
    if c.resources.v2_error.is_none() {
        c.resources.v2_error = Some(cat(&[path, b": cgroup v2 has no equivalent"]));
    }
}

fn field<'a>(o: &'a Json, base: &[u8], k: &[u8]) -> Option<(&'a Json, S)> {
    o.get(k).filter(|v| !v.is_null()).map(|v| (v, p(base, k)))
}

pub fn resources(c: &mut Container, r: &Json) -> Res<()> {
    const R: &[u8] = b"linux.resources";
    want_obj(r, R)?;
    if let Some((m, mp)) = field(r, R, b"memory") {
        want_obj(m, mp)?;
        let mut limit = None;
        if let Some((v, path)) = field(m, mp, b"limit") {
            let n = want_i64(v, path)?;
            limit = Some(n);
            c.resources.memory = Some(n);
            v1(c, b"memory.limit_in_bytes", num(n));
        }
        if let Some((v, path)) = field(m, mp, b"reservation") {
            let n = want_i64(v, path)?;
            c.resources.memory_low = Some(n);
            v1(c, b"memory.soft_limit_in_bytes", num(n));
        }
        if let Some((v, path)) = field(m, mp, b"swap") {
            let n = want_i64(v, path)?;
            // OCI swap is memory plus swap, as in v1's memsw.
            c.resources.swap = Some(match limit {
                _ if n < 0 => -1,
                Some(l) if l >= 0 => {
                    if n < l {
                        return Err(Error::new(
                            path,
                            b"must be at least memory.limit (it is memory plus swap)",
                        ));
                    }
                    n - l
                }
                _ => return Err(Error::new(path, b"needs memory.limit")),
            });
            v1(c, b"memory.memsw.limit_in_bytes", num(n));
        }
        for (k, file) in [
            (&b"kernel"[..], &b"memory.kmem.limit_in_bytes"[..]),
            (b"kernelTCP", b"memory.kmem.tcp.limit_in_bytes"),
        ] {
            if let Some((v, path)) = field(m, mp, k) {
                let n = want_i64(v, path)?;
                v1(c, file, num(n));
                v1_only(c, path);
            }
        }
        if let Some((v, path)) = field(m, mp, b"swappiness") {
            let n = want_u64(v, path)?;
            if n > 100 {
                return Err(Error::new(
                    path,
                    cat(&[b"must be 0 to 100, got ", v.text()]),
                ));
            }
            v1(c, b"memory.swappiness", num(n as i64));
            v1_only(c, path);
        }
        if let Some((v, path)) = field(m, mp, b"disableOOMKiller")
            && want_bool(v, path)?
        {
            v1(c, b"memory.oom_control", b"1");
            v1_only(c, path);
        }
    }
    if let Some((cpu, cp)) = field(r, R, b"cpu") {
        want_obj(cpu, cp)?;
        if let Some((v, path)) = field(cpu, cp, b"shares") {
            let n = want_u64(v, path)?;
            if n > 0 {
                let n = n.clamp(2, 262_144);
                c.resources.cpu_weight = Some(1 + ((n - 2) * 9999) / 262_142);
                v1(c, b"cpu.shares", num(n as i64));
            }
        }
        if let Some((v, path)) = field(cpu, cp, b"quota") {
            let n = want_i64(v, path)?;
            c.resources.cpu_quota = Some(if n <= 0 { -1 } else { n });
            v1(c, b"cpu.cfs_quota_us", num(n));
        }
        if let Some((v, path)) = field(cpu, cp, b"period") {
            let n = want_u64(v, path)?;
            if n > 0 {
                c.resources.cpu_period = Some(n);
                // v1 wants the period before a quota that depends on it.
                c.resources
                    .v1
                    .insert(0, (&b"cpu.cfs_period_us"[..], num(n as i64)));
            }
        }
        for (k, file) in [
            (&b"realtimeRuntime"[..], &b"cpu.rt_runtime_us"[..]),
            (b"realtimePeriod", b"cpu.rt_period_us"),
        ] {
            if let Some((v, path)) = field(cpu, cp, k) {
                let n = want_i64(v, path)?;
                v1(c, file, num(n));
                v1_only(c, path);
            }
        }
        if let Some((v, path)) = field(cpu, cp, b"cpus") {
            let s = want_str(v, path)?;
            if !s.is_empty() {
                c.resources.cpuset_cpus = Some(s);
                v1(c, b"cpuset.cpus", s);
            }
        }
        if let Some((v, path)) = field(cpu, cp, b"mems") {
            let s = want_str(v, path)?;
            if !s.is_empty() {
                c.resources.cpuset_mems = Some(s);
                v1(c, b"cpuset.mems", s);
            }
        }
        if let Some((v, path)) = field(cpu, cp, b"idle") {
            let n = want_i64(v, path)?;
            c.resources.files.push((b"cpu.idle", num(n)));
            v2_only(c, path);
        }
    }
    if let Some((pids, pp)) = field(r, R, b"pids")
        && let Some((v, path)) = field(pids, pp, b"limit")
    {
        let n = want_i64(v, path)?;
        c.resources.pids = Some(if n <= 0 { -1 } else { n });
        v1(c, b"pids.max", if n <= 0 { b"max" } else { num(n) });
    }
    if let Some((bio, bp)) = field(r, R, b"blockIO") {
        want_obj(bio, bp)?;
        if let Some((v, path)) = field(bio, bp, b"weight") {
            let n = want_u64(v, path)?;
            c.resources.files.push((b"io.bfq.weight", num(n as i64)));
            v1(c, b"blkio.weight", num(n as i64));
        }
        if let Some((v, path)) = field(bio, bp, b"leafWeight") {
            let n = want_u64(v, path)?;
            v1(c, b"blkio.leaf_weight", num(n as i64));
            v1_only(c, path);
        }
        if let Some((list, path)) = field(bio, bp, b"weightDevice") {
            for d in want_arr(list, path)? {
                let dev = majmin(d, path)?;
                if let Some((w, wp)) = field(d, path, b"weight") {
                    let line = cat(&[dev, b" ", num(want_u64(w, wp)? as i64)]);
                    c.resources.files.push((b"io.bfq.weight", line));
                    v1(c, b"blkio.weight_device", line);
                }
            }
        }
        for (k, v1file, v2key) in [
            (
                &b"throttleReadBpsDevice"[..],
                &b"blkio.throttle.read_bps_device"[..],
                &b"rbps"[..],
            ),
            (
                b"throttleWriteBpsDevice",
                b"blkio.throttle.write_bps_device",
                b"wbps",
            ),
            (
                b"throttleReadIOPSDevice",
                b"blkio.throttle.read_iops_device",
                b"riops",
            ),
            (
                b"throttleWriteIOPSDevice",
                b"blkio.throttle.write_iops_device",
                b"wiops",
            ),
        ] {
            if let Some((list, path)) = field(bio, bp, k) {
                for d in want_arr(list, path)? {
                    let dev = majmin(d, path)?;
                    let rp = p(path, b"rate");
                    let rate = want_u64(d.get(b"rate").unwrap_or(&Json::Null), rp)?;
                    let r = num(rate as i64);
                    v1(c, v1file, cat(&[dev, b" ", r]));
                    c.resources
                        .files
                        .push((b"io.max", cat(&[dev, b" ", v2key, b"=", r])));
                }
            }
        }
    }
    if let Some((list, path)) = field(r, R, b"hugepageLimits") {
        for h in want_arr(list, path)? {
            let sp = p(path, b"pageSize");
            let size = want_str(h.get(b"pageSize").unwrap_or(&Json::Null), sp)?;
            let lp = p(path, b"limit");
            let limit = num(want_u64(h.get(b"limit").unwrap_or(&Json::Null), lp)? as i64);
            v1(c, cat(&[b"hugetlb.", size, b".limit_in_bytes"]), limit);
            c.resources
                .files
                .push((cat(&[b"hugetlb.", size, b".max"]), limit));
        }
    }
    if let Some((net, np)) = field(r, R, b"network") {
        if let Some((v, path)) = field(net, np, b"classID") {
            let n = want_u64(v, path)?;
            v1(c, b"net_cls.classid", num(n as i64));
            v1_only(c, path);
        }
        if let Some((list, path)) = field(net, np, b"priorities") {
            for e in want_arr(list, path)? {
                let name = want_str(e.get(b"name").unwrap_or(&Json::Null), p(path, b"name"))?;
                let pr = want_u64(
                    e.get(b"priority").unwrap_or(&Json::Null),
                    p(path, b"priority"),
                )?;
                v1(c, b"net_prio.ifpriomap", cat(&[name, b" ", num(pr as i64)]));
                v1_only(c, path);
            }
        }
    }
    if let Some((u, up)) = field(r, R, b"unified") {
        for (k, v) in want_obj(u, up)? {
            let val = want_str(v, p(up, k))?;
            if k.contains(&b'/') || k.starts_with(b"cgroup.") {
                return Err(Error::new(p(up, k), b"not a controller file"));
            }
            c.resources.files.push((k, val));
            v2_only(c, up);
        }
    }
    if let Some((list, path)) = field(r, R, b"devices") {
        for d in want_arr(list, path)? {
            let ap = p(path, b"allow");
            let allow = want_bool(d.get(b"allow").unwrap_or(&Json::Null), ap)?;
            let kind = match d.get(b"type") {
                Some(t) if !t.is_null() => match want_str(t, p(path, b"type"))? {
                    b"a" => b'a',
                    b"c" => b'c',
                    b"b" => b'b',
                    _ => return Err(Error::new(p(path, b"type"), b"expected a, c or b")),
                },
                _ => b'a',
            };
            let id = |k: &[u8]| -> Res<i64> {
                match d.get(k) {
                    Some(v) if !v.is_null() => want_i64(v, p(path, k)),
                    _ => Ok(-1),
                }
            };
            let (ma, mi) = (id(b"major")?, id(b"minor")?);
            let access = match d.get(b"access") {
                Some(v) if !v.is_null() => want_str(v, p(path, b"access"))?,
                _ => b"rwm",
            };
            if access.is_empty() || !access.iter().all(|ch| b"rwm".contains(ch)) {
                return Err(Error::new(p(path, b"access"), b"expected letters of rwm"));
            }
            c.resources.devices.push(crate::spec::DevRule {
                allow,
                kind,
                major: ma,
                minor: mi,
                access: access_bits(access),
            });
        }
    }
    if let Some((v, path)) = field(r, R, b"rdma")
        && !want_obj(v, path)?.is_empty()
    {
        return Err(Error::new(path, b"not supported by thinbox; remove it"));
    }
    Ok(())
}

fn access_bits(a: &[u8]) -> u8 {
    a.iter().fold(0, |m, &ch| {
        m | match ch {
            b'r' => 2,
            b'w' => 4,
            _ => 1,
        }
    })
}

fn majmin(d: &Json, path: &[u8]) -> Res<S> {
    let ma = want_i64(d.get(b"major").unwrap_or(&Json::Null), p(path, b"major"))?;
    let mi = want_i64(d.get(b"minor").unwrap_or(&Json::Null), p(path, b"minor"))?;
    Ok(cat(&[num(ma), b":", num(mi)]))
}
