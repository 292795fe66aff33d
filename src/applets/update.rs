//! `thinbox update --resources FILE|- ID`: new limits for a live container.

use super::{Opts, fail};
use crate::container;
use crate::json;
use crate::rt::{self, Error, Res, S};
use crate::spec::Resources;
use crate::state;
use core::mem::ManuallyDrop;

pub fn main(args: &[S]) -> i32 {
    match update(args) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

fn update(args: &[S]) -> Res<()> {
    let mut file = None;
    let mut o = Opts::new(args);
    while let Some(flag) = o.next_flag() {
        match rt::pick(b"-r --resources", flag) {
            Some(_) => file = Some(o.value(flag)?),
            _ => {
                return Err(super::unknown_flag(
                    b"update",
                    flag,
                    b"use --resources FILE|-",
                ));
            }
        }
    }
    let ([id], Some(file)) = (o.rest(), file) else {
        return Err(super::usage_error(b"update"));
    };
    // Never dropped (the arena frees only its newest block; cgroup_of's
    // Cgroup holds no fd): no return has to drop them.
    let text = ManuallyDrop::new(
        if file == b"-" {
            rt::read_fd(0)
        } else {
            rt::read_file(file)
        }
        .map_err(|e| Error::sys(file, e))?,
    );
    let j = ManuallyDrop::new(json::parse(&text).map_err(|e| Error::new(file, e.msg()))?);
    let mut res = ManuallyDrop::new(Resources::default());
    crate::oci_res::parse(&mut res, &j)?;
    let root = state::root(None);
    let st = ManuallyDrop::new(state::load(root, id)?);
    let cg = ManuallyDrop::new(
        container::cgroup_of(&st).ok_or_else(|| container::err(id, b"has no cgroup"))?,
    );
    container::write_resources(&cg, &res)
}
