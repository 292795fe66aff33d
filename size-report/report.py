#!/usr/bin/env python3
"""Sizes of the stripped release binaries against size-report/budget and the
64 KiB goal, their sections, and the largest symbols (from the unstripped
release-syms twin) by crate. Appends to size-report/history.csv when the
sizes change; with CI=true it only checks that history.csv is current.
Run through size-report/report, which builds first.
   report.py [--no-history]"""
import csv
import datetime
import os
import re
import struct
import subprocess
import sys

TARGETS = ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"]
GOAL = 65536
TOP = 25
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BUDGET = os.path.join(HERE, "budget")
HISTORY = os.path.join(HERE, "history.csv")
# What a size change can come from: a dirty tree elsewhere is not "dirty".
SOURCES = ["src", "Cargo.toml", "Cargo.lock", ".cargo", "cross", "build.rs"]


def n(x):
    return f"{x:,}"


def sections(path):
    """(name, type, flags, size) of every section, read from the ELF64
    headers directly (both targets are little-endian)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise SystemExit(f"size-report: {path} is not a little-endian ELF64 file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    hdrs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    stroff = hdrs[shstrndx][4]
    out = []
    for h in hdrs[1:]:
        end = data.index(b"\0", stroff + h[0])
        out.append((data[stroff + h[0]:end].decode(), h[1], h[2], h[5]))
    return out


# Symbols the compiler's builtins provide under C names.
BUILTIN = re.compile(r"^__(u?(div|mod)[sdt]i\d|mul[sdt]i|mulo|ash[lr]|lshr|fix|float|extend|trunc|"
                     r"(add|sub|mul|div|neg|cmp|eq|ne|lt|le|gt|ge|un)[sdt]f|pop|clz|ctz|bswap|powi|aarch64_|"
                     r"llvm_|rust_probestack|chkstk)")
LIBS = {"core", "alloc", "compiler_builtins", "std"}
PRIMS = {"u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
         "bool", "char", "str", "f32", "f64", "()", "!"}


def c_symbols():
    """Names our sources define for the linker (#[no_mangle] / export_name)."""
    names = {"_start"}
    for root, _, files in os.walk(os.path.join(REPO, "src")):
        for fn in files:
            if fn.endswith(".rs"):
                text = open(os.path.join(root, fn), encoding="utf-8", errors="replace").read()
                names.update(re.findall(r"no_mangle\)?\]\s*(?:#\[[^\]]*\]\s*)*(?:pub\s+)?(?:unsafe\s+)?"
                                        r"(?:extern\s+\"C\"\s+)?fn\s+(\w+)", text))
                names.update(re.findall(r"export_name\s*=\s*\"(\w+)\"", text))
    return names


def type_crate(t):
    """The crate of a type as printed by the demangler, or None when it is
    a generic parameter."""
    t = t.strip()
    t = re.sub(r"^(&mut |&|\*const |\*mut |dyn |\[|\()+", "", t)
    head = re.split(r"[<\[;, >)]", t, 1)[0]
    if "::" in head:
        return head.split("::", 1)[0]
    if head in PRIMS or t.startswith(("fn(", "[", "(")):
        return "core"
    return None  # T, A, I: a generic parameter


def split_as(inner):
    """'A as B' at angle-bracket depth 0 -> (A, B), else (inner, None)."""
    depth = 0
    for i, ch in enumerate(inner):
        if ch in "<([":
            depth += 1
        elif ch in ">)]":
            depth -= 1
        elif depth == 0 and inner.startswith(" as ", i):
            return inner[:i], inner[i + 4:]
    return inner, None


def bracketed(s, start):
    """The text inside the <...> opening at s[start]."""
    depth = 0
    for i in range(start, len(s)):
        if s[i] == "<":
            depth += 1
        elif s[i] == ">" and s[i - 1] != "-":
            depth -= 1
            if depth == 0:
                return s[start + 1:i]
    return s[start + 1:]


def crate_of(name, ours):
    """Which crate a demangled symbol's code belongs to: impls go to their
    Self type's crate (a library type's impl of our trait is ours), drop
    glue to the dropped type's crate, C names we define to thinbox."""
    if "::" not in name:
        if name.startswith("OUTLINED_FUNCTION_"):
            return "outlined"  # LLVM's machine outliner, after LTO: any crate
        if name in ours:
            return "thinbox"
        return "compiler_builtins" if BUILTIN.match(name) else "?"
    if name.startswith("__rustc::"):
        return "thinbox"  # rustc's shims to our allocator and panic handler
    m = re.match(r"core::ptr::drop_in_place<", name)
    if m:
        t = bracketed(name, m.end() - 1)
        return "thinbox" if "thinbox::" in t else type_crate(t) or "core"
    if name.startswith("<"):
        self_t, trait = split_as(bracketed(name, 0))
        c = type_crate(self_t)
        tc = type_crate(trait) if trait else None
        if tc == "thinbox" and c in (None, "core", "alloc"):
            return "thinbox"
        return c or tc or "?"
    m = re.search(r"::<impl (.*) for (.*)>::", name)
    if m and type_crate(m.group(2)) == "thinbox":
        return "thinbox"
    return name.split("::", 1)[0]


def module_of(name):
    """thinbox's module of a symbol: spawn, applets::run, ..."""
    m = re.search(r"thinbox::((?:applets::(?=\w+::))?\w+)", name)
    return m.group(1) if m else "?"


def symbols(path):
    """(size, type, demangled name) of sized symbols, largest first."""
    out = subprocess.run(["nm", "-S", "-C", "--size-sort", path], capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4:
            syms.append((int(parts[1], 16), parts[2], parts[3]))
    syms.sort(key=lambda s: -s[0])
    return syms


def git_rev():
    def git(*a):
        return subprocess.run(["git", "-C", REPO] + list(a), capture_output=True, text=True).stdout.strip()
    if git("status", "--porcelain", "--", *SOURCES):
        return "dirty"
    return git("rev-parse", "--short", "HEAD") or "unknown"


def read_budget():
    budget = {}
    for line in open(BUDGET):
        line = line.split("#", 1)[0].split()
        if len(line) == 2:
            budget[line[0]] = int(line[1])
    return budget


def report(t, budget, ours):
    stripped = os.path.join(REPO, "target", t, "release", "thinbox")
    twin = os.path.join(REPO, "target", t, "release-syms", "thinbox")
    size = os.path.getsize(stripped)
    limit = budget.get(t)
    ok = limit is not None and size <= limit
    arch = t.split("-")[0]
    head = f"{arch:8} {n(size):>7} bytes ({size / 1024:.1f} KiB)  "
    if limit is None:
        head += "budget: NONE in size-report/budget"
    else:
        d = limit - size
        head += f"budget {n(limit)}: " + (f"ok, {n(d)} under" if ok else f"OVER by {n(-d)}")
    g = size - GOAL
    head += f"  |  goal {n(GOAL)}: " + (f"{n(g)} to go ({g / size:.0%})" if g > 0 else f"met, {n(-g)} spare")
    print(head)

    secs = sections(stripped)
    in_file = [(nm, sz) for nm, ty, fl, sz in secs if ty != 8]  # 8: SHT_NOBITS
    alloc = [(nm, sz) for nm, ty, fl, sz in secs if ty != 8 and fl & 2]
    mem_only = [(nm, sz) for nm, ty, fl, sz in secs if ty == 8 and sz]
    other = size - sum(sz for _, sz in alloc)
    print("  sections  " + "  ".join(f"{nm} {n(sz)}" for nm, sz in alloc) +
          f"  + {n(other)} headers/.comment/padding" +
          ("  (memory only: " + ", ".join(f"{nm} {n(sz)}" for nm, sz in mem_only) + ")" if mem_only else ""))
    del in_file

    if not os.path.exists(twin):
        print(f"  no {twin}: build it with cargo build --profile release-syms --target {t}")
        return ok, size
    text = {nm: sz for nm, _, _, sz in secs}
    twin_text = {nm: sz for nm, _, _, sz in sections(twin)}
    if text.get(".text") != twin_text.get(".text"):
        print(f"  warning: release-syms .text is {n(twin_text.get('.text', 0))}, release {n(text.get('.text', 0))}:"
              " the twin is from another build; symbols below may be off")
    syms = [s for s in symbols(twin) if s[1] not in "bBN"]  # .bss is not in the file
    by_crate = {}
    for sz, _, name in syms:
        c = crate_of(name, ours)
        by_crate[c] = by_crate.get(c, 0) + sz
    code = sum(sz for nm, sz in alloc)
    named = sum(by_crate.values())
    print("  by crate  " + "  ".join(f"{c} {n(sz)}" for c, sz in sorted(by_crate.items(), key=lambda x: -x[1])) +
          f"  unnamed {n(code - named)} (literals, padding)")
    mods = {}
    for sz, _, name in syms:
        if crate_of(name, ours) == "thinbox":
            mods[module_of(name)] = mods.get(module_of(name), 0) + sz
    top = sorted(mods.items(), key=lambda x: -x[1])
    print("  thinbox   " + "  ".join(f"{m} {n(sz)}" for m, sz in top[:10]) +
          (f"  +{len(top) - 10} more {n(sum(sz for _, sz in top[10:]))}" if len(top) > 10 else ""))
    print(f"  largest symbols ({len(syms)} sized, from target/{t}/release-syms)")
    for sz, _, name in syms[:TOP]:
        short = name if len(name) <= 100 else name[:97] + "..."
        print(f"    {n(sz):>7}  {crate_of(name, ours):17} {short}")
    return ok, size


def history(sizes):
    """Appends a row when the sizes changed; under CI only checks."""
    rows = list(csv.reader(open(HISTORY))) if os.path.exists(HISTORY) else []
    last = rows[-1] if len(rows) > 1 else None
    now = [str(sizes[t]) for t in TARGETS]
    if last and last[2:4] == now:
        print(f"history   unchanged since {last[0]} {last[1]}")
        return True
    was = f"{last[2]}, {last[3]} on {last[0]}" if last else "none"
    if os.environ.get("CI") == "true":
        print(f"history   FAIL: size-report/history.csv's last row is {was}, the sizes are {', '.join(now)}:"
              " run make size-report and commit size-report/history.csv")
        return False
    new = not rows
    with open(HISTORY, "a", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        if new:
            w.writerow(["date", "commit", "x86_64", "aarch64"])
        w.writerow([datetime.date.today().isoformat(), git_rev()] + now)
    delta = ""
    if last:
        delta = " (" + ", ".join(f"{int(b) - int(a):+,}" for a, b in zip(last[2:4], now)) + ")"
    print(f"history   appended {', '.join(now)}{delta} to size-report/history.csv: commit it with the change")
    return True


def main():
    budget = read_budget()
    ours = c_symbols()
    ok, sizes, over = True, {}, []
    for t in TARGETS:
        path = os.path.join(REPO, "target", t, "release", "thinbox")
        if not os.path.exists(path):
            print(f"size-report: {path} is missing; build with make build", file=sys.stderr)
            return 2
        t_ok, sizes[t] = report(t, budget, ours)
        if not t_ok:
            over.append(t)
        print()
    if "--no-history" not in sys.argv and not history(sizes):
        ok = False
    for t in over:
        lim = budget.get(t)
        if lim is None:
            print(f"size-report: FAIL: {t} has no line in size-report/budget")
        else:
            print(f"size-report: FAIL: {t} is {n(sizes[t])} bytes, {n(sizes[t] - lim)} over its budget of {n(lim)}")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
