#!/bin/sh
# cgroup v2 enforcement, on a cgroup2 /sys/fs/cgroup with every controller
# (the VM guest; tests/vm/init runs it):
#   sh tests/vm/cgroup.sh THINBOX ROOTFS
. "$(dirname "$0")/lib.sh"

test_limits_before_exec() {
    # The container's first process is cat itself: it already sees the
    # limits, from the root of its own cgroup namespace.
    box limits --memory 32m --pids 8 --cpu 0.5 cat /proc/self/cgroup /sys/fs/cgroup/memory.max \
        /sys/fs/cgroup/memory.swap.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max || return 1
    expect 0 "$rc" "exit code" || { show; return 1; }
    expect "0::/
33554432
0
8
50000 100000" "$(cat "$W/out")" "cgroup and limits"
}

test_memory_hog_oom_killed() {
    # dd as the container's PID 1 allocates a 64 MiB buffer and fills it.
    box oom --memory 32m dd if=/dev/zero of=/dev/null bs=64M count=1 || return 1
    expect 137 "$rc" "exit code" || { show; return 1; }
    expect "thinbox: container oom was killed by the OOM killer (memory limit 32 MiB); raise --memory" \
        "$(cat "$W/err")" "stderr"
}

test_memory_16m_fits_32m() {
    box memok --memory 32m sh -c \
        'dd if=/dev/zero of=/dev/null bs=16M count=1 2>/dev/null || echo dd failed; cat /sys/fs/cgroup/memory.peak' || return 1
    expect 0 "$rc" "exit code" || { show; return 1; }
    peak=$(cat "$W/out")
    # The peak proves the 16 MiB were really charged to the container.
    [ "$peak" -ge 16777216 ] 2> /dev/null && [ "$peak" -le 33554432 ] || { echo "memory.peak $peak not in 16..32 MiB"; show; return 1; }
}

test_pids_limit() {
    # PID 1 + a spawner shell + 6 sleeps make 8; the spawner's next fork
    # fails with EAGAIN and kills only the spawner; PID 1 carries on.
    rm -f "$R/tmp/pids"
    box pids --pids 8 sh -c '
        sh -c "i=0; while [ \$i -lt 20 ]; do sleep 60 & echo \$! >> /tmp/pids; i=\$((i+1)); echo started \$i; done"
        echo "spawner exit $?"
        read n < /sys/fs/cgroup/pids.current; echo "current $n"
        while read k v; do echo "events $k $v"; done < /sys/fs/cgroup/pids.events
        while read p; do kill $p; done < /tmp/pids
        wait
        echo done' || return 1
    rm -f "$R/tmp/pids"
    expect 0 "$rc" "exit code" || { show; return 1; }
    out=$(cat "$W/out")
    expect 6 "$(grep -c '^started' "$W/out")" "sleeps started" || { show; return 1; }
    grep -q '^spawner exit [1-9]' "$W/out" || { echo "the spawner did not fail"; show; return 1; }
    grep -q "can't fork: Resource temporarily unavailable" "$W/err" || { echo "no EAGAIN from fork"; show; return 1; }
    grep -q '^current 7$' "$W/out" || { echo "pids.current is not PID 1 + 6 sleeps"; show; return 1; }
    grep -q '^events max [1-9]' "$W/out" || { echo "pids.events counts no refused fork"; show; return 1; }
    [ "${out##*
}" = done ] || { echo "the container did not go on"; show; return 1; }
}

test_cpu_quota() {
    # A shell loop spins for 1 s of wall time (reading /proc/uptime, no
    # forks) under 0.1 CPU; cpu.stat shows the CPU it got.
    box cpu --cpu 0.1 sh -c '
        stat() { while read k v; do case $k in usage_usec) u=$v ;; nr_throttled) th=$v ;; esac; done < /sys/fs/cgroup/cpu.stat; }
        cs() { read up rest < /proc/uptime; c=${up%.*}${up#*.}; }
        stat; u0=$u; th0=$th; cs; c0=$c
        while [ $((c - c0)) -lt 100 ]; do cs; done
        stat; echo "$((u - u0)) $((th - th0)) $((c - c0))"' || return 1
    expect 0 "$rc" "exit code" || { show; return 1; }
    read used thr wall < "$W/out"
    echo "cpu used ${used} us, throttled ${thr} times, wall ${wall}0 ms"
    [ "$used" -le 150000 ] || { echo "more than 0.15 s of CPU"; return 1; }
    [ "$used" -ge 20000 ] || { echo "the loop got almost no CPU"; return 1; }
    [ "$thr" -gt 0 ] || { echo "never throttled"; return 1; }
}

test_setup_failure_cleans_up() {
    box badwd --memory 32m --pids 4 --cpu 0.5 -w /nonexistent true || return 1
    expect 125 "$rc" "exit code" || { show; return 1; }
    grep -q 'working directory /nonexistent' "$W/err" || { show; return 1; }
    box nocmd --memory 32m --pids 4 nosuchcmd || return 1
    expect 127 "$rc" "exit code" || { show; return 1; }
}

test_child_error_always_reported() {
    # With cgroup v2 the parent sends the device program's go while the
    # child may already have failed and exited: the error still arrives.
    mkdir -p "$W/bad/dev" "$W/bad/sys"
    : > "$W/bad/proc"
    i=0
    while [ $i -lt 40 ]; do
        "$TB" run --rootfs "$W/bad" true > /dev/null 2> "$W/err"
        rc=$?
        expect 125 "$rc" "exit code, try $i" || return 1
        expect "thinbox: mount proc on /proc: not a directory" "$(cat "$W/err")" "stderr, try $i" || return 1
        i=$((i + 1))
    done
}

test_killed_container_cleans_up() {
    "$TB" run --rootfs "$R" --name killed --memory 32m --pids 4 sleep 30 > "$W/out" 2> "$W/err" &
    tb=$!
    wait_for 50 test -s "$CG/killed/cgroup.procs"
    read c < "$CG/killed/cgroup.procs" || { echo "no process in $CG/killed"; return 1; }
    expect "0::/thinbox/killed" "$(cat /proc/"$c"/cgroup)" "host view of the container's cgroup" || return 1
    kill -9 "$c"
    wait $tb
    expect 137 "$?" "exit code" || return 1
    [ ! -e "$CG/killed" ] || { echo "$CG/killed left behind"; return 1; }
}

test_nothing_left_behind() {
    expect "" "$(leftovers)" "leftovers"
}

run_tests
