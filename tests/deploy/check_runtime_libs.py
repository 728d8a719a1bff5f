#!/usr/bin/env python3
"""check_runtime_libs.py -- does the runtime image carry every library the programs load?

    check_runtime_libs.py DOCKERFILE PROGRAM...

The image is never built here, so this answers the question on the host,
which is the same Debian 12: for each PROGRAM (built from the same sources
with the same -dev packages as the image's build stage), every shared
library it names (DT_NEEDED, read with readelf) is resolved with ldd and
traced to its Debian package with dpkg -S. Each of those packages must be
installed by the runtime stage of DOCKERFILE, or be libc6, which every
Debian image has. (Libraries those libraries pull in come with them as
package dependencies, so only the direct ones are checked.)

Prints one line per finding; exits 1 if there is any.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_dockerfile  # noqa: E402  (the Dockerfile parser)

IN_EVERY_IMAGE = {"libc6"}


def runtime_packages(dockerfile):
    stages = check_dockerfile.split_stages(check_dockerfile.parse(dockerfile))
    packages = set()
    for ins in stages[-1]:
        if ins.keyword.upper() != "RUN":
            continue
        for c in check_dockerfile.shell_commands(ins.args):
            if re.match(r"^apt-get\s.*\binstall\b", c):
                packages.update(check_dockerfile.apt_packages(c))
    return packages


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


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip().split("\n")[2], file=sys.stderr)
        return 2
    dockerfile, programs = sys.argv[1], sys.argv[2:]
    installed = runtime_packages(dockerfile) | IN_EVERY_IMAGE
    findings = []
    for program in programs:
        paths = resolved(program)
        for lib in needed(program):
            path = paths.get(lib)
            if not path or path == "not":
                findings.append("%s: %s is not found on this host" % (program, lib))
                continue
            pkg = package_of(path)
            if pkg is None:
                findings.append("%s: %s (%s) belongs to no Debian package" % (program, lib, path))
            elif pkg not in installed:
                findings.append("%s: needs %s from the package %s, which the runtime stage does not install"
                                % (program, lib, pkg))
            else:
                print("%s: %s from %s" % (os.path.basename(program), lib, pkg), file=sys.stderr)
    for line in findings:
        print(line)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
