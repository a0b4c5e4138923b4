#!/usr/bin/env python3
"""Check libsmneo.so's ABI against the recorded baseline abi/libsmneo.abi.

Usage:
  tools/check_abi.py [--baseline FILE] LIB          check (make test runs this)
  tools/check_abi.py --update [--baseline FILE] LIB record LIB's ABI as the baseline
  tools/check_abi.py --self-test [--baseline FILE] LIB
        check that the checker refuses a removed function and a changed struct,
        and accepts an added function and an options struct grown at its end

LIB must be built with debug information (-g: cmake/abi.cmake adds it to
libsmneo's objects when the build type has none).
Needs abidw and abidiff (Debian: abigail-tools). Standard library only.

The dump holds what the public headers (core/include) declare and the library
exports, without paths, line numbers or build directories, so the same source
gives the same file in any checkout. The policy (docs/c-api.md, "ABI"):

- incompatible, the check fails: a removed or changed function or variable,
  a struct whose members moved, changed type or went away, a changed
  callback type, enum values that changed meaning;
- compatible, reported and accepted: added functions, and a versioned struct
  (first member `int version`: the options structs, the transport) grown by
  members appended at its end, which the versioning rule allows.

The baseline is the ABI of the last release. Additions since then are allowed
and listed on every run; record them (--update) when the next release is cut.
An incompatible change needs a new major version (SONAME) and a new baseline.
Exit status: 0 compatible, 1 incompatible or error, 77 skipped (no
abigail-tools, or a baseline recorded on another architecture).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINE = os.path.join(ROOT, "abi", "libsmneo.abi")
HEADERS = os.path.join(ROOT, "core", "include")
SKIP = 77

# abidiff's exit status bits (libabigail's abidiff manual)
ABIDIFF_ERROR = 1
ABIDIFF_USAGE_ERROR = 2
ABIDIFF_ABI_CHANGE = 4
ABIDIFF_ABI_INCOMPATIBLE_CHANGE = 8

ABIDW_FLAGS = [
    "--headers-dir", HEADERS,        # public types are the ones core/include defines
    "--drop-private-types",          # ... and only those are written
    "--exported-interfaces-only",    # functions the library exports, not the ones it calls
    "--no-corpus-path", "--no-comp-dir-path", "--no-show-locs",  # no paths or line numbers
    "--short-locs",                  # translation units by file name, not by path
    "--type-id-style", "hash",       # ids from the types, not from the order they were met
]


class Failure(Exception):
    pass


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def has_debug_info(lib):
    r = run(["readelf", "-S", "--wide", lib])
    if r.returncode:
        raise Failure("readelf %s failed: %s" % (lib, r.stderr.strip()))
    return " .debug_info " in r.stdout


def dump(lib, out):
    if not os.path.exists(lib):
        raise Failure("%s does not exist: build it first (make build)" % lib)
    if not has_debug_info(lib):
        raise Failure("%s has no debug information, so abidw cannot see its types: build with -g "
                      "(CMake does so for libsmneo unless -DSMNEO_ABI_CHECK=OFF; or -DCMAKE_BUILD_TYPE=RelWithDebInfo)" % lib)
    r = run(["abidw"] + ABIDW_FLAGS + ["--out-file", out, lib])
    if r.returncode:
        raise Failure("abidw failed on %s (exit %d): %s" % (lib, r.returncode, r.stderr.strip()))


# ---- struct layouts, read from the dumps -----------------------------------------------------

class Types:
    """The types of one abidw dump, to describe struct members comparably."""

    def __init__(self, path):
        self.root = ET.parse(path).getroot()
        self.by_id = {}
        self.structs = {}
        for el in self.root.iter():
            tid = el.get("id")
            if tid and el.tag != "elf-symbol":
                # a full definition wins over a declaration-only one of the same id
                if tid not in self.by_id or self.by_id[tid].get("is-declaration-only") == "yes":
                    self.by_id[tid] = el
            if el.tag == "class-decl" and el.get("name") and el.get("is-declaration-only") != "yes":
                self.structs.setdefault(el.get("name"), el)

    def arch(self):
        return self.root.get("architecture")

    def name(self, tid, depth=0):
        el = self.by_id.get(tid)
        if el is None or depth > 20:
            return "?"
        t = el.tag
        if t in ("type-decl", "typedef-decl", "class-decl", "union-decl", "enum-decl"):
            return el.get("name") or "(anonymous %s)" % t
        if t == "pointer-type-def":
            return self.name(el.get("type-id"), depth + 1) + "*"
        if t == "qualified-type-def":
            quals = [q for q in ("const", "volatile", "restrict") if el.get(q) == "yes"]
            return " ".join(quals + [self.name(el.get("type-id"), depth + 1)])
        if t == "array-type-def":
            dims = "".join("[%s]" % s.get("length", "") for s in el.findall("subrange"))
            return self.name(el.get("type-id"), depth + 1) + dims
        if t == "function-type":
            params = [self.name(p.get("type-id"), depth + 1) for p in el.findall("parameter")]
            ret = el.find("return")
            return "%s(*)(%s)" % (self.name(ret.get("type-id"), depth + 1) if ret is not None else "void",
                                  ", ".join(params))
        return t

    def size(self, tid, depth=0):
        el = self.by_id.get(tid)
        if el is None or depth > 20:
            return None
        if el.get("size-in-bits"):
            return int(el.get("size-in-bits"))
        if el.tag in ("typedef-decl", "qualified-type-def"):
            return self.size(el.get("type-id"), depth + 1)
        return None

    def members(self, struct):
        out = []
        for dm in struct.findall("data-member"):
            var = dm.find("var-decl")
            tid = var.get("type-id")
            out.append((var.get("name"), self.name(tid), self.size(tid), dm.get("layout-offset-in-bits")))
        return out


def struct_changes(old, new):
    """(grown, changed): versioned structs grown at their end, and other changed structs."""
    grown, changed = [], []
    for name, old_el in sorted(old.structs.items()):
        new_el = new.structs.get(name)
        if new_el is None:
            continue  # no longer reachable from the ABI: abidiff reports what that does to functions
        before, after = old.members(old_el), new.members(new_el)
        if before == after and old_el.get("size-in-bits") == new_el.get("size-in-bits"):
            continue
        versioned = bool(before) and before[0][0] == "version" and before[0][1] == "int"
        if versioned and after[:len(before)] == before and len(after) > len(before):
            grown.append((name, [m[0] for m in after[len(before):]]))
        else:
            changed.append((name, before, after))
    return grown, changed


def describe_struct_change(name, before, after):
    lines = ["  struct %s changed (only a struct whose first member is `int version` may grow, "
             "and only at its end):" % name]
    for label, members in (("before", before), ("after", after)):
        lines.append("    %s: %s" % (label, ", ".join("%s %s @%s" % (t, n, off) for n, t, _, off in members)))
    return "\n".join(lines)


# ---- the check -----------------------------------------------------------------------------------

def compare(baseline, current, tmp):
    """Returns (ok, report lines)."""
    old, new = Types(baseline), Types(current)
    if old.arch() != new.arch():
        print("check_abi: the baseline was recorded on %s and this build is %s: skipped"
              % (old.arch(), new.arch()))
        sys.exit(SKIP)
    full = run(["abidiff", baseline, current])
    if full.returncode & (ABIDIFF_ERROR | ABIDIFF_USAGE_ERROR):
        raise Failure("abidiff failed (exit %d): %s" % (full.returncode, (full.stderr or full.stdout).strip()))
    if full.returncode == 0:
        return True, ["ABI unchanged since the baseline"]
    report = [full.stdout.rstrip()]
    problems = []
    if full.returncode & ABIDIFF_ABI_INCOMPATIBLE_CHANGE:
        problems.append("functions or variables were removed")
    grown, changed = struct_changes(old, new)
    for name, before, after in changed:
        problems.append(describe_struct_change(name, before, after).lstrip())
    # Everything abidiff still reports once additions and the certified growth are set aside.
    suppr = os.path.join(tmp, "grown.abignore")
    with open(suppr, "w", encoding="utf-8") as f:
        for name, _ in grown:
            f.write("[suppress_type]\n  type_kind = struct\n  name = %s\n"
                    "  has_data_member_inserted_at = end\n\n" % name)
    rest = run(["abidiff", "--no-added-syms"] + (["--suppressions", suppr] if grown else []) + [baseline, current])
    if rest.returncode & (ABIDIFF_ERROR | ABIDIFF_USAGE_ERROR):
        raise Failure("abidiff failed (exit %d): %s" % (rest.returncode, (rest.stderr or rest.stdout).strip()))
    if rest.returncode & ABIDIFF_ABI_CHANGE and not problems:
        problems.append("existing functions changed (see the report above)")
    for name, added in grown:
        report.append("accepted: %s grew at its end (%s): allowed by the options versioning rule"
                      % (name, ", ".join(added)))
    if problems:
        return False, report + ["INCOMPATIBLE ABI change:"] + ["  " + p for p in problems]
    report.append("compatible: the ABI grew since the baseline; record it with "
                  "`make abi-update` when this version is released (docs/c-api.md, \"ABI\")")
    return True, report


def check(lib, baseline):
    if not os.path.exists(baseline):
        raise Failure("no baseline %s: record one with `make abi-update`" % baseline)
    with tempfile.TemporaryDirectory(prefix="smneo-abi.") as tmp:
        current = os.path.join(tmp, "current.abi")
        dump(lib, current)
        ok, report = compare(baseline, current, tmp)
    print("\n".join(report))
    if not ok:
        print("\nFix the change, or, when the break is intended, bump SMNEO_VERSION_MAJOR "
              "(core/include/smneo/version.h: the SONAME follows) and record the new baseline "
              "with `make abi-update`. A struct that only the library allocates and callers see "
              "through a pointer may grow at its end: record that with `make abi-update` after "
              "review (docs/c-api.md, \"ABI\").")
        return 1
    return 0


def update(lib, baseline):
    os.makedirs(os.path.dirname(os.path.abspath(baseline)), exist_ok=True)
    tmp = baseline + ".tmp"
    dump(lib, tmp)
    os.replace(tmp, baseline)
    t = Types(baseline)
    print("recorded %s: %d functions, %d structs, soname %s"
          % (os.path.relpath(baseline), len(t.root.findall("elf-function-symbols/elf-symbol")),
             len(t.structs), t.root.get("soname")))
    return 0


# ---- self-test: mutate a dump and expect the verdict ---------------------------------------------

def mutated(src, dst, edit):
    tree = ET.parse(src)
    edit(tree.getroot())
    tree.write(dst, encoding="unicode")


def first_function(root):
    for fd in root.iter("function-decl"):
        if fd.get("elf-symbol-id", "").startswith("smneo_"):
            return fd
    raise Failure("no exported function in the dump")


def parent_map(root):
    return {child: parent for parent in root.iter() for child in parent}


def remove_function(root):
    fd = first_function(root)
    sym = fd.get("elf-symbol-id")
    parents = parent_map(root)
    parents[fd].remove(fd)
    for s in list(root.iter("elf-symbol")):
        if s.get("name") == sym:
            parents[s].remove(s)


def add_function(root):
    import copy
    fd = first_function(root)
    sym = fd.get("elf-symbol-id")
    parents = parent_map(root)
    new_fd = copy.deepcopy(fd)
    for attr in ("name", "mangled-name", "elf-symbol-id"):
        new_fd.set(attr, "smneo_selftest_added")
    parents[fd].append(new_fd)
    for s in list(root.iter("elf-symbol")):
        if s.get("name") == sym:
            new_s = copy.deepcopy(s)
            new_s.set("name", "smneo_selftest_added")
            parents[s].append(new_s)
            break


def struct_el(root, name):
    for el in root.iter("class-decl"):
        if el.get("name") == name and el.get("is-declaration-only") != "yes":
            yield el


def swap_error_members(root):
    """smneo_error's first two pointer members trade places (same size, different meaning)."""
    for el in struct_el(root, "smneo_error"):
        dms = el.findall("data-member")
        ptrs = [dm for dm in dms if dm.find("var-decl").get("name") in ("message", "service_code")]
        a, b = ptrs[0].find("var-decl"), ptrs[1].find("var-decl")
        na, nb = a.get("name"), b.get("name")
        a.set("name", nb)
        b.set("name", na)


def int_type_id(root):
    for el in root.iter("type-decl"):
        if el.get("name") == "int":
            return el.get("id")
    raise Failure("no int in the dump")


def change_parameter(root):
    """The first exported function's first parameter becomes an int."""
    first_function(root).find("parameter").set("type-id", int_type_id(root))


def grow_struct(root, name):
    int_id = int_type_id(root)
    for el in struct_el(root, name):
        size = int(el.get("size-in-bits"))
        dm = ET.SubElement(el, "data-member", {"access": "public", "layout-offset-in-bits": str(size)})
        ET.SubElement(dm, "var-decl", {"name": "selftest_added", "type-id": int_id, "visibility": "default"})
        el.set("size-in-bits", str(size + 64))


def grow_options(root):
    """smneo_client_options gains an int member at its end."""
    grow_struct(root, "smneo_client_options")


def grow_error(root):
    """smneo_error (no version member: callers allocate it) gains a member at its end."""
    grow_struct(root, "smneo_error")


def insert_options_member(root):
    """smneo_client_options gains a member in its middle: the later ones move."""
    grow_options(root)
    for el in struct_el(root, "smneo_client_options"):
        dms = el.findall("data-member")
        # the new member goes second; everything after `version` moves by 64 bits
        last = dms[-1]
        el.remove(last)
        el.insert(list(el).index(dms[1]), last)
        last.set("layout-offset-in-bits", dms[1].get("layout-offset-in-bits"))
        for dm in dms[1:-1]:
            dm.set("layout-offset-in-bits", str(int(dm.get("layout-offset-in-bits")) + 64))


def self_test(lib, baseline):
    cases = [
        ("unchanged", None, True),
        ("a removed function", remove_function, False),
        ("two smneo_error members swapped", swap_error_members, False),
        ("a member inserted in the middle of smneo_client_options", insert_options_member, False),
        ("smneo_error grown at its end", grow_error, False),
        ("a parameter's type changed", change_parameter, False),
        ("an added function", add_function, True),
        ("smneo_client_options grown at its end", grow_options, True),
    ]
    failed = 0
    with tempfile.TemporaryDirectory(prefix="smneo-abi-selftest.") as tmp:
        current = os.path.join(tmp, "current.abi")
        dump(lib, current)
        for label, edit, expect_ok in cases:
            new = current
            if edit:
                new = os.path.join(tmp, "mutated.abi")
                mutated(current, new, edit)
            ok, report = compare(current, new, tmp)
            verdict = "accepted" if ok else "refused"
            good = ok == expect_ok
            failed += not good
            print("%s: %s %s" % ("ok" if good else "WRONG", label, verdict))
            if not good:
                print("\n".join(report))
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("lib", help="the built shared library, e.g. build/libsmneo.so")
    ap.add_argument("--baseline", default=BASELINE)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--update", action="store_true", help="record LIB's ABI as the baseline")
    mode.add_argument("--self-test", action="store_true", help="check the checker on mutated dumps")
    args = ap.parse_args()
    for tool in ("abidw", "abidiff", "readelf"):
        if not shutil.which(tool):
            print("check_abi: %s not found: install abigail-tools and binutils (make deps): skipped" % tool)
            return SKIP
    try:
        if args.update:
            return update(args.lib, args.baseline)
        if args.self_test:
            return self_test(args.lib, args.baseline)
        return check(args.lib, args.baseline)
    except Failure as e:
        print("check_abi: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
