//! `thinbox rm [-f] NAME...`: removes a stopped container's state and
//! cgroup; `-f` kills a running one first.

use super::fail;
use crate::rt::{self, S};
use crate::state;
use core::mem::ManuallyDrop;

pub fn main(args: &[S]) -> i32 {
    let (force, names) = match args.split_first() {
        Some((a, rest)) if rt::pick(b"-f --force", a).is_some() => (true, rest),
        _ => (false, args),
    };
    if names.is_empty() {
        return fail(super::usage_error(b"rm"));
    }
    let root = state::root(None);
    let mut code = 0;
    for id in names {
        // Never dropped: rm's process ends soon, and no path needs drop code.
        let st = match state::load(root, id) {
            Ok(st) => ManuallyDrop::new(st),
            Err(e) => {
                code = fail(e);
                continue;
            }
        };
        let running = state::live(&st, false) || state::live(&st, true);
        if running && !force {
            // The hint folded into the reason: one literal, no hint call.
            code = fail(crate::container::err(
                id,
                b"is running; stop it first, or use rm -f",
            ));
            continue;
        }
        if running {
            super::stop::stop(root, id, &st, 0);
        }
        if let Some(cg) = st.get(b"cgroup") {
            ManuallyDrop::new(crate::cgroup::Cgroup {
                path: cg,
                fd: None,
                v1: alloc::vec::Vec::new(),
            })
            .remove();
        }
        crate::image::remove_layer(&st);
        state::remove_dir(root, id);
    }
    code
}
