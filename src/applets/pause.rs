//! `thinbox pause ID` and `thinbox resume ID`: freeze and thaw through
//! cgroup.freeze (v2) or freezer.state (v1).

use super::fail;
use crate::cgroup;
use crate::container;
use crate::rt::{self, Ctx, Error, Res, S, cat};
use crate::state;
use crate::sys;

pub fn pause(args: &[S]) -> i32 {
    run(args, true)
}

pub fn resume(args: &[S]) -> i32 {
    run(args, false)
}

fn run(args: &[S], freeze: bool) -> i32 {
    match set(args, freeze) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

fn set(args: &[S], freeze: bool) -> Res<()> {
    let [id] = args else {
        return Err(super::usage_error(if freeze {
            b"pause"
        } else {
            b"resume"
        }));
    };
    let root = state::root(None);
    // Never dropped: the process ends right after, no path needs drop code.
    let st = core::mem::ManuallyDrop::new(state::load(root, id)?);
    let status = container::status(root, id, &st);
    let want: &[u8] = if freeze { b"running" } else { b"paused" };
    if status != want {
        return Err(container::err(id, cat(&[b"is ", status])));
    }
    let cg = core::mem::ManuallyDrop::new(
        container::cgroup_of(&st).ok_or_else(|| container::err(id, b"has no cgroup to freeze"))?,
    );
    let v2 = cg.v1.is_empty();
    let (dir, name, v): (S, &[u8], &[u8]) = if v2 {
        (cg.path, b"/cgroup.freeze", if freeze { b"1" } else { b"0" })
    } else {
        let dir = cg
            .v1_dir(b"freezer")
            .map_err(|_| Error::new(b"freezer", b"the v1 freezer controller is not mounted"))?;
        (
            dir,
            b"/freezer.state",
            if freeze { b"FROZEN" } else { b"THAWED" },
        )
    };
    // One path join for both versions.
    let f = cat(&[dir, name]);
    rt::write_file(f, v).ctx(f)?;
    if !v2 {
        return Ok(());
    }
    // Frozen only once cgroup.events says so.
    for _ in 0..1000 {
        let frozen = cgroup::read_key(cg.path, b"cgroup.events", b"frozen") == Some(1);
        if frozen == freeze {
            return Ok(());
        }
        sys::sleep_ms(1);
    }
    Err(container::err(id, b"did not freeze in time"))
}
