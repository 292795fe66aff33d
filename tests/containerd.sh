#!/bin/sh
# A real client: Debian's containerd and ctr run containers with thinbox
# as the runc-compatible runtime (ctr run --runc-binary), from an image the
# test builds from busybox-static and imports with `ctr image import`.
#   tests/containerd.sh THINBOX
# Starts its own containerd (own root, state, socket, /opt dir) and leaves
# nothing behind. Prints "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)

# The inner half runs in a private mount namespace with a tmpfs on /run:
# the shim puts its sockets in the hard-wired /run/containerd/s, and the
# rootfs mounts of a crashed run die with the namespace.
if [ "${1:-}" = --inner ]; then
    TB=$2 tmp=$3 cgparent=$4
    mount -t tmpfs -o mode=755 tmpfs /run || { echo "not ok - tmpfs on /run"; exit 1; }
else
    TB=$(realpath "$1")
    [ "$(id -u)" = 0 ] || { echo "tests/containerd.sh: run it as root" >&2; exit 1; }
    command -v containerd > /dev/null && [ -x /bin/busybox ] || sh "$here/../cross/setup"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/thinbox-ctrd.XXXXXX")
    cgparent=thinbox-ctrd.$$
    cleanup() {
        for d in /sys/fs/cgroup/$cgparent /sys/fs/cgroup/*/$cgparent; do
            [ -d "$d" ] && rmdir "$d"/* "$d" 2> /dev/null
        done
        rm -rf "$tmp"
    }
    trap cleanup EXIT
    start=$(date +%s)
    echo "# $(containerd --version | cut -d' ' -f1,3), ctr $(ctr --version | cut -d' ' -f3)"
    unshare -m --propagation private sh "$0" --inner "$TB" "$tmp" "$cgparent" &
    ipid=$!
    # Interrupted: the inner half stops its containers before $tmp goes.
    trap 'kill -TERM $ipid; wait $ipid; exit 130' INT TERM
    wait $ipid
    inner=$?
    read -r pass fail failed < "$tmp/result" 2> /dev/null || { pass=0 fail=1 failed=inner; }
    [ "$inner" = 0 ] || [ "$fail" != 0 ] || { fail=1 failed="inner exit $inner"; }
    # Once containerd and its namespace are gone: no process of this run,
    # no container cgroup left.
    sleep 0.2
    # [.] for '.': grep's own command line does not match its pattern.
    left=$(grep -l "$(echo "$tmp" | sed 's/[.]/[.]/g')" /proc/[0-9]*/cmdline 2> /dev/null)
    cgs=$(ls -d /sys/fs/cgroup/$cgparent/*/ /sys/fs/cgroup/*/$cgparent/*/ 2> /dev/null)
    if [ -z "$left$cgs" ]; then
        pass=$((pass + 1))
        echo "ok - nothing left after exit"
    else
        fail=$((fail + 1))
        failed="$failed leftovers"
        echo "not ok - nothing left after exit"
        echo "    processes: $left"
        echo "    cgroups: $cgs"
    fi
    echo "containerd: $(($(date +%s) - start)) s"
    echo "$pass passed, $fail failed"
    [ "$fail" = 0 ] || { echo "failed:$failed"; exit 1; }
    exit 0
fi

. "$here/tap.sh"
sock=$tmp/containerd.sock
runc_root=$tmp/runc
ns=thinbox
img=localhost/thinbox/busybox:test
log=$tmp/containerd.log
ctr() { command ctr --address "$sock" --namespace "$ns" --connect-timeout 5s "$@"; }
# procs_with STRING: pids whose command line holds STRING, but this shell.
procs_with() {
    for p in $(grep -l "$(echo "$1" | sed 's/[.]/[.]/g')" /proc/[0-9]*/cmdline 2> /dev/null); do
        p=${p#/proc/}
        p=${p%/cmdline}
        [ "$p" = $$ ] || echo "$p"
    done
}
# Overlay cannot sit on overlay (the VMs' root); native copies instead.
snap=overlayfs
[ "$(stat -fc %T "$tmp")" = overlayfs ] && snap=native
# ctr builds the runc options itself: SystemdCgroup stays off without
# --runc-systemd-cgroup, so the shim and thinbox use cgroupfs paths.
run_opts="--snapshotter $snap --runc-binary $TB --runc-root $runc_root --fifo-dir $tmp/fifo"

# tap.sh's t, plus containerd's own errors when the test fails.
ct() {
    logged=$(cat "$log" 2> /dev/null | wc -l)
    t "$@" && return
    tail -n +$((logged + 1)) "$log" 2> /dev/null | grep level=error | tail -3 | cut -c1-300 |
        sed 's/^/    containerd: /'
}

task_status() { ctr task ls | awk -v id="$1" '$1 == id { print $3 }'; }
task_pid() { ctr task ls | awk -v id="$1" '$1 == id { print $2 }'; }
is_status() { [ "$(task_status "$1")" = "$2" ]; }

# Stops everything containerd runs, then containerd; unmounts what a
# failed run left mounted. The outer half removes $tmp.
stop_all() {
    if [ -n "${cpid:-}" ] && kill -0 "$cpid" 2> /dev/null; then
        for id in $(ctr task ls -q 2> /dev/null); do
            ctr task kill -s SIGKILL "$id" > /dev/null 2>&1
            wait_for 100 is_status "$id" STOPPED
            ctr task delete "$id" > /dev/null 2>&1
        done
        for id in $(ctr container ls -q 2> /dev/null); do
            ctr container delete "$id" > /dev/null 2>&1
        done
        kill "$cpid"
        wait "$cpid"
    fi
    kill -9 $(procs_with "$tmp") 2> /dev/null
    for d in "$runc_root"/"$ns"/*/; do
        [ -d "$d" ] && "$TB" --root "$runc_root/$ns" delete --force "$(basename "$d")"
    done
    grep " $tmp" /proc/self/mountinfo | cut -d' ' -f5 | sort -r | xargs -r -n1 umount -l
}
trap 'stop_all; echo "$pass $fail $failed" > "$tmp/result"' EXIT
trap 'exit 130' INT TERM

# An OCI image layout from busybox-static: one uncompressed layer, the
# config naming its diff_id, a manifest and index.json; sha256sum names
# every blob.
build_image() {
    d=$tmp/image
    r=$d/rootfs
    mkdir -p "$r/bin" "$r/etc" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/root" "$d/oci/blobs/sha256"
    cp /bin/busybox "$r/bin/busybox"
    for a in $(/bin/busybox --list); do
        [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
    done
    chmod 1777 "$r/tmp"
    echo 'root:x:0:0:root:/root:/bin/sh' > "$r/etc/passwd"
    echo 'root:x:0:' > "$r/etc/group"
    tar --numeric-owner --owner=0 --group=0 -C "$r" -cf "$d/layer" .
    blob() {
        sum=$(sha256sum "$d/$1" | cut -d' ' -f1)
        size=$(wc -c < "$d/$1" | tr -d ' ')
        mv "$d/$1" "$d/oci/blobs/sha256/$sum"
        echo "\"digest\":\"sha256:$sum\",\"size\":$size"
    }
    case $(uname -m) in
        x86_64) arch=amd64 ;;
        aarch64) arch=arm64 ;;
        *) arch=$(uname -m) ;;
    esac
    diff_id=$(sha256sum "$d/layer" | cut -d' ' -f1)
    layer=$(blob layer)
    printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
        "$arch" "$diff_id" > "$d/config"
    config=$(blob config)
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json",%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar",%s}]}' \
        "$config" "$layer" > "$d/manifest"
    manifest=$(blob manifest)
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"test"}}]}' \
        "$manifest" "$img" > "$d/oci/index.json"
    echo '{"imageLayoutVersion":"1.0.0"}' > "$d/oci/oci-layout"
    tar -C "$d/oci" -cf "$tmp/image.tar" oci-layout index.json blobs
    rm -rf "$d"
}

test_containerd_starts() {
    mkdir -p "$tmp/fifo"
    cat > "$tmp/config.toml" << EOF
version = 2
root = "$tmp/root"
state = "$tmp/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$tmp/opt"
EOF
    containerd --config "$tmp/config.toml" > "$log" 2>&1 &
    cpid=$!
    wait_for 100 test -S "$sock" && ctr version > /dev/null || { tail -5 "$log"; return 1; }
}

test_image_import() {
    build_image || return 1
    ctr image import --snapshotter "$snap" "$tmp/image.tar" || return 1
    expect "$img" "$(ctr image ls -q)"
}

# Each container's cgroup sits under this run's parent, removed on exit.
cgroup_opt() { echo "--cgroup /$cgparent/$1"; }

test_run_exit_code() {
    ctr run --rm $run_opts $(cgroup_opt ex) "$img" ex sh -c 'exit 7'
    expect 7 $?
}

test_run_output() {
    out=$(ctr run --rm $run_opts $(cgroup_opt out) "$img" out sh -c 'echo $$ $(hostname); echo oops >&2' 2> "$tmp/err")
    expect "1 out" "$out" || return 1
    expect oops "$(cat "$tmp/err")"
}

test_run_not_found() {
    out=$(ctr run --rm $run_opts $(cgroup_opt nf) "$img" nf nosuchcmd 2>&1)
    code=$?
    expect 127 "$code" || return 1
    echo "$out" | grep -q "exec nosuchcmd: no such file" || { echo "$out"; return 1; }
}

# A create error reaches ctr through the shim's --log log.json.
test_run_runtime_error() {
    out=$(ctr run --rm $run_opts $(cgroup_opt ae) --apparmor-profile x "$img" ae true 2>&1)
    [ $? != 0 ] || return 1
    echo "$out" | grep -q "OCI runtime create failed: process.apparmorProfile" ||
        { echo "$out"; return 1; }
    expect "" "$(ctr container ls -q)"
}

test_run_tty() {
    out=$(script -qec "ctr --address $sock --namespace $ns run --rm -t $run_opts $(cgroup_opt tty) $img tty sh -c 'tty; echo TERM=\$TERM'" /dev/null < /dev/null | tr -d '\r\0')
    echo "$out" | grep -q '/dev/pts/0$' || { echo "$out"; return 1; }
    echo "$out" | grep -q '^TERM=' || { echo "$out"; return 1; }
}

test_run_detached() {
    ctr run -d $run_opts $(cgroup_opt d1) --memory-limit 67108864 "$img" d1 sleep 1000 || return 1
    expect RUNNING "$(task_status d1)" || return 1
    pid=$(task_pid d1)
    # thinbox holds the state under the root the shim passed.
    "$TB" --root "$runc_root/$ns" state d1 > "$tmp/state.json" || return 1
    grep -q '"status":"running"' "$tmp/state.json" || { cat "$tmp/state.json"; return 1; }
    grep -q "\"pid\":$pid," "$tmp/state.json" || { cat "$tmp/state.json"; return 1; }
    expect "sleep1000" "$(tr -d '\0' < /proc/"$pid"/cmdline)" || return 1
    # In cgroupfs cgroups named by the path ctr passed.
    grep -q ":/$cgparent/d1\$" /proc/"$pid"/cgroup || { cat /proc/"$pid"/cgroup; return 1; }
}

test_task_exec() {
    out=$(ctr task exec --fifo-dir "$tmp/fifo" --exec-id e1 d1 sh -c 'hostname; tr "\0" " " < /proc/1/cmdline; echo; exit 5')
    code=$?
    expect 5 "$code" || return 1
    expect "d1
sleep 1000 " "$out"
}

test_task_exec_tty() {
    out=$(script -qec "ctr --address $sock --namespace $ns task exec -t --fifo-dir $tmp/fifo --exec-id e2 d1 sh -c 'tty; exit 6'" /dev/null < /dev/null | tr -d '\r\0')
    echo "$out" | grep -q '/dev/pts/[0-9]*$' || { echo "$out"; return 1; }
}

test_task_metrics() {
    # The shim reads the cgroups thinbox made: the limit ctr asked for,
    # and sleep alone in them.
    out=$(ctr task metrics d1) || return 1
    echo "$out" | grep -Eq '^memory.limit_in_bytes +67108864 |^memory.usage_limit +67108864 ' ||
        { echo "$out"; return 1; }
    echo "$out" | grep -Eq '^pids.current +1 ' || { echo "$out"; return 1; }
}

test_task_ps() {
    out=$(ctr task ps d1) || return 1
    echo "$out" | awk 'NR > 1 { print $1 }' | grep -qx "$(task_pid d1)" || { echo "$out"; return 1; }
}

test_pause_resume() {
    ctr task pause d1 || return 1
    expect PAUSED "$(task_status d1)" || return 1
    "$TB" --root "$runc_root/$ns" state d1 | grep -q '"status":"paused"' || return 1
    ctr task resume d1 || return 1
    expect RUNNING "$(task_status d1)"
}

test_kill_and_delete() {
    # sleep is PID 1 and has no TERM handler: TERM does not stop it.
    ctr task kill d1 || return 1
    sleep 0.3
    expect RUNNING "$(task_status d1)" || return 1
    ctr task kill -s SIGKILL d1 || return 1
    wait_for 100 is_status d1 STOPPED || { echo "still $(task_status d1)"; return 1; }
    ctr task delete d1 || return 1
    [ ! -e "$runc_root/$ns/d1" ] || { echo "thinbox state $runc_root/$ns/d1 left"; return 1; }
    ctr container delete d1 || return 1
    expect "" "$(ctr container ls -q)" || return 1
    [ -z "$(ls -d /sys/fs/cgroup/$cgparent/d1 /sys/fs/cgroup/*/$cgparent/d1 2> /dev/null)" ] ||
        { echo "cgroup d1 left"; return 1; }
}

test_kill_term_status() {
    # A foreground ctr run gets the status of a TERM its container handles.
    ctr run --rm $run_opts $(cgroup_opt trm) "$img" trm \
        sh -c 'trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done' > "$tmp/trm.out" &
    r=$!
    wait_for 100 grep -q ready "$tmp/trm.out" || { kill $r; return 1; }
    ctr task kill trm || return 1
    wait $r
    expect 42 $?
}

test_nothing_left() {
    expect "" "$(ctr task ls -q)" || return 1
    expect "" "$(ctr container ls -q)" || return 1
    expect "" "$(ls -A "$runc_root/$ns" 2> /dev/null)" || return 1
    expect "$mounts_before" "$(wc -l < /proc/self/mountinfo)" || return 1
    expect "" "$(procs_with "$sock")" || return 1
    cgs=$(ls -d /sys/fs/cgroup/$cgparent/*/ /sys/fs/cgroup/*/$cgparent/*/ 2> /dev/null)
    expect "" "$cgs"
}

mounts_before=$(wc -l < /proc/self/mountinfo)
for t in $(grep -o '^test_[a-z0-9_]*' "$0"); do
    ct "${t#test_}" "$t"
done
