#!/bin/sh
# cross/hot-layout's guest half: traces `thinbox run` on a pure cgroup2
# host with every controller and a bpffs, the path a Pi takes, and prints
# "HOT parent|child NAME" lines for the host to collect. Needs /extra
# (THINBOX_VM_EXTRA) with hot-trace, syms and the thinbox it describes.
#   sh tests/vm/hot.sh THINBOX ROOTFS
set -u
R=$2
. "$(dirname "$0")/../tap.sh"
run="/extra/thinbox run --cgroup-root ${CGROUP_ROOT:-/sys/fs/cgroup/thinbox}"
: > /tmp/hot.lines
trace() {
    /extra/hot-trace /extra/syms /tmp/hits $run "$@" || return 1
    sed 's/^/HOT /' /tmp/hits >> /tmp/hot.lines
}
# The first plain run pins the device program, the second attaches it.
for w in "--rootfs $R /bin/true" "--rootfs $R /bin/true" \
    "--memory 64m --pids 20 --cpu 0.5 --rootfs $R /bin/true" \
    "--net host -e A=1 -w /tmp -u 1:1 --rootfs $R /bin/true"; do
    t "traced run $w" trace $w
done
cat /tmp/hot.lines
echo "${pass} passed, ${fail} failed"
