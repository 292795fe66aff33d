//! Compiles Docker's default seccomp profile (src/seccomp/default.profile)
//! for both arch groups, with syscall numbers from the `syscalls` crate, and
//! writes the tables the runtime needs to recompile it for other capability
//! sets or to compile JSON profiles.

extern crate alloc;

#[path = "src/seccomp/bpf.rs"]
#[allow(dead_code)]
mod bpf;
#[path = "src/seccomp/profile.rs"]
#[allow(dead_code)]
mod profile;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::{env, fs, path::Path};

/// (name, number) of every syscall of one arch.
macro_rules! table {
    ($arch:ident) => {{
        use syscalls::$arch::Sysno;
        (Sysno::first().id()..=Sysno::last().id())
            .filter_map(|i| Sysno::new(i as usize))
            // "r#break": the crate's raw identifier for i386 break.
            .map(|s| (s.name().trim_start_matches("r#").to_string(), s.id() as u32))
            .collect::<Vec<_>>()
    }};
}

/// i386 socketcall(2) and ipc(2) call numbers (linux/net.h SYS_*, and
/// linux/ipc.h), the pseudo-syscalls libseccomp multiplexes.
const SOCKETCALLS: &[&str] = &[
    "socket",
    "bind",
    "connect",
    "listen",
    "accept",
    "getsockname",
    "getpeername",
    "socketpair",
    "send",
    "recv",
    "sendto",
    "recvfrom",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "sendmsg",
    "recvmsg",
    "accept4",
    "recvmmsg",
    "sendmmsg",
];
const IPCS: &[(&str, u8)] = &[
    ("semop", 1),
    ("semget", 2),
    ("semctl", 3),
    ("semtimedop", 4),
    ("msgsnd", 11),
    ("msgrcv", 12),
    ("msgget", 13),
    ("msgctl", 14),
    ("shmat", 21),
    ("shmdt", 22),
    ("shmget", 23),
    ("shmctl", 24),
];

/// ARM private syscalls (arch/arm/include/uapi/asm/unistd.h, __ARM_NR_BASE
/// + n), which the syscalls crate lacks but libseccomp knows.
const ARM_PRIVATE: &[(&str, u32)] = &[
    ("breakpoint", 1),
    ("cacheflush", 2),
    ("usr26", 3),
    ("usr32", 4),
    ("set_tls", 5),
    ("get_tls", 6),
];

struct Group {
    name: &'static str,
    /// Docker's name for the host arch, for includes/excludes.arches.
    host: &'static str,
    native: Vec<(String, u32)>,
    compat: Vec<(String, u32)>,
    arches: bpf::Arches,
    mux: bool,
}

fn main() {
    for f in [
        "build.rs",
        "src/seccomp/bpf.rs",
        "src/seccomp/profile.rs",
        "src/seccomp/default.profile",
        // Linker scripts: cargo does not relink when only they change.
        "cross/hot.ld",
        "cross/layout.ld",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
    let out = env::var("OUT_DIR").unwrap();
    let text = fs::read_to_string("src/seccomp/default.profile").unwrap();
    let prof = match profile::parse(&text) {
        Ok(p) => p,
        Err(e) => panic!("src/seccomp/default.profile: {e}"),
    };
    let x86 = table!(x86);
    let nr = |t: &[(String, u32)], n: &str| t.iter().find(|e| e.0 == n).map_or(bpf::NONE, |e| e.1);
    let mut arm = table!(arm);
    arm.extend(
        ARM_PRIVATE
            .iter()
            .map(|&(n, i)| (n.to_string(), bpf::ARM_NR_BASE + i)),
    );
    // The crate's aarch64 table names 79 fstatat where the kernel and
    // libseccomp say newfstatat, and lists the *_time64 calls (403-423),
    // which asm-generic only defines for 32-bit ABIs.
    let mut a64 = table!(aarch64);
    a64.retain(|e| !(403..=423).contains(&e.1));
    for e in &mut a64 {
        if e.0 == "fstatat" {
            e.0 = "newfstatat".to_string();
        }
    }
    let groups = [
        Group {
            name: "x86_64",
            host: "amd64",
            native: table!(x86_64),
            arches: bpf::Arches {
                native: bpf::AUDIT_ARCH_X86_64,
                compat: bpf::AUDIT_ARCH_I386,
                x32: true,
                mux: [nr(&x86, "socketcall"), nr(&x86, "ipc")],
            },
            compat: x86,
            mux: true,
        },
        Group {
            name: "aarch64",
            host: "arm64",
            native: a64,
            compat: arm,
            arches: bpf::Arches {
                native: bpf::AUDIT_ARCH_AARCH64,
                compat: bpf::AUDIT_ARCH_ARM,
                x32: false,
                mux: [bpf::NONE; 2],
            },
            mux: false,
        },
    ];
    for g in &groups {
        generate(g, &prof, Path::new(&out));
    }
}

fn leb(v: &mut Vec<u8>, mut n: u64) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            v.push(b);
            return;
        }
        v.push(b | 0x80);
    }
}

/// Replaces the most frequent byte pairs of the suffixes by the free codes
/// (bpf::pair_index) while that saves bytes; returns the pairs.
fn pair_code(suffixes: &mut [Vec<u8>]) -> Vec<u8> {
    let mut pairs = Vec::new();
    for code in (0..0x80u8).filter(|&c| bpf::pair_index(c).is_some()) {
        assert_eq!(bpf::pair_index(code), Some(pairs.len() / 2));
        let mut count: BTreeMap<[u8; 2], usize> = BTreeMap::new();
        for s in suffixes.iter() {
            for w in s.windows(2) {
                *count.entry([w[0], w[1]]).or_default() += 1;
            }
        }
        // The most frequent, the smallest pair among equals.
        let Some((p, n)) = count
            .into_iter()
            .max_by_key(|&(p, n)| (n, std::cmp::Reverse(p)))
        else {
            break;
        };
        if n <= 3 {
            break;
        }
        for s in suffixes.iter_mut() {
            let mut i = 0;
            while i + 1 < s.len() {
                if s[i..i + 2] == p {
                    s.splice(i..i + 2, [code]);
                }
                i += 1;
            }
        }
        pairs.extend_from_slice(&p);
    }
    pairs
}

/// The packed form bpf::unpack reads.
fn pack(prog: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    for &x in prog {
        let i = bpf::CODES
            .iter()
            .position(|&c| c as u64 == x & 0xffff)
            .unwrap();
        let (jt, jf) = ((x >> 16) as u8, (x >> 24) as u8);
        leb(
            &mut out,
            (x >> 32) << 4 | ((jf != 0) as u64) << 3 | i as u64,
        );
        if i >= 4 {
            out.push(jt);
        }
        if jf != 0 {
            out.push(jf);
        }
    }
    out
}

fn generate(g: &Group, prof: &profile::Profile, out: &Path) {
    // Name table: every name of either arch, sorted, front-coded.
    let mut all: BTreeMap<&str, ([u32; 2], u8)> = BTreeMap::new();
    for (i, t) in [&g.native, &g.compat].into_iter().enumerate() {
        for (n, nr) in t {
            all.entry(n).or_insert(([bpf::NONE; 2], 0)).0[i] = *nr;
        }
    }
    if g.mux {
        let codes = SOCKETCALLS
            .iter()
            .enumerate()
            .map(|(i, &n)| (n, i as u8 + 1));
        for (n, code) in codes.chain(IPCS.iter().map(|&(n, c)| (n, 0x80 | c))) {
            all.entry(n).or_insert(([bpf::NONE; 2], 0)).1 = code;
        }
    }
    // Front coding, then byte-pair coding of the suffixes.
    let mut prev: &str = "";
    let (mut shared, mut suffixes) = (Vec::new(), Vec::new());
    for n in all.keys() {
        let k = prev
            .bytes()
            .zip(n.bytes())
            .take_while(|(a, b)| a == b)
            .count()
            .min(31);
        shared.push(k as u8);
        suffixes.push(n.as_bytes()[k..].to_vec());
        prev = n;
    }
    let pairs = pair_code(&mut suffixes);
    let mut names = Vec::new();
    // The numbers, 9 bits each, least significant first (stored backwards).
    let (mut bits, mut nbits) = (Vec::new(), 0);
    for (i, (nr, mux)) in all.values().enumerate() {
        let mut h = shared[i];
        for (i, bit) in [0x20u8, 0x40].iter().enumerate() {
            if nr[i] != bpf::NONE {
                h |= bit;
            }
        }
        if *mux != 0 {
            h |= 0x80;
        }
        assert_ne!(h, 0, "0 ends the entries");
        names.push(h);
        // The suffix, never empty; its last byte has the top bit set.
        names.extend_from_slice(&suffixes[i]);
        *names.last_mut().unwrap() |= 0x80;
        for &x in nr.iter().filter(|&&x| x != bpf::NONE) {
            let v = match x.checked_sub(bpf::ARM_NR_BASE) {
                Some(d) => d + bpf::NR_HIGH,
                None => x,
            };
            assert!(v < 0x200 && (v < bpf::NR_HIGH) == (x < bpf::ARM_NR_BASE));
            for k in 0..9 {
                if nbits % 8 == 0 {
                    bits.push(0u8);
                }
                *bits.last_mut().unwrap() |= ((v >> k & 1) as u8) << (nbits % 8);
                nbits += 1;
            }
        }
        if *mux != 0 {
            names.push(*mux);
        }
    }
    let entries = names;
    let mut names = vec![(pairs.len() / 2) as u8];
    names.extend_from_slice(&pairs);
    names.extend_from_slice(&entries);
    names.push(0);
    names.extend(bits.iter().rev());
    let index: BTreeMap<&str, usize> = all.keys().enumerate().map(|(i, n)| (*n, i)).collect();

    // Rule table: the rules for this host arch, names as table indexes.
    let mut rules = Vec::new();
    leb(&mut rules, prof.default.rotate_left(16) as u64);
    let mut unknown = Vec::new();
    for r in &prof.rules {
        let on = r.on_arches.is_empty() || r.on_arches.iter().any(|a| a == g.host);
        if !on || r.not_arches.iter().any(|a| a == g.host) {
            continue;
        }
        let mut idx: Vec<usize> = Vec::new();
        for n in &r.names {
            match index.get(n.as_str()) {
                Some(&i) => idx.push(i),
                None => unknown.push(n.clone()),
            }
        }
        idx.sort();
        idx.dedup();
        if idx.is_empty() {
            continue;
        }
        leb(&mut rules, r.act.rotate_left(16) as u64);
        assert!(r.with_caps.len() < 16 && r.without_caps.len() < 16);
        rules.push((r.with_caps.len() << 4 | r.without_caps.len()) as u8);
        rules.extend(r.with_caps.iter().chain(&r.without_caps).map(|&c| c as u8));
        leb(&mut rules, r.conds.len() as u64);
        for c in &r.conds {
            rules.extend_from_slice(&[c.arg, c.op]);
            leb(&mut rules, c.a);
            leb(&mut rules, c.b);
        }
        // Runs of consecutive indexes: (start, length).
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for &i in &idx {
            match runs.last_mut() {
                Some((s, n)) if *s + *n == i => *n += 1,
                _ => runs.push((i, 1)),
            }
        }
        leb(&mut rules, runs.len() as u64);
        let mut end = 0;
        for (s, n) in runs {
            leb(&mut rules, (s - end) as u64);
            leb(&mut rules, n as u64);
            end = s + n;
        }
    }

    // The default program, compiled by the same code as at run time.
    let (_, decoded) = bpf::names(&names);
    let mut r = bpf::Rules::new(&g.arches, bpf::table_default(&rules), true);
    bpf::load(&mut r, &rules, &decoded, bpf::DEFAULT_CAPS);
    let prog = r.compile(bpf::RET_KILL_PROCESS);
    assert!(prog.len() <= 4096, "seccomp: default program too long");

    let base = format!("seccomp_{}", g.name);
    fs::write(out.join(format!("{base}.names")), &names).unwrap();
    fs::write(out.join(format!("{base}.rules")), &rules).unwrap();
    let packed = pack(&prog);
    assert_eq!(bpf::unpack(&packed), prog);
    fs::write(out.join(format!("{base}.default")), &packed).unwrap();
    let a = &g.arches;
    let mut s = String::new();
    let _ = write!(
        s,
        "// Generated by build.rs from src/seccomp/default.profile.\n\
         pub static GROUP: Group = Group {{\n    \
         arches: Arches {{ native: {:#x}, compat: {:#x}, x32: {}, mux: [{:#x}, {:#x}] }},\n    \
         names: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{base}.names\")),\n    \
         rules: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{base}.rules\")),\n    \
         default: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{base}.default\")),\n}};\n",
        a.native, a.compat, a.x32, a.mux[0], a.mux[1]
    );
    fs::write(out.join(format!("{base}.rs")), s).unwrap();
    unknown.sort();
    unknown.dedup();
    let stats = format!(
        "{}: {} instructions, names table {} bytes ({} names), rules table {} bytes\nskipped names: {}\n",
        g.name,
        prog.len(),
        names.len(),
        all.len(),
        rules.len(),
        unknown.join(" ")
    );
    fs::write(out.join(format!("{base}.stats")), stats).unwrap();
}
