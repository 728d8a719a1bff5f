#!/usr/bin/env python3
"""check_dockerfile.py -- checks deploy/Dockerfile without a Docker engine.

    check_dockerfile.py DOCKERFILE [--shellcheck PATH]
    check_dockerfile.py DOCKERFILE --list-packages

The Dockerfile is parsed the way Docker reads it (line continuations with
the escape character, comment lines dropped, instructions split into
stages at FROM) and checked for two kinds of things:

  - what fleetq's image promises: both stages FROM debian:bookworm-slim;
    the build stage packs the programs with cpack and the runtime stage
    installs that Debian package with apt-get (COPY --from the build
    stage); the programs run as the unprivileged uid 10001, either by the
    last USER or by an entrypoint script from the build context that drops
    to it with setpriv; tini is PID 1 (ENTRYPOINT starting
    ["/usr/bin/tini", "--"]); the coordinator is the default CMD;
    FLEETQ_DB=/data/fleetq.db, a /data volume, port 8080, and no compiler
    or -dev package in the runtime stage;
  - the best practices a Dockerfile linter such as hadolint checks, under
    hadolint's rule numbers: tagged base images (DL3006, DL3007), apt-get
    with -y and --no-install-recommends (DL3014, DL3015), apt lists removed
    in the same RUN (DL3009), update and install together, no apt-get
    upgrade (DL3005), no `apt` (DL3027), no sudo (DL3004), WORKDIR rather
    than cd (DL3003), absolute WORKDIR (DL3000), COPY not ADD (DL3020),
    COPY --from naming a stage (DL3022), JSON form for CMD and ENTRYPOINT
    (DL3025), one CMD/ENTRYPOINT per stage (DL4003, DL4004), no MAINTAINER
    (DL4000), pipefail before pipes (DL4006), useradd -l with a uid
    (DL3046), last USER not root (DL3002); and, with --shellcheck, every
    shell-form RUN through ShellCheck as /bin/sh (dash on Debian), and the
    entrypoint script too.

Prints one line per finding and exits 1 if there is any, 0 otherwise.
--list-packages prints the Debian packages the stages install from the
archive instead (not the project's own package).
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

BASE_IMAGE = "debian:bookworm-slim"
RUNTIME_UID = "10001"
BUILD_ONLY_PACKAGES = re.compile(r"^(build-essential|cmake|gcc|g\+\+|make|pkg-config|.*-dev)$")


class Instruction:
    def __init__(self, line, keyword, args):
        self.line = line
        self.keyword = keyword
        self.args = args

    def json_args(self):
        """The exec-form argument list, or None for shell form."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        return None


def parse(path):
    """Returns the list of instructions of the Dockerfile at path."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    escape = "\\"
    for line in lines:
        m = re.match(r"^#\s*escape\s*=\s*(\S)\s*$", line)
        if m:
            escape = m.group(1)
            continue
        if not line.startswith("#"):
            break
    out = []
    buf = None
    start = 0
    for n, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if buf is None:
            if not stripped or stripped.startswith("#"):
                continue
            buf = ""
            start = n
        elif stripped.startswith("#") or not stripped:
            continue  # comments and empty lines inside a continuation
        text = raw.rstrip()
        if text.endswith(escape):
            buf += text[:-1] + " "
            continue
        buf += text
        keyword, _, args = buf.strip().partition(" ")
        out.append(Instruction(start, keyword, args.strip()))
        buf = None
    if buf is not None:
        keyword, _, args = buf.strip().partition(" ")
        out.append(Instruction(start, keyword, args.strip()))
    return out


def split_stages(instructions):
    stages = []
    for ins in instructions:
        if ins.keyword.upper() == "FROM":
            stages.append([ins])
        elif stages:
            stages[-1].append(ins)
    return stages


def shell_commands(run_args):
    """Splits a RUN's shell text into simple commands (on &&, ||, ;, |)."""
    return [c.strip() for c in re.split(r"&&|\|\||;|\|", run_args) if c.strip()]


def apt_install_args(command):
    """The non-option arguments of one `apt-get install` command."""
    words = shlex.split(command)
    return [w for w in words[words.index("install") + 1:] if not w.startswith("-")]


def is_local_package(arg):
    """apt-get install takes a path to a .deb beside package names."""
    return arg.endswith(".deb") and ("/" in arg)


def apt_packages(command):
    """The archive package names of one `apt-get install` command."""
    return [w for w in apt_install_args(command) if not is_local_package(w)]


class Checker:
    def __init__(self, path, context):
        self.path = path
        self.context = context
        self.entrypoint = None   # the entrypoint script found, for ShellCheck
        self.findings = []

    def fail(self, ins, rule, message):
        where = "%s:%d" % (self.path, ins.line) if ins else self.path
        self.findings.append("%s: %s %s" % (where, rule, message))

    # ---- fleetq's promises -------------------------------------------------

    def check_image(self, stages):
        if len(stages) < 2:
            self.fail(None, "FQ-STAGES", "expected a build stage and a runtime stage, found %d" % len(stages))
            return
        for stage in stages:
            image = stage[0].args.split()[0] if stage[0].args else ""
            if image != BASE_IMAGE:
                self.fail(stage[0], "FQ-BASE", "FROM %s, expected %s" % (image or "?", BASE_IMAGE))
        runtime = stages[-1]
        by_kw = {}
        for ins in runtime:
            by_kw.setdefault(ins.keyword.upper(), []).append(ins)

        entry = by_kw.get("ENTRYPOINT", [])
        entry_args = (entry[-1].json_args() or []) if entry else []
        if entry_args[:2] != ["/usr/bin/tini", "--"]:
            self.fail(entry[-1] if entry else runtime[0], "FQ-TINI",
                      'the runtime stage must have an ENTRYPOINT starting ["/usr/bin/tini", "--"]')

        users = by_kw.get("USER", [])
        if users:
            user = users[-1].args.split(":")[0]
            if user in ("root", "0"):
                self.fail(users[-1], "DL3002", "the last USER is root")
            elif user != RUNTIME_UID:
                self.fail(users[-1], "FQ-USER", "USER %s, expected uid %s" % (user, RUNTIME_UID))
        else:
            self.check_dropping_entrypoint(runtime, entry_args[2:3])

        cmd = by_kw.get("CMD", [])
        if not cmd or (cmd[-1].json_args() or [""])[0] != "fleetq-coordinator":
            self.fail(cmd[-1] if cmd else runtime[0], "FQ-CMD",
                      'the default CMD must be ["fleetq-coordinator"]')
        envs = " ".join(i.args for i in by_kw.get("ENV", []))
        if not re.search(r"(^|\s)FLEETQ_DB=/data/fleetq\.db(\s|$)", envs):
            self.fail(runtime[0], "FQ-ENV", "the runtime stage must set ENV FLEETQ_DB=/data/fleetq.db")
        volumes = " ".join(i.args for i in by_kw.get("VOLUME", []))
        if "/data" not in re.findall(r"[\w/.-]+", volumes):
            self.fail(runtime[0], "FQ-VOLUME", "the runtime stage must declare VOLUME /data")
        if not any("8080" in i.args.split() for i in by_kw.get("EXPOSE", [])):
            self.fail(runtime[0], "FQ-EXPOSE", "the runtime stage must EXPOSE 8080")

        installed = []
        for ins in by_kw.get("RUN", []):
            for c in shell_commands(ins.args):
                if re.match(r"^apt-get\s.*\binstall\b", c):
                    installed += [(ins, p) for p in apt_packages(c)]
        names = {p for _, p in installed}
        if "tini" not in names:
            self.fail(runtime[0], "FQ-TINI", "the runtime stage does not install tini")
        self.check_package(stages)
        for ins, p in installed:
            if BUILD_ONLY_PACKAGES.match(p):
                self.fail(ins, "FQ-RUNTIME", "the runtime stage installs the build-only package %s" % p)

    def check_dropping_entrypoint(self, runtime, script):
        """Without a USER the image starts as root: the program after tini
        must then be a script of the build context that drops to the uid."""
        if not script:
            self.fail(runtime[0], "FQ-USER", "the runtime stage has no USER and no entrypoint "
                      "script after tini: the programs would run as root")
            return
        source = None
        for ins in runtime:
            if ins.keyword.upper() == "COPY" and "--from" not in ins.args:
                words = ins.args.split()
                if len(words) == 2 and words[1] == script[0]:
                    source = words[0]
        if source is None:
            self.fail(runtime[0], "FQ-USER", "the entrypoint %s is not copied from the build "
                      "context, so what it runs as cannot be checked" % script[0])
            return
        self.entrypoint = os.path.join(self.context, source)
        try:
            with open(self.entrypoint, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            self.fail(runtime[0], "FQ-USER", "the entrypoint %s: %s" % (source, e))
            return
        if not re.search(r"^\s*exec setpriv\b.*--reuid", text, re.M) or RUNTIME_UID not in text:
            self.fail(runtime[0], "FQ-USER", "the entrypoint %s does not drop to uid %s with "
                      "`exec setpriv --reuid`" % (source, RUNTIME_UID))

    def check_package(self, stages):
        """The build stage runs cpack; the runtime stage installs its .deb."""
        build, runtime = stages[0], stages[-1]
        if not any(ins.keyword.upper() == "RUN" and re.search(r"\bcpack\b", ins.args)
                   for ins in build):
            self.fail(build[0], "FQ-PACKAGE", "the build stage does not make the Debian package (cpack)")
        copied = [ins for ins in runtime if ins.keyword.upper() == "COPY"
                  and "--from=" in ins.args and ins.args.split()[-1].endswith(".deb")]
        if not copied:
            self.fail(runtime[0], "FQ-PACKAGE", "the runtime stage does not COPY the .deb from the build stage")
            return
        deb = copied[-1].args.split()[-1]
        for ins in runtime:
            if ins.keyword.upper() == "RUN":
                for c in shell_commands(ins.args):
                    if re.match(r"^apt-get\s.*\binstall\b", c) and deb in apt_install_args(c):
                        return
        self.fail(runtime[0], "FQ-PACKAGE", "the runtime stage does not apt-get install %s" % deb)

    # ---- linter rules ------------------------------------------------------

    def check_practices(self, stages):
        names = set()
        for stage in stages:
            words = stage[0].args.split()
            image = words[0] if words else ""
            if len(words) >= 3 and words[1].upper() == "AS":
                names.add(words[2].lower())
            if image.lower() != "scratch" and image.lower() not in names:
                tag = image.rsplit("/", 1)[-1]
                if "@" not in image and ":" not in tag:
                    self.fail(stage[0], "DL3006", "always tag the image explicitly: %s" % image)
                elif tag.endswith(":latest"):
                    self.fail(stage[0], "DL3007", "do not use the latest tag: %s" % image)
            counts = {}
            for ins in stage[1:]:
                kw = ins.keyword.upper()
                counts[kw] = counts.get(kw, 0) + 1
                if ins.keyword != kw:
                    self.fail(ins, "FQ-CASE", "write instructions in upper case: %s" % ins.keyword)
                if kw == "MAINTAINER":
                    self.fail(ins, "DL4000", "MAINTAINER is deprecated")
                elif kw == "ADD":
                    self.fail(ins, "DL3020", "use COPY instead of ADD for files and folders")
                elif kw == "WORKDIR" and not ins.args.startswith(("/", "$")):
                    self.fail(ins, "DL3000", "use an absolute WORKDIR: %s" % ins.args)
                elif kw in ("CMD", "ENTRYPOINT") and ins.json_args() is None:
                    self.fail(ins, "DL3025", "use the JSON (exec) form for %s" % kw)
                elif kw == "COPY":
                    m = re.search(r"--from=(\S+)", ins.args)
                    if m and m.group(1).lower() not in names and not m.group(1).isdigit():
                        self.fail(ins, "DL3022", "COPY --from=%s names no earlier stage" % m.group(1))
                elif kw == "RUN":
                    self.check_run(ins)
            for kw, rule in (("CMD", "DL4003"), ("ENTRYPOINT", "DL4004")):
                if counts.get(kw, 0) > 1:
                    self.fail(stage[0], rule, "more than one %s in a stage: only the last counts" % kw)

    def check_run(self, ins):
        text = ins.args
        if ins.json_args() is not None:
            return
        commands = shell_commands(text)
        if re.search(r"(?<![|])\|(?![|])", text) and "pipefail" not in text:
            self.fail(ins, "DL4006", "set -o pipefail (SHELL) before using a pipe in RUN")
        installs = [c for c in commands if re.match(r"^apt-get\s.*\binstall\b", c)]
        for c in commands:
            first = c.split()[0]
            if first == "sudo":
                self.fail(ins, "DL3004", "do not use sudo")
            elif first == "cd":
                self.fail(ins, "DL3003", "use WORKDIR to switch to a directory")
            elif first == "apt":
                self.fail(ins, "DL3027", "use apt-get, not apt, in scripts")
            elif first == "apt-get" and re.search(r"\b(upgrade|dist-upgrade)\b", c):
                self.fail(ins, "DL3005", "do not upgrade packages in an image: pin the base instead")
            elif first == "useradd":
                m = re.search(r"(?:-u|--uid)[ =](\d+)", c)
                # lastlog is a sparse file indexed by uid: without -l a high
                # uid makes a huge layer. Stricter than hadolint: any uid.
                if m and not re.search(r"(\s-l\b|--no-log-init)", c):
                    self.fail(ins, "DL3046", "useradd with an explicit uid needs -l (--no-log-init)")
        for c in installs:
            if not re.search(r"(\s-y\b|\s--yes\b|\s-qq?y|\s--assume-yes\b)", c):
                self.fail(ins, "DL3014", "use apt-get install -y")
            if "--no-install-recommends" not in c:
                self.fail(ins, "DL3015", "use apt-get install --no-install-recommends")
        if installs:
            if not any(re.match(r"^apt-get\s.*\bupdate\b", c) for c in commands):
                self.fail(ins, "FQ-APT", "run apt-get update in the same RUN as apt-get install")
            if not re.search(r"rm -rf /var/lib/apt/lists/\*?", text):
                self.fail(ins, "DL3009", "delete the apt lists (rm -rf /var/lib/apt/lists/*) in the same RUN")

    def shellcheck(self, instructions, shellcheck):
        with tempfile.TemporaryDirectory() as tmp:
            for ins in instructions:
                if ins.keyword.upper() != "RUN" or ins.json_args() is not None:
                    continue
                script = os.path.join(tmp, "run-line-%d.sh" % ins.line)
                with open(script, "w", encoding="utf-8") as f:
                    f.write("#!/bin/sh\n" + re.sub(r"^(--\S+\s+)+", "", ins.args) + "\n")
                proc = subprocess.run([shellcheck, "-s", "sh", "-f", "gcc", script],
                                      capture_output=True, text=True, check=False)
                for line in proc.stdout.splitlines():
                    self.fail(ins, "ShellCheck", line.split(": ", 1)[-1])
                if proc.returncode not in (0, 1) or (proc.returncode == 1 and not proc.stdout):
                    self.fail(ins, "ShellCheck", "shellcheck failed: %s" % proc.stderr.strip())
        if self.entrypoint:
            proc = subprocess.run([shellcheck, "-s", "sh", "-f", "gcc", self.entrypoint],
                                  capture_output=True, text=True, check=False)
            for line in proc.stdout.splitlines():
                self.fail(None, "ShellCheck", line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dockerfile")
    ap.add_argument("--shellcheck", help="path of the shellcheck program")
    ap.add_argument("--context", help="the build context (default: the parent of the Dockerfile's directory)")
    ap.add_argument("--list-packages", action="store_true",
                    help="only print the packages each stage installs, one per line")
    opts = ap.parse_args()

    instructions = parse(opts.dockerfile)
    stages = split_stages(instructions)
    if opts.list_packages:
        for stage in stages:
            for ins in stage:
                if ins.keyword.upper() == "RUN":
                    for c in shell_commands(ins.args):
                        if re.match(r"^apt-get\s.*\binstall\b", c):
                            print("\n".join(apt_packages(c)))
        return 0
    context = opts.context or os.path.dirname(os.path.dirname(os.path.abspath(opts.dockerfile)))
    checker = Checker(opts.dockerfile, context)
    checker.check_image(stages)
    checker.check_practices(stages)
    if opts.shellcheck:
        checker.shellcheck(instructions, opts.shellcheck)
    for line in checker.findings:
        print(line)
    return 1 if checker.findings else 0


if __name__ == "__main__":
    sys.exit(main())
