//! thinbox: a container runtime and container init in one static binary.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
#![forbid(unsafe_op_in_unsafe_fn)]
#![allow(clippy::needless_range_loop)]

extern crate alloc;

pub mod sys;
#[macro_use]
pub mod rt;
pub mod applets;
pub mod caps;
pub mod cgroup;
pub mod json_out;
pub mod rootfs;
pub mod spawn;
pub mod spec;
pub mod state;
pub mod supervise;
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
    match args.get(1) {
        Some(name) => match applets::dispatch(name, &args[2..]) {
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
