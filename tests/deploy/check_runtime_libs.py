#!/usr/bin/env python3
"""check_runtime_libs.py -- does the Debian package depend on every library its programs load?

    check_runtime_libs.py DEB

The package is unpacked (dpkg-deb -x) and, for every program in it, every
shared library it names (DT_NEEDED, read with readelf) is resolved with ldd
on this host, which is the Debian 12 the package is built for, and traced
to its Debian package with dpkg -S. Each of those packages must be in the
package's Depends (or be libc6, which every Debian system has), and no
dependency may be a -dev package. (Libraries those libraries pull in come
with them as package dependencies, so only the direct ones are checked.)
The container stage then installs the package for real.

Prints one line per finding; exits 1 if there is any.
"""
import os
import re
import subprocess
import sys
import tempfile

IN_EVERY_SYSTEM = {"libc6"}


def depends(deb):
    out = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], capture_output=True, text=True,
                         check=True).stdout
    # "libfoo1 (>= 1.2), libbar2 | libbaz2" -> every name an alternative gives
    return {re.split(r"[\s(:]", alt.strip())[0] for alt in re.split(r"[,|]", out) if alt.strip()}


def needed(program):
    out = subprocess.run(["readelf", "-d", program], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def resolved(program):
    out = subprocess.run(["ldd", program], capture_output=True, text=True, check=False).stdout
    return dict(re.findall(r"^\s*(\S+) => (\S+)", out, re.M))


_packages = {}


def package_of(path):
    if path not in _packages:
        _packages[path] = _dpkg_search(path)
    return _packages[path]


def _dpkg_search(path):
    candidates = [path, os.path.realpath(path)]
    if path.startswith("/usr/"):
        candidates.append(path[4:])
    else:
        candidates.append("/usr" + path)
    for c in candidates:
        proc = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True, check=False)
        if proc.returncode == 0 and proc.stdout:
            return proc.stdout.split(":", 1)[0].strip()
    return None


def programs_in(root):
    for dirpath, _, files in os.walk(root):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    yield path


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().split("\n")[2], file=sys.stderr)
        return 2
    deb = sys.argv[1]
    deps = depends(deb)
    findings = ["the package depends on the -dev package %s" % d for d in sorted(deps)
                if d.endswith("-dev")]
    allowed = deps | IN_EVERY_SYSTEM
    with tempfile.TemporaryDirectory() as root:
        subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
        programs = list(programs_in(root))
        if not programs:
            findings.append("the package holds no program")
        for program in programs:
            name = os.path.basename(program)
            paths = resolved(program)
            for lib in needed(program):
                path = paths.get(lib)
                if not path or path == "not":
                    findings.append("%s: %s is not found on this host" % (name, lib))
                    continue
                pkg = package_of(path)
                if pkg is None:
                    findings.append("%s: %s (%s) belongs to no Debian package" % (name, lib, path))
                elif pkg.split(":")[0] not in allowed:
                    findings.append("%s: needs %s from the package %s, which is not in the "
                                    "package's Depends" % (name, lib, pkg))
                else:
                    print("%s: %s from %s" % (name, lib, pkg), file=sys.stderr)
    for line in findings:
        print(line)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
