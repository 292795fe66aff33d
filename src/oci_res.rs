//! `linux.resources` of config.json into cgroup writes for both hierarchies:
//! typed v2 values plus the v1 file list. A property one hierarchy cannot
//! express is recorded as that hierarchy's error, raised only if it is used.

use crate::json::{ANY, ARR, At, BOOL, INT, Json, OBJ, Rd, STR, UINT, join};
use crate::rt::{Buf, Res, S, cat};
use crate::spec::Resources;

fn num(n: i64) -> S {
    let mut b = Buf::new();
    b.i(n);
    b.leak()
}

#[inline(never)]
fn v1(c: &mut Resources, file: S, val: S) {
    c.v1.push((file, val));
}

#[inline(never)]
fn v2(c: &mut Resources, file: S, val: S) {
    c.files.push((file, val));
}

#[inline(never)]
fn only(slot: &mut Option<S>, path: &[u8], why: &[u8]) {
    if slot.is_none() {
        *slot = Some(cat(&[path, why]));
    }
}

// Sections of linux.resources holding scalars, in the order read.
const MEM: u8 = 0;
const CPU: u8 = 1;
const PIDS: u8 = 2;
const BLKIO: u8 = 3;
const NET: u8 = 4;
const SECTIONS: &[u8] = b"memory cpu pids blockIO network";

// What a scalar does besides its cgroup v1 file. Up to OOM, v2 has no
// equivalent; from OOM to MEMS, 0 (or false, or "") sets nothing.
const V1_ONLY: u8 = 0;
const SWAPPINESS: u8 = 1;
const OOM: u8 = 2;
const SHARES: u8 = 3;
const PERIOD: u8 = 4;
const CPUS: u8 = 5;
const MEMS: u8 = 6;
const LIMIT: u8 = 7;
const LOW: u8 = 8;
const SWAP: u8 = 9;
const QUOTA: u8 = 10;
const IDLE: u8 = 11;
const PIDS_MAX: u8 = 12;
const WEIGHT: u8 = 13;

/// [section, kind, what else] of each scalar, and its "key cgroup-file"
/// as two words of SCALAR_NAMES: a slice per row cost 16 bytes of table.
const SCALARS: [[u8; 3]; 19] = [
    [MEM, INT, LIMIT],
    [MEM, INT, LOW],
    [MEM, INT, SWAP],
    [MEM, INT, V1_ONLY],
    [MEM, INT, V1_ONLY],
    [MEM, UINT, SWAPPINESS],
    [MEM, BOOL, OOM],
    [CPU, UINT, SHARES],
    [CPU, INT, QUOTA],
    [CPU, UINT, PERIOD],
    [CPU, INT, V1_ONLY],
    [CPU, INT, V1_ONLY],
    [CPU, STR, CPUS],
    [CPU, STR, MEMS],
    [CPU, INT, IDLE],
    [PIDS, INT, PIDS_MAX],
    [BLKIO, UINT, WEIGHT],
    [BLKIO, UINT, V1_ONLY],
    [NET, UINT, V1_ONLY],
];
const SCALAR_NAMES: &[u8] = b"\
limit memory.limit_in_bytes \
reservation memory.soft_limit_in_bytes \
swap memory.memsw.limit_in_bytes \
kernel memory.kmem.limit_in_bytes \
kernelTCP memory.kmem.tcp.limit_in_bytes \
swappiness memory.swappiness \
disableOOMKiller memory.oom_control \
shares cpu.shares \
quota cpu.cfs_quota_us \
period cpu.cfs_period_us \
realtimeRuntime cpu.rt_runtime_us \
realtimePeriod cpu.rt_period_us \
cpus cpuset.cpus \
mems cpuset.mems \
idle cpu.idle \
limit pids.max \
weight blkio.weight \
leafWeight blkio.leaf_weight \
classID net_cls.classid";

// Per-device lists, five words a row in one string: "key head-key
// number-key v1-file io.max-key" (head "-": major and minor; an empty
// word, two spaces, for no file or key); the row up to THR is the kind.
const HUGE: usize = 0;
const PRIO: usize = 1;
const WDEV: usize = 2;
const THR: usize = 3;
const N_LISTS: usize = 7;
const LISTS: &[u8] = concat!(
    "hugepageLimits pageSize limit   ",
    "priorities name priority net_prio.ifpriomap  ",
    "weightDevice - weight blkio.weight_device  ",
    "throttleReadBpsDevice - rate blkio.throttle.read_bps_device rbps= ",
    "throttleWriteBpsDevice - rate blkio.throttle.write_bps_device wbps= ",
    "throttleReadIOPSDevice - rate blkio.throttle.read_iops_device riops= ",
    "throttleWriteIOPSDevice - rate blkio.throttle.write_iops_device wiops=",
)
.as_bytes();

/// The first word of `s`, which keeps what follows its space (if any).
#[inline(never)]
pub fn word(s: &mut S) -> S {
    let w = *s;
    match w.iter().position(|&c| c == b' ') {
        Some(i) => {
            *s = &w[i + 1..];
            &w[..i]
        }
        None => {
            *s = b"";
            w
        }
    }
}

/// `linux.resources` (or update's whole document) into `c.resources`.
pub fn parse(c: &mut Resources, j: &Json) -> Res<()> {
    let mut r = Rd::new();
    resources(&mut r, c, j);
    r.done(())
}

const V2_NONE: &[u8] = b": cgroup v2 has no equivalent";
const V2_ONLY: &[u8] = b": needs cgroup v2";

/// Reads `j` with null as absent, as runc does here.
pub fn resources<'a>(r: &mut Rd<'a>, c: &mut Resources, j: &'a Json) {
    const RP: &[u8] = b"linux.resources";
    let nulls = r.nulls;
    r.nulls = true;
    let res = At { j, path: RP };
    r.check(Some(j), RP, b"", OBJ);
    let mut names = SECTIONS;
    for si in MEM..=NET {
        let name = word(&mut names);
        if si == NET {
            list(r, c, res, HUGE);
        }
        let t = if si == PIDS || si == NET { ANY } else { OBJ };
        let Some(o) = r.sub(res, name, t) else {
            continue;
        };
        let mut limit = None;
        let mut names = SCALAR_NAMES;
        for &[s, t, how] in SCALARS.iter() {
            let k = word(&mut names);
            let file = word(&mut names);
            if s != si {
                continue;
            }
            let Some(v) = r.get(o, k, t) else {
                continue;
            };
            let n = match v {
                Json::Str(s) => s.len() as i64,
                Json::Bool(b) => *b as i64,
                _ if t == INT => v.as_i64().unwrap_or(0),
                _ => v.as_u64().unwrap_or(0) as i64,
            };
            if (OOM..=MEMS).contains(&how) && n == 0 {
                continue;
            }
            let path = join(o.path, k);
            if how <= OOM {
                only(&mut c.v2_error, path, V2_NONE);
            }
            let mut val = Some(match v.as_str() {
                Some(s) => s,
                None => num(n),
            });
            match how {
                LIMIT => {
                    limit = Some(n);
                    c.memory = Some(n);
                }
                LOW => c.memory_low = Some(n),
                SWAP => {
                    // OCI swap is memory plus swap, as in v1's memsw.
                    c.swap = Some(match limit {
                        _ if n < 0 => -1,
                        Some(l) if l >= 0 => {
                            if n < l {
                                r.fail(
                                    path,
                                    b"must be at least memory.limit (it is memory plus swap)",
                                );
                            }
                            n - l
                        }
                        _ => {
                            r.fail(path, b"needs memory.limit");
                            0
                        }
                    })
                }
                SWAPPINESS if n as u64 > 100 => r.no(b"must be 0 to 100"),
                OOM => val = Some(b"1"),
                SHARES => {
                    let n = (n as u64).clamp(2, 262_144);
                    c.cpu_weight = Some(1 + ((n - 2) * 9999) / 262_142);
                    val = Some(num(n as i64));
                }
                QUOTA => c.cpu_quota = Some(if n <= 0 { -1 } else { n }),
                PERIOD => {
                    c.cpu_period = Some(n as u64);
                    // v1 wants the period before a quota that depends on it.
                    c.v1.insert(0, (file, num(n)));
                    val = None;
                }
                CPUS => c.cpuset_cpus = val,
                MEMS => c.cpuset_mems = val,
                IDLE => {
                    v2(c, file, num(n));
                    only(&mut c.v1_error, path, V2_ONLY);
                    val = None;
                }
                PIDS_MAX => {
                    c.pids = Some(if n <= 0 { -1 } else { n });
                    if n <= 0 {
                        val = Some(b"max");
                    }
                }
                WEIGHT => v2(c, b"io.bfq.weight", num(n)),
                _ => {}
            }
            if let Some(val) = val {
                c.v1.push((file, val));
            }
        }
        let rows = match si {
            NET => PRIO..WDEV,
            BLKIO => WDEV..N_LISTS,
            _ => 0..0,
        };
        for i in rows {
            list(r, c, o, i);
        }
    }
    if let Some(u) = r.sub(res, b"unified", OBJ) {
        for (k, v) in u.j.as_obj().unwrap_or(&[]) {
            let val = r.check(Some(v), u.path, k, STR).and_then(Json::as_str);
            if k.contains(&b'/') || k.starts_with(b"cgroup.") {
                r.fail(join(u.path, k), b"not a controller file");
            }
            v2(c, k, val.unwrap_or(b""));
            only(&mut c.v1_error, u.path, V2_ONLY);
        }
    }
    if let Some(l) = r.sub(res, b"devices", ARR) {
        for d in l.items() {
            let e = At { j: d, path: l.path };
            let allow = r.need_n(e, b"allow", BOOL) != 0;
            let kind = match r.str(e, b"type") {
                None | Some(b"a") => b'a',
                Some(b"c") => b'c',
                Some(b"b") => b'b',
                _ => {
                    r.fail(join(l.path, b"type"), b"expected a, c or b");
                    b'a'
                }
            };
            let major = r.int(e, b"major").unwrap_or(-1);
            let minor = r.int(e, b"minor").unwrap_or(-1);
            let access = access_bits(r.str(e, b"access").unwrap_or(b"rwm"));
            if access == 0 {
                r.fail(join(l.path, b"access"), b"expected letters of rwm");
            }
            c.devices.push(crate::spec::DevRule {
                allow,
                kind,
                major,
                minor,
                access,
            });
        }
    }
    if let Some(v) = r.sub(res, b"rdma", OBJ)
        && !v.j.as_obj().unwrap_or(&[]).is_empty()
    {
        r.fail(v.path, b"not supported by thinbox; remove it");
    }
    r.nulls = nulls;
}

/// One per-device list: each item is a head (device or name) and a number.
#[inline(never)]
fn list<'a>(r: &mut Rd<'a>, c: &mut Resources, o: At<'a>, i: usize) {
    let how = i.min(THR);
    let mut t = LISTS;
    for _ in 0..5 * i {
        word(&mut t);
    }
    let k = word(&mut t);
    let hk = word(&mut t);
    let nk = word(&mut t);
    let f1 = word(&mut t);
    let key = word(&mut t);
    let Some(l) = r.sub(o, k, ARR) else {
        return;
    };
    for d in l.items() {
        let e = At { j: d, path: l.path };
        let head = if how < WDEV {
            r.need_s(e, hk)
        } else {
            majmin(r, e)
        };
        let n = if how == WDEV {
            match r.uint(e, nk) {
                Some(w) => w as i64,
                None => continue,
            }
        } else {
            r.need_n(e, nk, UINT)
        };
        let n = num(n);
        if how == HUGE {
            v1(c, cat(&[b"hugetlb.", head, b".limit_in_bytes"]), n);
            v2(c, cat(&[b"hugetlb.", head, b".max"]), n);
            continue;
        }
        v1(c, f1, cat(&[head, b" ", n]));
        if how == PRIO {
            only(&mut c.v2_error, l.path, V2_NONE);
        } else {
            let f2: S = if how == WDEV {
                b"io.bfq.weight"
            } else {
                b"io.max"
            };
            v2(c, f2, cat(&[head, b" ", key, n]));
        }
    }
}

fn majmin<'a>(r: &mut Rd<'a>, e: At<'a>) -> S {
    let ma = num(r.need_n(e, b"major", INT));
    cat(&[ma, b":", num(r.need_n(e, b"minor", INT))])
}

/// "rwm" letters as BPF_DEVCG_ACC_* bits; 0 for none, or for another
/// letter among them.
pub fn access_bits(a: &[u8]) -> u8 {
    let mut m = 0;
    for &ch in a {
        m |= match ch {
            b'r' => 2,
            b'w' => 4,
            b'm' => 1,
            _ => return 0,
        };
    }
    m
}
