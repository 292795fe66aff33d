//! The seccomp compiler shared by build.rs (which precompiles Docker's default
//! profile) and the runtime (other capability sets, JSON profiles): rules in,
//! classic BPF out. Also the decoders of the tables build.rs embeds.
//!
//! Semantics follow libseccomp as runc drives it (tests.rs checks it with
//! libseccomp as the oracle): rules whose action is the default are
//! dropped; a syscall with an unconditional rule takes the first such
//! rule's action; otherwise its conditional rules are tried in profile
//! order (where rules with different actions overlap, libseccomp has its
//! own order); on 32-bit arches only the low halves of arguments count.

use alloc::vec::Vec;

pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;

pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

/// Comparison ops, numbered as libseccomp's enum scmp_compare.
pub const NE: u8 = 1;
pub const LT: u8 = 2;
pub const LE: u8 = 3;
pub const EQ: u8 = 4;
pub const GE: u8 = 5;
pub const GT: u8 = 6;
pub const MASKED_EQ: u8 = 7;

/// No syscall of that name on that arch.
pub const NONE: u32 = u32::MAX;

/// Docker's default capabilities (CHOWN DAC_OVERRIDE FOWNER FSETID KILL
/// SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD
/// AUDIT_WRITE SETFCAP): the set the precompiled program is for.
pub const DEFAULT_CAPS: u64 = 0xa804_25fb;

/// One argument comparison: `a` is the value (the mask for MASKED_EQ, whose
/// value is `b`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Cond {
    pub arg: u8,
    pub op: u8,
    pub a: u64,
    pub b: u64,
}

/// A rule for one number: its conditions are conds[c0..c0 + nc].
#[derive(Clone, Copy)]
struct Ent {
    /// The number << 32 | the position it was added at, to sort on.
    key: u64,
    act: u32,
    c0: u32,
    nc: u32,
}

impl Ent {
    fn nr(&self) -> u32 {
        (self.key >> 32) as u32
    }
}

/// The arches one binary filters: its native 64-bit ABI and the 32-bit one
/// its kernel may also run.
pub struct Arches {
    pub native: u32,
    pub compat: u32,
    /// Native is x86_64: numbers with the x32 bit get the bad-arch action.
    pub x32: bool,
    /// i386 socketcall and ipc numbers (libseccomp adds a multiplexed rule
    /// for every socket and SysV IPC call), or NONE.
    pub mux: [u32; 2],
}

/// The rules of one program, before code generation.
pub struct Rules<'a> {
    arches: &'a Arches,
    pub default: u32,
    /// Whether the compat arch is allowed at all (else it is a bad arch).
    pub compat: bool,
    conds: Vec<Cond>,
    ents: [Vec<Ent>; 2],
}

impl<'a> Rules<'a> {
    pub fn new(arches: &'a Arches, default: u32, compat: bool) -> Rules<'a> {
        Rules {
            arches,
            default,
            compat,
            conds: Vec::new(),
            ents: [Vec::new(), Vec::new()],
        }
    }

    /// Adds `act` for the syscall numbered nr[0] natively and nr[1] on the
    /// compat arch, when all `conds` hold. `mux` is the name's socketcall
    /// (1-20) or ipc (0x80 | 1-24) call number, or 0.
    pub fn add(&mut self, nr: [u32; 2], mux: u8, act: u32, conds: &[Cond]) {
        if act == self.default {
            return;
        }
        let c0 = self.conds.len() as u32;
        self.conds.extend_from_slice(conds);
        let nc = conds.len() as u32;
        if nr[0] != NONE {
            self.push(0, nr[0], act, c0, nc);
        }
        if !self.compat {
            return;
        }
        let mux_nr = self.arches.mux[(mux >> 7) as usize];
        if mux != 0 && mux_nr != NONE {
            // As libseccomp: the call number replaces any arg 0 test.
            let m0 = self.conds.len() as u32;
            self.conds.push(Cond {
                arg: 0,
                op: EQ,
                a: (mux & 0x7f) as u64,
                b: 0,
            });
            for c in conds.iter().filter(|c| c.arg != 0) {
                self.conds.push(*c);
            }
            let n = self.conds.len() as u32 - m0;
            self.push(1, mux_nr, act, m0, n);
        }
        if nr[1] != NONE {
            self.push(1, nr[1], act, c0, nc);
        }
    }

    fn push(&mut self, s: usize, nr: u32, act: u32, c0: u32, nc: u32) {
        let v = &mut self.ents[s];
        v.push(Ent {
            key: (nr as u64) << 32 | v.len() as u64,
            act,
            c0,
            nc,
        });
    }

    /// Generates the program; `bad` is the action for other arches.
    pub fn compile(&mut self, bad: u32) -> Vec<u64> {
        let mut a = Asm(Vec::new());
        // Layout: ld arch; jeq native ? N : X; N: native section;
        // X: jeq compat ? C : B; B: ret bad; C: compat section.
        let x = if self.compat {
            let c = self.section(&mut a, false, bad);
            let b = a.ret(bad);
            a.jmp(JEQ, self.arches.compat, c, b)
        } else {
            a.ret(bad)
        };
        let n = self.section(&mut a, true, bad);
        a.jmp(JEQ, self.arches.native, n, x);
        a.ins(LD_ABS, 4);
        a.0.reverse();
        a.0
    }

    /// Whether a condition can fail: libseccomp drops masks that test no
    /// bit of the compared width.
    fn live(&self, c: &Cond, wide: bool) -> bool {
        c.op != MASKED_EQ || (if wide { c.a } else { c.a & 0xffff_ffff }) != 0
    }

    /// The native (wide) or the compat section.
    fn section(&mut self, a: &mut Asm, wide: bool, bad: u32) -> u32 {
        let s = !wide as usize;
        let def = self.default;
        // By number, and in rule order per number (it matters).
        heapsort(&mut self.ents[s]);
        // Leaves of the search tree: from `start` up to the next leaf's
        // start, either return `act` (i == j) or run rules ents[i..j].
        // Not dropped: the program has grown past it, so freeing it in the
        // runtime's bump arena would do nothing.
        let mut leaves = core::mem::ManuallyDrop::new(Vec::<Leaf>::new());
        let mut push = |l: Leaf| match leaves.last() {
            Some(p) if p.i == p.j && l.i == l.j && p.act == l.act => {}
            _ => leaves.push(l),
        };
        push(Leaf {
            start: 0,
            act: def,
            i: 0,
            j: 0,
        });
        let ents = &self.ents[s];
        let mut i = 0;
        for g in ents.chunk_by(|x, y| x.nr() == y.nr()) {
            let nr = g.first().map_or(0, Ent::nr);
            let j = i + g.len();
            let uncond = g.iter().find(|e| {
                !self.conds[e.c0 as usize..(e.c0 + e.nc) as usize]
                    .iter()
                    .any(|c| self.live(c, wide))
            });
            push(match uncond {
                Some(e) => Leaf {
                    start: nr,
                    act: e.act,
                    i: 0,
                    j: 0,
                },
                None => Leaf {
                    start: nr,
                    act: 0,
                    i: i as u32,
                    j: j as u32,
                },
            });
            if nr != u32::MAX && ents.get(j).map(|e| e.nr()) != Some(nr + 1) {
                push(Leaf {
                    start: nr + 1,
                    act: def,
                    i: 0,
                    j: 0,
                });
            }
            i = j;
        }
        // The tree and the x32 test fall through from the load of nr.
        let t = self.tree(a, &leaves, wide);
        if wide && self.arches.x32 {
            // x32 numbers are a bad arch, except -1 (a tracer's skip).
            let b = a.ret(bad);
            let x = a.jmp(JEQ, u32::MAX, t, b);
            a.jmp(JGE, 0x4000_0000, x, t);
        }
        a.ins(LD_ABS, 0)
    }

    fn tree(&self, a: &mut Asm, l: &[Leaf], wide: bool) -> u32 {
        let (left, right) = l.split_at(l.len() / 2);
        match (left, right) {
            ([], [one]) => self.leaf(a, one, wide),
            (_, [mid, ..]) => {
                let r = self.tree(a, right, wide);
                let l = self.tree(a, left, wide);
                a.jmp(JGE, mid.start, r, l)
            }
            _ => 0, // no leaves: never
        }
    }

    fn leaf(&self, a: &mut Asm, l: &Leaf, wide: bool) -> u32 {
        if l.i == l.j {
            return a.ret(l.act);
        }
        let mut next = a.ret(self.default);
        for e in self.ents[if wide { 0 } else { 1 }][l.i as usize..l.j as usize]
            .iter()
            .rev()
        {
            let mut pass = a.ret(e.act);
            for c in self.conds[e.c0 as usize..(e.c0 + e.nc) as usize]
                .iter()
                .rev()
            {
                if self.live(c, wide) {
                    pass = cond(a, c, wide, pass, next);
                }
            }
            next = pass;
        }
        next
    }
}

/// Sorts on the unique keys: small code, n log n.
fn heapsort(v: &mut [Ent]) {
    // Sifts v[i] down the heap that is all of `v`.
    let sift = |v: &mut [Ent], mut i: usize| loop {
        let mut c = 2 * i + 1;
        let Some(x) = v.get(c) else { return };
        if v.get(c + 1).is_some_and(|y| y.key > x.key) {
            c += 1;
        }
        if v[i].key >= v[c].key {
            return;
        }
        v.swap(i, c);
        i = c;
    };
    let n = v.len();
    for i in (0..n / 2).rev() {
        sift(v, i);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift(&mut v[..end], 0);
    }
}

struct Leaf {
    start: u32,
    act: u32,
    i: u32,
    j: u32,
}

/// Emits one comparison; returns its label.
fn cond(a: &mut Asm, c: &Cond, wide: bool, pass: u32, fail: u32) -> u32 {
    let off = 16 + 8 * c.arg as u32;
    let masked = c.op == MASKED_EQ;
    let (m, v) = if masked {
        (c.a, c.b & c.a)
    } else {
        (u64::MAX, c.a)
    };
    // NE, LT and LE fail where the emitted test is true.
    let (t, f) = if matches!(c.op, NE | LT | LE) {
        (fail, pass)
    } else {
        (pass, fail)
    };
    let lo = half(a, c.op, m as u32, v as u32, off, t, f, pass);
    if !wide {
        return lo;
    }
    let (hm, h) = ((m >> 32) as u32, (v >> 32) as u32);
    match c.op {
        EQ | NE => {
            a.jmp(JEQ, h, lo, f);
            a.ins(LD_ABS, off + 4)
        }
        MASKED_EQ => half(a, c.op, hm, h, off + 4, lo, fail, lo),
        _ => {
            // Higher high half: GT/GE pass, LT/LE fail; equal: compare low.
            let (above, below) = if matches!(c.op, GT | GE) {
                (pass, fail)
            } else {
                (fail, pass)
            };
            let mut j = lo;
            if h != 0 {
                j = a.jmp(JEQ, h, lo, below);
            }
            if h != u32::MAX {
                a.jmp(JGT, h, above, j);
            }
            a.ins(LD_ABS, off + 4)
        }
    }
}

/// Emits the test of one 32-bit half at `off`; `skip` is where an all-zero
/// mask goes.
#[allow(clippy::too_many_arguments)]
fn half(a: &mut Asm, op: u8, m: u32, v: u32, off: u32, t: u32, f: u32, skip: u32) -> u32 {
    match op {
        MASKED_EQ if m == 0 => return skip,
        MASKED_EQ if v == 0 => a.jmp(JSET, m, f, t),
        MASKED_EQ if m != u32::MAX => {
            a.jmp(JEQ, v, t, f);
            a.ins(ALU_AND, m)
        }
        GT | LE => a.jmp(JGT, v, t, f),
        GE | LT => a.jmp(JGE, v, t, f),
        _ => a.jmp(JEQ, v, t, f),
    };
    a.ins(LD_ABS, off)
}

const LD_ABS: u16 = 0x20;
const ALU_AND: u16 = 0x54;
const JA: u16 = 0x05;
const JEQ: u16 = 0x15;
const JGT: u16 = 0x25;
const JGE: u16 = 0x35;
const JSET: u16 = 0x45;
const RET: u16 = 0x06;

/// Emits a program backwards, so every jump target (always forward) is
/// already placed; a label is an instruction's distance from the end.
struct Asm(Vec<u64>);

impl Asm {
    fn ins(&mut self, code: u16, k: u32) -> u32 {
        self.0.push(code as u64 | (k as u64) << 32);
        self.0.len() as u32 - 1
    }
    /// A return; one nearby with the same value serves again.
    fn ret(&mut self, k: u32) -> u32 {
        let i = RET as u64 | (k as u64) << 32;
        let n = self.0.len();
        match self.0[n.saturating_sub(128)..]
            .iter()
            .rposition(|&x| x == i)
        {
            Some(p) => (n.saturating_sub(128) + p) as u32,
            None => self.ins(RET, k),
        }
    }
    /// A conditional jump; targets beyond the 8-bit offsets go through an
    /// unconditional `ja` placed right after it.
    fn jmp(&mut self, code: u16, k: u32, mut t: u32, mut f: u32) -> u32 {
        // One spare, as a trampoline for the other target may follow.
        if self.0.len() as u32 - t > 255 {
            t = self.ins(JA, self.0.len() as u32 - 1 - t);
        }
        if self.0.len() as u32 - f > 255 {
            f = self.ins(JA, self.0.len() as u32 - 1 - f);
        }
        let i = self.0.len() as u32;
        let (jt, jf) = ((i - 1 - t) as u64, (i - 1 - f) as u64);
        self.0
            .push(code as u64 | jt << 16 | jf << 24 | (k as u64) << 32);
        i
    }
}

/// Reads a LEB128 number.
pub fn uv(p: &mut &[u8]) -> u64 {
    let mut n = 0u64;
    let mut s = 0;
    while let Some((&b, rest)) = p.split_first() {
        *p = rest;
        n |= ((b & 0x7f) as u64) << s;
        s += 7;
        if b < 0x80 {
            break;
        }
    }
    n
}

/// Instruction codes by their index in a packed program; the last four are
/// conditional jumps, which take jt.
pub const CODES: [u16; 8] = [LD_ABS, ALU_AND, JA, RET, JEQ, JGT, JGE, JSET];

/// Unpacks a program packed by build.rs: per instruction LEB128(k << 4 |
/// (jf != 0) << 3 | code index), then jt for a conditional jump and jf when
/// not 0. Half the size of the raw program.
/// Inlined, without uv and byte: `run`'s default path stays in the
/// functions cross/hot.ld keeps together.
#[inline(always)]
pub fn unpack(t: &[u8]) -> Vec<u64> {
    let mut prog = Vec::new();
    let mut it = t.iter().copied();
    while let Some(mut b) = it.next() {
        let (mut v, mut s) = (0u64, 0);
        loop {
            v |= ((b & 0x7f) as u64) << s;
            s += 7;
            if b < 0x80 {
                break;
            }
            b = it.next().unwrap_or(0);
        }
        let mut x = CODES[v as usize & 7] as u64 | (v >> 4) << 32;
        if v & 4 != 0 {
            x |= (it.next().unwrap_or(0) as u64) << 16;
        }
        if v & 8 != 0 {
            x |= (it.next().unwrap_or(0) as u64) << 24;
        }
        prog.push(x);
    }
    prog
}

/// Reads one byte (0xff past the end, which ends every loop).
#[inline(never)]
fn byte(p: &mut &[u8]) -> u8 {
    let (&b, rest) = p.split_first().unwrap_or((&0xff, b""));
    *p = rest;
    b
}

/// One entry of a decoded name table.
#[derive(Clone, Copy)]
pub struct Name {
    pub off: u32,
    pub len: u32,
    pub nr: [u32; 2],
    pub mux: u8,
}

/// Decodes a name table: [pair count] [pairs], then entries sorted by
/// name, each [shared-prefix | 0x20 native | 0x40 compat | 0x80 mux]
/// suffix (last byte | 0x80) [mux], and a 0; the numbers the entries'
/// flags announce are 9 bits each, read from the end of the table (from
/// NR_HIGH up ARM's private calls). Suffix bytes outside `a-z0-9_` stand
/// for a pair (see pair).
pub fn names(t: &[u8]) -> (Vec<u8>, Vec<Name>) {
    let mut blob: Vec<u8> = Vec::new();
    let mut out: Vec<Name> = Vec::new();
    let mut prev = 0usize;
    let pairs = t.get(1..).unwrap_or(b"");
    let mut bits = t;
    let mut t = pairs
        .get(*t.first().unwrap_or(&0) as usize * 2..)
        .unwrap_or(b"");
    // The numbers' bit reader: `nacc` bits in `acc`.
    let (mut acc, mut nacc) = (0u32, 0);
    loop {
        let h = byte(&mut t);
        if h == 0 {
            break;
        }
        let off = blob.len();
        blob.extend_from_within(prev..prev + (h & 0x1f) as usize);
        loop {
            let c = byte(&mut t);
            pair(&mut blob, pairs, c & 0x7f);
            if c & 0x80 != 0 {
                break;
            }
        }
        let mut e = Name {
            off: off as u32,
            len: (blob.len() - off) as u32,
            nr: [NONE; 2],
            mux: 0,
        };
        for (i, bit) in [0x20u8, 0x40].iter().enumerate() {
            if h & bit != 0 {
                while nacc < 9 {
                    let (&b, rest) = bits.split_last().unwrap_or((&0, b""));
                    bits = rest;
                    acc |= (b as u32) << nacc;
                    nacc += 8;
                }
                let v = acc & 0x1ff;
                (acc, nacc) = (acc >> 9, nacc - 9);
                e.nr[i] = if v >= NR_HIGH {
                    v - NR_HIGH + ARM_NR_BASE
                } else {
                    v
                };
            }
        }
        if h & 0x80 != 0 {
            e.mux = byte(&mut t);
        }
        prev = off;
        out.push(e);
    }
    (blob, out)
}

/// 9-bit numbers from NR_HIGH stand for ARM_NR_BASE and up.
pub const NR_HIGH: u32 = 0x1f8;
pub const ARM_NR_BASE: u32 = 0x0f_0000;

/// The index of the pair a suffix byte stands for: bytes 0x00-0x2f and
/// 0x3a-0x5e (the gaps around the digits) are pairs 0-84.
pub fn pair_index(c: u8) -> Option<usize> {
    match c {
        0..0x30 => Some(c as usize),
        0x3a..0x5f => Some(c as usize - 10),
        _ => None,
    }
}

/// Appends what suffix byte `c` stands for: itself, or its pair expanded.
fn pair(blob: &mut Vec<u8>, pairs: &[u8], c: u8) {
    match pair_index(c).and_then(|i| pairs.get(2 * i..2 * i + 2)) {
        Some(&[a, b]) => {
            pair(blob, pairs, a);
            pair(blob, pairs, b);
        }
        _ => blob.push(c),
    }
}

/// The entry of `name` in a decoded name table.
#[inline(never)]
pub fn find<'a>(blob: &[u8], names: &'a [Name], name: &[u8]) -> Option<&'a Name> {
    // A linear scan: smaller than a binary search, and only JSON profiles
    // look names up (a few hundred, in a few hundred entries).
    names
        .iter()
        .find(|e| blob.get(e.off as usize..(e.off + e.len) as usize) == Some(name))
}

/// Adds the rules of an embedded rule table for the bounding set `caps`:
/// [default action] then per rule: action, gates (count of required caps
/// << 4 | count of excluding caps, then cap bits), condition count and
/// conditions (arg, op, a, b), then the names as runs of indexes: a count
/// and per run the names skipped since the last and its length. Numbers
/// are LEB128, actions rotated by 16 bits (see action).
pub fn load(r: &mut Rules, mut t: &[u8], names: &[Name], caps: u64) {
    let _ = action(&mut t);
    while !t.is_empty() {
        let act = action(&mut t);
        let g = byte(&mut t);
        let mut ok = true;
        for i in 0..(g >> 4) + (g & 15) {
            let has = (caps >> byte(&mut t)) & 1 != 0;
            ok &= has == (i < g >> 4);
        }
        let mut conds: Vec<Cond> = Vec::new();
        for _ in 0..uv(&mut t) {
            let arg = byte(&mut t);
            let op = byte(&mut t);
            let a = uv(&mut t);
            let b = uv(&mut t);
            conds.push(Cond { arg, op, a, b });
        }
        let mut idx = 0;
        for _ in 0..uv(&mut t) {
            idx += uv(&mut t) as usize;
            for _ in 0..uv(&mut t) {
                if let Some(n) = names.get(idx).filter(|_| ok) {
                    r.add(n.nr, n.mux, act, &conds);
                }
                idx += 1;
            }
        }
    }
}

/// An action, stored rotated so that RET_ALLOW and RET_ERRNO | e take
/// three bytes.
fn action(t: &mut &[u8]) -> u32 {
    (uv(t) as u32).rotate_right(16)
}

/// The default action of a rule table.
pub fn table_default(mut t: &[u8]) -> u32 {
    action(&mut t)
}
