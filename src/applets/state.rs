//! `thinbox state ID`: the runtime-spec state JSON.

use super::fail;
use crate::container;
use crate::rt::{self, S};
use crate::state;

pub fn main(args: &[S]) -> i32 {
    let [id] = args else {
        return fail(super::usage_error(b"state"));
    };
    let root = state::root(None);
    match state::load(root, id) {
        Ok(st) => {
            let status = container::status(root, id, &st);
            let b = container::bundle_of(root, id, &st);
            let mut js = container::state_json(id, &st, status, b.as_ref());
            js.push(b'\n');
            rt::out(&js);
            0
        }
        Err(e) => fail(e),
    }
}
