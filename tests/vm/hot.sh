#!/bin/sh
# cross/hot-layout's guest half: traces `thinbox run` on a pure cgroup2
# host with every controller and a bpffs, the path a Pi takes, and prints
# "HOT parent|child NAME" lines for the host to collect. Needs /extra
# (THINBOX_VM_EXTRA) with hot-trace, syms and the thinbox it describes.
#   sh tests/vm/hot.sh THINBOX ROOTFS
set -u
R=$2
tb=/extra/thinbox
run="$tb run --cgroup-root ${CGROUP_ROOT:-/sys/fs/cgroup/thinbox}"
pass=0
fail=0
# The first plain run pins the device program, the second attaches it.
for w in "--rootfs $R /bin/true" "--rootfs $R /bin/true" \
    "--memory 64m --pids 20 --cpu 0.5 --rootfs $R /bin/true" \
    "--net host -e A=1 -w /tmp -u 1:1 --rootfs $R /bin/true"; do
    if /extra/hot-trace /extra/syms /tmp/hits $run $w > /dev/null 2>&1; then
        sed 's/^/HOT /' /tmp/hits
        pass=$((pass + 1))
        echo "ok - traced run $w"
    else
        fail=$((fail + 1))
        echo "not ok - traced run $w"
    fi
done
echo "${pass} passed, ${fail} failed"
