#!/bin/sh
# Startup with cgroup limits, inside the tests/vm guest (busybox sh, no
# python): thinbox run --memory 64m --pids 64 --cpu 1 against bench/floor.c
# in a cgroup with the same limits, and both without limits.
#   sh bench/vm.sh THINBOX ROOTFS [FLOOR]
# FLOOR defaults to /bin/floor; without it only thinbox is timed. Busybox
# has no sub-second clock, so each figure is /proc/uptime (10 ms ticks) over
# blocks of BENCH_RUNS runs (default 20), BENCH_BLOCKS blocks (default 5)
# per command, the commands' blocks interleaved. Output as tests/core.sh
# ("ok - NAME" with the figure in NAME, "N passed, N failed") for
# tests/vm/init; an "ok" means every run exited 0.
set -u
TB=$1
R=$2
want=${3:-/bin/floor}
FLOOR=$want
N=${BENCH_RUNS:-20}
B=${BENCH_BLOCKS:-5}
CG=${CGROUP_ROOT:-/sys/fs/cgroup/thinbox}
FCG=$(dirname "$CG")/thinbox-bench-floor
pass=0
fail=0

# The limits the kernel can enforce here: no memory on a cgroup_disable=memory boot.
ctl=$(cat "$(dirname "$CG")/cgroup.controllers" 2> /dev/null)
tlim="--pids 64 --cpu 1"
# cpu.max: the quota alone keeps the default 100000 period, as thinbox's "100000 100000".
flim="-w pids.max=64 -w cpu.max=100000"
case " $ctl " in
    *" memory "*)
        tlim="--memory 64m $tlim"
        flim="-w memory.max=67108864 -w memory.swap.max=0 $flim"
        ;;
esac
[ -x "$FLOOR" ] || FLOOR=""
if [ -n "$FLOOR" ]; then
    mkdir -p "$FCG"
    for c in memory pids cpu; do
        case " $ctl " in *" $c "*) echo "+$c" > "$FCG/cgroup.subtree_control" ;; esac
    done
fi

# cmd NAME: runs command NAME once; non-zero when it fails.
cmd() {
    case $1 in
        tb) "$TB" run --cgroup-root "$CG" --rootfs "$R" /bin/true ;;
        tblim) "$TB" run --cgroup-root "$CG" $tlim --rootfs "$R" /bin/true ;;
        fl) "$FLOOR" "$R" /bin/true ;;
        fllim) "$FLOOR" -c "$FCG" $flim "$R" /bin/true ;;
    esac > /dev/null 2>&1
}

now() { cut -d' ' -f1 /proc/uptime; }

names="tb tblim"
[ -n "$FLOOR" ] && names="$names fl fllim"
for n in $names; do
    eval "t_$n=0 bad_$n=0"
done
b=0
while [ $b -lt "$B" ]; do
    for n in $names; do
        t0=$(now)
        i=0
        while [ $i -lt "$N" ]; do
            cmd "$n" || eval "bad_$n=\$((bad_$n + 1))"
            i=$((i + 1))
        done
        t1=$(now)
        eval "t_$n=\$(awk -v a=\"\$t_$n\" -v s=$t0 -v e=$t1 'BEGIN { print a + e - s }')"
    done
    b=$((b + 1))
done
[ -n "$FLOOR" ] && rmdir "$FCG" 2> /dev/null

runs=$((N * B))
ms() { eval "awk -v t=\"\$t_$1\" -v n=$runs 'BEGIN { printf \"%.1f\", t * 1000 / n }'"; }
ratio() { eval "awk -v a=\"\$t_$1\" -v b=\"\$t_$2\" 'BEGIN { if (b > 0) printf \"%.2f\", a / b; else print \"?\" }'"; }
report() {
    eval "bad=\$bad_$1"
    if [ "$bad" = 0 ]; then
        pass=$((pass + 1))
        echo "ok - $2"
    else
        fail=$((fail + 1))
        echo "not ok - $2"
        echo "    $bad of $runs runs failed"
    fi
}
echo "bench: $(uname -m), $(grep -c ^processor /proc/cpuinfo) CPUs, $runs runs each; limits: $tlim"
report tb "thinbox $(ms tb) ms/run"
if [ -n "$FLOOR" ]; then
    report tblim "thinbox with limits $(ms tblim) ms/run (x$(ratio tblim fllim) floor with limits, x$(ratio tblim tb) thinbox without)"
    report fl "floor $(ms fl) ms/run (thinbox x$(ratio tb fl))"
    report fllim "floor in a cgroup with limits $(ms fllim) ms/run"
else
    report tblim "thinbox with limits $(ms tblim) ms/run (x$(ratio tblim tb) thinbox without; no $want for the floor)"
fi
# Peak memory of the runtime process (bench/hwm, put in /bin by tests/vm/run).
if command -v hwm > /dev/null; then
    for lim in "" "$tlim"; do
        if hwm /tmp/hwm.out "$TB" run --cgroup-root "$CG" $lim --rootfs "$R" /bin/true > /dev/null 2>&1; then
            # Rss from the page tables: this kernel's VmHWM may be stale (hwm.c).
            read -r k _ _ _ _ _ w < /tmp/hwm.out
            pass=$((pass + 1))
            echo "ok - thinbox${lim:+ with limits} peak memory: VmHWM $k KiB, Rss at exit $w KiB"
        else
            fail=$((fail + 1))
            echo "not ok - thinbox${lim:+ with limits} under hwm"
        fi
    done
fi
echo "${pass} passed, ${fail} failed"
[ "$fail" = 0 ]
