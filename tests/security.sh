#!/bin/sh
# The escape suite: as root in a default container, every classic escape
# must fail with the errno that shows what stopped it (seccomp: EPERM,
# read-only mounts: EROFS, the PID namespace: ESRCH...), while ordinary
# workloads still work; --seccomp unconfined, --privileged and
# --seccomp FILE must change exactly that. The attempts are made by
# tests/escape.c, built static here and copied into a private rootfs.
#   tests/security.sh THINBOX ROOTFS
# CGROUP_ROOT: a cgroup2 directory (default: picked by tests/cgroup-root).
# Prints "N passed, N failed", like tests/core.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
CG=${CGROUP_ROOT:-$(sh "$here/cgroup-root")}
. "$here/tap.sh"
scratch=${TMPDIR:-/tmp}/thinbox-security.$$
marker=/thinbox-security-marker.$$
mkdir -p "$scratch"
trap 'rm -rf "$scratch" "$marker"' EXIT
export THINBOX_STATE=$scratch/state

# The binary under attack is a private copy, so that a regression cannot
# damage the one under test.
cp "$1" "$scratch/thinbox"
TB=$scratch/thinbox
R=$scratch/rootfs
cp -a "$2" "$R"
if ! gcc -O2 -Wall -static -pthread -o "$R/escape" "$here/escape.c" 2> "$scratch/gcc"; then
    cat "$scratch/gcc"
    echo "not ok - build_probe: gcc -static failed (run sh cross/setup)"
    echo "0 passed, 1 failed"
    exit 1
fi
: > "$marker"

run() { "$TB" run --rootfs "$R" --cgroup-root "$CG" "$@"; }

# What a failed run must not leave: mounts, our container's cgroup, our
# containers' state, thinbox processes of this test.
snapshot() {
    wc -l < /proc/self/mountinfo
    ls "$CG" 2> /dev/null | grep '^sec' || true
    ls "$THINBOX_STATE" 2> /dev/null || true
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/exe" 2> /dev/null)" = "$TB" ] && echo "$p"
    done
}

# The probe's answer for one attempt: the RESULT of its "NAME RESULT" line.
result() { sed -n "s/^$1 //p" "$scratch/all"; }

# attempt NAME WANT...: the attempt failed with one of WANT.
attempt() {
    name=$1
    shift
    got=$(result "$name")
    for w in "$@"; do
        [ "$got" = "$w" ] && return 0
    done
    echo "$name: expected $*, got '${got:-no line}'"
    cat "$scratch/all"
    return 1
}

# A host disk for mknod: the first block device the kernel lists.
disk=$(awk 'NR > 2 && $4 !~ /^(loop|ram|zram)/ { print $1, $2; exit }' /proc/partitions)
[ -n "$disk" ] || disk="7 0"
run /escape all "$marker" $$ $disk > "$scratch/all" 2>&1

test_status_lines() {
    out=$(run grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status)
    expect "CapEff:	00000000a80425fb
NoNewPrivs:	1
Seccomp:	2" "$out"
}

test_mount_syscalls() {
    attempt mount EPERM && attempt umount2 EPERM && attempt pivot_root EPERM
}
test_unshare_user_mnt() { attempt unshare_user EPERM && attempt unshare_mnt EPERM; }
test_setns_own() { attempt setns_own EPERM; }
test_setns_host() {
    # stdin is the host's mount namespace.
    expect "setns_host EPERM" "$(run /escape setns < /proc/self/ns/mnt)"
}
test_boot_and_modules() {
    for n in reboot kexec_load init_module finit_module delete_module swapon; do
        attempt $n EPERM || return 1
    done
}
test_bpf_perf_keys() {
    for n in bpf perf_event_open keyctl add_key request_key; do
        attempt $n EPERM || return 1
    done
}
test_shocker() { attempt open_by_handle_at EPERM; }
test_ptrace_host() { attempt ptrace_host ESRCH; }
test_block_device() {
    # CAP_MKNOD is one of Docker's: the node is made, but no host disk
    # may be opened through it.
    attempt mknod_blk ok && attempt open_blk EPERM EACCES
}
# Where a bpffs is mounted, the device program is kept there (named by a
# digest of its rules) and the next container attaches the kept one: it
# must deny the host disk just the same.
test_kept_device_program() {
    [ -e /proc/self/ns/mnt ] && [ -d /sys/fs/bpf ] || return 0
    out=$(unshare -m --propagation private sh -c '
        mount -t bpf bpf /sys/fs/bpf || exit 1
        for i in 1 2; do
            "$0" run --rootfs "$1" --cgroup-root "$2" /escape all "$3" $$ $4 | grep "^open_blk "
        done
        ls /sys/fs/bpf/thinbox' "$TB" "$R" "$CG" "$marker" "$disk" 2>&1) || { echo "$out"; return 1; }
    denied=$(echo "$out" | grep -Ec '^open_blk (EPERM|EACCES)$')
    kept=$(echo "$out" | grep -c '^dev-[0-9a-f]*$')
    [ "$denied $kept" = "2 1" ] || { echo "$out"; return 1; }
}
test_proc_sys_kernel() { attempt proc_sys_kernel EROFS; }
test_sysrq_trigger() {
    [ -e /proc/sysrq-trigger ] || { attempt sysrq_trigger ENOENT; return; }
    attempt sysrq_trigger EROFS
}
test_sys_kernel() { attempt sys_kernel EROFS; }
test_kcore() {
    [ -e /proc/kcore ] || { attempt read_kcore ENOENT; return; }
    attempt read_kcore EMPTY
}
test_chroot_escape() { attempt chroot_escape ENOENT && attempt fd_escape ENOENT; }
test_tiocsti() {
    # The caller's terminal reaches the container as stdin (no -t).
    command -v script > /dev/null || { echo "skip: no script(1)"; return 0; }
    out=$(script -qec "$TB run --rootfs $R --cgroup-root $CG /escape tiocsti" /dev/null < /dev/null | tr -d '\r')
    expect "tiocsti EPERM" "$out"
}

test_i386_x32() {
    [ "$(uname -m)" = x86_64 ] || { echo "skip: not x86_64"; return 0; }
    # i386 calls get the same rules; x32 ones kill the process.
    expect "i386_getpid ok
i386_mount EPERM
i386_unshare EPERM
x32_getpid KILLED" "$(run /escape arches)"
}

test_workloads() {
    out=$(run sh -c '
        ls / > /dev/null || echo "ls failed"
        ps | grep -q "ps" || echo "ps failed"
        dd if=/dev/zero of=/tmp/z bs=1k count=256 2> /dev/null
        test "$(wc -c < /tmp/z)" = 262144 || echo "dd failed"
        test "$(printf "b\nc\na\n" | sort | tr -d "\n")" = abc || echo "sort failed"
        mkdir -p /tmp/www && echo hello > /tmp/www/x
        httpd -p 127.0.0.1:8080 -h /tmp/www || echo "httpd failed"
        for i in 1 2 3 4 5 6 7 8 9 10; do
            got=$(wget -q -O - http://127.0.0.1:8080/x 2> /dev/null) && break
            sleep 0.1
        done
        test "$got" = hello || echo "wget got: $got"
    ')
    expect "" "$out"
}

test_fork_clone() {
    # glibc's pthread_create tries clone3 first: ENOSYS sends it to clone.
    expect "fork ok
clone ok
clone3 ENOSYS
thread ok" "$(run /escape fork)"
}

test_unconfined() {
    expect "Seccomp:	0" "$(run --seccomp unconfined grep '^Seccomp:' /proc/self/status)" || return 1
    expect "keyctl ok" "$(run --seccomp unconfined /escape keyctl)"
}

test_privileged() {
    expect "Seccomp:	0" "$(run --privileged grep '^Seccomp:' /proc/self/status)" || return 1
    expect "mount ok" "$(run --privileged /escape mount)"
}

test_cap_add_sys_admin() {
    # The default profile, recompiled at run time for another cap set.
    expect "Seccomp:	2" "$(run --cap-add SYS_ADMIN grep '^Seccomp:' /proc/self/status)" || return 1
    expect "mount ok" "$(run --cap-add SYS_ADMIN /escape mount)" || return 1
    expect "keyctl EPERM" "$(run --cap-add SYS_ADMIN /escape keyctl)"
}

test_profile_file() {
    cat > "$scratch/p.json" << 'EOF'
{"defaultAction": "SCMP_ACT_ALLOW",
 "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
 "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}
EOF
    expect "getcwd ENOSYS" "$(run --seccomp "$scratch/p.json" /escape getcwd)" || return 1
    out=$(run --seccomp "$scratch/p.json" pwd 2>&1)
    code=$?
    [ $code != 0 ] || { echo "pwd worked: $out"; return 1; }
    echo "$out" | grep -q "Function not implemented" || { echo "pwd: $out"; return 1; }
    # Everything else is allowed: keyctl too.
    expect "keyctl ok" "$(run --seccomp "$scratch/p.json" /escape keyctl)"
}

test_bad_profile() {
    printf '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getcwd"],"action":"SCMP_ACT_FOO"}]}' > "$scratch/bad.json"
    fails_cleanly 125 'bad.json: syscalls\[0\].action: unknown action "SCMP_ACT_FOO"' \
        run --rootfs "$R" --name sec$$ --cgroup-root "$CG" --seccomp "$scratch/bad.json" true || return 1
    printf '{"defaultAction":' > "$scratch/trunc.json"
    fails_cleanly 125 "trunc.json: invalid JSON at line 1" run --rootfs "$R" --seccomp "$scratch/trunc.json" true || return 1
    fails_cleanly 125 "seccomp $scratch/none.json: no such file" run --rootfs "$R" --seccomp "$scratch/none.json" true || return 1
    # An error about the whole profile names the file once, no empty key.
    echo '[]' > "$scratch/array.json"
    fails_cleanly 125 "thinbox: $scratch/array.json: expected an object" run --rootfs "$R" --seccomp "$scratch/array.json" true
}

# CVE-2019-5736: the container opens /proc/PID/exe of the runtime process
# that enters it, for writing, and through an O_PATH fd reopened after the
# process is gone. The host binary must stay as it was.
test_cve_2019_5736_init() {
    sum=$(sha256sum < "$TB")
    out=$(run --init /escape selfexe 1)
    echo "$out" | grep -q '^selfexe_open ok' && { echo "$out"; return 1; }
    echo "$out" | grep -q '^selfexe_reopen ok' && { echo "$out"; return 1; }
    echo "$out" | grep -q '^selfexe_open ' || { echo "$out"; return 1; }
    expect "$sum" "$(sha256sum < "$TB")"
}

test_cve_2019_5736_exec() {
    sum=$(sha256sum < "$TB")
    name=sec$$
    "$TB" run -d --name $name --rootfs "$R" /escape cve 5 > /dev/null || return 1
    sleep 0.3
    i=0
    while [ $i -lt 30 ]; do
        "$TB" exec $name true
        i=$((i + 1))
    done
    wait_for 80 sh -c "'$TB' logs $name | grep -q '^cve '"
    out=$("$TB" logs $name 2>&1)
    "$TB" rm -f $name > /dev/null 2>&1 || "$TB" rm $name > /dev/null 2>&1
    line=$(echo "$out" | grep '^cve ')
    case $line in
        *" writable=0") ;;
        *) echo "$out"; return 1 ;;
    esac
    # The attack must have met the runtime at least once.
    seen=$(echo "$line" | sed 's/.*seen=\([0-9]*\).*/\1/')
    denied=$(echo "$line" | sed 's/.*denied=\([0-9]*\).*/\1/')
    [ $((seen + denied)) -gt 0 ] || { echo "never saw thinbox exec: $line"; return 1; }
    expect "$sum" "$(sha256sum < "$TB")"
}

# OCI ambient capabilities: one that is not also inheritable cannot be
# raised; as the runtime-spec asks (and crun, runc do), that is a warning,
# not a failed start (`crun spec` writes such a config). With inheritable
# set, all three are raised.
test_oci_ambient_caps() {
    b=$scratch/ambient
    mkdir -p "$b"
    (cd "$b" && "$TB" spec) || return 1
    three='["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]'
    for inh in '[]' "$three"; do
        python3 - "$b/config.json" "$R" "$inh" "$three" <<'PY' || return 1
import json, sys
p, root, inh, three = sys.argv[1:]
c = json.load(open(p))
c["root"] = {"path": root}
c["process"]["terminal"] = False
c["process"]["args"] = ["grep", "CapAmb", "/proc/self/status"]
c["process"]["capabilities"]["inheritable"] = json.loads(inh)
c["process"]["capabilities"]["ambient"] = json.loads(three)
json.dump(c, open(p, "w"))
PY
        out=$("$TB" run --bundle "$b" amb$$ 2> "$scratch/amb.err") || { cat "$scratch/amb.err"; return 1; }
        if [ "$inh" = '[]' ]; then
            expect "CapAmb:	0000000000000000" "$out" || return 1
            expect "thinbox: warning: process.capabilities.ambient: a capability that is not also permitted and inheritable is not raised" "$(cat "$scratch/amb.err")" || return 1
        else
            expect "CapAmb:	0000000020000420" "$out" || return 1
            expect "" "$(cat "$scratch/amb.err")" || return 1
        fi
    done
}

# `run --bundle` with a container that exits while `start` is still at
# work (here: a poststart hook that outlasts it) still returns its status.
test_oci_run_exit_during_start() {
    b=$scratch/quick
    mkdir -p "$b"
    (cd "$b" && "$TB" spec) || return 1
    python3 - "$b/config.json" "$R" "$(command -v sleep)" <<'PY' || return 1
import json, sys
p, root, sleep = sys.argv[1:]
c = json.load(open(p))
c["root"] = {"path": root}
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", "exit 3"]
c["hooks"] = {"poststart": [{"path": sleep, "args": ["sleep", "0.3"]}]}
json.dump(c, open(p, "w"))
PY
    timeout -s KILL 10 "$TB" run --bundle "$b" quick$$
    expect 3 "$?"
}

run_tests
