//! The seccomp compiler against libseccomp as an oracle: the same profile
//! goes to thinbox (build-time tables, or JSON at run time) and to
//! tests/seccomp/oracle.c, and both programs run in a classic BPF
//! interpreter over every syscall number of both arches of each binary,
//! with argument vectors around every value the profile compares.

use super::bpf::{self, Cond};
use super::profile::{self, Profile};
use super::*;
use std::collections::{BTreeMap, BTreeSet};
use std::format;
use std::io::Write;
use std::process::{Command, Stdio};
use std::string::{String, ToString};
use std::sync::OnceLock;
use std::vec;

// ---- a classic BPF interpreter with the kernel's seccomp checks ----

const AUDIT_ARCH_PPC64LE: u32 = 0xc000_0015;
const X32: u32 = 0x4000_0000;

#[derive(Clone, Copy, Debug)]
struct Data {
    nr: u32,
    arch: u32,
    args: [u64; 6],
}

impl Data {
    /// struct seccomp_data, little-endian: nr, arch, ip, args.
    fn word(&self, off: u32) -> u32 {
        match off {
            0 => self.nr,
            4 => self.arch,
            8 | 12 => 0x1000, // ip
            16..=63 => {
                let a = self.args[(off as usize - 16) / 8];
                if off.is_multiple_of(8) {
                    a as u32
                } else {
                    (a >> 32) as u32
                }
            }
            _ => panic!("load beyond seccomp_data: {off}"),
        }
    }
}

fn fields(i: u64) -> (u16, usize, usize, u32) {
    (
        i as u16,
        (i >> 16) as u8 as usize,
        (i >> 24) as u8 as usize,
        (i >> 32) as u32,
    )
}

/// What the kernel's seccomp_check_filter and bpf_check_classic demand:
/// 1 to 4096 instructions, known opcodes, aligned loads inside
/// seccomp_data, jumps inside the program, and a return at the end.
fn verify(prog: &[u64]) {
    assert!(
        !prog.is_empty() && prog.len() <= 4096,
        "{} instructions",
        prog.len()
    );
    for (pc, &i) in prog.iter().enumerate() {
        let (code, jt, jf, k) = fields(i);
        let rest = prog.len() - pc - 1;
        match code {
            0x20 => assert!(k % 4 == 0 && k < 64, "pc {pc}: ld [{k}]"),
            0x05 => assert!((k as usize) < rest, "pc {pc}: ja out of range"),
            0x15 | 0x25 | 0x35 | 0x45 => {
                assert!(jt < rest && jf < rest, "pc {pc}: jump out of range")
            }
            0x06 | 0x54 | 0x00 | 0x01 | 0x60 | 0x61 | 0x02 | 0x03 | 0x07 | 0x87 => {}
            _ => panic!("pc {pc}: opcode {code:#x}"),
        }
    }
    let last = fields(*prog.last().unwrap()).0;
    assert!(last == 0x06, "the program does not end in ret");
}

/// Runs a verified program; returns the SECCOMP_RET_* value.
fn run(prog: &[u64], d: &Data) -> u32 {
    let (mut a, mut x, mut mem) = (0u32, 0u32, [0u32; 16]);
    let mut pc = 0;
    loop {
        let (code, jt, jf, k) = fields(prog[pc]);
        pc += 1;
        let jump = |c: bool| if c { jt } else { jf };
        match code {
            0x20 => a = d.word(k),
            0x00 => a = k,
            0x01 => x = k,
            0x60 => a = mem[k as usize],
            0x61 => x = mem[k as usize],
            0x02 => mem[k as usize] = a,
            0x03 => mem[k as usize] = x,
            0x07 => x = a,
            0x87 => a = x,
            0x54 => a &= k,
            0x05 => pc += k as usize,
            0x15 => pc += jump(a == k),
            0x25 => pc += jump(a > k),
            0x35 => pc += jump(a >= k),
            0x45 => pc += jump(a & k != 0),
            0x06 => return k,
            _ => panic!("opcode {code:#x}"),
        }
    }
}

// ---- the oracle ----

fn oracle_bin() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| {
        // One build per version of oracle.c, shared by test runs.
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/seccomp/oracle.c");
        let text = std::fs::read(src).unwrap();
        let hash = text.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
        let out = format!("{}/thinbox-seccomp-oracle-{hash:016x}", std::env::temp_dir().display());
        if std::path::Path::new(&out).exists() {
            return out;
        }
        let tmp = format!("{out}.{}", std::process::id());
        let r = Command::new("gcc")
            .args(["-O2", "-Wall", "-o", &tmp, src, "-lseccomp"])
            .output()
            .expect("gcc: install it with sh cross/setup");
        assert!(
            r.status.success(),
            "building tests/seccomp/oracle.c failed; libseccomp-dev is missing? run sh cross/setup\n{}",
            String::from_utf8_lossy(&r.stderr)
        );
        std::fs::rename(&tmp, &out).unwrap();
        out
    })
}

/// A rule as both sides take it.
#[derive(Clone)]
struct TRule {
    act: u32,
    conds: Vec<Cond>,
    names: Vec<String>,
}

/// What a group is called by libseccomp, Docker and the kernel.
struct Target {
    g: &'static Group,
    libseccomp: &'static str,
    host: &'static str,
    native: u32,
    compat: u32,
}

fn targets() -> [Target; 2] {
    [
        Target {
            g: &x86_64::GROUP,
            libseccomp: "x86_64 x86",
            host: "amd64",
            native: bpf::AUDIT_ARCH_X86_64,
            compat: bpf::AUDIT_ARCH_I386,
        },
        Target {
            g: &aarch64::GROUP,
            libseccomp: "aarch64 arm",
            host: "arm64",
            native: bpf::AUDIT_ARCH_AARCH64,
            compat: bpf::AUDIT_ARCH_ARM,
        },
    ]
}

/// libseccomp's program for `rules`, and the names it skipped.
fn oracle(t: &Target, default: u32, rules: &[TRule]) -> (Vec<u64>, Vec<String>) {
    let mut input = format!("arches {}\ndefault {default:#x}\n", t.libseccomp);
    for r in rules {
        for n in &r.names {
            input += &format!("rule {:#x} {n} {}", r.act, r.conds.len());
            for c in &r.conds {
                input += &format!(" {} {} {:#x} {:#x}", c.arg, c.op, c.a, c.b);
            }
            input += "\n";
        }
    }
    let mut child = Command::new(oracle_bin())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "oracle failed: {err}");
    let prog: Vec<u64> = out
        .stdout
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let skipped = err
        .lines()
        .filter_map(|l| l.strip_prefix("skip "))
        .map(String::from)
        .collect();
    (prog, skipped)
}

/// name -> [native nr, compat nr] from thinbox's embedded table.
fn numbers(g: &Group) -> BTreeMap<String, [u32; 2]> {
    let (blob, names) = bpf::names(g.names);
    names
        .iter()
        .map(|e| {
            let n = &blob[e.off as usize..(e.off + e.len) as usize];
            (String::from_utf8(n.to_vec()).unwrap(), e.nr)
        })
        .collect()
}

// ---- inputs ----

/// Deterministic xorshift.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[(self.next() % v.len() as u64) as usize]
    }
}

/// Values around every compared value: equal, off by one, with the other
/// half flipped or all ones, and the mask's own bits.
fn candidates(rules: &[TRule]) -> Vec<u64> {
    let mut s: BTreeSet<u64> = [0, 1, 2, 0xffff_ffff, 0x1_0000_0000, u64::MAX, 1 << 63].into();
    for c in rules.iter().flat_map(|r| &r.conds) {
        for v in [c.a, c.b, c.b & c.a, c.a & !c.b] {
            for w in [
                v,
                v.wrapping_add(1),
                v.wrapping_sub(1),
                v ^ (1 << 32),
                v ^ 1,
                v | 0xffff_ffff_0000_0000,
                v & 0xffff_ffff,
                v ^ 0x8000_0000,
                !v,
            ] {
                s.insert(w);
            }
        }
    }
    s.into_iter().collect()
}

/// Argument vectors: zeros, each candidate in each argument alone, and
/// random mixes.
fn arg_vectors(rules: &[TRule], random: usize) -> Vec<[u64; 6]> {
    let cands = candidates(rules);
    let mut v = vec![[0u64; 6], [u64::MAX; 6]];
    for i in 0..6 {
        for &c in &cands {
            let mut a = [0u64; 6];
            a[i] = c;
            v.push(a);
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..random {
        let mut a = [0u64; 6];
        for x in &mut a {
            *x = rng.pick(&cands);
        }
        v.push(a);
    }
    v
}

/// Compares two programs over every syscall number of both arches (and
/// x32, foreign arches and odd numbers). `conditional` numbers get every
/// argument vector, the rest a few. `except` maps (arch, nr) to the action
/// thinbox must give where libseccomp cannot know the syscall. Returns how
/// many distinct syscall numbers were compared per arch.
fn compare(
    t: &Target,
    ours: &[u64],
    theirs: &[u64],
    rules: &[TRule],
    except: &BTreeMap<(u32, u32), u32>,
    what: &str,
) -> [usize; 2] {
    verify(ours);
    verify(theirs);
    let vectors = arg_vectors(rules, 400);
    let few = &vectors[..2];
    let nums = numbers(t.g);
    let mut conditional: BTreeSet<(u32, u32)> = BTreeSet::new();
    for r in rules.iter().filter(|r| !r.conds.is_empty()) {
        for n in &r.names {
            if let Some(nr) = nums.get(n) {
                conditional.insert((t.native, nr[0]));
                conditional.insert((t.compat, nr[1]));
            }
        }
    }
    // i386 socketcall and ipc carry conditions of the calls they multiplex.
    for n in ["socketcall", "ipc"] {
        if let Some(nr) = nums.get(n) {
            conditional.insert((t.compat, nr[1]));
        }
    }
    let max = |i: usize| {
        nums.values()
            .map(|n| n[i])
            .filter(|&n| n != bpf::NONE && n < 0x10000)
            .max()
            .unwrap()
    };
    let mut inputs: Vec<(u32, u32)> = Vec::new();
    for (i, arch) in [t.native, t.compat].into_iter().enumerate() {
        for nr in (0..=max(i) + 16).chain([
            0xffff_ffff,
            0x7fff_ffff,
            0x8000_0000,
            0xf_0000,
            0xf_0001,
            0xf_0005,
            0xf_0006,
        ]) {
            inputs.push((arch, nr));
        }
    }
    for nr in [0, 1, 59, 0x200, 0x3ff] {
        inputs.push((t.native, X32 | nr));
        inputs.push((AUDIT_ARCH_PPC64LE, nr));
        inputs.push((0, nr));
    }
    let mut count = [BTreeSet::new(), BTreeSet::new()];
    let mut bad = Vec::new();
    for &(arch, nr) in &inputs {
        let vs: &[[u64; 6]] = if conditional.contains(&(arch, nr)) {
            &vectors
        } else {
            few
        };
        for args in vs {
            let d = Data {
                nr,
                arch,
                args: *args,
            };
            let (a, b) = (run(ours, &d), run(theirs, &d));
            let want = except.get(&(arch, nr)).copied().unwrap_or(b);
            if a != want && bad.len() < 20 {
                bad.push(format!("arch {arch:#x} nr {nr} args {args:x?}: thinbox {a:#x}, libseccomp {b:#x}, want {want:#x}"));
            }
            if arch == t.native {
                count[0].insert(nr);
            } else if arch == t.compat {
                count[1].insert(nr);
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{what}: thinbox and libseccomp differ:\n{}",
        bad.join("\n")
    );
    [count[0].len(), count[1].len()]
}

/// Where libseccomp skipped a name it does not know, thinbox must still
/// apply the rule: (arch, nr) -> the rule's action.
fn exceptions(t: &Target, rules: &[TRule], skipped: &[String]) -> BTreeMap<(u32, u32), u32> {
    let nums = numbers(t.g);
    let mut m = BTreeMap::new();
    for r in rules {
        for n in r.names.iter().filter(|n| skipped.contains(n)) {
            assert!(
                r.conds.is_empty(),
                "{n}: libseccomp lacks a name with conditions"
            );
            if let Some(nr) = nums.get(n) {
                for (i, arch) in [t.native, t.compat].into_iter().enumerate() {
                    if nr[i] != bpf::NONE {
                        m.entry((arch, nr[i])).or_insert(r.act);
                    }
                }
            }
        }
    }
    m
}

// ---- Docker's default profile ----

fn default_profile() -> Profile {
    let text = include_str!("default.profile");
    profile::parse(text).unwrap()
}

fn default_rules(p: &Profile, host: &str, caps: u64) -> Vec<TRule> {
    p.rules
        .iter()
        .filter(|r| r.applies(host, caps))
        .map(|r| TRule {
            act: r.act,
            conds: r.conds.clone(),
            names: r.names.clone(),
        })
        .collect()
}

const SYS_ADMIN: u64 = 1 << 21;

#[test]
fn default_profile_matches_libseccomp() {
    let p = default_profile();
    let cap_sets = [
        bpf::DEFAULT_CAPS,
        bpf::DEFAULT_CAPS | SYS_ADMIN,
        bpf::DEFAULT_CAPS & !(1 << 18), // no SYS_CHROOT
        crate::caps::ALL,
        0,
    ];
    for t in targets() {
        for caps in cap_sets {
            let rules = default_rules(&p, t.host, caps);
            let ours = default_in(t.g, caps);
            let (theirs, skipped) = oracle(&t, p.default, &rules);
            // libseccomp 2.5.4 lacks only syscalls newer than it.
            assert!(skipped.len() <= 24, "libseccomp skipped {skipped:?}");
            let except = exceptions(&t, &rules, &skipped);
            let what = format!("{} caps {caps:#x}", t.host);
            let n = compare(&t, &ours, &theirs, &rules, &except, &what);
            assert!(
                n[0] >= 400 && n[1] >= 400,
                "{what}: only {n:?} syscall numbers"
            );
        }
    }
}

#[test]
fn precompiled_program_is_the_runtime_one() {
    assert_eq!(bpf::DEFAULT_CAPS, crate::caps::DEFAULT);
    for t in targets() {
        let (_, names) = bpf::names(t.g.names);
        let mut r = Rules::new(&t.g.arches, bpf::table_default(t.g.rules), true);
        bpf::load(&mut r, t.g.rules, &names, bpf::DEFAULT_CAPS);
        let prog = bpf::unpack(t.g.default);
        assert_eq!(r.compile(bpf::RET_KILL_PROCESS), prog, "{}", t.host);
        assert_eq!(default_in(t.g, bpf::DEFAULT_CAPS), prog);
    }
}

/// The behaviour the escape tests rely on, stated directly.
#[test]
fn default_profile_decisions() {
    let eperm = bpf::RET_ERRNO | 1;
    let enosys = bpf::RET_ERRNO | 38;
    for t in targets() {
        let nums = numbers(t.g);
        let prog = &bpf::unpack(t.g.default)[..];
        let at = |arch: u32, name: &str, args: [u64; 6]| {
            let i = (arch == t.compat) as usize;
            let nr = nums[name][i];
            assert_ne!(nr, bpf::NONE, "{name}");
            run(prog, &Data { nr, arch, args })
        };
        for arch in [t.native, t.compat] {
            for n in [
                "mount",
                "umount2",
                "pivot_root",
                "unshare",
                "setns",
                "reboot",
                "kexec_load",
                "init_module",
                "finit_module",
                "delete_module",
                "swapon",
                "bpf",
                "perf_event_open",
                "keyctl",
                "add_key",
                "request_key",
                "open_by_handle_at",
                "ptrace",
            ] {
                let want = if n == "ptrace" { bpf::RET_ALLOW } else { eperm };
                assert_eq!(at(arch, n, [0; 6]), want, "{} {n}", t.host);
            }
            assert_eq!(at(arch, "clone3", [0; 6]), enosys);
            assert_eq!(at(arch, "getpid", [0; 6]), bpf::RET_ALLOW);
            assert_eq!(
                at(arch, "personality", [0xffff_ffff, 0, 0, 0, 0, 0]),
                bpf::RET_ALLOW
            );
            assert_eq!(at(arch, "personality", [0x0040_0000, 0, 0, 0, 0, 0]), eperm);
            assert_eq!(at(arch, "socket", [2, 1, 0, 0, 0, 0]), bpf::RET_ALLOW);
            assert_eq!(at(arch, "socket", [40, 1, 0, 0, 0, 0]), eperm, "AF_VSOCK");
            assert_eq!(at(arch, "socket", [38, 5, 0, 0, 0, 0]), eperm, "AF_ALG");
        }
        // fork: clone without namespace flags; CLONE_NEWUSER is refused.
        let clone = |flags: u64| {
            run(
                prog,
                &Data {
                    nr: nums["clone"][0],
                    arch: t.native,
                    args: [flags, 0, 0, 0, 0, 0],
                },
            )
        };
        assert_eq!(clone(0x01200011), bpf::RET_ALLOW);
        assert_eq!(clone(0x10000000 | 17), eperm);
        assert_eq!(clone(0x00020000 | 17), eperm, "CLONE_NEWNS");
        // Foreign and x32 arches are killed.
        let kill = bpf::RET_KILL_PROCESS;
        assert_eq!(
            run(
                prog,
                &Data {
                    nr: 39,
                    arch: AUDIT_ARCH_PPC64LE,
                    args: [0; 6]
                }
            ),
            kill
        );
        if t.native == bpf::AUDIT_ARCH_X86_64 {
            assert_eq!(
                run(
                    prog,
                    &Data {
                        nr: X32 | 39,
                        arch: t.native,
                        args: [0; 6]
                    }
                ),
                kill
            );
            assert_eq!(
                run(
                    prog,
                    &Data {
                        nr: u32::MAX,
                        arch: t.native,
                        args: [0; 6]
                    }
                ),
                eperm
            );
        }
    }
}

#[test]
fn unknown_arches_without_compat() {
    // A profile without the 32-bit arch kills its syscalls.
    let j = json::parse(br#"{"defaultAction":"SCMP_ACT_ALLOW"}"#)
        .ok()
        .unwrap();
    for t in targets() {
        let f = from_json_in(t.g, &j, 0, b"p").ok().unwrap();
        assert_eq!(
            run(
                &f.prog,
                &Data {
                    nr: 20,
                    arch: t.compat,
                    args: [0; 6]
                }
            ),
            bpf::RET_KILL_PROCESS
        );
        assert_eq!(
            run(
                &f.prog,
                &Data {
                    nr: 20,
                    arch: t.native,
                    args: [0; 6]
                }
            ),
            bpf::RET_ALLOW
        );
    }
}

// ---- JSON profiles ----

fn op_name(op: u8) -> &'static str {
    ["", "NE", "LT", "LE", "EQ", "GE", "GT", "MASKED_EQ"][op as usize]
}

fn act_json(act: u32, key: &str, errno_key: &str) -> String {
    let (name, data) = match act & 0xffff_0000 {
        bpf::RET_ALLOW => ("ALLOW", None),
        bpf::RET_ERRNO => ("ERRNO", Some(act & 0xffff)),
        bpf::RET_TRACE => ("TRACE", Some(act & 0xffff)),
        bpf::RET_TRAP => ("TRAP", None),
        bpf::RET_LOG => ("LOG", None),
        bpf::RET_KILL_PROCESS => ("KILL_PROCESS", None),
        _ => ("KILL_THREAD", None),
    };
    let mut s = format!("\"{key}\":\"SCMP_ACT_{name}\"");
    if let Some(d) = data {
        s += &format!(",\"{errno_key}\":{d}");
    }
    s
}

/// An OCI linux.seccomp object for `rules`.
fn to_json(default: u32, arches: &[&str], rules: &[TRule]) -> String {
    let mut s = format!(
        "{{{},\"architectures\":[",
        act_json(default, "defaultAction", "defaultErrnoRet")
    );
    s += &arches
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(",");
    s += "],\"syscalls\":[";
    let rs: Vec<String> = rules
        .iter()
        .map(|r| {
            let names: Vec<String> = r.names.iter().map(|n| format!("\"{n}\"")).collect();
            let args: Vec<String> = r
                .conds
                .iter()
                .map(|c| {
                    format!(
                        "{{\"index\":{},\"value\":{},\"valueTwo\":{},\"op\":\"SCMP_CMP_{}\"}}",
                        c.arg,
                        c.a,
                        c.b,
                        op_name(c.op)
                    )
                })
                .collect();
            format!(
                "{{\"names\":[{}],{},\"args\":[{}]}}",
                names.join(","),
                act_json(r.act, "action", "errnoRet"),
                args.join(",")
            )
        })
        .collect();
    s += &rs.join(",");
    s += "]}";
    s
}

fn cond(arg: u8, op: u8, a: u64, b: u64) -> Cond {
    Cond { arg, op, a, b }
}

fn rule(act: u32, names: &[&str], conds: Vec<Cond>) -> TRule {
    TRule {
        act,
        conds,
        names: names.iter().map(|s| s.to_string()).collect(),
    }
}

/// Every op on 64-bit values with high bits, several conditions per rule,
/// conditions on one argument twice (runc's fallback), socket calls
/// multiplexed on i386, and each action.
fn custom_rules() -> Vec<TRule> {
    use bpf::*;
    let allow = RET_ALLOW;
    let e = |n: u32| RET_ERRNO | n;
    let big = 0x1234_5678_9abc_def0u64;
    let mut v = vec![
        rule(allow, &["read", "write", "exit_group"], vec![]),
        rule(e(38), &["getcwd"], vec![]),
        rule(RET_TRAP, &["getppid"], vec![]),
        rule(RET_LOG, &["getuid"], vec![]),
        rule(RET_KILL_THREAD, &["getgid"], vec![]),
        rule(RET_KILL_PROCESS, &["getegid"], vec![]),
        rule(RET_TRACE | 7, &["geteuid"], vec![]),
        rule(allow, &["socket"], vec![cond(0, EQ, 2, 0)]),
        // Not on arg 0: i386 socketcall would get two rules alike.
        rule(e(97), &["socket"], vec![cond(1, EQ, 10, 0)]),
        rule(
            allow,
            &["getsockopt"],
            vec![cond(1, MASKED_EQ, 0xff, 0x1ff)],
        ),
        rule(
            allow,
            &["connect", "sendmmsg", "semop", "shmctl"],
            vec![cond(2, LT, 16, 0)],
        ),
        rule(
            allow,
            &["personality"],
            vec![cond(0, MASKED_EQ, 0xffff_0000_0000_00ff, 0x8)],
        ),
        rule(
            allow,
            &["mmap", "mmap2"],
            vec![cond(2, MASKED_EQ, 0xffff_ffff_0000_0000, 0x1_0000_0000)],
        ),
        rule(allow, &["mprotect"], vec![cond(2, MASKED_EQ, 0x4, 0)]),
        rule(allow, &["munmap"], vec![cond(1, MASKED_EQ, 0, 0)]),
        rule(allow, &["brk"], vec![cond(0, NE, big, 0)]),
        rule(
            allow,
            &["fcntl", "fcntl64"],
            vec![cond(1, EQ, 1, 0), cond(2, NE, 0, 0)],
        ),
        rule(
            e(22),
            &["dup3"],
            vec![cond(2, MASKED_EQ, 0x80000, 0x80000), cond(0, EQ, 3, 0)],
        ),
        rule(
            allow,
            &["ioctl"],
            vec![cond(1, EQ, 0x5401, 0), cond(1, EQ, 0x5413, 0)],
        ),
        rule(allow, &["kill"], vec![cond(1, GE, 0xffff_ffff, 0)]),
        // Overlapping rules with different actions: an unconditional
        // rule wins; conditional ones in an order libseccomp also takes
        // (see overlapping_conditions_first_match_wins).
        rule(e(13), &["access"], vec![cond(1, EQ, 2, 0)]),
        rule(allow, &["access"], vec![cond(0, NE, 0, 0)]),
        rule(allow, &["chdir"], vec![]),
        rule(e(5), &["chdir", "fchdir"], vec![cond(0, EQ, 0, 0)]),
        rule(allow, &["fchdir"], vec![]),
    ];
    // Each ordering op against small, 32-bit-edge and 64-bit values.
    let calls = [
        "lseek",
        "pread64",
        "pwrite64",
        "fsync",
        "fdatasync",
        "ftruncate",
        "getdents64",
        "sched_yield",
        "nanosleep",
        "alarm",
        "getitimer",
        "setitimer",
        "flock",
        "umask",
        "getpgid",
        "setpgid",
    ];
    let mut i = 0;
    for op in [LT, LE, GT, GE, EQ, NE] {
        for val in [5u64, 0x8000_0000, 0xffff_ffff, big, u64::MAX - 1] {
            if i < calls.len() {
                v.push(rule(
                    allow,
                    &[calls[i]],
                    vec![cond((i % 3) as u8, op, val, 0)],
                ));
            } else {
                let n = [
                    "setuid",
                    "setgid",
                    "setreuid",
                    "setregid",
                    "setresuid",
                    "setresgid",
                    "setfsuid",
                    "setfsgid",
                    "times",
                    "sysinfo",
                    "uname",
                    "getrusage",
                    "getrlimit",
                    "setrlimit",
                ][(i - calls.len()) % 14];
                v.push(rule(
                    allow,
                    &[n],
                    vec![cond(1, op, val, 0), cond(3, GT, 1, 0)],
                ));
            }
            i += 1;
        }
    }
    v
}

#[test]
fn json_profiles_match_libseccomp() {
    let rules = custom_rules();
    for t in targets() {
        for default in [bpf::RET_ERRNO | 1, bpf::RET_KILL_PROCESS, bpf::RET_ALLOW] {
            let compat = if t.host == "amd64" {
                "SCMP_ARCH_X86"
            } else {
                "SCMP_ARCH_ARM"
            };
            let native = if t.host == "amd64" {
                "SCMP_ARCH_X86_64"
            } else {
                "SCMP_ARCH_AARCH64"
            };
            let text = to_json(default, &[native, compat], &rules);
            let j = json::parse(text.as_bytes()).ok().unwrap();
            let f = from_json_in(t.g, &j, 0, b"p")
                .map_err(|e| String::from_utf8_lossy(e.msg()).to_string())
                .unwrap();
            let (theirs, skipped) = oracle(&t, default, &rules);
            let what = format!("{} default {default:#x}", t.host);
            assert!(skipped.is_empty(), "{what}: skipped {skipped:?}");
            compare(&t, &f.prog, &theirs, &rules, &BTreeMap::new(), &what);
        }
    }
}

/// moby's own default.json (a verbatim copy in tests/seccomp), compiled at
/// run time, behaves as the build-time tables for every capability set.
#[test]
fn docker_json_is_default_profile() {
    let text = include_bytes!("../../tests/seccomp/docker-default.json");
    let j = json::parse(text).ok().unwrap();
    let p = default_profile();
    for t in targets() {
        let nums = numbers(t.g);
        let rules = default_rules(&p, t.host, bpf::DEFAULT_CAPS);
        let vectors = arg_vectors(&rules, 100);
        for caps in [
            bpf::DEFAULT_CAPS,
            bpf::DEFAULT_CAPS | SYS_ADMIN,
            crate::caps::ALL,
            0,
            1 << 19 | 1 << 2,
        ] {
            let f = from_json_in(t.g, &j, caps, b"p").ok().unwrap();
            let ours = default_in(t.g, caps);
            for (i, arch) in [t.native, t.compat].into_iter().enumerate() {
                for nr in nums.values().map(|n| n[i]).filter(|&n| n != bpf::NONE) {
                    for args in &vectors {
                        let d = Data {
                            nr,
                            arch,
                            args: *args,
                        };
                        assert_eq!(
                            run(&f.prog, &d),
                            run(&ours, &d),
                            "{} caps {caps:#x} {d:x?}",
                            t.host
                        );
                    }
                }
            }
        }
    }
}

/// Where conditional rules with different actions overlap, thinbox takes
/// the first in profile order. libseccomp orders them by its own tree
/// (higher argument first, then EQ before LT before GT), whatever the
/// profile order; Docker's profiles never overlap so, and OCI leaves it
/// open.
#[test]
fn overlapping_conditions_first_match_wins() {
    let rules = [
        rule(bpf::RET_ALLOW, &["getpid"], vec![cond(0, bpf::NE, 0, 0)]),
        rule(
            bpf::RET_ERRNO | 13,
            &["getpid"],
            vec![cond(1, bpf::EQ, 2, 0)],
        ),
    ];
    let j = json::parse(to_json(bpf::RET_ERRNO | 1, &[], &rules).as_bytes())
        .ok()
        .unwrap();
    let f = from_json_in(&x86_64::GROUP, &j, 0, b"p").ok().unwrap();
    let at = |a0, a1| {
        run(
            &f.prog,
            &Data {
                nr: 39,
                arch: bpf::AUDIT_ARCH_X86_64,
                args: [a0, a1, 0, 0, 0, 0],
            },
        )
    };
    assert_eq!(at(1, 2), bpf::RET_ALLOW);
    assert_eq!(at(0, 2), bpf::RET_ERRNO | 13);
    assert_eq!(at(0, 0), bpf::RET_ERRNO | 1);
}

// ---- errors ----

fn err(text: &str) -> String {
    let j = json::parse(text.as_bytes()).ok().unwrap();
    match from_json_in(&x86_64::GROUP, &j, 0, b"linux.seccomp") {
        Ok(_) => panic!("accepted {text}"),
        Err(e) => String::from_utf8(e.msg().to_vec()).unwrap(),
    }
}

#[test]
fn json_errors_name_the_path() {
    let p = |rest: &str| format!(r#"{{"defaultAction":"SCMP_ACT_ALLOW",{rest}}}"#);
    let sys = |rule: &str| {
        p(&format!(
            r#""syscalls":[{{"names":["a"],"action":"SCMP_ACT_ALLOW"}},{{"names":["b"],{rule}}}]"#
        ))
    };
    let cases = [
        (
            sys(r#""action":"SCMP_ACT_FOO""#),
            "linux.seccomp.syscalls[1].action: unknown action \"SCMP_ACT_FOO\"; use SCMP_ACT_ALLOW, _ERRNO, _KILL_PROCESS, _KILL_THREAD, _TRAP, _TRACE or _LOG",
        ),
        (
            r#"{"syscalls":[]}"#.to_string(),
            "linux.seccomp.defaultAction: missing; use an action such as SCMP_ACT_ERRNO",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#.to_string(),
            "linux.seccomp.defaultAction: unsupported action \"SCMP_ACT_NOTIFY\"; use another: thinbox has no seccomp agent",
        ),
        (
            sys(
                r#""action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":1,"value":1,"op":"SCMP_CMP_BOGUS"}]"#,
            ),
            "linux.seccomp.syscalls[1].args[1].op: unknown op \"SCMP_CMP_BOGUS\"; use SCMP_CMP_EQ, _NE, _LT, _LE, _GT, _GE or _MASKED_EQ",
        ),
        (
            sys(r#""action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]"#),
            "linux.seccomp.syscalls[1].args[0].index: must be 0 to 5",
        ),
        (
            sys(r#""action":"SCMP_ACT_ERRNO","errnoRet":-1"#),
            "linux.seccomp.syscalls[1].errnoRet: expected a non-negative integer",
        ),
        (
            sys(r#""action":"SCMP_ACT_ERRNO","includes":{"caps":"CAP_SYS_ADMIN"}"#),
            "linux.seccomp.syscalls[1].includes.caps: expected an array",
        ),
        (
            p(r#""flags":["SECCOMP_FILTER_FLAG_NEW_LISTENER"]"#),
            "linux.seccomp.flags: unknown flag \"SECCOMP_FILTER_FLAG_NEW_LISTENER\"; use SECCOMP_FILTER_FLAG_LOG, _SPEC_ALLOW, _WAIT_KILLABLE_RECV or _TSYNC",
        ),
        (
            p(r#""syscalls":{}"#),
            "linux.seccomp.syscalls: expected an array",
        ),
        ("[]".to_string(), "linux.seccomp: expected an object"),
    ];
    for (text, want) in cases {
        assert_eq!(err(&text), want, "{text}");
    }
    // The first error wins; a file's root takes no dot.
    let j = json::parse(br#"{"defaultAction":"SCMP_ACT_X","syscalls":[{"action":"SCMP_ACT_Y"}]}"#)
        .ok()
        .unwrap();
    let e = from_json_in(&x86_64::GROUP, &j, 0, b"/p.json: ")
        .err()
        .unwrap();
    assert!(
        e.msg()
            .starts_with(b"/p.json: defaultAction: unknown action \"SCMP_ACT_X\"")
    );
    assert_eq!(e.code(), 125);
}

#[test]
fn json_flags_and_unknown_names() {
    let j = json::parse(br#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW","SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls":[{"names":["no_such_call","getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":5}]}"#).ok().unwrap();
    let f = from_json_in(&x86_64::GROUP, &j, 0, b"p").ok().unwrap();
    assert_eq!(f.flags, 2 | 4);
    assert_eq!(
        run(
            &f.prog,
            &Data {
                nr: 39,
                arch: bpf::AUDIT_ARCH_X86_64,
                args: [0; 6]
            }
        ),
        bpf::RET_ERRNO | 5
    );
    assert_eq!(
        run(
            &f.prog,
            &Data {
                nr: 20,
                arch: bpf::AUDIT_ARCH_I386,
                args: [0; 6]
            }
        ),
        bpf::RET_KILL_PROCESS
    );
}

/// Table sanity: numbers libseccomp gives for the same names on each arch.
#[test]
fn tables_match_known_numbers() {
    let x = numbers(&x86_64::GROUP);
    assert_eq!(x["read"], [0, 3]);
    assert_eq!(x["clone3"], [435, 435]);
    assert_eq!(x["socketcall"], [bpf::NONE, 102]);
    assert_eq!(x["break"], [bpf::NONE, 17]);
    assert_eq!(x["arch_prctl"], [158, 384]);
    let a = numbers(&aarch64::GROUP);
    assert_eq!(a["newfstatat"], [79, bpf::NONE]);
    assert_eq!(a["fstatat64"], [bpf::NONE, 327]);
    assert_eq!(a["set_tls"], [bpf::NONE, 0xf0005]);
    assert_eq!(a["clock_gettime64"], [bpf::NONE, 403]);
    assert!(!a.contains_key("fstatat"));
}

/// A listing for failure messages and debugging.
#[allow(dead_code)]
fn dis(prog: &[u64]) -> String {
    let mut s = String::new();
    for (pc, &i) in prog.iter().enumerate() {
        let (code, jt, jf, k) = fields(i);
        let (t, f) = (pc + 1 + jt, pc + 1 + jf);
        s += &match code {
            0x20 => format!("{pc:4}: ld [{k}]\n"),
            0x54 => format!("{pc:4}: and {k:#x}\n"),
            0x05 => format!("{pc:4}: ja {}\n", pc + 1 + k as usize),
            0x15 => format!("{pc:4}: jeq {k:#x} {t} {f}\n"),
            0x25 => format!("{pc:4}: jgt {k:#x} {t} {f}\n"),
            0x35 => format!("{pc:4}: jge {k:#x} {t} {f}\n"),
            0x45 => format!("{pc:4}: jset {k:#x} {t} {f}\n"),
            0x06 => format!("{pc:4}: ret {k:#x}\n"),
            _ => format!("{pc:4}: {code:#x} {jt} {jf} {k:#x}\n"),
        };
    }
    s
}

/// How long compiling the default profile at run time takes (for a cap
/// set other than Docker's): `cargo test --release compile_time -- --ignored
/// --nocapture`.
#[test]
#[ignore]
fn compile_time() {
    for t in targets() {
        let n = 2000;
        let start = std::time::Instant::now();
        let mut len = 0;
        for _ in 0..n {
            len += default_in(t.g, bpf::DEFAULT_CAPS | SYS_ADMIN).len();
        }
        let per = start.elapsed() / n;
        std::println!(
            "{}: {per:?} per compile ({} instructions)",
            t.host,
            len / n as usize
        );
        let j = json::parse(include_bytes!("../../tests/seccomp/docker-default.json"))
            .ok()
            .unwrap();
        let start = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(from_json_in(t.g, &j, bpf::DEFAULT_CAPS, b"p").ok().unwrap());
        }
        std::println!(
            "{}: {:?} per Docker JSON compile",
            t.host,
            start.elapsed() / n
        );
    }
}

/// Writes thinbox's and libseccomp's default programs to $TMPDIR for
/// load-time comparisons: `cargo test export_programs -- --ignored`.
#[test]
#[ignore]
fn export_programs() {
    let p = default_profile();
    for t in targets() {
        let rules = default_rules(&p, t.host, bpf::DEFAULT_CAPS);
        let (theirs, _) = oracle(&t, p.default, &rules);
        let ours = bpf::unpack(t.g.default);
        for (who, prog) in [("thinbox", &ours[..]), ("libseccomp", &theirs[..])] {
            let path = std::env::temp_dir().join(format!("{who}-{}.bpf", t.host));
            let bytes: Vec<u8> = prog.iter().flat_map(|i| i.to_le_bytes()).collect();
            std::fs::write(&path, bytes).unwrap();
            std::println!("{}: {} instructions", path.display(), prog.len());
        }
    }
}
