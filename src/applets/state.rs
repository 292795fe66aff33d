//! `thinbox state ID`: the runtime-spec state JSON.

use super::fail;
use crate::container;
use crate::rt::{self, S};
use crate::state;
use core::mem::ManuallyDrop;

pub fn main(args: &[S]) -> i32 {
    let [id] = args else {
        return fail(super::usage_error(b"state"));
    };
    let root = state::root(None);
    match state::load(root, id) {
        Ok(st) => {
            // Never dropped (the arena frees only its newest block).
            let st = ManuallyDrop::new(st);
            let status = container::status(root, id, &st);
            let b = ManuallyDrop::new(container::bundle_of(root, id, &st));
            let mut js = ManuallyDrop::new(container::state_json(id, &st, status, b.as_ref()));
            js.push(b'\n');
            rt::out(&js);
            0
        }
        Err(e) => fail(e),
    }
}
