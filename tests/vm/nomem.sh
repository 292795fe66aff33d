#!/bin/sh
# A kernel booted with cgroup_disable=memory, the Raspberry Pi default
# (tests/vm/init runs it in the second boot):
#   sh tests/vm/nomem.sh THINBOX ROOTFS
. "$(dirname "$0")/lib.sh"

test_memory_controller_absent() {
    if grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
        echo "memory is in /sys/fs/cgroup/cgroup.controllers: cgroup_disable=memory did not apply"
        return 1
    fi
}

# First, while $CG does not exist yet: thinbox must not leave it behind.
test_memory_refused_cleanly() {
    had=no
    [ -e "$CG" ] && had=yes
    before=$(snapshot)
    box nomem --memory 64m true || return 1
    expect 125 "$rc" "exit code" || { show; return 1; }
    expect 1 "$(wc -l < "$W/err")" "stderr lines" || { show; return 1; }
    for want in "thinbox: cgroup controller 'memory' is not available in /sys/fs/cgroup" \
        "cgroup_enable=memory" "on a Raspberry Pi add" "cmdline.txt"; do
        grep -q -F "$want" "$W/err" || { echo "stderr lacks: $want"; show; return 1; }
    done
    expect "$before" "$(snapshot)" "state before and after" || return 1
    if [ $had = no ] && [ -e "$CG" ]; then
        echo "$CG was created and left behind"
        return 1
    fi
}

test_run_without_memory_works() {
    box plain sh -c 'echo hello; if test -e /sys/fs/cgroup/memory.max; then echo memory.max exists; fi' || return 1
    expect 0 "$rc" "exit code" || { show; return 1; }
    expect hello "$(cat "$W/out")" "output" || { show; return 1; }
    box limited --pids 8 --cpu 0.5 cat /proc/self/cgroup /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max || return 1
    expect 0 "$rc" "exit code" || { show; return 1; }
    expect "0::/
8
50000 100000" "$(cat "$W/out")" "cgroup and limits"
}

test_nothing_left_behind() {
    expect "" "$(leftovers)" "leftovers"
}

run_tests
