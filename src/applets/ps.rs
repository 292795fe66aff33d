//! `thinbox ps [-a] [--format json]`: detached containers, their status
//! checked against /proc, uptime, and memory from memory.current.

use super::{Opts, fail};
use crate::json_out;
use crate::rt::{self, Buf, Error, Res, S, cat};
use crate::state;
use crate::supervise;
use core::mem::ManuallyDrop;

/// `n` in the largest unit it reaches, one decimal below 10: "1.5M".
pub fn human(b: &mut Buf, n: u64, units: &[(u64, u8)]) {
    for &(size, unit) in units {
        if n >= size {
            b.u(n / size);
            if n < 10 * size {
                b.c(b'.').u(n % size * 10 / size);
            }
            b.c(unit);
            return;
        }
    }
    b.u(n);
}

/// The columns: JSON keys, and the table's widths (the last is unpadded).
const COLS: &[u8] = b"name pid status uptime memory image command";
const WIDTHS: [u8; 6] = [20, 9, 14, 9, 9, 21];

pub const BYTES: [(u64, u8); 3] = [(1 << 30, b'G'), (1 << 20, b'M'), (1 << 10, b'K')];

fn uptime(b: &mut Buf, secs: u64) {
    human(
        b,
        secs,
        &[(86400, b'd'), (3600, b'h'), (60, b'm'), (1, b's')],
    );
    if secs == 0 {
        b.c(b's');
    }
}

pub fn main(args: &[S]) -> i32 {
    match ps(args) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

fn ps(args: &[S]) -> Res<()> {
    let (mut all, mut json) = (false, false);
    let mut o = Opts::new(args);
    let usage = super::usage_line(b"ps");
    while let Some((i, _, v)) = o.flag(b"a.all -:format", usage)? {
        if i == 0 {
            all = true;
        } else {
            json = rt::pick(b"table json", v)
                .ok_or_else(|| Error::new(b"ps --format", b"must be table or json"))?
                == 1;
        }
    }
    let root = state::root(None);
    // Both listings: a JSON array, or a table under its header; the one
    // buffer is written out at the end and leaked (ps exits right after).
    let mut b = Buf::new();
    let rest = o.rest();
    b.s(match (json, rest) {
        (true, _) => b"[",
        (false, []) => HEAD,
        _ => b"PID      CMD\n",
    });
    match rest {
        [id, ..] => processes(&mut b, root, id, json)?,
        [] => containers(&mut b, root, all, json),
    }
    if json {
        b.s(b"]\n");
    }
    rt::out(b.leak());
    Ok(())
}

const HEAD: &[u8] =
    b"NAME                PID      STATUS        UPTIME   MEMORY   IMAGE                COMMAND\n";

/// Past the "[", an element is already there.
#[inline(always)]
fn comma(b: &mut Buf) {
    if b.0.len() > 1 {
        b.c(b',');
    }
}

/// `ps`: the detached containers, one row or object each.
fn containers(b: &mut Buf, root: S, all: bool, json: bool) {
    let now = crate::sys::wall_time().0;
    // Nothing here is dropped: ps exits right after, and no drop code.
    for &id in state::list(root).leak().iter() {
        let Ok(st) = state::load(root, id) else {
            continue;
        };
        let st = ManuallyDrop::new(st);
        let status = supervise::status(&st);
        let k = rt::pick(b"running restarting starting paused", status);
        let live = k == Some(0) || k == Some(3);
        if !all && k.is_none() {
            continue;
        }
        let mut pid = Buf::new();
        match st.num(b"pid") {
            Some(p) if live => pid.u(p),
            // Live implies a pid, so JSON always gets a number.
            _ => pid.c(if json { b'0' } else { b'-' }),
        };
        let mut up = Buf::new();
        match st.num(b"started") {
            Some(t) if live => uptime(&mut up, now.saturating_sub(t)),
            _ => {
                up.c(b'-');
            }
        }
        let mut mem = Buf::new();
        let current = st
            .get(b"cgroup")
            .filter(|_| live)
            .and_then(|cg| rt::parse_u64(rt::trim(read_in(&[cg, b"/memory.current"]))));
        match (current, json) {
            (Some(n), false) => human(&mut mem, n, &BYTES),
            (Some(n), true) => {
                mem.u(n);
            }
            (None, _) => {
                mem.s(if json { b"null" } else { b"-" });
            }
        }
        let mut cmd = Buf::new();
        for a in super::run::command(st.all(b"argv").leak()) {
            cmd.s(a).c(b' ');
        }
        cmd.0.pop();
        let image = st.get(b"image").unwrap_or(b"-");
        // One loop over the columns for both formats: JSON keys, table widths.
        // Leaked: ps exits right after, and no drops to run.
        let vals: [&[u8]; 7] = [
            id,
            pid.leak(),
            status,
            up.leak(),
            mem.leak(),
            image,
            cmd.leak(),
        ];
        if json {
            comma(b);
        }
        let mut keys = rt::split(COLS, b' ');
        for (i, v) in vals.iter().enumerate() {
            let k = keys.next().unwrap_or_default();
            if json {
                b.c(if i == 0 { b'{' } else { b',' }).c(b'"').s(k).s(b"\":");
                // pid and memory are numbers (or null).
                if i == 1 || i == 4 {
                    b.s(v);
                } else {
                    json_out::put_str(b, v);
                }
            } else if let Some(&w) = WIDTHS.get(i) {
                b.pad(v, w as usize);
            } else {
                b.s(v);
            }
        }
        b.c(if json { b'}' } else { b'\n' });
    }
}

/// The file the parts name, empty if unreadable; leaked, as all here.
fn read_in(path: &[&[u8]]) -> &'static mut [u8] {
    rt::read_file(cat(path)).unwrap_or_default().leak()
}

/// OCI `ps ID`: the processes in a container's cgroup.
fn processes(b: &mut Buf, root: &[u8], id: &[u8], json: bool) -> Res<()> {
    // Leaked, as all here: no drop code.
    let st = ManuallyDrop::new(state::load(root, id)?);
    // The cgroup's pids, else the recorded one.
    let procs = match st.all(b"cgroup").leak().first() {
        Some(cg) => read_in(&[cg, b"/cgroup.procs"]),
        None => st.get(b"pid").unwrap_or_default(),
    };
    for p in rt::split(procs, b'\n').filter_map(rt::parse_u64) {
        let mut n = Buf::new();
        n.u(p);
        if json {
            comma(b);
            b.s(&n.0);
        } else {
            let cmd = read_in(&[b"/proc/", &n.0, b"/cmdline"]);
            for ch in cmd.iter_mut() {
                if *ch == 0 {
                    *ch = b' ';
                }
            }
            b.pad(&n.0, 9).s(rt::trim(cmd)).c(b'\n');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn human() {
        let h = |n, units: &[(u64, u8)]| {
            let mut b = crate::rt::Buf::new();
            super::human(&mut b, n, units);
            b.0
        };
        assert_eq!(h(500, &super::BYTES), b"500");
        assert_eq!(h(1536, &super::BYTES), b"1.5K");
        assert_eq!(h(10 << 10, &super::BYTES), b"10K");
        assert_eq!(h((1 << 30) + (1 << 29), &super::BYTES), b"1.5G");
        assert_eq!(h(123 << 20, &super::BYTES), b"123M");
        let mut b = crate::rt::Buf::new();
        super::uptime(&mut b, 0);
        super::uptime(&mut b.c(b' '), 90);
        super::uptime(&mut b.c(b' '), 7200);
        assert_eq!(b.0, b"0s 1.5m 2.0h");
    }
}
