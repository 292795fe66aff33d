#!/bin/sh
# Escapes that need a plain kernel, which the development host lacks: a
# block device the container may not read (the host denies raw disks to
# everyone), /proc/sysrq-trigger and /proc/kcore (absent on the host).
# Busybox only, so it runs on both VM arches. tests/security.sh has the
# rest, with its C probe.
#   tests/vm/security.sh THINBOX ROOTFS
# Needs the loop module: THINBOX_VM_MODULES="overlay loop".
. "$(dirname "$0")/lib.sh"

# inbox NAME CMD: runs CMD with sh in a default container.
inbox() {
    name=$1
    shift
    box "$name" sh -c "$*"
}

test_status_lines() {
    inbox sec-status "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status" || return 1
    expect "CapEff:	00000000a80425fb
NoNewPrivs:	1
Seccomp:	2" "$(cat "$W/out")" status
}

test_seccomp_denies() {
    inbox sec-deny 'mount -t tmpfs none /tmp 2>&1; unshare -m true 2>&1; unshare -U true 2>&1' || return 1
    out=$(cat "$W/out")
    for want in "mount: permission denied" "unshare(0x20000): Operation not permitted" \
        "unshare(0x10000000): Operation not permitted"; do
        echo "$out" | grep -qF "$want" || { show; return 1; }
    done
}

# A host disk: a loop device over a file with a marker in it.
test_block_device_unreadable() {
    [ -e /dev/loop-control ] || { echo "no loop module: boot with THINBOX_VM_MODULES='overlay loop'"; return 1; }
    dd if=/dev/zero of="$W/disk" bs=1k count=64 2> /dev/null
    printf 'THINBOX-HOST-DISK' | dd of="$W/disk" conv=notrunc 2> /dev/null
    dev=$(losetup -f)
    losetup "$dev" "$W/disk" || return 1
    set -- $(stat -c '%t %T' "$dev")
    maj=$((0x$1)) min=$((0x$2))
    # The device program kept in the bpffs by earlier containers (or this
    # one) is the one that must deny the disk.
    inbox sec-pre true || return 1
    ls /sys/fs/bpf/thinbox | grep -q '^dev-' || { echo "no device program kept in /sys/fs/bpf/thinbox"; return 1; }
    # CAP_MKNOD is one of Docker's: the node is made, but opening it must
    # fail (EPERM from the device cgroup or EACCES from nodev).
    inbox sec-blk "mknod /tmp/d b $maj $min && echo made; dd if=/tmp/d bs=17 count=1 2>&1; echo; mknod /dev/d b $maj $min && dd if=/dev/d bs=17 count=1 2>&1"
    losetup -d "$dev"
    grep -q made "$W/out" || { show; return 1; }
    if grep -q THINBOX-HOST-DISK "$W/out"; then
        echo "the container read the host's disk"
        show
        return 1
    fi
    grep -qE "Operation not permitted|Permission denied" "$W/out" || { show; return 1; }
}

# OCI process.apparmorProfile: the container's command runs confined by a
# profile loaded here (everything but writes under /tmp); a profile that
# is not loaded fails the start, naming it, and leaves nothing behind.
aa_run() {
    b=$W/aa-$1
    rm -rf "$b"
    mkdir -p "$b" && (cd "$b" && "$TB" spec) || return 1
    sed -i -e 's/"terminal": true/"terminal": false/' \
        -e "s|\"args\": \[\"sh\"\]|\"args\": [\"sh\", \"-c\", \"cat /proc/self/attr/current; echo x > /tmp/aa \&\& echo wrote\"], \"apparmorProfile\": \"$2\"|" \
        -e "s|\"path\": \"rootfs\", \"readonly\": true|\"path\": \"$R\", \"readonly\": false|" "$b/config.json"
    timeout 30 "$TB" run -b "$b" "$1" > "$W/out" 2> "$W/err"
    rc=$?
}

test_apparmor_profile() {
    [ "$(cat /sys/module/apparmor/parameters/enabled 2> /dev/null)" = Y ] || { echo "AppArmor is not enabled in this kernel"; return 1; }
    [ -d /sys/kernel/security/apparmor ] || mount -t securityfs securityfs /sys/kernel/security || return 1
    cat /repo/tests/vm/thinbox-test.aa > /sys/kernel/security/apparmor/.replace || return 1
    aa_run aa-on thinbox-test || { show; return 1; }
    expect "thinbox-test (enforce)" "$(cat "$W/out")" "attr/current" || { show; return 1; }
    grep -q "can't create /tmp/aa: Permission denied" "$W/err" || { show; return 1; }
    before=$(leftovers; ls /run/thinbox 2> /dev/null)
    aa_run aa-off thinbox-missing
    [ $rc != 0 ] || { show; return 1; }
    expect 1 "$(wc -l < "$W/err")" "stderr lines" || { show; return 1; }
    grep -q "AppArmor profile thinbox-missing: no such file or directory; load it first" "$W/err" || { show; return 1; }
    expect "$before" "$(leftovers; ls /run/thinbox 2> /dev/null)" "leftovers"
}

test_sysrq_trigger() {
    [ -e /proc/sysrq-trigger ] || { echo "the kernel has no /proc/sysrq-trigger"; return 1; }
    # 'h' only prints help, should the write go through.
    inbox sec-sysrq 'echo h > /proc/sysrq-trigger' 2> /dev/null
    grep -q "Read-only file system" "$W/err" || { show; return 1; }
}

test_kcore_empty() {
    [ -e /proc/kcore ] || { echo "the kernel has no /proc/kcore"; return 1; }
    inbox sec-kcore 'head -c 64 /proc/kcore | wc -c' || return 1
    expect 0 "$(cat "$W/out")" "bytes read from /proc/kcore"
}

test_proc_sys_and_sys_kernel() {
    inbox sec-ro 'true > /proc/sys/kernel/hostname; true > /sys/kernel/mm/transparent_hugepage/enabled'
    expect 2 "$(grep -c "Read-only file system" "$W/err")" "EROFS errors" || { show; return 1; }
}

test_workloads_and_fork() {
    inbox sec-work 'ls / > /dev/null && ps > /dev/null && dd if=/dev/zero of=/tmp/z bs=1k count=64 2> /dev/null && printf "b\na\n" | sort | tr -d "\n" && (sleep 0.1 & wait) && echo " ok"' || { show; return 1; }
    expect "ab ok" "$(cat "$W/out")"
}

test_unconfined_and_privileged() {
    inbox sec-unc 'grep "^Seccomp:" /proc/self/status' || return 1
    box sec-unc2 --seccomp unconfined grep '^Seccomp:' /proc/self/status || { show; return 1; }
    expect "Seccomp:	0" "$(cat "$W/out")" unconfined || return 1
    box sec-priv --privileged sh -c 'mount -t tmpfs none /tmp && echo mounted' || { show; return 1; }
    expect mounted "$(cat "$W/out")" privileged
}

run_tests
