//! `thinbox import [--data-root DIR] FILE NAME`: copies a root filesystem
//! tarball (gzip or not) into the store as NAME and unpacks it, so that a
//! bad archive is refused here and the first run starts at once.

use super::fail;
use crate::image;
use crate::rt::{self, Buf, Ctx, Res, S, cat};
use crate::sys;

pub fn main(args: &[S]) -> i32 {
    match import(args) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

fn import(args: &[S]) -> Res<()> {
    let (root, ops) = image::args(args, 2, 2, super::usage_line(b"import"))?;
    // args has checked that there are two.
    let &[file, name] = ops else { return Ok(()) };
    image::check_name(name)?;
    if image::archive(root, name).is_some() {
        let hint = cat(&[b"remove it first with 'thinbox rmi ", name, b"'"]);
        return Err(image::err(name, b"already exists", hint));
    }
    // Short-lived: the fds close at exit, so no return drops them.
    let src = sys::open(file, sys::O_RDONLY, 0).ctx(file)?.leak();
    let dir = cat(&[root, b"/images"]);
    crate::rootfs::mkdir_all(dir, 0o755).ctx(dir)?;
    let mut t = Buf::new();
    t.s(dir).s(b"/.import.").u(sys::getpid() as u64).s(b".tar");
    let tmp = t.leak();
    let r = (|| {
        let flags = sys::O_WRONLY | sys::O_CREAT | sys::O_TRUNC;
        let out = sys::open(tmp, flags, 0o644).ctx(tmp)?.leak();
        while sys::sendfile(out, src, 1 << 20).ctx(file)? > 0 {}
        let (d, gz) = image::unpack(root, name, tmp)?;
        let ext: &[u8] = if gz { b".tar.gz" } else { b".tar" };
        let fin = cat(&[dir, b"/", name, ext]);
        sys::rename(tmp, fin).ctx(fin)?;
        rt::out(cat(&[name, b" sha256:", &d[d.len() - 64..], b"\n"]));
        Ok(())
    })();
    if r.is_err() {
        let _ = sys::unlink(tmp);
    }
    r
}
