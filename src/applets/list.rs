//! `thinbox list [--format table|json]`: every container
//! under the state root with its OCI status.

use super::{Opts, fail};
use crate::container;
use crate::rt::{self, Buf, Error, S};
use crate::state;
use core::mem::ManuallyDrop;

pub fn main(args: &[S]) -> i32 {
    let mut as_json = false;
    let mut quiet = false;
    let mut o = Opts::new(args);
    while let Some(flag) = o.next_flag() {
        match rt::pick(b"-f --format -q --quiet", flag) {
            Some(0 | 1) => match o.value(flag).map(|v| rt::pick(b"table json", v)) {
                Ok(Some(n)) => as_json |= n == 1,
                _ => return fail(Error::new(b"--format", b"use table or json")),
            },
            Some(_) => quiet = true,
            _ => return fail(super::unknown_flag(b"list", flag, b"")),
        }
    }
    let root = state::root(None);
    let mut b = ManuallyDrop::new(Buf::new());
    if as_json {
        b.c(b'[');
    } else if !quiet {
        b.s(b"ID                  PID         STATUS      BUNDLE\n");
    }
    // Nothing here is dropped (the arena frees only its newest block).
    let ids = ManuallyDrop::new(state::list(root));
    for id in ids.iter() {
        let Ok(st) = state::load(root, id) else {
            continue;
        };
        let st = ManuallyDrop::new(st);
        let status = container::status(root, id, &st);
        if as_json {
            // After an object, not after an index: unreadable states are skipped.
            if b.as_slice().len() > 1 {
                b.c(b',');
            }
            let bundle = ManuallyDrop::new(container::bundle_of(root, id, &st));
            b.s(&ManuallyDrop::new(container::state_json(
                id,
                &st,
                status,
                bundle.as_ref(),
            )));
        } else if quiet {
            b.s(id).c(b'\n');
        } else {
            let mut pid = ManuallyDrop::new(Buf::new());
            pid.u(container::pid(&st, status));
            b.pad(id, 20)
                .pad(pid.as_slice(), 12)
                .pad(status, 12)
                .s(st.get(b"bundle").unwrap_or(b"-"))
                .c(b'\n');
        }
    }
    if as_json {
        b.s(b"]\n");
    }
    rt::out(b.as_slice());
    0
}
