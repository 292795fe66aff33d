# Sourced by the VM suites (cgroup.sh, nomem.sh) with $1 = THINBOX and
# $2 = ROOTFS. Same output as tests/core.sh ("ok - NAME", "not ok - NAME"
# plus indented output, "N passed, N failed"), which tests/vm/init turns
# into THINBOX- markers for the host.
set -u
TB=$1
R=$2
CG=${CGROUP_ROOT:-/sys/fs/cgroup/thinbox}
W=${TMPDIR:-/tmp}/thinbox-vm.$$
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
. "$(dirname "$0")/../tap.sh"

# expect WANT GOT [WHAT]: tap.sh's, naming WHAT.
expect() {
    [ "$1" = "$2" ] && return 0
    echo "${3:-value}: expected '$1'"
    echo "${3:-value}: got      '$2'"
    return 1
}

# box NAME ARGS...: `thinbox run --name NAME ARGS...`; exit code in $rc,
# output in $W/out and $W/err. Fails when NAME's cgroup outlives the run.
box() {
    name=$1
    shift
    timeout 30 "$TB" run --rootfs "$R" --name "$name" "$@" > "$W/out" 2> "$W/err"
    rc=$?
    [ ! -e "$CG/$name" ] || { echo "cgroup $CG/$name left behind"; show; return 1; }
}

show() {
    echo "thinbox exit code $rc; stdout:"
    cat "$W/out"
    echo "stderr:"
    cat "$W/err"
}

# What a run must not leave: cgroups under $CG, processes in another pid
# namespace (a container's) and thinbox processes.
leftovers() {
    find "$CG" -mindepth 1 -type d 2> /dev/null | sed 's/^/cgroup: /'
    mine=$(readlink /proc/self/ns/pid)
    # Named by comm, state and parent, so that a failure says what it was.
    for n in /proc/[0-9]*/ns/pid; do
        ns=$(readlink "$n" 2> /dev/null) || continue
        [ "$ns" = "$mine" ] && continue
        p=${n%/ns/pid}
        echo "foreign pid namespace: ${p#/proc/} $(cat "$p/comm" 2> /dev/null) $(awk '{print "state", $3, "ppid", $4}' "$p/stat" 2> /dev/null)"
    done
    grep -l '^thinbox$' /proc/[0-9]*/comm 2> /dev/null | sed 's/^/thinbox process: /'
}

# leftovers and the mounts, to compare before and after a run.
snapshot() {
    leftovers
    cat /proc/self/mountinfo
}
