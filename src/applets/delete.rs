//! `thinbox delete [--force] ID`: removes a stopped (or, forced, any)
//! container: process, cgroups, state, then poststop hooks.

use super::{Opts, fail};
use crate::container;
use crate::rt::{Res, S, cat};
use crate::state;
use core::mem::ManuallyDrop;

pub fn main(args: &[S]) -> i32 {
    match delete(args) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

fn delete(args: &[S]) -> Res<()> {
    let mut force = false;
    let mut o = Opts::new(args);
    while let Some(flag) = o.next_flag() {
        match crate::rt::pick(b"-f --force", flag) {
            Some(_) => force = true,
            _ => return Err(super::unknown_flag(b"delete", flag, b"")),
        }
    }
    let [id] = o.rest() else {
        return Err(super::usage_error(b"delete"));
    };
    let root = state::root(None);
    // Never dropped (the arena frees only its newest block).
    let st = ManuallyDrop::new(match state::load(root, id) {
        Ok(st) => st,
        Err(_) if force && crate::sys::lstat(state::dir(root, id)).is_ok() => Default::default(),
        Err(_) if force => return Ok(()),
        Err(e) => return Err(e),
    });
    let status = container::status(root, id, &st);
    if !force && status != b"stopped" {
        return Err(container::err(
            id,
            cat(&[b"is ", status, b"; stop it first or use delete --force"]),
        ));
    }
    container::destroy(root, id, &st);
    Ok(())
}
