//! A small JSON (RFC 8259) reader for config.json and image metadata, and
//! string output. Values point into one leaked copy of the input, so only
//! strings with escapes allocate.

use crate::rt::{Buf, Error, Res, S, cat};
use alloc::vec::Vec;

#[derive(Clone, Copy)]
pub enum Json {
    Null,
    Bool(bool),
    /// The raw number text, already checked against the RFC grammar.
    Num(S),
    /// Unescaped bytes.
    Str(S),
    Arr(List<Json>),
    Obj(List<(S, Json)>),
}

/// Elements, leaked like the input they point into: a Json then has no
/// drop glue, and nothing that holds one needs code to free it.
#[derive(Clone, Copy)]
pub struct List<T: 'static>(pub &'static [T]);

impl<T> core::ops::Deref for List<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.0
    }
}

impl<'a, T> IntoIterator for &'a List<T> {
    type Item = &'a T;
    type IntoIter = core::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

const MAX_DEPTH: u32 = 64;

struct P {
    s: S,
    i: usize,
}

impl P {
    #[inline(never)]
    fn err(&self, what: &[u8]) -> Error {
        let before = &self.s[..self.i.min(self.s.len())];
        let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
        let bol = before
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p + 1);
        let mut b = Buf::new();
        b.s(b"invalid JSON at line ")
            .u(line as u64)
            .s(b", column ")
            .u((before.len() - bol + 1) as u64);
        Error::new(b.leak(), what)
    }

    /// The text from the current position.
    fn rest(&self) -> &[u8] {
        self.s.get(self.i..).unwrap_or(b"")
    }

    fn peek(&self) -> u8 {
        self.s.get(self.i).copied().unwrap_or(0)
    }

    fn ws(&mut self) -> u8 {
        while matches!(self.peek(), b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
        self.peek()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.ws() == c;
        self.i += hit as usize;
        hit
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.peek().is_ascii_digit() {
            self.i += 1;
        }
        self.i - start
    }

    fn value(&mut self, depth: u32) -> Res<Json> {
        let c = self.ws();
        let lit: &[u8] = match c {
            b'n' => b"null",
            b't' => b"true",
            _ => b"false",
        };
        match c {
            b'n' | b't' | b'f' if self.rest().starts_with(lit) => {
                self.i += lit.len();
                Ok(if c == b'n' {
                    Json::Null
                } else {
                    Json::Bool(c == b't')
                })
            }
            b'"' => Ok(Json::Str(self.string()?)),
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                self.i += (c == b'-') as usize;
                let first = self.peek();
                let n = self.digits();
                let mut ok = n > 0 && !(first == b'0' && n > 1);
                if ok && self.peek() == b'.' {
                    self.i += 1;
                    ok = self.digits() > 0;
                }
                if ok && self.peek() | 0x20 == b'e' {
                    self.i += 1;
                    self.i += matches!(self.peek(), b'+' | b'-') as usize;
                    ok = self.digits() > 0;
                }
                if !ok {
                    return Err(self.err(b"invalid number"));
                }
                Ok(Json::Num(&self.s[start..self.i]))
            }
            b'[' | b'{' => {
                if depth >= MAX_DEPTH {
                    return Err(self.err(b"nesting deeper than 64 levels"));
                }
                self.i += 1;
                let obj = c == b'{';
                let close = c + 2; // ']' and '}' follow '[' and '{' by two
                // One vector for both (array elements get empty keys): one
                // loop and one push instead of two of each.
                // Never dropped, even on errors: parsing leaks anyway, and
                // this way there is no drop code.
                let mut members = core::mem::ManuallyDrop::new(Vec::<(S, Json)>::new());
                if !self.eat(close) {
                    loop {
                        let mut key: S = b"";
                        if obj {
                            if self.ws() != b'"' {
                                return Err(self.err(b"expected a string key"));
                            }
                            key = self.string()?;
                            if !self.eat(b':') {
                                return Err(self.err(b"expected ':'"));
                            }
                        }
                        let v = self.value(depth + 1)?;
                        members.push((key, v));
                        if self.eat(close) {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.err(if obj {
                                b"expected ',' or '}'"
                            } else {
                                b"expected ',' or ']'"
                            }));
                        }
                    }
                }
                Ok(if obj {
                    Json::Obj(List(core::mem::ManuallyDrop::into_inner(members).leak()))
                } else {
                    let a: Vec<Json> = members.iter().map(|m| m.1).collect();
                    Json::Arr(List(a.leak()))
                })
            }
            _ => Err(self.err(b"expected a value")),
        }
    }

    /// Reads a string; `self.i` is at the opening quote.
    fn string(&mut self) -> Res<S> {
        self.i += 1;
        let start = self.i;
        // Filled from the first escape on; never dropped, even on errors:
        // parsing leaks anyway, and this way there is no drop code.
        let mut v = core::mem::ManuallyDrop::new(Vec::new());
        let mut esc = false;
        loop {
            let c = self.peek();
            if self.i >= self.s.len() {
                return Err(self.err(b"unterminated string"));
            }
            if c < 0x20 {
                return Err(self.err(b"control character in string"));
            }
            self.i += 1;
            if c == b'"' {
                return Ok(if esc {
                    core::mem::ManuallyDrop::into_inner(v).leak()
                } else {
                    &self.s[start..self.i - 1]
                });
            }
            if c != b'\\' {
                if esc {
                    v.push(c);
                }
                continue;
            }
            // Copy only once the first escape shows up.
            if !esc {
                esc = true;
                v.extend_from_slice(&self.s[start..self.i - 1]);
            }
            let e = self.peek();
            self.i += 1;
            // A table, not match arms: the one-letter escapes.
            if let Some(k) = b"\"\\/bfnrt".iter().position(|&x| x == e) {
                v.push(b"\"\\/\x08\x0c\n\r\t"[k]);
                continue;
            }
            match e {
                b'u' => {
                    let mut cp = self.hex4()?;
                    if (0xDC00..0xE000).contains(&cp) {
                        return Err(self.err(b"lone surrogate in \\u escape"));
                    }
                    if (0xD800..0xDC00).contains(&cp) {
                        let lo = if self.rest().starts_with(b"\\u") {
                            self.i += 2;
                            self.hex4()?
                        } else {
                            0
                        };
                        if !(0xDC00..0xE000).contains(&lo) {
                            return Err(self.err(b"lone surrogate in \\u escape"));
                        }
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    }
                    // UTF-8 of a scalar value (surrogates were paired or
                    // refused): a lead byte, then n - 1 of 6 bits each.
                    let n = 1 + (cp >= 0x80) as u32 + (cp >= 0x800) as u32 + (cp >= 0x10000) as u32;
                    v.push([0, 0, 0xc0, 0xe0, 0xf0][n as usize] | (cp >> (6 * (n - 1))) as u8);
                    for k in (0..n - 1).rev() {
                        v.push(0x80 | (cp >> (6 * k)) as u8 & 0x3f);
                    }
                }
                _ => {
                    self.i -= 1;
                    return Err(self.err(b"invalid escape"));
                }
            }
        }
    }

    fn hex4(&mut self) -> Res<u32> {
        let mut n = 0;
        for _ in 0..4 {
            match (self.peek() as char).to_digit(16) {
                Some(d) => n = n * 16 + d,
                None => return Err(self.err(b"invalid \\u escape")),
            }
            self.i += 1;
        }
        Ok(n)
    }
}

/// Parses one JSON document; anything but whitespace after it is an error.
pub fn parse(text: &[u8]) -> Res<Json> {
    let mut p = P {
        s: Vec::from(text).leak(),
        i: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.err(b"unexpected text after the value"));
    }
    Ok(v)
}

impl Json {
    /// An object member; the last of duplicate keys wins.
    pub fn get(&self, key: &[u8]) -> Option<&Json> {
        self.as_obj()?
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
    pub fn as_str(&self) -> Option<S> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// Sign and magnitude of an integer without fraction or exponent.
    fn int(&self) -> Option<(bool, u64)> {
        let Json::Num(t) = self else { return None };
        let (neg, d) = match t {
            [b'-', r @ ..] => (true, r),
            _ => (false, *t),
        };
        let mut n: u64 = 0;
        for &c in d {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n.checked_mul(10)?.checked_add((c - b'0') as u64)?;
        }
        Some((neg, n))
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self.int()? {
            (false, n) => i64::try_from(n).ok(),
            (true, n) if n <= 1 << 63 => Some(0i64.wrapping_sub(n as i64)),
            _ => None,
        }
    }
    pub fn as_u64(&self) -> Option<u64> {
        match self.int()? {
            (false, n) | (true, n @ 0) => Some(n),
            _ => None,
        }
    }
    pub fn as_arr(&self) -> Option<&[Json]> {
        match self {
            Json::Arr(a) => Some(a.0),
            _ => None,
        }
    }
    pub fn as_obj(&self) -> Option<&[(S, Json)]> {
        match self {
            Json::Obj(m) => Some(m.0),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    /// Compact JSON of the value for error messages, cut to 60 bytes.
    pub fn text(&self) -> S {
        let mut b = Buf::new();
        self.emit(&mut b);
        if b.0.len() > 60 {
            let mut n = 57;
            while b.0[n] & 0xC0 == 0x80 {
                n -= 1; // don't split a UTF-8 sequence
            }
            b.0.truncate(n);
            b.s(b"...");
        }
        b.leak()
    }

    fn emit(&self, b: &mut Buf) {
        if b.0.len() > 60 {
            return; // text() cuts here anyway
        }
        match self {
            Json::Null => b.s(b"null"),
            Json::Bool(true) => b.s(b"true"),
            Json::Bool(false) => b.s(b"false"),
            Json::Num(t) => b.s(t),
            Json::Str(s) => {
                put_str(b, s);
                b
            }
            Json::Arr(a) => {
                b.c(b'[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        b.c(b',');
                    }
                    v.emit(b);
                }
                b.c(b']')
            }
            Json::Obj(m) => {
                b.c(b'{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        b.c(b',');
                    }
                    put_str(b, k);
                    b.c(b':');
                    v.emit(b);
                }
                b.c(b'}')
            }
        };
    }
}

/// Kinds a reader can want, indexing WANT.
pub const STR: u8 = 0;
pub const BOOL: u8 = 1;
pub const INT: u8 = 2;
pub const UINT: u8 = 3;
pub const ARR: u8 = 4;
pub const OBJ: u8 = 5;
pub const U32: u8 = 6;
pub const ANY: u8 = 7;

const WANT: [&[u8]; 7] = [
    b"a string",
    b"true or false",
    b"an integer",
    b"a non-negative integer",
    b"an array",
    b"an object",
    b"a non-negative integer",
];

pub static NULL: Json = Json::Null;

/// A value and the path naming it in errors ("linux.resources").
#[derive(Clone, Copy)]
pub struct At<'a> {
    pub j: &'a Json,
    pub path: S,
}

impl<'a> At<'a> {
    /// The elements of an array (none for anything else).
    pub fn items(self) -> &'a [Json] {
        self.j.as_arr().unwrap_or(&[])
    }
    /// Element `i` of `items()`, named `path[i]`.
    #[inline(never)]
    pub fn at(self, i: usize) -> At<'a> {
        let mut b = Buf::new();
        b.s(self.path).c(b'[').u(i as u64).c(b']');
        At {
            j: &self.items()[i],
            path: b.leak(),
        }
    }
}

/// "base.key", "key" at the top or "base" for no key.
#[inline(never)]
pub fn join(base: &[u8], k: &[u8]) -> S {
    let dot: &[u8] = if base.is_empty() || k.is_empty() {
        b""
    } else {
        b"."
    };
    cat(&[base, dot, k])
}

/// Reads a document by path. The first error met is kept and reading
/// goes on as if the value were absent; `done` reports it.
pub struct Rd<'a> {
    pub err: Option<S>,
    /// Whether null counts as absent (linux.resources).
    pub nulls: bool,
    /// The last value read, its base and key: what `no` names.
    last: (&'a Json, &'a [u8], &'a [u8]),
}

impl Default for Rd<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Rd<'a> {
    pub fn new() -> Rd<'a> {
        Rd {
            err: None,
            nulls: false,
            last: (&NULL, b"", b""),
        }
    }

    /// Notes "PATH: WHY" unless an error came first.
    #[inline(never)]
    pub fn fail(&mut self, path: &[u8], why: &[u8]) {
        if self.err.is_none() {
            self.err = Some(cat(&[path, b": ", why]));
        }
    }

    /// Notes "PATH: WHY, got VALUE" for the last value read.
    #[inline(never)]
    pub fn no(&mut self, why: &[u8]) {
        let (v, base, k) = self.last;
        let path = join(base, k);
        self.fail(path, cat(&[why, b", got ", v.text()]));
    }

    /// Keeps `e` unless an error came first.
    pub fn set(&mut self, e: Error) {
        if self.err.is_none() {
            self.err = Some(e.msg());
        }
    }

    /// The result: `v`, or the first error.
    pub fn done<T>(&self, v: T) -> Res<T> {
        match self.err {
            Some(msg) => Err(Error::with(msg, 125)),
            None => Ok(v),
        }
    }

    /// `v` named `base.k` if it is of kind `t`.
    #[inline(never)]
    pub fn check(
        &mut self,
        v: Option<&'a Json>,
        base: &'a [u8],
        k: &'a [u8],
        t: u8,
    ) -> Option<&'a Json> {
        let v = v?;
        self.last = (v, base, k);
        let ok = match t {
            STR => v.as_str().is_some(),
            BOOL => v.as_bool().is_some(),
            INT => v.as_i64().is_some(),
            ARR => v.as_arr().is_some(),
            OBJ => v.as_obj().is_some(),
            ANY => true,
            _ => v.as_u64().is_some(),
        };
        if !ok {
            self.no(cat(&[b"expected ", WANT[t as usize]]));
            return None;
        }
        if t == U32 && v.as_u64()? > u32::MAX as u64 {
            self.no(b"expected a 32-bit value");
            return None;
        }
        Some(v)
    }

    /// Member `k` of `o` if of kind `t`; absent (or null, with `nulls`)
    /// is None.
    #[inline(never)]
    pub fn get(&mut self, o: At<'a>, k: &'a [u8], t: u8) -> Option<&'a Json> {
        let v = o.j.get(k).filter(|v| !(self.nulls && v.is_null()));
        self.check(v, o.path, k, t)
    }

    /// Member `k`, which must be there: absent is "missing" (or, with
    /// `nulls`, read as null).
    #[inline(never)]
    pub fn need(&mut self, o: At<'a>, k: &'a [u8], t: u8) -> Option<&'a Json> {
        let v = o.j.get(k);
        if v.is_none() && !self.nulls {
            self.fail(join(o.path, k), b"missing");
        }
        self.check(Some(v.unwrap_or(&NULL)), o.path, k, t)
    }

    /// `need` of a string; empty when it is not there.
    #[inline(never)]
    pub fn need_s(&mut self, o: At<'a>, k: &'a [u8]) -> S {
        self.need(o, k, STR).and_then(Json::as_str).unwrap_or(b"")
    }
    /// `need` of a number (INT, UINT, U32) or BOOL (1 for true); 0 when
    /// it is not there.
    #[inline(never)]
    pub fn need_n(&mut self, o: At<'a>, k: &'a [u8], t: u8) -> i64 {
        match self.need(o, k, t) {
            Some(Json::Bool(b)) => *b as i64,
            Some(v) if t == INT => v.as_i64().unwrap_or(0),
            Some(v) => v.as_u64().unwrap_or(0) as i64,
            None => 0,
        }
    }
    pub fn str(&mut self, o: At<'a>, k: &'a [u8]) -> Option<S> {
        self.get(o, k, STR)?.as_str()
    }
    pub fn bool(&mut self, o: At<'a>, k: &'a [u8]) -> Option<bool> {
        self.get(o, k, BOOL)?.as_bool()
    }
    pub fn int(&mut self, o: At<'a>, k: &'a [u8]) -> Option<i64> {
        self.get(o, k, INT)?.as_i64()
    }
    pub fn uint(&mut self, o: At<'a>, k: &'a [u8]) -> Option<u64> {
        self.get(o, k, UINT)?.as_u64()
    }
    pub fn u32(&mut self, o: At<'a>, k: &'a [u8]) -> Option<u32> {
        Some(self.get(o, k, U32)?.as_u64()? as u32)
    }

    /// Member `k` of kind `t` (OBJ, ARR, ANY) with its path.
    #[inline(never)]
    pub fn sub(&mut self, o: At<'a>, k: &'a [u8], t: u8) -> Option<At<'a>> {
        let j = self.get(o, k, t)?;
        Some(At {
            j,
            path: join(o.path, k),
        })
    }

    /// An array of strings, appended to `out`.
    #[inline(never)]
    pub fn strs(&mut self, o: At<'a>, k: &'a [u8], out: &mut Vec<S>) {
        if let Some(a) = self.sub(o, k, ARR) {
            for i in 0..a.items().len() {
                let e = a.at(i);
                if let Some(Json::Str(s)) = self.check(Some(e.j), e.path, b"", STR) {
                    out.push(s);
                }
            }
        }
    }
}

/// Appends `s` as a quoted JSON string.
pub fn put_str(b: &mut Buf, s: &[u8]) {
    b.c(b'"');
    for &c in s {
        // A table of the two-byte escapes, not match arms.
        if let Some(k) = b"\"\\\n\r\t".iter().position(|&x| x == c) {
            b.c(b'\\').c(b"\"\\nrt"[k]);
        } else if c < 0x20 {
            b.s(b"\\u00")
                .c(b'0' + (c >> 4))
                .c(b"0123456789abcdef"[(c & 15) as usize]);
        } else {
            b.c(c);
        }
    }
    b.c(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &[u8]) -> String {
        match parse(s) {
            Ok(_) => panic!("accepted {:?}", String::from_utf8_lossy(s)),
            Err(e) => String::from_utf8(e.msg().to_vec()).unwrap(),
        }
    }

    fn ok<T>(r: Res<T>) -> T {
        match r {
            Ok(v) => v,
            Err(e) => panic!("{}", String::from_utf8_lossy(e.msg())),
        }
    }

    fn s(v: &Json) -> &str {
        core::str::from_utf8(v.as_str().unwrap()).unwrap()
    }

    // `runc spec` output (runc 1.1), tabs and all.
    const RUNC_SPEC: &[u8] = b"{\n\t\"ociVersion\": \"1.0.2-dev\",\n\t\"process\": {\n\t\t\"terminal\": true,\n\t\t\"user\": {\n\t\t\t\"uid\": 0,\n\t\t\t\"gid\": 0\n\t\t},\n\t\t\"args\": [\n\t\t\t\"sh\"\n\t\t],\n\t\t\"env\": [\n\t\t\t\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\n\t\t\t\"TERM=xterm\"\n\t\t],\n\t\t\"cwd\": \"/\",\n\t\t\"capabilities\": {\n\t\t\t\"bounding\": [\n\t\t\t\t\"CAP_AUDIT_WRITE\",\n\t\t\t\t\"CAP_KILL\",\n\t\t\t\t\"CAP_NET_BIND_SERVICE\"\n\t\t\t]\n\t\t},\n\t\t\"rlimits\": [\n\t\t\t{\n\t\t\t\t\"type\": \"RLIMIT_NOFILE\",\n\t\t\t\t\"hard\": 1024,\n\t\t\t\t\"soft\": 1024\n\t\t\t}\n\t\t],\n\t\t\"noNewPrivileges\": true\n\t},\n\t\"root\": {\n\t\t\"path\": \"rootfs\",\n\t\t\"readonly\": true\n\t},\n\t\"hostname\": \"runc\",\n\t\"mounts\": [\n\t\t{\n\t\t\t\"destination\": \"/proc\",\n\t\t\t\"type\": \"proc\",\n\t\t\t\"source\": \"proc\"\n\t\t},\n\t\t{\n\t\t\t\"destination\": \"/dev\",\n\t\t\t\"type\": \"tmpfs\",\n\t\t\t\"source\": \"tmpfs\",\n\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"strictatime\",\n\t\t\t\t\"mode=755\",\n\t\t\t\t\"size=65536k\"\n\t\t\t]\n\t\t}\n\t],\n\t\"linux\": {\n\t\t\"resources\": {\n\t\t\t\"devices\": [\n\t\t\t\t{\n\t\t\t\t\t\"allow\": false,\n\t\t\t\t\t\"access\": \"rwm\"\n\t\t\t\t}\n\t\t\t]\n\t\t},\n\t\t\"namespaces\": [\n\t\t\t{\n\t\t\t\t\"type\": \"pid\"\n\t\t\t},\n\t\t\t{\n\t\t\t\t\"type\": \"mount\"\n\t\t\t}\n\t\t],\n\t\t\"maskedPaths\": [\n\t\t\t\"/proc/acpi\"\n\t\t],\n\t\t\"readonlyPaths\": [\n\t\t\t\"/proc/bus\"\n\t\t]\n\t}\n}";

    #[test]
    fn runtime_spec() {
        let v = ok(parse(RUNC_SPEC));
        assert_eq!(s(v.get(b"ociVersion").unwrap()), "1.0.2-dev");
        let p = v.get(b"process").unwrap();
        assert_eq!(p.get(b"terminal").unwrap().as_bool(), Some(true));
        assert_eq!(
            p.get(b"user").unwrap().get(b"uid").unwrap().as_u64(),
            Some(0)
        );
        let env = p.get(b"env").unwrap().as_arr().unwrap();
        assert_eq!(env.len(), 2);
        assert_eq!(s(&env[1]), "TERM=xterm");
        let rl = &p.get(b"rlimits").unwrap().as_arr().unwrap()[0];
        assert_eq!(rl.get(b"hard").unwrap().as_i64(), Some(1024));
        let m = v.get(b"mounts").unwrap().as_arr().unwrap();
        assert_eq!(
            s(&m[1].get(b"options").unwrap().as_arr().unwrap()[3]),
            "size=65536k"
        );
        let linux = v.get(b"linux").unwrap();
        assert_eq!(linux.as_obj().unwrap().len(), 4);
        let dev = &linux
            .get(b"resources")
            .unwrap()
            .get(b"devices")
            .unwrap()
            .as_arr()
            .unwrap()[0];
        assert_eq!(dev.get(b"allow").unwrap().as_bool(), Some(false));
        assert!(v.get(b"missing").is_none());
        assert!(env[0].get(b"x").is_none());
    }

    #[test]
    fn live_runc_spec() {
        // The real thing, when runc is installed.
        let dir = std::env::temp_dir().join(format!("thinbox-json-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ran = std::process::Command::new("runc")
            .arg("spec")
            .current_dir(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if ran {
            let text = std::fs::read(dir.join("config.json")).unwrap();
            let v = ok(parse(&text));
            let args = v.get(b"process").unwrap().get(b"args").unwrap();
            assert_eq!(s(&args.as_arr().unwrap()[0]), "sh");
            assert_eq!(
                v.get(b"root").unwrap().get(b"readonly").unwrap().as_bool(),
                Some(true)
            );
            let masked = v.get(b"linux").unwrap().get(b"maskedPaths").unwrap();
            assert!(masked.as_arr().unwrap().len() > 3);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn escapes() {
        let v = ok(parse(
            br#""a\"b\\c\/d\be\ff\ng\rh\ti\u0041\u00e9\u20ac\ud83d\ude00\u0000""#,
        ));
        assert_eq!(
            v.as_str().unwrap(),
            "a\"b\\c/d\x08e\x0cf\ng\rh\tiA\u{e9}\u{20ac}\u{1f600}\0".as_bytes()
        );
        // Raw UTF-8 passes through; no escapes means no copy.
        let v = ok(parse("[\"h\u{e9}llo\"]".as_bytes()));
        assert_eq!(
            v.as_arr().unwrap()[0].as_str().unwrap(),
            "h\u{e9}llo".as_bytes()
        );
        // Uppercase hex digits.
        assert_eq!(
            ok(parse(br#""\u00E9""#)).as_str().unwrap(),
            "\u{e9}".as_bytes()
        );
    }

    #[test]
    fn scalars() {
        let v = ok(parse(
            b" [null, true, false, 0, -0, 12, -3.5e+10, 1E5, 0.25] ",
        ));
        let a = v.as_arr().unwrap();
        assert!(a[0].is_null() && !a[1].is_null());
        assert_eq!((a[1].as_bool(), a[2].as_bool()), (Some(true), Some(false)));
        assert_eq!(a[3].as_u64(), Some(0));
        assert_eq!(a[4].as_u64(), Some(0));
        assert_eq!(a[5].as_i64(), Some(12));
        assert_eq!(a[6].as_i64(), None);
        assert!(matches!(a[6], Json::Num(b"-3.5e+10")));
        assert_eq!(a[7].as_u64(), None);
        assert_eq!(a[8].as_i64(), None);
        let n = |t: &[u8]| ok(parse(t));
        assert_eq!(n(b"-9223372036854775808").as_i64(), Some(i64::MIN));
        assert_eq!(n(b"9223372036854775807").as_i64(), Some(i64::MAX));
        assert_eq!(n(b"9223372036854775808").as_i64(), None);
        assert_eq!(n(b"-9223372036854775809").as_i64(), None);
        assert_eq!(n(b"18446744073709551615").as_u64(), Some(u64::MAX));
        assert_eq!(n(b"18446744073709551616").as_u64(), None);
        assert_eq!(n(b"-1").as_u64(), None);
        assert_eq!(n(b"-1").as_i64(), Some(-1));
        assert_eq!(n(b"\"1\"").as_i64(), None);
        assert!(n(b"{}").as_obj().unwrap().is_empty());
        assert!(n(b"[]").as_arr().unwrap().is_empty());
    }

    #[test]
    fn duplicate_keys_last_wins() {
        let v = ok(parse(br#"{"a": 1, "b": 2, "a": 3}"#));
        assert_eq!(v.get(b"a").unwrap().as_i64(), Some(3));
        assert_eq!(v.as_obj().unwrap().len(), 3);
    }

    #[test]
    fn malformed() {
        assert_eq!(
            err(b"{\n  \"a\": 1,\n  \"b\": 2\n  \"c\": 3\n}"),
            "invalid JSON at line 4, column 3: expected ',' or '}'"
        );
        assert_eq!(
            err(b"[1,2,]"),
            "invalid JSON at line 1, column 6: expected a value"
        );
        assert_eq!(
            err(b"{\"a\":1,}"),
            "invalid JSON at line 1, column 8: expected a string key"
        );
        assert_eq!(
            err(b"[1 2]"),
            "invalid JSON at line 1, column 4: expected ',' or ']'"
        );
        assert_eq!(
            err(b"{\"a\" 1}"),
            "invalid JSON at line 1, column 6: expected ':'"
        );
        assert_eq!(
            err(b"\"abc"),
            "invalid JSON at line 1, column 5: unterminated string"
        );
        assert_eq!(
            err(b"[\"a\\"),
            "invalid JSON at line 1, column 5: invalid escape"
        );
        assert_eq!(
            err(br#""a\x""#),
            "invalid JSON at line 1, column 4: invalid escape"
        );
        assert_eq!(
            err(br#""\u12G4""#),
            "invalid JSON at line 1, column 6: invalid \\u escape"
        );
        assert_eq!(
            err(b"\"a\tb\""),
            "invalid JSON at line 1, column 3: control character in string"
        );
        assert_eq!(
            err(b"012"),
            "invalid JSON at line 1, column 4: invalid number"
        );
        assert_eq!(
            err(b"-"),
            "invalid JSON at line 1, column 2: invalid number"
        );
        assert_eq!(
            err(b"1."),
            "invalid JSON at line 1, column 3: invalid number"
        );
        assert_eq!(
            err(b"1e"),
            "invalid JSON at line 1, column 3: invalid number"
        );
        assert_eq!(
            err(b"+1"),
            "invalid JSON at line 1, column 1: expected a value"
        );
        assert_eq!(
            err(b".5"),
            "invalid JSON at line 1, column 1: expected a value"
        );
        assert!(err(br#""\ud800""#).ends_with("lone surrogate in \\u escape"));
        assert!(err(br#""\ud800\u0041""#).ends_with("lone surrogate in \\u escape"));
        assert!(err(br#""\udc00""#).ends_with("lone surrogate in \\u escape"));
        assert_eq!(
            err(b"{} x"),
            "invalid JSON at line 1, column 4: unexpected text after the value"
        );
        assert_eq!(
            err(b"[1]]"),
            "invalid JSON at line 1, column 4: unexpected text after the value"
        );
        assert_eq!(
            err(b""),
            "invalid JSON at line 1, column 1: expected a value"
        );
        assert_eq!(
            err(b"  \n "),
            "invalid JSON at line 2, column 2: expected a value"
        );
        assert_eq!(
            err(b"nul"),
            "invalid JSON at line 1, column 1: expected a value"
        );
        assert_eq!(
            err(b"[tru]"),
            "invalid JSON at line 1, column 2: expected a value"
        );
        assert_eq!(
            err(b"{\"a\":1"),
            "invalid JSON at line 1, column 7: expected ',' or '}'"
        );
        assert!(err(b"\"a\"\0").ends_with("unexpected text after the value"));
    }

    #[test]
    fn nesting_limit() {
        let nest = |n: usize| [b"[".repeat(n), b"]".repeat(n)].concat();
        assert!(parse(&nest(64)).is_ok());
        let deep = nest(65);
        assert_eq!(
            err(&deep),
            "invalid JSON at line 1, column 65: nesting deeper than 64 levels"
        );
        let objs = b"{\"a\":".repeat(100);
        assert!(err(&objs).ends_with("nesting deeper than 64 levels"));
    }

    #[test]
    fn reader_errors() {
        let v: &'static Json = Box::leak(Box::new(ok(parse(
            br#"{"limit": "1G", "n": -5, "f": 1.5, "b": 1, "s": 2, "a": {}, "o": [1,"x",null], "big": 4294967296, "z": null}"#,
        ))));
        let at = At {
            j: v,
            path: b"linux.resources.memory",
        };
        let first = |f: &dyn Fn(&mut Rd<'static>) -> bool| {
            let mut r = Rd::new();
            assert!(f(&mut r));
            r.err.map(|e| String::from_utf8(e.to_vec()).unwrap())
        };
        let e = |f: &dyn Fn(&mut Rd<'static>) -> bool| first(f).expect("no error");
        assert_eq!(
            e(&|r| r.int(at, b"limit").is_none()),
            "linux.resources.memory.limit: expected an integer, got \"1G\""
        );
        assert_eq!(first(&|r| r.int(at, b"n") == Some(-5)), None);
        assert_eq!(
            e(&|r| r.uint(at, b"n").is_none()),
            "linux.resources.memory.n: expected a non-negative integer, got -5"
        );
        assert_eq!(
            e(&|r| r.int(at, b"f").is_none()),
            "linux.resources.memory.f: expected an integer, got 1.5"
        );
        let top = At { j: v, path: b"" };
        assert_eq!(
            e(&|r| r.bool(top, b"b").is_none()),
            "b: expected true or false, got 1"
        );
        assert_eq!(
            e(&|r| r.str(top, b"s").is_none()),
            "s: expected a string, got 2"
        );
        assert_eq!(
            e(&|r| r.sub(top, b"a", ARR).is_none()),
            "a: expected an array, got {}"
        );
        assert_eq!(
            e(&|r| r.sub(top, b"o", OBJ).is_none()),
            "o: expected an object, got [1,\"x\",null]"
        );
        assert_eq!(
            e(&|r| r.u32(top, b"big").is_none()),
            "big: expected a 32-bit value, got 4294967296"
        );
        assert_eq!(
            e(&|r| {
                let mut v = Vec::new();
                r.strs(top, b"o", &mut v);
                v == [&b"x"[..]]
            }),
            "o[0]: expected a string, got 1"
        );
        assert_eq!(e(&|r| r.need(top, b"gone", INT).is_none()), "gone: missing");
        // Null is a wrong type, or with `nulls` absent; needed, it is read
        // as null.
        assert_eq!(
            e(&|r| r.int(top, b"z").is_none()),
            "z: expected an integer, got null"
        );
        assert_eq!(
            first(&|r| {
                r.nulls = true;
                r.int(top, b"z").is_none()
            }),
            None
        );
        assert_eq!(
            e(&|r| {
                r.nulls = true;
                r.need(top, b"gone", INT).is_none()
            }),
            "gone: expected an integer, got null"
        );
        // The first error is kept; `no` names the last value read.
        assert_eq!(
            e(&|r| {
                r.int(top, b"limit");
                r.str(top, b"s");
                r.int(top, b"n").is_some()
            }),
            "limit: expected an integer, got \"1G\""
        );
        assert_eq!(
            e(&|r| {
                r.int(top, b"n");
                r.no(b"must be positive");
                true
            }),
            "n: must be positive, got -5"
        );
        let mut r = Rd::new();
        assert_eq!(r.u32(top, b"n"), None);
        assert_eq!(
            r.done(1).err().map(|e| e.msg()),
            Some(&b"n: expected a non-negative integer, got -5"[..])
        );
        assert_eq!(Rd::new().done(7).ok(), Some(7));
    }

    #[test]
    fn text_round_trip_and_truncation() {
        let src = br#"{"a":[1,true,null,"q\"\n\u0001"],"b":{}}"#;
        let v = ok(parse(src));
        assert_eq!(v.text(), br#"{"a":[1,true,null,"q\"\n\u0001"],"b":{}}"#);
        assert_eq!(ok(parse(v.text())).text(), v.text());
        let long = ok(parse(&[b"\"", &b"x".repeat(200)[..], b"\""].concat()));
        let t = long.text();
        assert_eq!(t.len(), 60);
        assert!(t.starts_with(b"\"xxx") && t.ends_with(b"x..."));
        // Never cuts inside a UTF-8 sequence.
        let e = ok(parse("\"\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\"".as_bytes()));
        let t = e.text();
        assert!(core::str::from_utf8(t).is_ok() && t.ends_with(b"...") && t.len() <= 60);
        let big = ok(parse(
            &[b"[", &b"123456789,".repeat(1000)[..], b"0]"].concat(),
        ));
        assert_eq!(big.text().len(), 60);
    }

    #[test]
    fn put_str_escapes() {
        let mut b = Buf::new();
        put_str(&mut b, b"a\"b\\c\nd\te\r\x01\x1f\x7f\xc3\xa9/");
        assert_eq!(
            b.as_slice(),
            b"\"a\\\"b\\\\c\\nd\\te\\r\\u0001\\u001f\x7f\xc3\xa9/\""
        );
        let v = ok(parse(b.as_slice()));
        assert_eq!(v.as_str().unwrap(), b"a\"b\\c\nd\te\r\x01\x1f\x7f\xc3\xa9/");
    }
}
