#!/bin/sh
# What the device needs beyond the core: images on overlayfs from the
# default data root, `thinbox check`, the MEMORY column of `ps`, and
# restarts after an OOM kill. Runs in both boots; with
# cgroup_disable=memory (the Raspberry Pi default) the memory tests check
# the refusal instead:
#   sh tests/vm/device.sh THINBOX ROOTFS
. "$(dirname "$0")/lib.sh"

D=/var/lib/thinbox
mkdir -p "$D/images"
mem=yes
grep -qw memory /sys/fs/cgroup/cgroup.controllers || mem=no

# An Alpine-style minirootfs, made with the guest's busybox tar.
tar czf "$D/images/alpine.tar.gz" -C "$R" .

# What an image run must not leave: layers, unpack temporaries, mounts.
image_leftovers() {
    ls "$D/containers" 2> /dev/null | sed 's/^/layer: /'
    ls "$D/cache" 2> /dev/null | grep '^tmp\.' | sed 's/^/cache: /'
    grep -F "$D" /proc/self/mountinfo | sed 's/^/mount: /'
}

test_check() {
    "$TB" check > "$W/out"
    code=$?
    grep -q '^ok       overlayfs$' "$W/out" || { cat "$W/out"; return 1; }
    grep -q '^ok       cgroup v2 at /sys/fs/cgroup$' "$W/out" || { cat "$W/out"; return 1; }
    grep -q '^ok       seccomp filters$' "$W/out" || { cat "$W/out"; return 1; }
    if [ $mem = yes ]; then
        expect 0 "$code" "exit code" || { cat "$W/out"; return 1; }
        expect "" "$(grep '^missing' "$W/out" | grep -v '(optional)')" "needed but missing"
    else
        expect 1 "$code" "exit code" || { cat "$W/out"; return 1; }
        grep -q '^missing  memory controller; boot with cgroup_enable=memory (Raspberry Pi: add cgroup_enable=memory cgroup_memory=1 to /boot/firmware/cmdline.txt (older OS: /boot/cmdline.txt), then reboot)$' "$W/out" ||
            { cat "$W/out"; return 1; }
    fi
}

test_image_on_overlayfs() {
    timeout 60 "$TB" run --name img alpine sh -c '
        awk "\$5 == \"/\" { print \$9 }" /proc/self/mountinfo
        echo data > /new; rm /etc/group; cat /new; test -e /etc/group || echo gone' > "$W/out" 2> "$W/err"
    rc=$?
    expect 0 "$rc" "exit code" || { show; return 1; }
    expect "overlay
data
gone" "$(cat "$W/out")" "root fs type and writes" || { show; return 1; }
    c=$D/cache/$(sha256sum < "$D/images/alpine.tar.gz" | cut -d' ' -f1)
    [ -d "$c" ] || { ls "$D/cache"; return 1; }
    [ ! -e "$c/new" ] && cmp "$c/etc/group" "$R/etc/group" || { echo "the image was written"; return 1; }
    expect "" "$(image_leftovers)" "image leftovers"
}

test_image_read_only() {
    out=$(timeout 60 "$TB" run --read-only alpine sh -c 'touch /x 2>&1; echo rc=$?')
    echo "$out" | grep -q 'Read-only file system' || { echo "$out"; return 1; }
    expect "" "$(image_leftovers)" "image leftovers"
}

test_ps_memory_column() {
    # 16 MiB in the container's /dev/shm (tmpfs) stay charged while it sleeps.
    if [ $mem = no ]; then
        "$TB" run -d --name memcol alpine sleep 30 > /dev/null || return 1
    else
        "$TB" run -d --name memcol --memory 64m alpine sh -c 'head -c 16777216 /dev/zero > /dev/shm/x; touch /done; sleep 30' > /dev/null || return 1
        wait_for 200 test -e "$D/containers/memcol/upper/done" || { echo "the container never wrote /done"; return 1; }
    fi
    out=$("$TB" ps)
    line=$(echo "$out" | grep '^memcol ')
    "$TB" rm -f memcol > /dev/null
    expect "NAME PID STATUS UPTIME MEMORY IMAGE COMMAND" "$(echo "$out" | head -n 1 | tr -s ' ')" "header" || return 1
    set -- $line
    expect running "$3" "status" || { echo "$out"; return 1; }
    expect alpine "$6" "image" || { echo "$out"; return 1; }
    if [ $mem = no ]; then
        expect - "$5" "memory without the controller" || { echo "$out"; return 1; }
    else
        case $5 in
            1[6-9]M | 1[6-9].[0-9]M | [2-6][0-9]M) ;;
            *) echo "MEMORY $5 is not 16..69M"; echo "$out"; return 1 ;;
        esac
    fi
    expect "" "$(image_leftovers)" "image leftovers"
}

# The state of container $1: "status restarts exit oom".
st() {
    f=/run/thinbox/$1/state
    echo "$(sed -n 's/^status //p' "$f") $(sed -n 's/^restarts //p' "$f") $(sed -n 's/^exit //p' "$f") $(sed -n 's/^oom //p' "$f")"
}

test_restart_after_oom() {
    if [ $mem = no ]; then
        # No memory controller: --memory is refused before anything runs.
        "$TB" run -d --name oomy --restart on-failure:3 --memory 32m alpine true 2> "$W/err"
        expect 125 "$?" "exit code" || return 1
        grep -q "cgroup_enable=memory" "$W/err" || { cat "$W/err"; return 1; }
        [ ! -e /run/thinbox/oomy ] || { echo "state left behind"; return 1; }
        expect "" "$(image_leftovers)" "image leftovers"
        return
    fi
    # dd allocates a 64 MiB buffer under a 32 MiB limit: killed each time.
    "$TB" run -d --name oomy --restart on-failure:3 --memory 32m alpine \
        dd if=/dev/zero of=/dev/null bs=64M count=1 > /dev/null 2> "$W/err" || { cat "$W/err"; return 1; }
    seen=""
    i=0
    while [ $i -lt 150 ]; do
        s=$("$TB" ps -a | awk '$1 == "oomy" { print $3, $4 }')
        case $s in
            restarting*) seen="$seen r" ;;
            "exited (137)"*) break ;;
        esac
        sleep 0.2
        i=$((i + 1))
    done
    state=$(st oomy)
    expect "exited (137)" "$s" "ps status" || { echo "state: $state"; "$TB" ps -a; return 1; }
    expect "exited 3 137 1" "$state" "status restarts exit oom" || return 1
    [ -n "$seen" ] || echo "note: never caught it in 'restarting'"
    # The layer stays with the stopped container until rm.
    [ -d "$D/containers/oomy" ] || { echo "layer removed early"; return 1; }
    "$TB" rm oomy || return 1
    [ ! -e /run/thinbox/oomy ] || { echo "state left behind"; return 1; }
    expect "" "$(image_leftovers)" "image leftovers"
}

test_restart_keeps_the_layer() {
    # Each start appends to a file in the layer, then fails; the restarts
    # see what the earlier starts wrote.
    "$TB" run -d --name again --restart on-failure:2 alpine sh -c 'echo x >> /count; exit 3' > /dev/null || return 1
    wait_for 300 sh -c "'$TB' ps -a | grep -q '^again .*exited (3)'" || { "$TB" ps -a; return 1; }
    expect 3 "$(grep -c . "$D/containers/again/upper/count")" "lines from 3 starts" || return 1
    "$TB" rm again || return 1
    expect "" "$(image_leftovers)" "image leftovers"
}

test_rmi() {
    "$TB" rmi alpine || return 1
    expect "" "$(ls -A "$D/images")$(ls -A "$D/cache")" "store after rmi"
}

test_nothing_left_behind() {
    expect "" "$(leftovers; image_leftovers)" "leftovers"
}

run_tests
