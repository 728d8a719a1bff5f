#!/usr/bin/env python3
"""check_dockerignore.py -- what .dockerignore lets into the build context.

    check_dockerignore.py ROOT [--copy-to DIR]

Reads ROOT/.dockerignore and applies it to the files under ROOT the way
Docker does (moby's patternmatcher): each line is a pattern relative to the
context root (a leading / is dropped, the path is cleaned); `*` matches
within one path element, `?` one character, `**` any number of elements;
a pattern that matches a directory leaves out everything below it; a line
starting with ! lets a path back in; the last pattern that matches wins.

Then it checks both directions:
  - every source file CMake builds the programs from is in the context:
    the top-level CMakeLists.txt, cmake/, and everything in common/,
    coordinator/, worker/, ctl/, mockapi/, schema/, plus fuzz/CMakeLists.txt
    (CMakeLists.txt always adds fuzz/), the documents the package installs
    and the image's entrypoint;
  - nothing that must never reach an image is: .git, build directories,
    the Compose key file, SQLite databases, env files, fuzzer artifacts
    (checked on the real tree and on made-up paths, so the rules hold
    before such files exist).

With --copy-to DIR the context is also copied to DIR (to build it without
Docker). Prints one line per finding; exits 1 if there is any.
"""
import argparse
import os
import posixpath
import re
import shutil
import sys

SOURCE_DIRS = ["cmake", "common", "coordinator", "worker", "ctl", "mockapi", "schema"]
# beside the sources: what the package installs (cmake/package.cmake) and
# the image's entrypoint (deploy/Dockerfile)
SOURCE_FILES = ["CMakeLists.txt", "fuzz/CMakeLists.txt", "README.md", "docs/ARCHITECTURE.md",
                "deploy/entrypoint.sh"]
MUST_BE_LEFT_OUT = [
    ".git/HEAD",
    "build/CMakeCache.txt",
    "build-asan/coordinator/fleetq-coordinator",
    "build-release/x.o",
    "deploy/secrets/xai_api_key",
    "deploy/secrets/README",
    "fleetq.db",
    "fleetq.db-wal",
    "fleetq.db-shm",
    "data/results.db",
    ".env",
    "deploy/.env",
    "fuzz/corpus/submission/seed1",
    "fuzz/crash-0123456789abcdef",
    "fuzz/leak-0123456789abcdef",
    "fuzz/timeout-0123456789abcdef",
    "appendonly.aof",
    "dump.rdb",
]


def compile_pattern(pattern):
    """Translates one cleaned .dockerignore pattern into a regex."""
    out = "^"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i:i + 2] == "**":
                i += 2
                if pattern[i:i + 1] == "/":
                    out += "(.*/)?"  # zero or more whole elements
                    i += 1
                else:
                    out += ".*"
                continue
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out += re.escape(ch)
            else:
                cls = pattern[i + 1:end]
                if cls.startswith("^"):
                    cls = "^" + cls[1:]
                out += "[" + cls.replace("\\", "\\\\") + "]"
                i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + "$")


def load_rules(path):
    rules = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            if negate:
                line = line[1:].strip()
            line = posixpath.normpath(line).lstrip("/")
            if line in ("", "."):
                continue
            rules.append((negate, compile_pattern(line)))
    return rules


def excluded(rules, rel):
    """True when rel (a slash-separated path) is left out of the context."""
    parents = []
    parts = rel.split("/")
    for n in range(1, len(parts)):
        parents.append("/".join(parts[:n]))
    result = False
    for negate, rx in rules:
        if rx.match(rel) or any(rx.match(p) for p in parents):
            result = not negate
    return result


def walk(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            yield os.path.relpath(full, root).replace(os.sep, "/")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root")
    ap.add_argument("--copy-to")
    opts = ap.parse_args()

    rules = load_rules(os.path.join(opts.root, ".dockerignore"))
    findings = []
    files = list(walk(opts.root))
    context = [rel for rel in files if not excluded(rules, rel)]
    in_context = set(context)

    needed = [f for f in SOURCE_FILES]
    for d in SOURCE_DIRS:
        needed += [rel for rel in files if rel.startswith(d + "/")]
    for rel in needed:
        if rel not in in_context:
            findings.append(".dockerignore leaves out %s, which the build needs" % rel)
    if not any(rel.startswith("common/") and rel.endswith(".c") for rel in context):
        findings.append(".dockerignore: no C source of common/ in the context")

    for rel in MUST_BE_LEFT_OUT:
        if not excluded(rules, rel):
            findings.append(".dockerignore lets %s into the build context" % rel)
    for rel in context:
        base = rel.rsplit("/", 1)[-1]
        if (rel.startswith((".git/", "deploy/secrets/")) or re.match(r"^build[^/]*/", rel)
                or re.search(r"\.db(-wal|-shm|-journal)?$", base) or base == ".env"):
            findings.append(".dockerignore lets %s into the build context" % rel)

    if opts.copy_to:
        for rel in context:
            dest = os.path.join(opts.copy_to, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy2(os.path.join(opts.root, rel), dest)

    for line in findings:
        print(line)
    print("build context: %d of %d files" % (len(context), len(files)), file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
