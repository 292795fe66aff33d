#!/usr/bin/env python3
"""thinbox against crun, runc, unshare+chroot and a C floor: startup latency
(interleaved rounds, with and without a network namespace, seccomp on/off),
the runtimes' own peak memory, an idle supervisor's memory, and scale (1,000
sequential runs, 50 concurrent detached containers, leaks). Run through
bench/run, which builds the C helpers and the rootfs first.
   bench.py [--smoke] [--rounds N] [--only startup,breakdown,memory,scale]
Writes bench/out/ (results.json, startup.svg, results.md, samples.csv); a full run also writes the
committed copy in bench/results/ (results.json, startup.svg, results.md).
Exits non-zero when a runtime fails or something leaks."""
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
BIN = os.path.join(OUT, "bin")
RESULTS = os.path.join(HERE, "results")
ROOTFS = os.path.join(OUT, "rootfs")
STATE = "/run/thinbox-bench"  # thinbox, crun and runc state, away from the defaults
HIDE = "/sys/fs/cgroup/unified/cgroup.controllers"
PREFIX = f"tbb{os.getpid()}"
failures = []  # what makes the exit status non-zero
notes = []


def log(*a):
    print(*a, flush=True)


def fail(msg):
    failures.append(msg)
    log("FAIL: " + msg)


# ---------------------------------------------------------------- statistics

def pct(xs, p):
    """Linear-interpolated percentile of a non-empty list."""
    s = sorted(xs)
    k = (len(s) - 1) * p
    i = int(k)
    return s[i] if i + 1 >= len(s) else s[i] + (s[i + 1] - s[i]) * (k - i)


def summary(xs):
    return {"n": len(xs), "median": pct(xs, .5), "p10": pct(xs, .1), "p90": pct(xs, .9),
            "p99": pct(xs, .99), "min": min(xs), "max": max(xs), "mean": sum(xs) / len(xs)}


# ---------------------------------------------------------------- the timer

class Spawner:
    """bench/spawn.c: forks, execs and waits for each command and times it."""

    def __init__(self):
        self.log = os.path.join(OUT, "spawn.log")
        hide = HIDE if hybrid() else "-"
        self.p = subprocess.Popen([os.path.join(BIN, "spawn"), self.log, os.path.join(OUT, "empty"), hide],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def run(self, argv, ns="h"):
        """(milliseconds, status, output if it failed)."""
        assert all("\t" not in a and "\n" not in a and a for a in argv)
        self.p.stdin.write(ns + "\t" + "\t".join(argv) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise SystemExit("bench: bench/spawn died")
        nsec, status = map(int, line.split())
        out = ""
        if status:
            out = open(self.log, errors="replace").read().strip()
        return nsec / 1e6, status, out

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def hybrid():
    return subprocess.run(["stat", "-fc", "%T", "/sys/fs/cgroup"], capture_output=True,
                          text=True).stdout.strip() != "cgroup2fs"


def sh(*argv, check=True, **kw):
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, **kw)


# ---------------------------------------------------------------- setup

class Env:
    def __init__(self, args):
        self.smoke = args.smoke
        os.makedirs(BIN, exist_ok=True)
        # A copy, so that a rebuild during the run cannot mix two binaries.
        src = os.environ.get("THINBOX", os.path.join(REPO, "target/x86_64-unknown-linux-musl/release/thinbox"))
        self.tb = os.path.join(BIN, "thinbox")
        shutil.copy2(src, self.tb)
        data = open(self.tb, "rb").read()
        self.tb_size = len(data)
        self.tb_sha = hashlib.sha256(data).hexdigest()[:12]
        self.cg = sh("sh", os.path.join(REPO, "tests/cgroup-root")).stdout.strip()
        os.makedirs(self.cg, exist_ok=True)
        for d in ("thinbox", "crun", "runc"):
            os.makedirs(os.path.join(STATE, d), exist_ok=True)
        os.environ["THINBOX_STATE"] = os.path.join(STATE, "thinbox")
        open(os.path.join(OUT, "empty"), "w").close()
        self.bundles = {net: self.bundle(net) for net in (True, False)}
        self.floor = os.path.join(BIN, "floor")
        # The same floor.c on musl: glibc's static start-up runs cpuid dozens
        # of times, and in a VM each one traps (~0.5 ms in all here).
        fm = os.path.join(BIN, "floor-musl")
        self.floor_musl = fm if os.path.exists(fm) else None
        self.hwm = os.path.join(BIN, "hwm")
        self.sp = Spawner()

    def bundle(self, net):
        """An OCI bundle from `crun spec`: the same rootfs, /bin/true, no
        terminal, the namespaces thinbox makes (with or without net)."""
        d = os.path.join(OUT, "bundle-net" if net else "bundle-nonet")
        os.makedirs(d, exist_ok=True)
        cfg = os.path.join(d, "config.json")
        if os.path.exists(cfg):
            os.remove(cfg)
        sh("crun", "spec", cwd=d)
        c = json.load(open(cfg))
        c["process"]["terminal"] = False
        c["process"]["args"] = ["/bin/true"]
        c["root"] = {"path": ROOTFS, "readonly": False}
        ns = [n for n in c["linux"]["namespaces"] if n["type"] != "network" or net]
        if not any(n["type"] == "cgroup" for n in ns):
            ns.append({"type": "cgroup"})
        c["linux"]["namespaces"] = ns
        json.dump(c, open(cfg, "w"), indent=1)
        return d

    def thinbox(self, name, *extra, cmd=("/bin/true",)):
        return [self.tb, "run", "--cgroup-root", self.cg, "--name", name, *extra, "--rootfs", ROOTFS, *cmd]

    def runtimes(self, seccomp):
        """(label, netns?, namespace for bench/spawn, argv for an id)."""
        r = []
        for net in (True, False):
            nn = [] if net else ["--net", "host"]
            r.append(("thinbox", net, "h", lambda i, nn=nn: self.thinbox(i, *nn)))
            if seccomp and net:
                r.append(("thinbox unconfined", net, "h",
                          lambda i: self.thinbox(i, "--seccomp", "unconfined")))
            if net:
                # Where systemd has mounted a bpffs, the device program is
                # loaded once and kept there (cgroup.rs).
                r.append(("thinbox, bpffs", net, "b", lambda i: self.thinbox(i)))
            b = self.bundles[net]
            r.append(("crun", net, "c", lambda i, b=b: ["crun", "--root", f"{STATE}/crun", "run", "-b", b, i]))
            r.append(("runc", net, "h", lambda i, b=b: ["runc", "--root", f"{STATE}/runc", "run", "-b", b, i]))
            un = ["unshare", "--pid", "--mount", "--uts", "--ipc", "--cgroup"] + (["--net"] if net else [])
            r.append(("unshare+chroot", net, "h", lambda i, un=un: un + ["--fork", "chroot", ROOTFS, "/bin/true"]))
            for label, exe in (("C floor", self.floor), ("C floor musl", self.floor_musl)):
                if exe:
                    fl = [exe] + ([] if net else ["-n"])
                    r.append((label, net, "h", lambda i, fl=fl: fl + [ROOTFS, "/bin/true"]))
        # The container's own command with no container: every row pays it.
        r.append(("exec only", True, "h", lambda i: [os.path.join(ROOTFS, "bin/true")]))
        return r

    def seccomp(self):
        """Whether `run --seccomp unconfined` works; the reason when not."""
        probe = self.sp.run(self.thinbox(f"{PREFIX}-probe", "--seccomp", "unconfined"))
        if probe[1] == 0:
            return True
        why = probe[2].splitlines()[0] if probe[2] else f"exit {probe[1]}"
        if not any("seccomp variant" in n for n in notes):
            notes.append(f"seccomp variant skipped: `thinbox run --seccomp unconfined` fails ({why})")
            log("  " + notes[-1])
        return False

    def cleanup(self, label, cid):
        """After a failed run: whatever a runtime may have left."""
        if label == "crun":
            self.sp.run(["crun", "--root", f"{STATE}/crun", "delete", "-f", cid], "c")
        elif label == "runc":
            sh("runc", "--root", f"{STATE}/runc", "delete", "-f", cid, check=False)


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = next((int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": os.uname().release, "arch": os.uname().machine,
            "memory_mib": mem // 1024, "loadavg": open("/proc/loadavg").read().split()[:3],
            "cgroups": "hybrid (v1 controllers, empty cgroup2)" if hybrid() else "cgroup2"}


def version(*argv):
    try:
        return sh(*argv, check=False).stdout.splitlines()[0].strip()
    except (IndexError, OSError):
        return "?"


# ---------------------------------------------------------------- leaks

def snapshot(env):
    """What runs must not leave behind, restricted to what this bench made
    (other work on the machine may come and go meanwhile)."""
    mounts = open("/proc/self/mountinfo").read().splitlines()
    ours = [m for m in mounts if OUT in m or STATE in m or PREFIX in m]
    cgroups = []
    for root, dirs, _ in os.walk(env.cg):
        cgroups += [os.path.join(root, d) for d in dirs if d.startswith(PREFIX)]
    zombies, procs = [], []
    me = {os.getpid(), env.sp.p.pid}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            st = open(f"/proc/{pid}/status").read()
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(re.search(r"PPid:\s+(\d+)", st).group(1))
        name = re.search(r"Name:\s+(\S*)", st).group(1)
        if "\nState:\tZ" in st and (ppid in me or name == "thinbox"):
            zombies.append(f"{pid} {name} (parent {ppid})")
        if STATE in cmd or PREFIX in cmd:
            procs.append(f"{pid} {cmd.strip()}")
    state = {d: sorted(os.listdir(os.path.join(STATE, d))) for d in ("thinbox", "crun", "runc")}
    return {"mountinfo_lines": len(mounts), "our_mounts": ours, "cgroups": cgroups, "state": state,
            "zombies": zombies, "processes": procs,
            "fds": len(os.listdir("/proc/self/fd")) + len(os.listdir(f"/proc/{env.sp.p.pid}/fd")),
            "file_handles": int(open("/proc/sys/fs/file-nr").read().split()[0])}


def leaks(before, after):
    """Growth between two snapshots, as messages."""
    bad = []
    if len(after["our_mounts"]) > len(before["our_mounts"]):
        bad.append("mounts: " + "; ".join(set(after["our_mounts"]) - set(before["our_mounts"])))
    for k in ("cgroups", "zombies", "processes"):
        new = sorted(set(after[k]) - set(before[k]))
        if new:
            bad.append(f"{k}: " + "; ".join(new[:5]) + (f" (+{len(new) - 5})" if len(new) > 5 else ""))
    for d, names in after["state"].items():
        new = sorted(set(names) - set(before["state"][d]))
        if new:
            bad.append(f"{d} state dirs: " + " ".join(new[:5]))
    if after["fds"] > before["fds"]:
        bad.append(f"fds of bench and bench/spawn: {before['fds']} -> {after['fds']}")
    return bad


# ---------------------------------------------------------------- startup

def startup(env, rounds, warmup):
    seccomp = env.seccomp()
    rts = env.runtimes(seccomp)
    times = {(label, net): [] for label, net, _, _ in rts}
    failed = {}
    log(f"startup: {len(rts)} commands x {rounds} rounds (+{warmup} warm-up), interleaved")
    t0 = time.monotonic()
    for rnd in range(warmup + rounds):
        # Each round starts one command later (A B C, B C A, C A B, ...):
        # whatever a command gains or loses from the one before it, every
        # command gets its share.
        for j in range(len(rts)):
            k = (j + rnd) % len(rts)
            label, net, ns, argv = rts[k]
            key = (label, net)
            if key in failed:
                continue
            cid = f"{PREFIX}-{rnd}-{k}"
            ms, status, out = env.sp.run(argv(cid), ns)
            if status:
                failed[key] = f"exit {status}: {out.splitlines()[-1] if out else ''}"
                fail(f"{label} ({'netns' if net else 'no netns'}) failed in round {rnd}: {failed[key]}")
                env.cleanup(label, cid)
            elif rnd >= warmup:
                times[key].append(ms)
        if not env.smoke and rnd % 50 == 49:
            log(f"  round {rnd + 1}/{warmup + rounds}, {time.monotonic() - t0:.0f}s")
    # Every sample, for a closer look (bench/out only).
    with open(os.path.join(OUT, "samples.csv"), "w") as f:
        f.write("runtime,netns,round,ms\n")
        for (label, net), xs in times.items():
            f.writelines(f"{label},{int(net)},{i},{x:.4f}\n" for i, x in enumerate(xs))
    res = []
    for label, net, ns, argv in rts:
        key = (label, net)
        row = {"runtime": label, "netns": net, "command": " ".join(argv("ID")).replace(REPO + "/", "")}
        if key in failed:
            row["failed"] = failed[key]
        elif times[key]:
            row.update(summary(times[key]))
        res.append(row)
    ratios = {}
    for net in (True, False):
        by = {r["runtime"]: r for r in res if r["netns"] == net and "median" in r}
        for base in ("crun", "runc", "C floor", "C floor musl", "unshare+chroot"):
            for who in ("thinbox", "thinbox unconfined", "thinbox, bpffs"):
                if who in by and base in by:
                    ratios[f"{who}/{base}{'' if net else ' (no netns)'}"] = by[who]["median"] / by[base]["median"]
    return {"rounds": rounds, "warmup": warmup, "seccomp_variant": seccomp, "seconds": time.monotonic() - t0,
            "runtimes": res, "ratios": ratios}


BASES = (("crun", "xcrun"), ("C floor", "xfloor"), ("C floor musl", "xmusl"))


def startup_rows(s, net):
    """(label, median, p10, p90, ratios to BASES or None) for one netns group."""
    base = {b["runtime"]: b for b in s["runtimes"] if b["netns"] == net and "median" in b}
    for r in s["runtimes"]:
        if r["netns"] != net:
            continue
        if "median" not in r:
            yield r["runtime"], None, None, None, None
            continue
        yield (r["runtime"], r["median"], r["p10"], r["p90"],
               [r["median"] / base[b]["median"] if b in base else None for b, _ in BASES])


def print_startup(s):
    for net in (True, False):
        log(f"\nstartup, {'new netns' if net else 'no netns '} (ms)   median    p10    p90 "
            + " ".join(f"{h:>6}" for _, h in BASES))
        for label, med, p10, p90, xs in startup_rows(s, net):
            if med is None:
                log(f"  {label:28} FAILED")
            else:
                log(f"  {label:28} {med:6.2f} {p10:6.2f} {p90:6.2f} "
                    + " ".join(f"{x:6.2f}" if x else f"{'':6}" for x in xs))


def breakdown(env, rounds, seccomp):
    """Where thinbox's time goes: floor.c on musl with thinbox's steps added
    one at a time (cumulative), interleaved with thinbox itself; each
    step's price is its median minus the previous row's."""
    fl = env.floor_musl or env.floor
    steps = [("C floor" + (" musl" if env.floor_musl else ""), []), ("+ cgroup (clone3 INTO_CGROUP)", ["-c", env.cg]),
             ("+ hostname, lo up", ["-l"]), ("+ /proc, /dev, /sys, cgroup2", ["-d"]),
             ("+ masked, read-only paths", ["-m"]), ("+ caps, ids, no_new_privs", ["-k"]),
             ("+ wait for exec (socketpair)", ["-s"])]
    cmds, acc = [], []
    for label, flags in steps:
        acc = acc + flags
        cmds.append((label, [fl] + acc + [ROOTFS, "/bin/true"]))
    if seccomp:
        cmds.append(("thinbox --seccomp unconfined", lambda i: env.thinbox(i, "--seccomp", "unconfined")))
    cmds.append(("thinbox", lambda i: env.thinbox(i)))
    times = {label: [] for label, _ in cmds}
    log(f"\nbreakdown: {len(cmds)} commands x {rounds} rounds, interleaved")
    for rnd in range(rounds + 2):
        for label, argv in cmds:
            ms, status, out = env.sp.run(argv(f"{PREFIX}-b{rnd}") if callable(argv) else argv)
            if status:
                fail(f"breakdown: {label} failed: exit {status}: {out}")
                return None
            if rnd >= 2:
                times[label].append(ms)
    # A step's price: the median of its per-round difference to the row
    # above (paired within a round, so slow drifts in load cancel out).
    res, prev = [], None
    for label, _ in cmds:
        t = times[label]
        d = None if prev is None else pct([a - b for a, b in zip(t, prev)], .5)
        res.append({"step": label, "median": pct(t, .5), "p10": pct(t, .1), "p90": pct(t, .9), "delta": d})
        prev = t
    # thinbox's rows: what it does beyond the emulated steps, then its
    # default seccomp filter.
    res[-1]["step"] = "thinbox, default seccomp" if seccomp else "thinbox (vs all the steps above)"
    if seccomp:
        res[-2]["step"] = "thinbox --seccomp unconfined (vs the steps)"
    for r in res:
        d = f"{r['delta'] * 1000:+6.0f} us" if r["delta"] is not None else ""
        log(f"  {r['step']:44} {r['median']:6.2f} ms  {d}")
    return {"rounds": rounds, "floor": os.path.basename(fl), "steps": res}


# ---------------------------------------------------------------- memory

def memory(env, reps):
    """VmHWM of the runtime process itself (bench/hwm.c), checked first
    against bench/touch.c touching a known amount."""
    out = os.path.join(OUT, "hwm.txt")

    def hwm(argv, ns="h"):
        ms, status, err = env.sp.run([env.hwm, out] + argv, ns)
        if status:
            return None, err
        k, rss, code, execs, anon, file, walked = map(int, open(out).read().split())
        return k, (anon, file)

    touch = os.path.join(BIN, "touch")
    base, err = hwm([touch, "0"])
    if base is None:
        fail(f"bench/hwm does not work: {err}")
        return None
    cal = {}
    for kib in (1024, 8192):
        got, _ = hwm([touch, str(kib)])
        cal[kib] = (got or 0) - base
        if got is None or abs(got - base - kib) > 64:
            fail(f"hwm calibration: touching {kib} KiB measured {got - base} KiB")
    log(f"\nmemory: hwm calibration: touch 1024 KiB -> +{cal[1024]} KiB, 8192 KiB -> +{cal[8192]} KiB")
    res = {}
    cmds = [("thinbox", "h", lambda i: env.thinbox(i)),
            ("crun", "c", lambda i: ["crun", "--root", f"{STATE}/crun", "run", "-b", env.bundles[True], i]),
            ("runc", "h", lambda i: ["runc", "--root", f"{STATE}/runc", "run", "-b", env.bundles[True], i]),
            ("C floor", "h", lambda i: [env.floor, ROOTFS, "/bin/true"])]
    for label, ns, argv in cmds:
        vals, split = [], (0, 0)
        for i in range(reps):
            cid = f"{PREFIX}-m{i}"
            k, info = hwm(argv(cid), ns)
            if k is None:
                fail(f"{label} under bench/hwm failed: {info.splitlines()[-1] if info else ''}")
                env.cleanup(label, cid)
                break
            vals.append(k)
            split = info
        if vals:
            # anon/file: the resident split at exit (file: the binary and libraries, shared).
            res[label] = {"vmhwm_kib": pct(vals, .5), "min": min(vals), "max": max(vals), "n": len(vals),
                          "exit_anon_kib": split[0], "exit_file_kib": split[1]}
            log(f"  {label:10} VmHWM {pct(vals, .5):>7.0f} KiB (min {min(vals)}, max {max(vals)}, n={len(vals)});"
                f" at exit {split[0]} KiB anon + {split[1]} KiB file")
    return {"calibration_kib": cal, "runtimes": res, "supervisor": supervisor(env)}


def smaps(pid):
    d = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        p = line.split()
        if len(p) == 3 and p[2] == "kB":
            d[p[0].rstrip(":")] = int(p[1])
    return d


def supervisors(env, names):
    """name -> the supervisor's pid: the container's parent, from ps."""
    try:
        ps = json.loads(sh(env.tb, "ps", "--format", "json", check=False).stdout or "[]")
    except ValueError:
        ps = []
    sup = {}
    for c in ps:
        if c.get("name") in names and c.get("pid"):
            try:
                st = open(f"/proc/{c['pid']}/status").read()
            except OSError:
                continue  # exited meanwhile
            sup[c["name"]] = int(re.search(r"PPid:\s+(\d+)", st).group(1))
    return sup


def supervisor(env):
    name = f"{PREFIX}-sup"
    r = sh(*env.thinbox(name, "-d", cmd=("/bin/sleep", "1000")), check=False)
    if r.returncode:
        fail(f"thinbox run -d failed: {r.stderr.strip()}")
        return None
    try:
        # Idle: after 1 s without events the supervisor drops the pages
        # setup used (supervise.rs), so measure after that.
        time.sleep(1.5)
        pid = supervisors(env, {name}).get(name)
        if not pid:
            fail("no supervisor found for the detached container")
            return None
        m = smaps(pid)
        st = open(f"/proc/{pid}/status").read()
        hwm = int(re.search(r"VmHWM:\s+(\d+)", st).group(1))
        res = {"rss_kib": m["Rss"], "pss_kib": m["Pss"], "anon_kib": m.get("Anonymous", 0), "vmhwm_kib": hwm,
               "fds": len(os.listdir(f"/proc/{pid}/fd"))}
        log(f"  supervisor (idle, thinbox run -d ... sleep 1000): Rss {m['Rss']} KiB, Pss {m['Pss']} KiB,"
            f" anon {m.get('Anonymous', 0)} KiB, VmHWM {hwm} KiB, {res['fds']} fds")
        return res
    finally:
        r = sh(env.tb, "rm", "-f", name, check=False)
        if r.returncode:
            fail(f"thinbox rm -f {name}: {r.stderr.strip()}")


# ---------------------------------------------------------------- scale

def scale(env, seq, conc):
    before = snapshot(env)
    log(f"\nscale: {seq} sequential thinbox runs")
    t0 = time.monotonic()
    times = []
    for i in range(seq):
        ms, status, out = env.sp.run(env.thinbox(f"{PREFIX}-s{i}"))
        if status:
            fail(f"sequential run {i} failed: exit {status}: {out}")
            break
        times.append(ms)
    wall = time.monotonic() - t0
    res = {"sequential": dict(summary(times), runs=len(times), total_s=wall)} if times else {}
    if times:
        s = res["sequential"]
        log(f"  {len(times)} runs in {wall:.2f}s: p50 {s['median']:.2f} ms, p99 {s['p99']:.2f} ms, max {s['max']:.2f} ms")
    mid = snapshot(env)
    bad = leaks(before, mid)
    for b in bad:
        fail(f"leak after sequential runs: {b}")

    log(f"scale: {conc} concurrent detached containers")
    names = [f"{PREFIX}-d{i}" for i in range(conc)]
    t0 = time.monotonic()
    procs = [subprocess.Popen(env.thinbox(n, "-d", cmd=("/bin/sleep", "1000")), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for n in names]
    errs = [p.communicate()[1].strip() for p in procs]
    start_s = time.monotonic() - t0
    ok = sum(p.returncode == 0 for p in procs)
    if ok < conc:
        fail(f"{conc - ok} of {conc} detached starts failed: " + next(e for p, e in zip(procs, errs) if p.returncode))
    sup = supervisors(env, set(names))
    running = len(sup)
    # Idle, as they spend their lives: after 1 s without events each drops
    # the pages setup used (supervise.rs).
    time.sleep(1.5)
    rss = pss = 0
    for pid in sup.values():
        try:
            m = smaps(pid)
            rss += m["Rss"]
            pss += m["Pss"]
        except OSError:
            pass
    if running < ok:
        fail(f"only {running} of {ok} detached containers are running")
    t1 = time.monotonic()
    rm = [subprocess.Popen([env.tb, "rm", "-f", n], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
          for n in names]
    rm_errs = [p.communicate()[1].strip() for p in rm]
    rm_s = time.monotonic() - t1
    rm_bad = [e for p, e in zip(rm, rm_errs) if p.returncode]
    if rm_bad:
        fail(f"{len(rm_bad)} thinbox rm -f failed: {rm_bad[0]}")
    res["concurrent"] = {"containers": conc, "started": ok, "running": running, "start_all_s": start_s,
                         "supervisors_rss_kib": rss, "supervisors_pss_kib": pss, "rm_all_s": rm_s}
    log(f"  {ok}/{conc} started in {start_s * 1000:.0f} ms ({running} running); supervisors, idle: Rss {rss} KiB total"
        f" ({rss / max(running, 1):.0f} each), Pss {pss} KiB; rm -f all in {rm_s * 1000:.0f} ms")
    # Supervisors exit after rm; give stragglers a moment before judging.
    for _ in range(50):
        after = snapshot(env)
        if not leaks(before, after):
            break
        time.sleep(0.1)
    bad = leaks(before, after)
    for b in bad:
        fail(f"leak after the concurrent containers: {b}")
    res["leaks"] = {"before": {k: before[k] for k in ("mountinfo_lines", "fds", "file_handles")},
                    "after": {k: after[k] for k in ("mountinfo_lines", "fds", "file_handles")},
                    "growth": bad}
    log(f"  leaks: {'none' if not bad else '; '.join(bad)} (mountinfo {before['mountinfo_lines']} -> "
        f"{after['mountinfo_lines']}, fds {before['fds']} -> {after['fds']}, cgroups/state/zombies/processes checked)")
    return res


# ---------------------------------------------------------------- output

def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_step(top, n=6):
    for s in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000):
        if top / s <= n:
            return s
    return top / n


def svg(res):
    """Startup latency (median bars, p10-p90 whiskers; netns and no netns)
    and the runtimes' peak memory, hand-written SVG."""
    W, L, R = 760, 150, 80
    plot = W - L - R

    def axis(top, step, y0, h, div, caption):
        """Gridlines and ticks (value / div) under a chart h high from y0,
        and the caption; returns the x of a value."""
        top = step * (int(top / step) + 1)
        x = lambda v: L + plot * v / top
        for i in range(int(top / step) + 1):
            v = i * step
            o.append(f'<line x1="{x(v):.1f}" y1="{y0}" x2="{x(v):.1f}" y2="{y0 + h}" stroke="#ddd"/>')
            o.append(f'<text x="{x(v):.1f}" y="{y0 + h + 13}" text-anchor="middle" font-size="10">{v / div:g}</text>')
        o.append(f'<text x="{L + plot / 2}" y="{y0 + h + 27}" text-anchor="middle" font-size="11">{caption}</text>')
        return x

    o = []
    y = 20
    st = res.get("startup")
    m = res.get("machine", {})
    o.append(f'<text x="{W / 2}" y="{y}" text-anchor="middle" font-weight="bold">thinbox startup: '
             f'run /bin/true, same rootfs and namespaces</text>')
    y += 16
    o.append(f'<text x="{W / 2}" y="{y}" text-anchor="middle" font-size="11" fill="#555">'
             f'{esc(m.get("cpu", ""))}, {m.get("cores", "")} cores, Linux {esc(m.get("kernel", ""))}, '
             f'{res.get("date", "")[:10]}</text>')
    y += 14
    if st:
        rows = []
        for r in st["runtimes"]:
            if r["runtime"] not in rows:
                rows.append(r["runtime"])
        get = {(r["runtime"], r["netns"]): r for r in st["runtimes"]}
        top = max((r["p90"] for r in st["runtimes"] if "p90" in r), default=1)
        y0 = y + 10
        h = len(rows) * 34
        x = axis(top, nice_step(top), y0, h, 1,
                 f'milliseconds (median; whiskers p10-p90; {st["rounds"]} interleaved rounds)')
        for j, label in enumerate(rows):
            yy = y0 + j * 34 + 4
            o.append(f'<text x="{L - 8}" y="{yy + 17}" text-anchor="end" font-size="12">{esc(label)}</text>')
            for k, net in enumerate((True, False)):
                r = get.get((label, net))
                by = yy + k * 13
                color = "#2b6cb0" if net else "#90cdf4"
                if r is None:
                    continue
                if "median" not in r:
                    o.append(f'<text x="{L + 4}" y="{by + 10}" font-size="10" fill="#c00">failed</text>')
                    continue
                o.append(f'<rect x="{L}" y="{by}" width="{x(r["median"]) - L:.1f}" height="11" fill="{color}"/>')
                o.append(f'<line x1="{x(r["p10"]):.1f}" y1="{by + 5.5}" x2="{x(r["p90"]):.1f}" y2="{by + 5.5}" '
                         f'stroke="#222"/>')
                for v in (r["p10"], r["p90"]):
                    o.append(f'<line x1="{x(v):.1f}" y1="{by + 2}" x2="{x(v):.1f}" y2="{by + 9}" stroke="#222"/>')
                o.append(f'<text x="{x(r["p90"]) + 4:.1f}" y="{by + 9.5}" font-size="10">{r["median"]:.2f}</text>')
        ly = y0 + h + 40
        for k, (t, c) in enumerate((("new network namespace", "#2b6cb0"), ("--net host / no netns", "#90cdf4"))):
            o.append(f'<rect x="{L + k * 200}" y="{ly - 9}" width="10" height="10" fill="{c}"/>')
            o.append(f'<text x="{L + k * 200 + 14}" y="{ly}" font-size="11">{t}</text>')
        y = ly + 24
    mem = res.get("memory")
    if mem and mem.get("runtimes"):
        o.append(f'<text x="{W / 2}" y="{y}" text-anchor="middle" font-weight="bold">'
                 f'peak resident memory of the runtime process (VmHWM)</text>')
        items = [(k, v["vmhwm_kib"]) for k, v in mem["runtimes"].items()]
        if mem.get("supervisor"):
            items.append(("thinbox supervisor", mem["supervisor"]["rss_kib"]))
        top = max(v for _, v in items)
        y0 = y + 10
        h = len(items) * 20
        x = axis(top, nice_step(top / 1024) * 1024, y0, h, 1024,
                 "MiB (supervisor: Rss of an idle detached container's supervisor)")
        for j, (label, v) in enumerate(items):
            yy = y0 + j * 20 + 4
            o.append(f'<text x="{L - 8}" y="{yy + 10}" text-anchor="end" font-size="12">{esc(label)}</text>')
            o.append(f'<rect x="{L}" y="{yy}" width="{max(x(v) - L, 1):.1f}" height="12" fill="#2f855a"/>')
            o.append(f'<text x="{x(v) + 4:.1f}" y="{yy + 10}" font-size="10">{v:.0f} KiB</text>')
        y = y0 + h + 40
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{y}" viewBox="0 0 {W} {y}" '
            f'font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n'
            + "\n".join(o) + "\n</svg>\n")


def markdown(res):
    m = res["machine"]
    o = [f"# thinbox benchmark results", "",
         f"{res['date'][:16].replace('T', ' ')} UTC; {m['cpu']}, {m['cores']} cores, {m['memory_mib']} MiB, "
         f"Linux {m['kernel']} ({m['arch']}), cgroups {m['cgroups']}; load average at start "
         f"{' '.join(m['loadavg'])}, at the end {' '.join(m.get('loadavg_end', ['?']))}.", "",
         f"thinbox {res['thinbox']['size']:,} bytes ({res['thinbox']['commit']}), "
         f"{res['versions']['crun']}, {res['versions']['runc']}. Regenerate with `make bench`.", ""]
    st = res.get("startup")
    if st:
        o += [f"## Startup: `run /bin/true`, ms ({st['rounds']} interleaved rounds)", ""]
        for net in (True, False):
            o += [f"{'With a new network namespace' if net else 'Without a network namespace (thinbox --net host)'}:",
                  "", "| runtime | median | p10 | p90 | " + " | ".join(h.replace("x", "×") for _, h in BASES) + " |",
                  "|---|---:|---:|---:|" + "---:|" * len(BASES)]
            for label, med, p10, p90, xs in startup_rows(st, net):
                if med is None:
                    o.append(f"| {label} | failed | | | " + " | " * (len(BASES) - 1) + " |")
                else:
                    o.append(f"| {label} | {med:.2f} | {p10:.2f} | {p90:.2f} | "
                             + " | ".join(f"{x:.2f}" if x else "" for x in xs) + " |")
            o.append("")
        o.append("Commands:")
        o.append("")
        for r in st["runtimes"]:
            if r["netns"]:
                o.append(f"- {r['runtime']}: `{r['command']}`")
        o.append("")
    bd = res.get("breakdown")
    if bd:
        o += [f"## Where thinbox's startup goes ({bd['rounds']} interleaved rounds)", "",
              f"`bench/floor.c` ({bd['floor']}) with thinbox's steps added one at a time; a step's cost is the "
              "median over rounds of its time minus the row above's in the same round.", "", "| step | median ms | cost µs |", "|---|---:|---:|"]
        for r in bd["steps"]:
            o.append(f"| {r['step']} | {r['median']:.2f} | "
                     + (f"{r['delta'] * 1000:+.0f}" if r["delta"] is not None else "") + " |")
        o.append("")
    mem = res.get("memory")
    if mem:
        o += ["## Memory", "", "Peak resident memory of the runtime process itself (VmHWM), and its split at exit "
              "(file: the executable and libraries, shared between processes).", "",
              "| process | VmHWM KiB | anon KiB | file KiB |", "|---|---:|---:|---:|"]
        for k, v in mem["runtimes"].items():
            o.append(f"| {k} (`run /bin/true`) | {v['vmhwm_kib']:.0f} | {v.get('exit_anon_kib', '')} | "
                     f"{v.get('exit_file_kib', '')} |")
        if mem.get("supervisor"):
            s = mem["supervisor"]
            o.append(f"| thinbox supervisor, idle: Rss {s['rss_kib']}, Pss {s['pss_kib']} | {s['vmhwm_kib']} | "
                     f"{s['anon_kib']} | {s['rss_kib'] - s['anon_kib']} |")
        o.append("")
    sc = res.get("scale")
    if sc:
        o += ["## Scale", ""]
        s = sc.get("sequential")
        if s:
            o.append(f"- {s['runs']} sequential `thinbox run`: {s['total_s']:.2f} s total, p50 {s['median']:.2f} ms,"
                     f" p99 {s['p99']:.2f} ms")
        c = sc.get("concurrent")
        if c:
            o.append(f"- {c['containers']} concurrent `thinbox run -d`: all started in {c['start_all_s'] * 1000:.0f} ms;"
                     f" idle supervisors' Rss {c['supervisors_rss_kib']} KiB in total (Pss {c['supervisors_pss_kib']} KiB);"
                     f" `rm -f` of all in {c['rm_all_s'] * 1000:.0f} ms")
        lk = sc.get("leaks")
        if lk:
            o.append(f"- leaks (fds, mounts, cgroups, state dirs, zombies, processes): "
                     f"{'none' if not lk['growth'] else '; '.join(lk['growth'])}")
        o.append("")
    o += ["## Method", "",
          "- Each command is timed from fork to the end of waitpid (CLOCK_MONOTONIC) by `bench/spawn.c`, a small "
          "static timer that `bench/bench.py` drives; the runtimes take turns in every round. Every run must exit 0.",
          "- Same busybox rootfs (`tests/mkrootfs`), same namespaces: pid, mount, uts, ipc, net, cgroup; "
          "\"no netns\" drops net (thinbox `--net host`).",
          f"- thinbox makes a cgroup under `{res.get('cgroup_root', '')}` (`--cgroup-root`); crun and runc get "
          "`crun spec` bundles (terminal off, cgroup namespace added, no seccomp profile: `crun spec` has none) "
          "and make their own cgroups (\"thinbox unconfined\", `--seccomp unconfined`, is the like-for-like row "
          "once thinbox has a default seccomp filter); crun runs in a private mount namespace where an empty file hides "
          "`cgroup.controllers` of the hybrid host's cgroup2 mount, which it refuses otherwise.",
          "- \"thinbox, bpffs\" runs in a private mount namespace with a bpffs on /sys/fs/bpf, as systemd mounts "
          "it (this host has none): thinbox then loads its device program once and attaches the kept one.",
          "- C floor: `bench/floor.c` (`gcc -O2 -static`): clone with the namespaces, bind the rootfs, pivot_root, "
          "drop the old root, mount /proc, exec. \"C floor musl\" is the same file built with musl-gcc: glibc's "
          "static start-up executes cpuid dozens of times and each traps in a VM. \"exec only\" runs the rootfs's "
          "`/bin/true` with no container: every row pays it.",
          "- Memory: `bench/hwm.c` runs the runtime under ptrace (no fork following) and reads VmHWM at its exit "
          "stop: the runtime process alone, not the container; checked against `bench/touch.c`.", ""]
    if res.get("notes"):
        o += ["## Notes", ""] + [f"- {n}" for n in res["notes"]] + [""]
    return "\n".join(o)


# ---------------------------------------------------------------- main

def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="a few rounds of everything, for make test")
    ap.add_argument("--rounds", type=int, help="startup rounds (default 200, smoke 3)")
    ap.add_argument("--only", default="startup,breakdown,memory,scale")
    args = ap.parse_args()
    if os.geteuid():
        raise SystemExit("bench: run as root (containers, cgroups, mount namespaces)")
    only = set(args.only.split(","))
    env = Env(args)
    git = sh("git", "-C", REPO, "rev-parse", "--short", "HEAD", check=False).stdout.strip()
    dirty = sh("git", "-C", REPO, "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock", check=False).stdout
    res = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "smoke": args.smoke, "machine": machine(),
           "thinbox": {"size": env.tb_size, "sha256": env.tb_sha, "commit": git + ("-dirty" if dirty else "")},
           "versions": {"crun": version("crun", "--version"), "runc": version("runc", "--version"),
                        "unshare": version("unshare", "--version")},
           "cgroup_root": env.cg, "notes": notes}
    log(f"bench: thinbox {env.tb_size:,} bytes ({res['thinbox']['commit']}), {res['versions']['crun']}, "
        f"{res['versions']['runc']}; {res['machine']['cpu']}, {res['machine']['cores']} cores, "
        f"load {' '.join(res['machine']['loadavg'])}; cgroup root {env.cg}")
    before = snapshot(env)
    try:
        if "startup" in only:
            rounds = args.rounds or (3 if args.smoke else 200)
            res["startup"] = startup(env, rounds, 1 if args.smoke else 5)
            print_startup(res["startup"])
        if "breakdown" in only:
            sec = res["startup"]["seccomp_variant"] if "startup" in res else env.seccomp()
            res["breakdown"] = breakdown(env, args.rounds or (2 if args.smoke else 500), sec)
        if "memory" in only:
            res["memory"] = memory(env, 1 if args.smoke else 9)
        if "scale" in only:
            res["scale"] = scale(env, 10 if args.smoke else 1000, 3 if args.smoke else 50)
    finally:
        after = snapshot(env)
        env.sp.close()
    for b in leaks(before, after):
        if not any(b in f for f in failures):
            fail(f"left behind by the bench: {b}")
    res["machine"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    res["failures"] = failures
    os.makedirs(OUT, exist_ok=True)
    json.dump(res, open(os.path.join(OUT, "results.json"), "w"), indent=1)
    open(os.path.join(OUT, "startup.svg"), "w").write(svg(res))
    open(os.path.join(OUT, "results.md"), "w").write(markdown(res))
    written = "bench/out"
    if not args.smoke and only == {"startup", "breakdown", "memory", "scale"} and not failures:
        os.makedirs(RESULTS, exist_ok=True)
        for f in ("results.json", "startup.svg", "results.md"):
            shutil.copy(os.path.join(OUT, f), os.path.join(RESULTS, f))
        written += " and bench/results"
    log(f"\nbench: results in {written} (results.json, startup.svg, results.md)")
    if failures:
        log(f"bench: {len(failures)} failure(s):\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
