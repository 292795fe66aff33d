//! AppArmor: OCI `process.apparmorProfile`, entered at the container's execve.

use crate::rt::{self, Error, Res, cat};
use crate::sys;

pub fn enabled() -> bool {
    rt::read_file(b"/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.first() == Some(&b'Y'))
}

/// Makes the next execve enter `profile`, as runc does: through the
/// AppArmor attr directory (5.8+), else the shared LSM one.
pub fn exec_into(profile: &[u8]) -> Res<()> {
    let msg = cat(&[b"exec ", profile]);
    let r = match rt::write_file(b"/proc/thread-self/attr/apparmor/exec", msg) {
        Err(sys::ENOENT) if sys::stat(b"/proc/thread-self/attr/apparmor").is_err() => {
            rt::write_file(b"/proc/thread-self/attr/exec", msg)
        }
        r => r,
    };
    r.map_err(|e| {
        Error::sys2(b"AppArmor profile ", profile, e)
            .hint(b"load it first (apparmor_parser -r FILE)")
    })
}
