#!/usr/bin/env python3
"""Bad-input fuzzing with fixed seeds: mutated config.json files through
`create`, and random `run` command lines. Whatever the input, thinbox must
not die by a signal, a failure must print exactly one line (warnings
aside), a success none, and nothing may be left behind: no state, mount,
cgroup or process.
  tests/fuzz.py THINBOX ROOTFS [ROUNDS]
CGROUP_ROOT: a cgroup2 directory (default: picked by tests/cgroup-root)."""
import glob, json, os, random, shutil, subprocess, sys, tempfile

TB, ROOTFS = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 500
HERE = os.path.dirname(os.path.abspath(__file__))
CG = os.environ.get("CGROUP_ROOT") or subprocess.run(
    ["sh", os.path.join(HERE, "cgroup-root")], capture_output=True, text=True).stdout.strip()
os.makedirs(CG, exist_ok=True)
scratch = tempfile.mkdtemp(prefix="thinbox-fuzz.")
# A copy: accepted mounts make their mount points in the rootfs, which the
# other suites share.
shutil.copytree(sys.argv[2], os.path.join(scratch, "rootfs"), symlinks=True)
ROOTFS = os.path.join(scratch, "rootfs")
STATE = os.path.join(scratch, "state")
os.environ["THINBOX_STATE"] = STATE
failures = []
started = 0


def call(argv):
    """Runs thinbox; returns (exit code, non-warning stderr lines)."""
    with open(os.path.join(scratch, "err"), "wb") as ef:
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=ef, timeout=30)
        except subprocess.TimeoutExpired:
            return None, ["timed out"]
    err = open(os.path.join(scratch, "err"), "rb").read().decode(errors="replace")
    return r.returncode, [l for l in err.splitlines() if l and not l.startswith("thinbox: warning:")]


def check(what, code, lines):
    global started
    started += code == 0
    if code is None or code < 0 or (code != 0 and len(lines) != 1) or (code == 0 and lines):
        failures.append(f"{what}: exit {code}, stderr {lines[:3]}")


def paths(o, p=()):
    yield p
    items = o.items() if isinstance(o, dict) else enumerate(o) if isinstance(o, list) else ()
    for k, v in items:
        yield from paths(v, p + (k,))


def fuzz_create():
    bundle = os.path.join(scratch, "bundle")
    os.makedirs(bundle)
    subprocess.run([TB, "spec"], cwd=bundle, check=True)
    base = json.load(open(os.path.join(bundle, "config.json")))
    base["root"] = {"path": ROOTFS}
    base["process"].update(terminal=False, args=["/bin/true"])
    raw0 = json.dumps(base).encode()
    nodes = [p for p in paths(base) if p]
    odd = [None, True, 0, -1, 2**63, 2**64, 1.5, "", "x", "/", "../..", [], {}, [1], "A" * 5000]
    rng = random.Random(1)
    for n in range(ROUNDS):
        kind = rng.random()
        if kind < 0.3:  # a few bytes changed
            r = bytearray(raw0)
            for _ in range(rng.randint(1, 4)):
                r[rng.randrange(len(r))] = rng.choice(b'{}[]",:0123456789-.tfn\\ \x00\xff')
            raw = bytes(r)
        elif kind < 0.4:  # truncated
            raw = raw0[:rng.randrange(len(raw0))]
        else:  # a node replaced by a value of another type or range
            o = json.loads(raw0)
            for _ in range(rng.randint(1, 3)):
                p, cur = rng.choice(nodes), o
                try:
                    for k in p[:-1]:
                        cur = cur[k]
                    cur[p[-1]] = rng.choice(odd)
                except (KeyError, IndexError, TypeError):
                    pass
            raw = json.dumps(o).encode()
        open(os.path.join(bundle, "config.json"), "wb").write(raw)
        cid = f"fz{os.getpid()}-{n}"
        code, lines = call([TB, "--root", STATE, "create", "--bundle", bundle, cid])
        check(f"create #{n}", code, lines)
        call([TB, "--root", STATE, "delete", "-f", cid])


def fuzz_run():
    flags = ["--memory", "--memory-swap", "--cpu", "--pids", "--name", "-h", "-e", "-w", "-u",
             "--cap-add", "--cap-drop", "--seccomp", "--restart", "--log-size", "--net", "-v",
             "--device", "--hostname"]
    bools = ["--read-only", "--privileged", "--init", "--rm", "-i"]
    vals = ["", "0", "-1", "1", "0.5", "64m", "1x", "99999999999999999999", "a:b:c", "/", "..",
            "/dev/null", "/dev/null:/dev/x:rwm", "/tmp:/mnt", "/tmp:/mnt:zz", "ALL", "NET_ADMIN",
            "bogus", "host", "none", "always", "on-failure:3", "root", "1:1", "x=y", "A" * 300,
            "\xff", "/nonexistent", "/dev/null:/dev/../etc/x"]
    rng = random.Random(2)
    for n in range(ROUNDS):
        argv = [TB, "run", "--cgroup-root", CG, "--rootfs", ROOTFS]
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.25:
                argv.append(rng.choice(bools))
            else:
                argv += [rng.choice(flags), rng.choice(vals)]
        if rng.random() < 0.9:
            argv += ["--", "/bin/true"]
        code, lines = call(argv)
        check(f"run {[a[:40] for a in argv[6:]]}", code, lines)


def cgroups():
    """Every cgroup directory thinbox may make: under CG, and cgroupsPath's
    default /thinbox in each v1 hierarchy of a hybrid host."""
    roots = [CG] + glob.glob("/sys/fs/cgroup/*/thinbox")
    return {os.path.join(r, d) for r in roots for d in os.listdir(r)
            if os.path.isdir(os.path.join(r, d))}


def leftovers(before):
    left = []
    if os.path.isdir(STATE) and os.listdir(STATE):
        left.append(f"state {os.listdir(STATE)}")
    with open("/proc/self/mountinfo") as f:
        left += [l.split()[4] for l in f if ROOTFS in l or scratch in l]
    left += [f"cgroup {d}" for d in sorted(cgroups() - before)]
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and os.readlink(f"/proc/{p}/exe") == TB:
                left.append(f"process {p}")
        except OSError:
            pass
    return left


try:
    before = cgroups()
    fuzz_create()
    fuzz_run()
    failures += [f"left behind: {x}" for x in leftovers(before)]
finally:
    # Never delete through a mount left behind (it is reported above).
    with open("/proc/self/mountinfo") as f:
        if not any(scratch in l for l in f):
            shutil.rmtree(scratch, ignore_errors=True)
for f in failures[:20]:
    print("not ok -", f)
print(f"fuzz: {2 * ROUNDS} inputs, {started} accepted, {len(failures)} failed")
sys.exit(1 if failures else 0)
