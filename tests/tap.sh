# Sourced by the suites (tests/*.sh, tests/vm/lib.sh): "ok - NAME" and
# "not ok - NAME" with the test's output indented, then "N passed, N
# failed", which tests/vm/init turns into markers.
pass=0
fail=0
failed=""

# t NAME CMD...: runs one test, quietly unless it fails (then non-zero).
t() {
    name=$1
    shift
    if out=$("$@" 2>&1); then
        pass=$((pass + 1))
        echo "ok - $name"
    else
        fail=$((fail + 1))
        failed="$failed $name"
        echo "not ok - $name"
        printf '%s\n' "$out" | sed 's/^/    /'
        return 1
    fi
}

# wait_for TENTHS CMD...: runs CMD (quietly) until it succeeds, every 0.1 s
# for up to TENTHS tenths of a second; non-zero if it never does.
wait_for() {
    _wait=$1
    shift
    until "$@" > /dev/null 2>&1; do
        [ "$_wait" -gt 0 ] || return 1
        _wait=$((_wait - 1))
        sleep 0.1
    done
}

# expect WANT GOT
expect() {
    [ "$1" = "$2" ] && return 0
    echo "expected: $1"
    echo "got:      $2"
    return 1
}

# fails_cleanly CODE PATTERN ARGS...: thinbox exits CODE, says one line on
# stderr matching PATTERN, and leaves nothing behind
# (the suite's snapshot() is unchanged). Needs $TB and $scratch.
fails_cleanly() {
    want=$1 pat=$2
    shift 2
    before=$(snapshot)
    "$TB" "$@" > "$scratch/out" 2> "$scratch/err"
    code=$?
    after=$(snapshot)
    expect "$want" "$code" || { cat "$scratch/err"; return 1; }
    lines=$(wc -l < "$scratch/err")
    expect 1 "$lines" || { cat "$scratch/err"; return 1; }
    grep -q -- "$pat" "$scratch/err" || { echo "stderr lacks '$pat':"; cat "$scratch/err"; return 1; }
    expect "$before" "$after" || { echo "something was left behind"; return 1; }
}

# Every test_* function of the suite, then the summary; non-zero on failure.
run_tests() {
    for f in $(grep -o '^test_[a-z0-9_]*' "$0"); do
        t "${f#test_}" "$f"
    done
    echo "${pass} passed, ${fail} failed"
    [ "$fail" = 0 ] || { echo "failed:$failed"; exit 1; }
}
