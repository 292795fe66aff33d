#!/bin/sh
# The image suite: `thinbox run IMAGE` from archives in a data root (one
# unpack per archive, a writable overlayfs layer per container, the image
# left pristine), --read-only, images/import/rmi, hostile and damaged
# archives, and `thinbox check`. POSIX sh; needs GNU tar to build the
# hostile archives.
#   tests/images.sh THINBOX ROOTFS
# Prints "N passed, N failed".
set -u
TB=$1
R=$2
here=$(cd "$(dirname "$0")" && pwd)
CG=${CGROUP_ROOT:-$(sh "$here/cgroup-root")}
. "$here/tap.sh"
W=${TMPDIR:-/tmp}/thinbox-images.$$
D=$W/root
OUT=$W/outside
mkdir -p "$D/images" "$OUT"
trap 'rm -rf "$W"' EXIT
overlay=yes
grep -qw overlay /proc/filesystems || overlay=no

run() { "$TB" run --data-root "$D" "$@"; }

# What an image operation must not leave: unpack temporaries, layers,
# mounts under the data root.
leftovers() {
    ls -a "$D/cache" 2> /dev/null | grep '^tmp\.' | sed 's/^/cache: /'
    ls -a "$D/images" | grep '^\.import' | sed 's/^/images: /'
    ls "$D/containers" 2> /dev/null | sed 's/^/layer: /'
    grep -F "$D" /proc/self/mountinfo | sed 's/^/mount: /'
}

# The unpacked images: one directory per digest (NAME=KEY links say
# which archive each came from).
caches() { ls "$D/cache" 2> /dev/null | grep -v -e '=' -e '^tmp\.' | sort; }

# fails_cleanly CODE PATTERN ARGS...: thinbox exits CODE with one line on
# stderr matching PATTERN, and the cache is as before.
fails_cleanly() {
    want=$1 pat=$2
    shift 2
    before=$(caches)
    "$TB" "$@" > "$W/out" 2> "$W/err"
    code=$?
    expect "$want" "$code" || { cat "$W/err"; return 1; }
    expect 1 "$(wc -l < "$W/err")" || { cat "$W/err"; return 1; }
    grep -q -- "$pat" "$W/err" || { echo "stderr lacks '$pat':"; cat "$W/err"; return 1; }
    expect "$before" "$(caches)" || { echo "the cache changed"; return 1; }
    expect "" "$(leftovers)"
}

# An Alpine-style minirootfs: gzip, every name under ./
tar czf "$D/images/alpine.tar.gz" -C "$R" .

test_first_run_unpacks() {
    expect "" "$(caches)" || return 1
    out=$(run alpine cat /etc/passwd 2> "$W/err") || { cat "$W/err"; return 1; }
    expect "$(cat "$R/etc/passwd")" "$out" || return 1
    # Not a terminal: no progress.
    expect "" "$(cat "$W/err")" || return 1
    sum=$(sha256sum < "$D/images/alpine.tar.gz" | cut -d' ' -f1)
    expect "$sum" "$(caches)" || return 1
    expect "" "$(leftovers)"
}

test_writes_go_to_the_layer() {
    if [ $overlay = no ]; then
        fails_cleanly 125 "overlayfs: not available" run --data-root "$D" alpine true
        return
    fi
    out=$(run alpine sh -c 'echo new > /new; rm /etc/group; echo more >> /etc/passwd; cat /new; ls /etc/group 2>&1; grep -c . /etc/passwd')
    expect "new
ls: /etc/group: No such file or directory
$(($(grep -c . "$R/etc/passwd") + 1))" "$out" || return 1
    c=$D/cache/$(caches)
    [ ! -e "$c/new" ] || { echo "the image got /new"; return 1; }
    cmp "$c/etc/passwd" "$R/etc/passwd" || return 1
    cmp "$c/etc/group" "$R/etc/group" || return 1
    # The next container starts from the pristine image.
    expect "no /new" "$(run alpine sh -c 'cat /new 2>/dev/null || echo no /new')" || return 1
    expect "" "$(leftovers)"
}

test_layer_lives_with_the_container() {
    [ $overlay = yes ] || return 0
    "$TB" run --data-root "$D" --name lay alpine sh -c 'echo y > /f; sleep 2' &
    tb=$!
    wait_for 50 test -f "$D/containers/lay/upper/f"
    [ -f "$D/containers/lay/upper/f" ] || { echo "no upper/f while running"; kill $tb; return 1; }
    # The overlay is in the container's mount namespace only.
    grep -F "$D" /proc/self/mountinfo && { echo "overlay visible on the host"; return 1; }
    wait $tb || return 1
    expect "" "$(leftovers)"
}

test_read_only() {
    out=$(run --read-only alpine sh -c 'touch /x 2>&1; echo rc=$?; awk "\$5 == \"/\" { print substr(\$6, 1, 3) }" /proc/self/mountinfo')
    echo "$out" | grep -q "Read-only file system" || { echo "$out"; return 1; }
    echo "$out" | grep -q "^rc=1$" || { echo "$out"; return 1; }
    expect "ro," "$(echo "$out" | tail -n 1)" || return 1
    [ ! -e "$D/cache/$(caches)/x" ] || return 1
    expect "" "$(leftovers)"
}

# A volume on a read-only image needs its mount point in the image: the
# shared unpacked copy must not grow one. With a layer, it goes there.
test_read_only_volume() {
    mkdir -p "$W/vol" && echo v > "$W/vol/f" || return 1
    expect v "$(run --read-only -v "$W/vol:/tmp" alpine cat /tmp/f)" || return 1
    fails_cleanly 125 "v $W/vol:/newvol: the read-only image has no such directory" \
        run --data-root "$D" --read-only -v "$W/vol:/newvol" alpine true || return 1
    [ ! -e "$D/cache/$(caches)/newvol" ] || { echo "mount point made in the cache"; return 1; }
    expect v "$(run --rm -v "$W/vol:/newvol" alpine cat /newvol/f)" || return 1
    [ ! -e "$D/cache/$(caches)/newvol" ] || { echo "mount point made in the cache"; return 1; }
    expect "" "$(leftovers)"
}

test_start_does_not_read_the_archive() {
    # Same inode, size and mtime, but every byte zeroed: a start that read
    # or hashed the archive would fail.
    a=$D/images/alpine.tar.gz
    cp "$a" "$W/saved"
    touch -r "$a" "$W/ref"
    dd if=/dev/zero of="$a" bs=1024 count=$(($(wc -c < "$a") / 1024)) conv=notrunc 2> /dev/null
    touch -r "$W/ref" "$a"
    out=$(run alpine echo started 2>&1)
    cp "$W/saved" "$a"
    expect started "$out"
}

test_changed_archive_is_unpacked_again() {
    mkdir -p "$W/v2"
    cp -a "$R/." "$W/v2/"
    echo 2 > "$W/v2/version"
    tar czf "$D/images/alpine.tar.gz" -C "$W/v2" .
    expect 2 "$(run alpine cat /version)" || return 1
    expect 2 "$(caches | wc -l)" || return 1
    tar czf "$D/images/alpine.tar.gz" -C "$R" .
}

test_progress_on_a_terminal() {
    command -v script > /dev/null || { echo "skip: no script(1)"; return 0; }
    cp "$D/images/alpine.tar.gz" "$D/images/tty.tgz"
    out=$(script -qec "$TB run --data-root $D tty true" /dev/null < /dev/null | tr '\r' '\n')
    rm "$D/images/tty.tgz"
    echo "$out" | grep -q '^thinbox: unpacking tty 100%$' || { echo "$out"; return 1; }
}

test_data_root_from_env() {
    expect ok "$(THINBOX_ROOT=$D "$TB" run alpine echo ok)"
}

test_images() {
    cp "$D/images/alpine.tar.gz" "$D/images/fresh.tar"
    out=$("$TB" images --data-root "$D") || return 1
    rm "$D/images/fresh.tar"
    expect "NAME SIZE UNPACKED" "$(echo "$out" | head -n 1 | tr -s ' ')" || return 1
    echo "$out" | grep -Eq '^alpine +[0-9.]+[KM] +yes$' || { echo "$out"; return 1; }
    echo "$out" | grep -Eq '^fresh +[0-9.]+[KM] +no$' || { echo "$out"; return 1; }
}

test_import_and_rmi() {
    tar cf "$W/plain.tar" -C "$R" .
    "$TB" import --data-root "$D" "$W/plain.tar" plain > "$W/out" || return 1
    sum=$(sha256sum < "$W/plain.tar" | cut -d' ' -f1)
    expect "plain sha256:$sum" "$(cat "$W/out")" || return 1
    [ -f "$D/images/plain.tar" ] && [ -d "$D/cache/$sum" ] || { ls -R "$D" | head; return 1; }
    "$TB" images --data-root "$D" | grep -Eq '^plain +[0-9.]+M +yes$' || return 1
    expect hi "$(run plain echo hi)" || return 1
    fails_cleanly 125 "image plain: already exists; remove it first" import --data-root "$D" "$W/plain.tar" plain || return 1
    "$TB" rmi --data-root "$D" plain || return 1
    [ ! -e "$D/images/plain.tar" ] && [ ! -e "$D/cache/$sum" ] || { echo "rmi left files"; return 1; }
    ls "$D/cache" | grep '^plain=' && { echo "rmi left the cache link"; return 1; }
    fails_cleanly 125 "image plain: not found" rmi --data-root "$D" plain || return 1
    fails_cleanly 125 "image plain: not found; put plain.tar.gz in $D/images" run --data-root "$D" plain true
}

test_rmi_refuses_while_used() {
    [ $overlay = yes ] || return 0
    "$TB" run --data-root "$D" --name busy alpine sleep 2 &
    tb=$!
    wait_for 50 test -d "$D/containers/busy"
    "$TB" rmi --data-root "$D" alpine 2> "$W/err"
    code=$?
    wait $tb
    expect 125 "$code" || return 1
    grep -q "image alpine: is used by container busy" "$W/err" || { cat "$W/err"; return 1; }
    [ -f "$D/images/alpine.tar.gz" ] && [ -n "$(caches)" ] || return 1
    expect "" "$(leftovers)"
}

# hostile NAME PATTERN: the archive $W/NAME.tar.gz fails to run with
# PATTERN, leaving no image, layer or file outside.
hostile() {
    cp "$W/$1" "$D/images/$1"
    fails_cleanly 125 "$2" run --data-root "$D" "${1%%.*}" true
    r=$?
    rm -f "$D/images/$1"
    expect "" "$(ls "$OUT")" || return 1
    [ ! -e "$W/evil" ] || { echo "$W/evil was written"; return 1; }
    return $r
}

test_hostile_dotdot() {
    echo x > "$W/f"
    tar czf "$W/dotdot.tar.gz" -C "$W" --transform 's,^f$,../../evil,' f
    hostile dotdot.tar.gz "image dotdot: tar entry ../../evil: '..' in the path refused"
}

test_hostile_absolute() {
    echo x > "$W/f"
    tar czf "$W/abs.tar.gz" -C "$W" --absolute-names --transform "s,^f\$,$W/evil," f
    hostile abs.tar.gz "image abs: tar entry $W/evil: absolute path refused"
}

test_hostile_symlink_write_through() {
    mkdir -p "$W/s"
    ln -sf "$OUT" "$W/s/link"
    echo pwned > "$W/s/f"
    tar czf "$W/sym.tar.gz" -C "$W/s" --transform 's,^f$,link/pwned,' link f
    hostile sym.tar.gz "image sym: tar entry link/pwned: a parent is a symlink or a file"
}

test_hostile_hardlink_out() {
    mkdir -p "$W/h"
    echo x > "$W/h/a"
    ln "$W/h/a" "$W/h/b"
    tar czf "$W/hard.tar.gz" -C "$W/h" -P --transform 's,^a$,../../outside/secret,' a b
    hostile hard.tar.gz "'..' in the path refused"
}

test_damaged_truncated() {
    head -c 300000 "$D/images/alpine.tar.gz" > "$W/cut.tar.gz"
    hostile cut.tar.gz "image cut: truncated gzip data"
}

test_damaged_corrupt() {
    cp "$D/images/alpine.tar.gz" "$W/bad.tar.gz"
    printf 'XXXXXXXX' | dd of="$W/bad.tar.gz" bs=1 seek=200000 conv=notrunc 2> /dev/null
    # Garbage may reach tar before the CRC is checked: either is clear.
    hostile bad.tar.gz "image bad: corrupt \(gzip data\|tar archive\)"
}

test_damaged_not_gzip() {
    tar cf "$W/notgz.tar.gz" -C "$R" ./etc
    hostile notgz.tar.gz "image notgz: not a gzip file"
}

test_damaged_not_tar() {
    head -c 5000 /dev/urandom | gzip > "$W/junk.tgz"
    hostile junk.tgz "image junk: not a tar archive"
}

test_import_refuses_bad_archives() {
    head -c 300000 "$D/images/alpine.tar.gz" > "$W/cut.tar.gz"
    fails_cleanly 125 "image cut: truncated gzip data" import --data-root "$D" "$W/cut.tar.gz" cut || return 1
    [ ! -e "$D/images/cut.tar.gz" ] && [ ! -e "$D/images/cut.tar" ] || { echo "import kept a bad archive"; return 1; }
    fails_cleanly 125 "image name '../x': use letters" import --data-root "$D" "$W/cut.tar.gz" ../x || return 1
    fails_cleanly 125 "nosuch: no such file" import --data-root "$D" "$W/nosuch" y
}

test_check() {
    "$TB" check --cgroup-root "$CG" > "$W/out"
    code=$?
    expect 21 "$(wc -l < "$W/out")" || { cat "$W/out"; return 1; }
    bad=$(grep -v -E '^(ok       |missing  )' "$W/out")
    expect "" "$bad" || return 1
    needed_missing=$(grep '^missing' "$W/out" | grep -vc '(optional)')
    expect "$([ "$needed_missing" = 0 ] && echo 0 || echo 1)" "$code" || { cat "$W/out"; return 1; }
    # Each missing line carries a hint after "; ".
    grep '^missing' "$W/out" | grep -v '; ' && return 1
    expect "$([ $overlay = yes ] && echo ok || echo missing)" "$(grep 'overlayfs$\|overlayfs;' "$W/out" | cut -d' ' -f1)" || return 1
    grep -q '^ok       pid namespace$' "$W/out" || return 1
    case $(grep -w memory "$CG/../cgroup.controllers" 2> /dev/null) in
        "") grep -q '^missing  memory controller; ' "$W/out" ;;
        *) grep -q '^ok       memory controller$' "$W/out" ;;
    esac
}

test_nothing_left_behind() {
    expect "" "$(leftovers)"
}

run_tests
