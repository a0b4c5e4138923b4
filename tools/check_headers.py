#!/usr/bin/env python3
"""Holds every public header to docs/c-api.md.

    tools/check_headers.py [SOURCE_DIR]     check core/include (ctest: header_check)
    tools/check_headers.py --self-test      feed it broken headers (ctest: header_check_selftest)

The rules checked (docs/c-api.md):
- names: exported functions and types are smneo_* (no smneo__), macros and
  enumerators SMNEO_*;
- out parameters first: a parameter called `out` or `*_out`, or a `T **`
  that is not const, comes before every input; `smneo_error *err` is last;
- callbacks: a callback type ends in `_cb` and its last parameter is
  `void *payload`; in an options struct a callback member is followed by a
  `void *payload` member;
- options structs: `smneo_x_options` starts with `int version`, has
  SMNEO_X_OPTIONS_VERSION, `SMNEO_X_OPTIONS_INIT {.version = SMNEO_X_OPTIONS_VERSION}`
  and `smneo_x_options_init(smneo_x_options *opts, int version)`, and is
  listed in core/src/options.c (the one copy of a caller's struct) with one
  size per version its comments mark ("/* version N").
Method tables (structs of function pointers that are not options: a
transport, a visitor, a body source or sink) take their receiver first and
are not callbacks (docs/c-api.md, "Callbacks").
"""
import os
import re
import sys


def strip_comments(text):
    return re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)


def split_params(s):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return [p for p in out if p != "void"]


def param_name(p):
    m = re.search(r"\(\s*\*\s*(\w+)\s*\)", p)  # a function pointer parameter
    if m:
        return m.group(1)
    m = re.search(r"(\w+)\s*(\[[^\]]*\])?\s*$", p)
    return m.group(1) if m else ""


def is_out(p):
    name = param_name(p)
    if name == "out" or name.endswith("_out"):
        return True
    ptype = p[: p.rfind(name)] if name else p
    # T ** that is not an array of const inputs (const char *const *paths)
    if re.search(r"\*\s*\*", ptype) and not ptype.strip().startswith("const"):
        return True
    return False


def check_params(where, fname, params, problems, receiver_first=False):
    rest = params[1:] if receiver_first else params
    seen_input = False
    for p in rest:
        if is_out(p):
            if seen_input:
                problems.append(f"{where}: {fname}: out parameter '{param_name(p)}' after an input: "
                                "out parameters come first")
        else:
            seen_input = True
    for i, p in enumerate(params):
        # the error a call fills (not one it reads, const smneo_error *) is last
        if re.search(r"(?<!const )\bsmneo_error\s*\*", p) and i != len(params) - 1:
            problems.append(f"{where}: {fname}: the smneo_error must be the last parameter")


def check_text(where, text, options_c, problems):
    raw = text
    text = strip_comments(text)
    # exported functions
    for m in re.finditer(r"SMNEO_EXTERN\(([^)]*)\)\s*(\w+)\s*\(([^;]*?)\)\s*;", text, re.S):
        name, params = m.group(2), split_params(m.group(3))
        if not name.startswith("smneo_") or name.startswith("smneo__"):
            problems.append(f"{where}: exported function '{name}' must be named smneo_<module>_<verb>")
        check_params(where, name, params, problems)
    # callback types
    for m in re.finditer(r"typedef\s+[\w\s\*]+\(\s*\*\s*(\w+)\s*\)\s*\(([^;]*?)\)\s*;", text, re.S):
        name, params = m.group(1), split_params(m.group(2))
        if not name.endswith("_cb"):
            problems.append(f"{where}: callback type '{name}' must end in _cb")
        if not params or not re.fullmatch(r"void\s*\*\s*payload", params[-1]):
            problems.append(f"{where}: callback type '{name}': the last parameter must be 'void *payload'")
        if not name.startswith("smneo_"):
            problems.append(f"{where}: type '{name}' must be named smneo_*")
        check_params(where, name, params, problems)
    # typedef names
    for m in re.finditer(r"}\s*(\w+)\s*;", text):
        name = m.group(1)
        if not name.startswith("smneo_") or name.startswith("smneo__"):
            problems.append(f"{where}: type '{name}' must be named smneo_*")
    for m in re.finditer(r"typedef\s+struct\s+(\w+)\s+(\w+)\s*;", text):
        for name in m.groups():
            if not name.startswith("smneo_"):
                problems.append(f"{where}: type '{name}' must be named smneo_*")
    # macros and enumerators
    for m in re.finditer(r"^\s*#\s*define\s+(\w+)", text, re.M):
        if not m.group(1).startswith("SMNEO_"):  # SMNEO__*: internal helpers (docs/c-api.md)
            problems.append(f"{where}: macro '{m.group(1)}' must be named SMNEO_*")
    for body in re.findall(r"enum\s*\w*\s*{([^}]*)}", text):
        for e in re.findall(r"^\s*(\w+)\s*(?:=|,|$)", body, re.M):
            if not e.startswith("SMNEO_"):
                problems.append(f"{where}: enumerator '{e}' must be named SMNEO_*")
    # structs: options and method tables
    for m in re.finditer(r"(typedef\s+)?struct\s+(\w+)\s*{(.*?)}\s*(\w*)\s*;", text, re.S):
        tag, body = m.group(2), m.group(3)
        members = [x.strip() for x in body.split(";") if x.strip()]
        fnptrs = [x for x in members if re.search(r"\(\s*\*\s*\w+\s*\)\s*\(", x)]
        is_options = tag.endswith("_options")
        if fnptrs and not is_options:
            for fp in fnptrs:  # a method table: the receiver (self or payload) first
                pm = re.search(r"\(\s*\*\s*(\w+)\s*\)\s*\((.*)\)\s*$", fp, re.S)
                params = split_params(pm.group(2))
                if not params or not re.search(r"\b(self|payload)\s*$", params[0]):
                    problems.append(f"{where}: {tag}.{pm.group(1)}: a method takes its receiver "
                                    "(self or payload) first")
                else:
                    check_params(where, f"{tag}.{pm.group(1)}", params, problems, receiver_first=True)
        if not is_options:
            continue
        if fnptrs:
            problems.append(f"{where}: {tag}: a callback member must have a _cb type, not a function pointer")
        if not members or not re.fullmatch(r"int\s+version", members[0]):
            problems.append(f"{where}: {tag}: the first member must be 'int version'")
        for i, mem in enumerate(members):
            if re.match(r"smneo_\w+_cb\s+\w+$", mem):
                if i + 1 >= len(members) or not re.fullmatch(r"void\s*\*\s*payload", members[i + 1]):
                    problems.append(f"{where}: {tag}: the callback member '{mem.split()[-1]}' must be "
                                    "followed by 'void *payload'")
        x = tag[len("smneo_"):-len("_options")] if tag.startswith("smneo_") else tag
        X = x.upper()
        vm = re.search(r"#\s*define\s+SMNEO_%s_OPTIONS_VERSION\s+(\d+)" % X, text)
        if not vm:
            problems.append(f"{where}: {tag}: no SMNEO_{X}_OPTIONS_VERSION")
            continue
        current = int(vm.group(1))
        if not re.search(r"#\s*define\s+SMNEO_%s_OPTIONS_INIT\s+{\s*\.version\s*=\s*SMNEO_%s_OPTIONS_VERSION\s*}"
                         % (X, X), text):
            problems.append(f"{where}: {tag}: SMNEO_{X}_OPTIONS_INIT must be "
                            f"{{.version = SMNEO_{X}_OPTIONS_VERSION}} (zero is every member's default)")
        if not re.search(r"SMNEO_EXTERN\(int\)\s*%s_init\(\s*%s\s*\*\s*opts\s*,\s*int\s+version\s*\)\s*;" % (tag, tag),
                         text):
            problems.append(f"{where}: {tag}: no 'SMNEO_EXTERN(int) {tag}_init({tag} *opts, int version);'")
        # the versions marked in the struct's comments and the layout in options.c
        sm = re.search(r"struct\s+%s\s*{(.*?)}" % tag, raw, re.S)
        marked = {int(v) for v in re.findall(r"/\*\s*version\s+(\d+)", sm.group(1) if sm else "")} - {1}
        if marked and max(marked) != current:
            problems.append(f"{where}: {tag}: its comments mark version {max(marked)} but "
                            f"SMNEO_{X}_OPTIONS_VERSION is {current}")
        if options_c is not None:
            om = re.search(r"SMNEO__OPTIONS\(\s*%s_options\s*,\s*%s_OPTIONS\s*,(.*?)\)\s*;" % (x, X),
                           strip_comments(options_c), re.S)
            if not om:
                problems.append(f"{where}: {tag} is not listed in core/src/options.c (SMNEO__OPTIONS): "
                                "every entry point copies a caller's struct through smneo__options_copy")
            elif len(re.findall(r"offsetof\s*\(", om.group(1))) != current - 1:
                problems.append(f"{where}: {tag}: core/src/options.c lists "
                                f"{len(re.findall(r'offsetof', om.group(1)))} version boundaries, "
                                f"expected {current - 1} (one per version before {current})")


def check_tree(src):
    inc = os.path.join(src, "core", "include")
    headers = [os.path.join(inc, "smneo.h")] + sorted(
        os.path.join(inc, "smneo", f) for f in os.listdir(os.path.join(inc, "smneo")) if f.endswith(".h"))
    with open(os.path.join(src, "core", "src", "options.c")) as f:
        options_c = f.read()
    problems = []
    for h in headers:
        with open(h) as f:
            text = f.read()
        # the include guard and the export macro are the header's machinery
        text = re.sub(r"#\s*(ifndef|define)\s+SMNEO_\w+_H\b", "", text)
        text = re.sub(r"#\s*define\s+SMNEO_H\b", "", text)
        check_text(os.path.relpath(h, src), text, options_c, problems)
    return headers, problems


GOOD = """
typedef int (*smneo_thing_cb)(int n, void *payload);
typedef struct smneo_thing_options {
    int version;
    int level;
    smneo_thing_cb progress;
    void *payload;
    /* version 2 */
    int later;
} smneo_thing_options;
#define SMNEO_THING_OPTIONS_VERSION 2
#define SMNEO_THING_OPTIONS_INIT {.version = SMNEO_THING_OPTIONS_VERSION}
SMNEO_EXTERN(int) smneo_thing_options_init(smneo_thing_options *opts, int version);
SMNEO_EXTERN(int) smneo_thing_make(smneo_thing **out, const char *name, const smneo_thing_options *o, smneo_error *err);
"""
GOOD_OPTIONS_C = "SMNEO__OPTIONS(thing_options, THING_OPTIONS, offsetof(smneo_thing_options, later), );"

BROKEN = {
    "a _fn callback": GOOD.replace("smneo_thing_cb", "smneo_thing_fn"),
    "payload not last": GOOD.replace("(int n, void *payload)", "(void *payload, int n)"),
    "payload member renamed": GOOD.replace("    void *payload;\n    /* version 2", "    void *progress_payload;\n    /* version 2"),
    "out parameter second": GOOD.replace("smneo_thing_make(smneo_thing **out, const char *name,",
                                         "smneo_thing_make(const char *name, smneo_thing **out,"),
    "err not last": GOOD.replace("const smneo_thing_options *o, smneo_error *err)",
                                 "smneo_error *err, const smneo_thing_options *o)"),
    "positional _INIT": GOOD.replace("{.version = SMNEO_THING_OPTIONS_VERSION}", "{SMNEO_THING_OPTIONS_VERSION, 6, -1}"),
    "no _init function": GOOD.replace("SMNEO_EXTERN(int) smneo_thing_options_init(smneo_thing_options *opts, int version);", ""),
    "version not first": GOOD.replace("    int version;\n    int level;", "    int level;\n    int version;"),
    "a version without a bump": GOOD.replace("/* version 2 */\n    int later;", "/* version 2 */\n    int later;\n    /* version 3 */\n    int later2;"),
    "an internal name exported": GOOD.replace("smneo_thing_make(", "smneo__thing_make("),
    "a macro outside SMNEO_": GOOD + "#define THING_MAX 3\n",
}


def self_test():
    failures = 0
    problems = []
    check_text("good.h", GOOD, GOOD_OPTIONS_C, problems)
    if problems:
        print("self-test: a conforming header was refused:", *problems, sep="\n  ")
        failures += 1
    for what, text in BROKEN.items():
        problems = []
        check_text("broken.h", text, GOOD_OPTIONS_C, problems)
        if not problems:
            print(f"self-test: not caught: {what}")
            failures += 1
    problems = []
    check_text("good.h", GOOD, "", problems)
    if not any("options.c" in p for p in problems):
        print("self-test: not caught: an options struct missing from options.c")
        failures += 1
    problems = []
    check_text("good.h", GOOD, GOOD_OPTIONS_C.replace("offsetof(smneo_thing_options, later), ", ""), problems)
    if not any("version boundaries" in p for p in problems):
        print("self-test: not caught: options.c without a size for version 1")
        failures += 1
    print("check_headers self-test:", "FAILED" if failures else f"ok ({len(BROKEN) + 3} cases)")
    return 1 if failures else 0


def main(argv):
    if len(argv) > 1 and argv[1] == "--self-test":
        return self_test()
    src = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    headers, problems = check_tree(src)
    for p in problems:
        print(p)
    print(f"check_headers: {len(headers)} headers, {len(problems)} problem(s) (docs/c-api.md)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
