#!/usr/bin/env python3
"""check_render.py -- checks the invariants of render.yaml (the Render Blueprint).

    check_render.py RENDER_YAML [--root REPO_ROOT]

Render validates a Blueprint only when it is synced, so this checks, with
python3-yaml, what the fleet depends on:
  - one Key Value service (type keyvalue; redis is its old name) with
    maxmemoryPolicy noeviction and an ipAllowList (a list; [] means
    internal connections only);
  - exactly one web service, the coordinator: runtime docker, built from
    deploy/Dockerfile (which must exist under REPO_ROOT) with the
    repository as the context, numInstances 1 and no autoscaling, a disk
    with an absolute mountPath that FLEETQ_DB lies under, healthCheckPath
    /health;
  - four background workers (type worker), one per role, each running
    `fleetq-worker --role ROLE` from the same Dockerfile, with
    numInstances >= 1 and a shutdown delay (maxShutdownDelaySeconds,
    Render's default 30 when absent, at most 300) above
    FLEETQ_GRACE_SECONDS;
  - REDIS_URL in every service taken from the Key Value's
    connectionString (fromService), never written out;
  - no environment variable whose name says key, token, secret or
    password with a literal value; XAI_API_KEY on every worker as
    `sync: false` (Render asks for it; the file never holds it);
  - env var groups hold only plain values (Render's rule) and every
    fromGroup names one of them; service names are unique.

Prints one line per finding; exits 1 if there is any.
"""
import argparse
import os
import re
import shlex
import sys


from findings import Findings, load_mapping, report

ROLES = ("ceo", "code", "quality", "memory")
SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)", re.I)
TOP_LEVEL = {"services", "databases", "envVarGroups", "projects", "ungrouped", "previews", "version"}



def env_list(entity):
    out = entity.get("envVars") or []
    return out if isinstance(out, list) else []


def group_values(doc):
    groups = {}
    for g in doc.get("envVarGroups") or []:
        groups[g.get("name")] = {e.get("key"): e.get("value") for e in env_list(g) if "key" in e}
    return groups


def effective_env(service, groups):
    """Plain values a service sees: its groups' values, then its own."""
    env = {}
    for e in env_list(service):
        if "fromGroup" in e:
            env.update(groups.get(e["fromGroup"], {}))
    for e in env_list(service):
        if "key" in e and "value" in e:
            env[e["key"]] = e["value"]
    return env


def check_secrets(where, entries, f):
    for e in entries:
        key = str(e.get("key", ""))
        if SECRET_NAME.search(key) and not key.endswith("_FILE"):
            if "value" in e:
                f.add(where, "%s has a literal value: secrets are `sync: false`, set in the Dashboard" % key)
            if "generateValue" not in e and e.get("sync") is not False and "fromService" not in e \
                    and "fromDatabase" not in e:
                f.add(where, "%s must be `sync: false`" % key)


def check(doc, root, f):
    unknown = set(doc) - TOP_LEVEL
    if unknown:
        f.add("render.yaml", "unknown top-level fields %s" % sorted(unknown))
    services = doc.get("services") or []
    groups = group_values(doc)

    names = [s.get("name") for s in services]
    for n in set(names):
        if names.count(n) > 1:
            f.add(str(n), "service name used twice")

    for g in doc.get("envVarGroups") or []:
        where = "envVarGroups/%s" % g.get("name")
        for e in env_list(g):
            if set(e) - {"key", "value", "generateValue"}:
                f.add(where, "%s: groups hold only plain values (no sync, fromService, fromGroup)"
                      % e.get("key"))
        check_secrets(where, env_list(g), f)

    kvs = [s for s in services if s.get("type") in ("keyvalue", "redis")]
    if len(kvs) != 1:
        f.add("render.yaml", "expected one Key Value service, found %d" % len(kvs))
        kv_name = None
    else:
        kv = kvs[0]
        kv_name = kv.get("name")
        if kv.get("maxmemoryPolicy") != "noeviction":
            f.add(kv_name, "maxmemoryPolicy must be noeviction (queues and leases must never be evicted)")
        if not isinstance(kv.get("ipAllowList"), list):
            f.add(kv_name, "needs an ipAllowList ([] for internal connections only)")

    webs = [s for s in services if s.get("type") == "web"]
    if len(webs) != 1:
        f.add("render.yaml", "expected exactly one web service (the coordinator), found %d" % len(webs))
    for web in webs:
        name = web.get("name")
        check_docker(web, root, f)
        cmd = shlex.split(web.get("dockerCommand") or "fleetq-coordinator")
        if cmd[:1] != ["fleetq-coordinator"]:
            f.add(name, "the web service must run fleetq-coordinator, not %s" % cmd)
        if web.get("numInstances", 1) != 1 or "scaling" in web:
            f.add(name, "the coordinator must run as exactly one instance (numInstances 1, no scaling)")
        if web.get("healthCheckPath") != "/health":
            f.add(name, "healthCheckPath must be /health")
        disk = web.get("disk") or {}
        mount = disk.get("mountPath")
        if not disk.get("name") or not isinstance(mount, str) or not mount.startswith("/"):
            f.add(name, "needs a disk with a name and an absolute mountPath")
        else:
            db = effective_env(web, groups).get("FLEETQ_DB", "/data/fleetq.db")
            if not str(db).startswith(mount.rstrip("/") + "/"):
                f.add(name, "FLEETQ_DB (%s) is not on the disk (%s)" % (db, mount))
            if not isinstance(disk.get("sizeGB", 1), int) or disk.get("sizeGB", 1) < 1:
                f.add(name, "disk sizeGB must be a whole number of GB")

    workers = [s for s in services if s.get("type") == "worker"]
    seen = {}
    for w in workers:
        name = w.get("name")
        check_docker(w, root, f)
        cmd = shlex.split(w.get("dockerCommand") or "")
        if cmd[:2] != ["fleetq-worker", "--role"] or len(cmd) < 3 or cmd[2] not in ROLES:
            f.add(name, "dockerCommand must be `fleetq-worker --role ROLE`, found %r" % w.get("dockerCommand"))
        else:
            seen.setdefault(cmd[2], []).append(name)
        if not isinstance(w.get("numInstances", 1), int) or w.get("numInstances", 1) < 1:
            f.add(name, "numInstances must be at least 1")
        delay = w.get("maxShutdownDelaySeconds", 30)
        grace = float(effective_env(w, groups).get("FLEETQ_GRACE_SECONDS", 25))
        if not isinstance(delay, int) or not 1 <= delay <= 300:
            f.add(name, "maxShutdownDelaySeconds must be 1-300")
        elif delay <= grace:
            f.add(name, "maxShutdownDelaySeconds (%d) must be above FLEETQ_GRACE_SECONDS (%g)" % (delay, grace))
        key = [e for e in env_list(w) if e.get("key") == "XAI_API_KEY"]
        if len(key) != 1 or key[0].get("sync") is not False or "value" in key[0]:
            f.add(name, "needs XAI_API_KEY as `sync: false` (set in the Dashboard, never in the file)")
    for role in ROLES:
        if len(seen.get(role, [])) != 1:
            f.add("render.yaml", "expected one worker service for the role %s, found %s"
                  % (role, seen.get(role, [])))

    for s in services:
        if s.get("type") in ("keyvalue", "redis"):
            continue
        name = s.get("name")
        check_secrets(name, env_list(s), f)
        for e in env_list(s):
            if "fromGroup" in e and e["fromGroup"] not in groups:
                f.add(name, "fromGroup %s names no envVarGroup" % e["fromGroup"])
        redis = [e for e in env_list(s) if e.get("key") == "REDIS_URL"]
        want = {"type": "keyvalue", "name": kv_name, "property": "connectionString"}
        if len(redis) != 1 or redis[0].get("fromService") != want or "value" in redis[0]:
            f.add(name, "REDIS_URL must come from the Key Value's connectionString (fromService %s)" % want)
        if "REDIS_URL" in effective_env(s, groups):
            f.add(name, "REDIS_URL must not be a literal value")


def check_docker(service, root, f):
    name = service.get("name")
    if service.get("runtime") != "docker":
        f.add(name, "runtime must be docker")
    path = service.get("dockerfilePath")
    if path != "./deploy/Dockerfile":
        f.add(name, "dockerfilePath must be ./deploy/Dockerfile")
    elif root and not os.path.isfile(os.path.join(root, path)):
        f.add(name, "dockerfilePath %s does not exist" % path)
    if service.get("dockerContext") not in (".", "./"):
        f.add(name, "dockerContext must be . (the repository root)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--root")
    opts = ap.parse_args()
    f = Findings()
    doc = load_mapping(opts.file, f)
    if doc is not None:
        check(doc, opts.root, f)
    return report(opts.file, f)


if __name__ == "__main__":
    sys.exit(main())
