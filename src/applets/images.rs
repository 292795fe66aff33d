//! `thinbox images [--data-root DIR]`: each image with its archive's size
//! and whether it is unpacked (for the archive as it is now).

use super::fail;
use crate::image;
use crate::rt::{self, Buf, S, cat};

pub fn main(args: &[S]) -> i32 {
    let root = match image::args(args, 0, 0, super::usage_line(b"images")) {
        Ok((r, _)) => r,
        Err(e) => return fail(e),
    };
    let mut b = Buf::new();
    b.s(b"NAME                          SIZE      UNPACKED\n");
    for &f in image::names(cat(&[root, b"/images"])).leak().iter() {
        let Some(name) = image::EXTS.iter().rev().find_map(|e| f.strip_suffix(*e)) else {
            continue;
        };
        if image::check_name(name).is_err() {
            continue;
        }
        let Some((_, st)) = image::archive(root, name).filter(|(p, _)| p.ends_with(f)) else {
            continue;
        };
        let mut size = Buf::new();
        let n = st.st_size as u64;
        super::ps::human(&mut size, n, &super::ps::BYTES);
        let done = image::unpacked(root, name, &st).is_some();
        b.pad(name, 30)
            .pad(size.leak(), 10)
            .s(if done { b"yes\n" } else { b"no\n" });
    }
    rt::out(b.leak());
    0
}
