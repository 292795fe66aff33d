//! A streaming reader over an archive fd: gzip (RFC 1952, DEFLATE of RFC
//! 1951, 32 KiB window, CRC32 and ISIZE checked) or plain bytes, sniffed
//! from the magic. Every byte read from the fd also goes through SHA-256,
//! so one pass both hashes and unpacks an image. Errors are sticky codes
//! turned into a message once, which keeps the decoder small.

use crate::rt::{self, Buf, Error, Res, S};
use crate::sha256::Sha256;
use crate::sys;
use alloc::boxed::Box;

const WSIZE: usize = 1 << 15;
const INSIZE: usize = 1 << 14;

const ORDER: [u8; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

// Sticky error codes; MSGS has their messages.
const TRUNCATED: u8 = 1;
const NOT_GZIP: u8 = 2;
const READ: u8 = 3;
const BAD_HEADER: u8 = 4;
const BAD_BLOCK: u8 = 5;
const BAD_CODES: u8 = 6;
const BAD_DIST: u8 = 7;
const BAD_CRC: u8 = 8;
const BAD_SIZE: u8 = 9;
const GARBAGE: u8 = 10;
/// By code, '|'-separated; from BAD_HEADER on, what is wrong with
/// corrupt data.
const MSGS: &[u8] = b"truncated gzip data|not a gzip file|read error|bad header|bad block|\
bad Huffman codes|distance too far back|CRC mismatch|length mismatch|trailing garbage";

// Decoder states.
const HEADER: u8 = 0;
const BLOCK: u8 = 1;
const STORED: u8 = 2;
const CODES: u8 = 3;
const DONE: u8 = 4;

/// CRC-32 a nibble at a time: a 64-byte table instead of 1 KiB.
const CRC_T: [u32; 16] = {
    let mut t = [0u32; 16];
    let mut i = 0;
    while i < 16 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 4 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// One byte into a CRC-32 register (the complement of the CRC so far).
fn crc_step(mut c: u32, b: u8) -> u32 {
    c ^= b as u32;
    c = (c >> 4) ^ CRC_T[(c & 15) as usize];
    (c >> 4) ^ CRC_T[(c & 15) as usize]
}

#[cfg(test)]
pub fn crc32(crc: u32, data: &[u8]) -> u32 {
    !data.iter().fold(!crc, |c, &b| crc_step(c, b))
}

/// A canonical Huffman code: code counts per length and the symbols in
/// code order, plus a 9-bit lookup of the short codes (len << 9 | sym).
struct Huff {
    count: [u16; 16],
    sym: [u16; 288],
    fast: [u16; 512],
}

impl Huff {
    /// The symbol whose code (stored MSB first) starts `bits`, trying
    /// lengths up to `max`: (length, symbol), or a length past `max`.
    fn walk(&self, bits: u32, max: u32) -> (u32, u32) {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..=max {
            code |= (bits >> (len - 1)) as i32 & 1;
            let count = self.count[len as usize & 15] as i32;
            if code - first < count {
                return (len, self.sym[(index + code - first) as usize] as u32);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        (16, 0)
    }
}

pub struct Stream {
    fd: i32,
    pub hash: Sha256,
    /// With a label and a size, progress goes to stderr as "\rLABEL N%".
    progress: Option<(S, u64)>,
    consumed: u64,
    pct: u64,
    pub gz: bool,
    err: u8,
    st: u8,
    last: bool,
    ipos: usize,
    ilen: usize,
    bits: u32,
    nbits: u32,
    /// Stored bytes left, or the length of a pending match.
    left: u32,
    dist: usize,
    /// Output of the current member, and its CRC-32 register.
    total: u64,
    crc: u32,
    inb: [u8; INSIZE],
    win: [u8; WSIZE],
    h: [Huff; 2],
}

impl Stream {
    /// Wraps `fd`; gzip when the data starts with its magic.
    #[inline(never)]
    pub fn new(fd: i32, progress: Option<(S, u64)>) -> Box<Stream> {
        const H: Huff = Huff {
            count: [0; 16],
            sym: [0; 288],
            fast: [0; 512],
        };
        let mut s = Box::new(Stream {
            fd,
            hash: Sha256::new(),
            progress,
            consumed: 0,
            pct: 101,
            gz: false,
            err: 0,
            st: HEADER,
            last: false,
            ipos: 0,
            ilen: 0,
            bits: 0,
            nbits: 0,
            left: 0,
            dist: 0,
            total: 0,
            crc: 0,
            inb: [0; INSIZE],
            win: [0; WSIZE],
            h: [H, H],
        });
        s.need(16);
        s.gz = s.bits & 0xffff == 0x8b1f;
        s
    }

    #[inline(never)]
    fn fail(&mut self, code: u8) {
        if self.err == 0 {
            self.err = code;
        }
    }

    /// One raw input byte, reading (and hashing) more as needed.
    fn raw(&mut self) -> Option<u8> {
        if self.ipos == self.ilen {
            self.ipos = 0;
            self.ilen = match sys::read(self.fd, &mut self.inb) {
                Ok(n) => n,
                Err(_) => {
                    self.fail(READ);
                    0
                }
            };
            self.hash.update(&self.inb[..self.ilen]);
            self.consumed += self.ilen as u64;
            if let Some((label, size)) = self.progress {
                let pct = self.consumed * 100 / size.max(1);
                if pct != self.pct {
                    self.pct = pct;
                    let mut b = Buf::new();
                    b.c(b'\r').s(label).c(b' ').u(pct).c(b'%');
                    rt::err(b.as_slice());
                }
            }
            if self.ilen == 0 {
                return None;
            }
        }
        self.ipos += 1;
        Some(self.inb[self.ipos - 1])
    }

    /// Loads the bit buffer up to `n` bits where input remains.
    fn need(&mut self, n: u32) {
        while self.nbits < n {
            let Some(b) = self.raw() else { return };
            self.bits |= (b as u32) << self.nbits;
            self.nbits += 8;
        }
    }

    /// Takes `n` bits (n <= 16); zeros and a sticky error past the end.
    fn take(&mut self, n: u32) -> u32 {
        self.need(n);
        if self.nbits < n {
            self.fail(TRUNCATED);
            self.nbits = n;
        }
        let v = self.bits & ((1 << n) - 1);
        self.bits >>= n;
        self.nbits -= n;
        v
    }

    fn header(&mut self) {
        if self.take(16) != 0x8b1f {
            return self.fail(NOT_GZIP);
        }
        // CM 8 (deflate), then FLG without reserved bits; the FLG bits
        // below are tested where they sit, 8 bits up.
        let flags = self.take(16);
        if flags & 0xe0ff != 8 {
            return self.fail(BAD_HEADER);
        }
        // MTIME, XFL, OS; then FEXTRA, FNAME, FCOMMENT and FHCRC.
        for _ in 0..3 {
            self.take(16);
        }
        if flags & 4 << 8 != 0 {
            for _ in 0..self.take(16) {
                self.take(8);
            }
        }
        for f in [8 << 8, 16 << 8] {
            if flags & f != 0 {
                while self.take(8) != 0 {}
            }
        }
        if flags & 2 << 8 != 0 {
            self.take(16);
        }
        self.total = 0;
        self.crc = !0;
        self.last = false;
        self.st = BLOCK;
    }

    /// Checks the member's trailer; then another member, or the end.
    fn trailer(&mut self) {
        self.take(self.nbits % 8);
        if self.take(16) | self.take(16) << 16 != !self.crc {
            return self.fail(BAD_CRC);
        }
        if self.take(16) | self.take(16) << 16 != self.total as u32 {
            return self.fail(BAD_SIZE);
        }
        self.st = DONE;
        self.need(8);
        if self.nbits > 0 && self.bits & 0xff == 0x1f {
            self.st = HEADER;
        }
        // gzip accepts trailing zeros, as some tools pad to a block.
        while self.st == DONE && self.nbits > 0 {
            if self.take(8) != 0 {
                self.fail(GARBAGE);
            }
            self.need(8);
        }
    }

    fn block(&mut self) {
        // BFINAL and BTYPE in one take.
        let b = self.take(3);
        self.last = b & 1 == 1;
        match b >> 1 {
            0 => {
                self.take(self.nbits % 8);
                let len = self.take(16);
                if self.take(16) != !len & 0xffff {
                    return self.fail(BAD_BLOCK);
                }
                self.left = len;
                self.st = STORED;
                return;
            }
            1 => {
                // The fixed code lengths, then 30 distances of 5 bits.
                let mut l = [0u8; 318];
                for (i, x) in l.iter_mut().enumerate() {
                    *x = match i {
                        144..256 => 9,
                        256..280 => 7,
                        288.. => 5,
                        _ => 8,
                    };
                }
                self.build(0, &l[..288]);
                self.build(1, &l[288..]);
            }
            2 => self.dynamic(),
            _ => return self.fail(BAD_BLOCK),
        }
        self.st = CODES;
    }

    fn dynamic(&mut self) {
        // HLIT, HDIST and HCLEN in one take.
        let n = self.take(14) as usize;
        let (nlen, ndist, ncode) = ((n & 31) + 257, (n >> 5 & 31) + 1, (n >> 10) + 4);
        let mut l = [0u8; 320];
        for &o in &ORDER[..ncode] {
            l[o as usize] = self.take(3) as u8;
        }
        self.build(0, &l[..19]);
        let mut i = 0;
        while i < nlen + ndist && self.err == 0 {
            let sym = self.decode(0);
            let (rep, val) = match sym {
                0..16 => (1, sym as u8),
                16 if i > 0 => (3 + self.take(2), l[i - 1]),
                17 => (3 + self.take(3), 0),
                _ => (11 + self.take(7), 0),
            };
            let end = i + rep as usize;
            if sym == 16 && i == 0 || end > nlen + ndist {
                return self.fail(BAD_CODES);
            }
            l[i..end].fill(val);
            i = end;
        }
        if nlen > 286 || ndist > 30 || l[256] == 0 {
            return self.fail(BAD_CODES);
        }
        self.build(1, &l[nlen..nlen + ndist]);
        self.build(0, &l[..nlen]);
    }

    /// Builds code `k` from code lengths; an over-subscribed set is
    /// corrupt, an incomplete one fails only if an unused code shows up.
    fn build(&mut self, k: usize, lens: &[u8]) {
        let h = &mut self.h[k];
        h.count = [0; 16];
        for &l in lens {
            h.count[l as usize & 15] += 1;
        }
        h.count[0] = 0;
        let mut left = 1i32;
        for len in 1..16 {
            left = (left << 1) - h.count[len] as i32;
            if left < 0 {
                return self.fail(BAD_CODES);
            }
        }
        let h = &mut self.h[k];
        // The symbols in code order (by length, then by symbol).
        let mut j = 0;
        for len in 1..16 {
            for (sym, &l) in lens.iter().enumerate() {
                if l == len {
                    h.sym[j] = sym as u16;
                    j += 1;
                }
            }
        }
        // The lookup: what the walk finds in each 9-bit value, so that
        // no codes need reversing here.
        for i in 0..512 {
            let (len, sym) = h.walk(i, 9);
            h.fast[i as usize] = if len <= 9 { (len << 9 | sym) as u16 } else { 0 };
        }
    }

    /// Decodes one symbol of code `k` (0 literal/length, 1 distance).
    fn decode(&mut self, k: usize) -> u32 {
        self.need(15);
        let h = &self.h[k];
        let e = h.fast[(self.bits & 511) as usize] as u32;
        let (len, sym) = if e == 0 {
            h.walk(self.bits, 15)
        } else {
            (e >> 9, e & 511)
        };
        if len > 15 {
            self.fail(BAD_CODES);
            return 0;
        }
        self.take(len);
        sym
    }

    /// Fills `out`; 0 only at the end of the data.
    pub fn read(&mut self, out: &mut [u8]) -> Res<usize> {
        let mut n = 0;
        while n < out.len() && self.err == 0 {
            let b = if !self.gz {
                // The sniffed bytes wait in the bit buffer.
                if self.nbits > 0 {
                    self.take(8) as u8
                } else if let Some(b) = self.raw() {
                    b
                } else {
                    break;
                }
            } else if self.left > 0 && self.st != STORED {
                self.left -= 1;
                self.win[(self.total as usize).wrapping_sub(self.dist) & (WSIZE - 1)]
            } else {
                // A byte falls through to the one emit below; the other
                // steps go round again.
                match self.st {
                    STORED if self.left > 0 => {
                        self.left -= 1;
                        self.take(8) as u8
                    }
                    CODES => match self.decode(0) {
                        sym @ 0..256 => sym as u8,
                        256 => {
                            self.st = BLOCK;
                            continue;
                        }
                        sym => {
                            self.lengths(sym as usize - 257);
                            continue;
                        }
                    },
                    HEADER => {
                        self.header();
                        continue;
                    }
                    BLOCK if self.last => {
                        self.trailer();
                        continue;
                    }
                    BLOCK => {
                        self.block();
                        continue;
                    }
                    STORED => {
                        self.st = BLOCK;
                        continue;
                    }
                    _ => break,
                }
            };
            self.emit(out, &mut n, b);
        }
        match self.err {
            0 => Ok(n),
            e => {
                let m = rt::split(MSGS, b'|')
                    .nth(e as usize - 1)
                    .unwrap_or_default();
                Err(if e < BAD_HEADER {
                    Error::new(m, b"")
                } else {
                    Error::new(b"corrupt gzip data", m)
                })
            }
        }
    }

    fn emit(&mut self, out: &mut [u8], n: &mut usize, b: u8) {
        out[*n] = b;
        *n += 1;
        self.win[self.total as usize & (WSIZE - 1)] = b;
        self.total += 1;
        self.crc = crc_step(self.crc, b);
    }

    /// Sets up the copy of a length/distance pair. The bases follow from
    /// the extra bits (RFC 1951 3.2.5): each group of 4 length codes (2
    /// distance codes) has one more extra bit and starts where the last
    /// one ends.
    fn lengths(&mut self, i: usize) {
        let d = if i < 29 {
            let i = i as u32;
            let (ext, base) = match i {
                0..8 => (0, i + 3),
                28 => (0, 258),
                _ => ((i - 4) / 4, ((4 + (i & 3)) << ((i - 4) / 4)) + 3),
            };
            self.left = base + self.take(ext);
            self.decode(1)
        } else {
            30
        };
        if d >= 30 {
            return self.fail(BAD_CODES);
        }
        let (ext, base) = match d {
            0..4 => (0, d + 1),
            _ => ((d - 2) / 2, ((2 + (d & 1)) << ((d - 2) / 2)) + 1),
        };
        self.dist = (base + self.take(ext)) as usize;
        if self.dist as u64 > self.total {
            self.fail(BAD_DIST);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    fn tmpfile(tag: &str, data: &[u8]) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("tb-gz-{}-{}", std::process::id(), tag));
        std::fs::write(&p, data).unwrap();
        p
    }

    /// Decompresses `data` through a file, as the image store does.
    fn gunzip(tag: &str, data: &[u8]) -> Result<(Vec<u8>, bool), String> {
        let p = tmpfile(tag, data);
        let f = std::fs::File::open(&p).unwrap();
        use std::os::fd::AsRawFd;
        let mut s = Stream::new(f.as_raw_fd(), None);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 7000];
        let r = loop {
            match s.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => break Err(msg(&e)),
            }
        };
        std::fs::remove_file(&p).unwrap();
        r.map(|_| (out, s.gz))
    }

    fn msg(e: &Error) -> String {
        String::from_utf8(e.msg().to_vec()).unwrap()
    }

    fn gzip(data: &[u8], args: &[&str]) -> Vec<u8> {
        let mut c = Command::new("gzip")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut i = c.stdin.take().unwrap();
        let d = data.to_vec();
        let t = std::thread::spawn(move || i.write_all(&d).unwrap());
        let out = c.wait_with_output().unwrap();
        t.join().unwrap();
        out.stdout
    }

    /// Text-like data with long repeats, binary noise and runs: every
    /// block type and far distances.
    fn sample(n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n);
        let mut x: u32 = 12345;
        while v.len() < n {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            match (x >> 16) % 4 {
                0 => v.extend_from_slice(b"the quick brown fox jumps over the lazy dog "),
                1 => v.push((x >> 8) as u8),
                2 => {
                    let back = ((x >> 3) as usize % 30000).min(v.len());
                    let start = v.len() - back;
                    for i in 0..(x as usize % 200).min(back) {
                        v.push(v[start + i]);
                    }
                }
                _ => v.extend(std::iter::repeat_n(b'a', (x % 300) as usize)),
            }
        }
        v.truncate(n);
        v
    }

    #[test]
    fn matches_system_gzip_levels() {
        let data = sample(300_000);
        for lvl in ["-1", "-6", "-9"] {
            let z = gzip(&data, &[lvl, "-c"]);
            assert_eq!(z[10] & 6, 4, "a dynamic-Huffman block");
            let (out, gz) = gunzip(lvl, &z).unwrap();
            assert!(gz);
            assert!(out == data, "level {lvl}");
        }
    }

    #[test]
    fn stored_fixed_and_empty() {
        // Random bytes make gzip store them; a short text gets a fixed block.
        let mut noise = vec![0u8; 100_000];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut noise))
            .unwrap();
        let z = gzip(&noise, &["-c"]);
        assert_eq!(z[10] & 6, 0, "a stored block");
        assert_eq!(gunzip("stored", &z).unwrap().0, noise);
        let z = gzip(b"hello hello hello", &["-c"]);
        assert_eq!(z[10] & 6, 2, "a fixed-Huffman block");
        assert_eq!(gunzip("fixed", &z).unwrap().0, b"hello hello hello");
        assert_eq!(gunzip("empty", &gzip(b"", &["-c"])).unwrap().0, b"");
        // A name in the header and two members, as `cat a.gz b.gz`.
        let mut two = gzip(b"first ", &["-c", "-N"]);
        two.extend(gzip(b"second", &["-c"]));
        assert_eq!(gunzip("two", &two).unwrap().0, b"first second");
    }

    #[test]
    fn plain_data_passes_through() {
        let (out, gz) = gunzip("plain", b"not compressed at all").unwrap();
        assert!(!gz);
        assert_eq!(out, b"not compressed at all");
    }

    #[test]
    fn damage_is_reported() {
        let data = sample(50_000);
        let z = gzip(&data, &["-c"]);
        for cut in [5, 11, z.len() / 2, z.len() - 4, z.len() - 1] {
            let e = gunzip("cut", &z[..cut]).unwrap_err();
            assert!(e.starts_with("truncated gzip data"), "cut {cut}: {e}");
        }
        let mut bad = z.clone();
        let l = bad.len();
        bad[l - 6] ^= 1; // CRC
        assert_eq!(
            gunzip("crc", &bad).unwrap_err(),
            "corrupt gzip data: CRC mismatch"
        );
        bad = z.clone();
        bad[l - 2] ^= 1; // ISIZE
        assert_eq!(
            gunzip("isize", &bad).unwrap_err(),
            "corrupt gzip data: length mismatch"
        );
        bad = z.clone();
        bad[3] = 0x80;
        assert_eq!(
            gunzip("flags", &bad).unwrap_err(),
            "corrupt gzip data: bad header"
        );
        // Flipping a byte anywhere in the deflate data never passes.
        for at in (10..z.len() - 8).step_by(997) {
            let mut b = z.clone();
            b[at] ^= 0x55;
            let e = gunzip("flip", &b).unwrap_err();
            assert!(
                e.starts_with("corrupt gzip data") || e.starts_with("truncated gzip data"),
                "{at}: {e}"
            );
        }
        let mut tail = z.clone();
        tail.extend_from_slice(b"junk");
        assert_eq!(
            gunzip("junk", &tail).unwrap_err(),
            "corrupt gzip data: trailing garbage"
        );
        tail.truncate(z.len());
        tail.extend_from_slice(&[0; 100]);
        assert_eq!(gunzip("zeros", &tail).unwrap().0, data);
    }

    #[test]
    #[ignore]
    fn speed() {
        let mut data = Vec::new();
        for e in std::fs::read_dir("/usr/bin").unwrap().take(400) {
            if let Ok(d) = std::fs::read(e.unwrap().path()) {
                data.extend(d);
            }
            if data.len() > 8 << 20 {
                break;
            }
        }
        let z = gzip(&data, &["-c"]);
        let t = std::time::Instant::now();
        let (out, _) = gunzip("speed", &z).unwrap();
        eprintln!("{} -> {} bytes in {:?}", z.len(), out.len(), t.elapsed());
        assert!(out == data);
    }

    #[test]
    fn every_message() {
        let p = tmpfile("msgs", b"");
        let f = std::fs::File::open(&p).unwrap();
        use std::os::fd::AsRawFd;
        let mut s = Stream::new(f.as_raw_fd(), None);
        let want = [
            "truncated gzip data",
            "not a gzip file",
            "read error",
            "corrupt gzip data: bad header",
            "corrupt gzip data: bad block",
            "corrupt gzip data: bad Huffman codes",
            "corrupt gzip data: distance too far back",
            "corrupt gzip data: CRC mismatch",
            "corrupt gzip data: length mismatch",
            "corrupt gzip data: trailing garbage",
        ];
        for (code, want) in (1..).zip(want) {
            s.err = code;
            assert_eq!(msg(&s.read(&mut [0u8; 4]).err().unwrap()), want);
        }
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn crc_vector() {
        assert_eq!(crc32(0, b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(crc32(0, b"1234"), b"56789"), 0xcbf4_3926);
    }

    #[test]
    fn hashes_the_raw_input() {
        let z = gzip(b"abc", &["-c"]);
        let p = tmpfile("hash", &z);
        let f = std::fs::File::open(&p).unwrap();
        use std::os::fd::AsRawFd;
        let mut s = Stream::new(f.as_raw_fd(), None);
        let mut buf = [0u8; 64];
        while s.read(&mut buf).ok().unwrap() > 0 {}
        let mut h = Sha256::new();
        h.update(&z);
        assert_eq!(s.hash.finish(), h.finish());
        assert_eq!(s.consumed, z.len() as u64);
        std::fs::remove_file(&p).unwrap();
    }
}
