//! `thinbox rmi [--data-root DIR] NAME...`: removes images, their archive
//! and unpacked copies; refused while a container uses one.

use super::fail;
use crate::image;
use crate::rt::S;

pub fn main(args: &[S]) -> i32 {
    let (root, names) = match image::args(args, 1, usize::MAX, super::usage_line(b"rmi")) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let mut code = 0;
    for n in names {
        if let Err(e) = image::remove(root, n) {
            code = fail(e);
        }
    }
    code
}
