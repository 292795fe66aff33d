//! thinbox: a container runtime and container init in one static binary.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
#![forbid(unsafe_op_in_unsafe_fn)]
#![allow(clippy::needless_range_loop)]

extern crate alloc;

pub mod sys;
#[macro_use]
pub mod rt;
pub mod apparmor;
pub mod applets;
pub mod caps;
pub mod cgroup;
pub mod container;
pub mod gzip;
pub mod hooks;
pub mod image;
pub mod json;
pub mod json_out;
pub mod oci;
pub mod oci_res;
pub mod rootfs;
pub mod seccomp;
pub mod sha256;
pub mod spawn;
pub mod spec;
pub mod state;
pub mod supervise;
pub mod tar;
pub mod tty;

#[cfg(not(test))]
#[global_allocator]
static ALLOC: sys::Arena = sys::Arena::new();

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    rt::err(b"thinbox: internal error\n");
    sys::exit(70)
}

/// Dispatches busybox-style: on argv[0]'s base name, else on argv[1].
pub fn main() -> i32 {
    let args = rt::args();
    let argv0: &[u8] = args.first().copied().unwrap_or(b"thinbox");
    let base = argv0.rsplit(|&c| c == b'/').next().unwrap_or(argv0);
    if let Some(code) = applets::dispatch(base, &args[1..]) {
        return code;
    }
    // runc's global flags come before the command. Built here and set
    // once, at the one exit of the loop: no copy in from GLOBALS, one out.
    let mut g = rt::Globals {
        root: None,
        log: None,
        log_json: false,
    };
    let mut i = 1;
    let name = loop {
        let Some(&a) = args.get(i) else { break None };
        let (flag, inline) = match a.iter().position(|&c| c == b'=') {
            Some(p) if a.starts_with(b"--") => (&a[..p], Some(&a[p + 1..])),
            _ => (a, None),
        };
        let Some(k) = rt::pick(
            b"--root --log --log-format --criu --rootless --debug --systemd-cgroup",
            flag,
        ) else {
            break Some(a);
        };
        let v = if k < 5 {
            match inline.or_else(|| {
                i += 1;
                args.get(i).copied()
            }) {
                Some(v) => v,
                None => return applets::fail(rt::Error::new(flag, b"needs a value")),
            }
        } else {
            b""
        };
        match k {
            0 => g.root = Some(v),
            1 => g.log = Some(v),
            2 => g.log_json = v == b"json",
            6 => {
                return applets::fail(rt::Error::new(
                    b"--systemd-cgroup",
                    b"the systemd cgroup driver is not supported; use cgroupfs (SystemdCgroup = false in containerd)",
                ));
            }
            _ => {}
        }
        i += 1;
    };
    rt::set_globals(g);
    match name {
        Some(name) => match applets::dispatch(name, &args[i + 1..]) {
            Some(code) => code,
            None => {
                rt::err(rt::cat(&[
                    b"thinbox: unknown command '",
                    name,
                    b"'; see 'thinbox --help'\n",
                ]));
                2
            }
        },
        None => {
            applets::usage();
            2
        }
    }
}
