#!/usr/bin/env python3
"""check_compose.py -- checks deploy/docker-compose.yml without a Docker engine.

    check_compose.py --schema SCHEMA COMPOSE_FILE
    check_compose.py --resolved [--base-url URL] CONFIG_OUTPUT

The first form validates the file against the Compose Specification JSON
schema (draft-07, with python3-jsonschema) and then checks what the fleet
needs from it:
  - redis: append-only file on, maxmemory-policy noeviction, a named
    volume for /data, the ACL users of deploy/redis-acl.sh (mounted
    read-only, run on the three password secrets, redis-server started
    with --aclfile), a `redis-cli ping` health check that logs in;
  - coordinator: built from deploy/Dockerfile with the repository as the
    context, the SQLite store on a named volume at /data, port 8080
    published, REDIS_URL pointing at the redis service as the user
    fleetq-coordinator with the password from its own secret
    (REDIS_PASSWORD_FILE), started once redis is healthy, a health check
    on /health;
  - one service per role (ceo, code, quality, memory) running
    `fleetq-worker --role ROLE`, logged in to Redis as fleetq-worker with
    the password of its own secret, with the key only as the secret
    xai_api_key read through XAI_API_KEY_FILE=/run/secrets/xai_api_key,
    XAI_BASE_URL defaulting to https://api.x.ai/v1, no container_name and
    no published port (so --scale works), a restart policy, waiting for a
    healthy redis, and a stop_grace_period above FLEETQ_GRACE_SECONDS;
  - the secrets read from ./secrets/ (the key and the Redis passwords),
    no password in a REDIS_URL, no service given another's Redis password,
    and no key anywhere in an environment;
  - an optional mockapi service only under a profile.

The second form reads what `docker-compose config` printed (variables
substituted) and checks the values the fleet ends up with: the same
services, XAI_BASE_URL (https://api.x.ai/v1 unless --base-url says which
value the caller set), the role commands and the grace periods.

Prints one line per finding; exits 1 if there is any.
"""
import argparse
import json
import re
import sys


from findings import Findings, load_mapping, report

ROLES = ("ceo", "code", "quality", "memory")
DEFAULT_BASE_URL = "https://api.x.ai/v1"
KEY_FILE = "/run/secrets/xai_api_key"
# The Redis users (deploy/redis-acl.sh): service -> (user, its password's secret)
REDIS_USERS = {"coordinator": ("fleetq-coordinator", "redis_coordinator_password"),
               "worker": ("fleetq-worker", "redis_worker_password")}
REDIS_SECRETS = ("redis_admin_password", "redis_coordinator_password", "redis_worker_password")
ACL_SCRIPT = "/usr/local/bin/fleetq-redis-acl"


def seconds(duration):
    """Compose duration ('30s', '1m30s', '1.5s') in seconds, or None."""
    if isinstance(duration, (int, float)):
        return float(duration)
    if not isinstance(duration, str):
        return None
    parts = re.findall(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        return None
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


def env_of(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        out = {}
        for item in env:
            k, _, v = str(item).partition("=")
            out[k] = v
        return out
    return {k: ("" if v is None else str(v)) for k, v in env.items()}


def command_of(service):
    cmd = service.get("command")
    if isinstance(cmd, str):
        return cmd.split()
    return [str(c) for c in cmd or []]


def default_of(value):
    """The value of '${VAR:-default}' (or value itself when no variable)."""
    m = re.fullmatch(r"\$\{\w+:?-([^}]*)\}", value or "")
    return m.group(1) if m else value


def secret_names(service):
    out = []
    for s in service.get("secrets") or []:
        out.append(s if isinstance(s, str) else s.get("source"))
    return out


def condition(service, dep):
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return "service_started" if dep in deps else None
    d = deps.get(dep)
    return (d or {}).get("condition", "service_started") if dep in deps else None


def healthcheck_text(service):
    test = (service.get("healthcheck") or {}).get("test")
    return " ".join(test) if isinstance(test, list) else str(test or "")



def check_redis_login(name, svc, kind, f):
    """REDIS_URL names the service's user and no password; the password
    comes from the service's own secret, and no other Redis password is
    given to it."""
    user, secret = REDIS_USERS[kind]
    env = env_of(svc)
    want = "redis://%s@redis:6379/0" % user
    url = env.get("REDIS_URL", "")
    if re.match(r"rediss?://[^/@]*:[^/@]*@", url):
        f.add(name, "REDIS_URL holds a password: name the user only, the password goes in "
              "REDIS_PASSWORD_FILE")
    elif url != want:
        f.add(name, "REDIS_URL must be %s" % want)
    if env.get("REDIS_PASSWORD_FILE") != "/run/secrets/%s" % secret:
        f.add(name, "REDIS_PASSWORD_FILE must be /run/secrets/%s" % secret)
    names = secret_names(svc)
    if secret not in names:
        f.add(name, "does not get the secret %s" % secret)
    for other in REDIS_SECRETS:
        if other != secret and other in names:
            f.add(name, "must not get the secret %s (another user's Redis password)" % other)


def check_secret_free_env(doc, f):
    for name, svc in (doc.get("services") or {}).items():
        for k, v in env_of(svc).items():
            if re.search(r"(KEY|TOKEN|SECRET|PASSWORD)", k, re.I) and not k.endswith("_FILE") and v:
                f.add(name, "environment sets %s: keys go in a secret file, never in the environment" % k)


def check_workers(doc, f, resolved, base_url):
    services = doc.get("services") or {}
    for role in ROLES:
        svc = services.get(role)
        if svc is None:
            f.add(role, "no service for the role %s" % role)
            continue
        if command_of(svc)[:3] != ["fleetq-worker", "--role", role]:
            f.add(role, "command is %s, expected fleetq-worker --role %s" % (command_of(svc), role))
        env = env_of(svc)
        if env.get("XAI_API_KEY_FILE") != KEY_FILE:
            f.add(role, "XAI_API_KEY_FILE must be %s" % KEY_FILE)
        url = env.get("XAI_BASE_URL", "")
        want = base_url or DEFAULT_BASE_URL
        got = url if resolved else default_of(url)
        if got != want:
            f.add(role, "XAI_BASE_URL is %r, expected %r" % (got, want))
        if not resolved and url and url == got:
            f.add(role, "XAI_BASE_URL should be ${XAI_BASE_URL:-%s}, so a user can change it" % want)
        check_redis_login(role, svc, "worker", f)
        if "xai_api_key" not in secret_names(svc):
            f.add(role, "does not get the secret xai_api_key")
        if "container_name" in svc:
            f.add(role, "container_name would make --scale impossible")
        if svc.get("ports"):
            f.add(role, "publishes a port: a worker serves nothing and scaled copies would collide")
        grace = seconds(svc.get("stop_grace_period"))
        inner = float(env.get("FLEETQ_GRACE_SECONDS") or 25)
        if grace is None or grace <= inner:
            f.add(role, "stop_grace_period %r must be above FLEETQ_GRACE_SECONDS (%g s)"
                  % (svc.get("stop_grace_period"), inner))
        if svc.get("restart") not in ("unless-stopped", "always", "on-failure"):
            f.add(role, "needs a restart policy (unless-stopped)")
        if condition(svc, "redis") != "service_healthy":
            f.add(role, "must wait for redis to be healthy (depends_on condition service_healthy)")
        if condition(svc, "coordinator") is None:
            f.add(role, "should start after the coordinator (depends_on)")


def check_raw(doc, f):
    services = doc.get("services") or {}
    volumes = doc.get("volumes") or {}

    redis = services.get("redis")
    if redis is None:
        f.add("redis", "no redis service")
    else:
        cmd = " ".join(command_of(redis))
        if not re.search(r"--appendonly\s+yes", cmd):
            f.add("redis", "must run with --appendonly yes (acknowledged work survives a restart)")
        if not re.search(r"--maxmemory-policy\s+noeviction", cmd):
            f.add("redis", "must run with --maxmemory-policy noeviction (queues must never be evicted)")
        health = healthcheck_text(redis)
        if not re.search(r"\bredis-cli\b[^|;&]*\bping\b", health):
            f.add("redis", "needs a `redis-cli ping` health check")
        elif not re.search(r"REDISCLI_AUTH=|--pass|--askpass", health):
            f.add("redis", "the health check must log in (redis-cli --askpass): the default user has a password")
        if not re.search(r"--aclfile\s", cmd) or not re.search(r"(sh\s+)?%s\b" % re.escape(ACL_SCRIPT), cmd):
            f.add("redis", "must run redis-server --aclfile with the file %s (deploy/redis-acl.sh) "
                  "writes" % ACL_SCRIPT)
        if not any(str(v).split(":")[:3] == ["./redis-acl.sh", ACL_SCRIPT, "ro"]
                   for v in redis.get("volumes") or []):
            f.add("redis", "needs ./redis-acl.sh mounted read-only at %s" % ACL_SCRIPT)
        env = env_of(redis)
        for secret in REDIS_SECRETS:
            if secret not in secret_names(redis):
                f.add("redis", "does not get the secret %s" % secret)
            var = "REDIS_%s_FILE" % secret.split("_", 1)[1].upper()
            if env.get(var) != "/run/secrets/%s" % secret:
                f.add("redis", "%s must be /run/secrets/%s" % (var, secret))
        if not any(str(v).split(":")[0] in volumes and str(v).split(":")[1] == "/data"
                   for v in redis.get("volumes") or []):
            f.add("redis", "needs a named volume at /data")

    coord = services.get("coordinator")
    if coord is None:
        f.add("coordinator", "no coordinator service")
    else:
        build = coord.get("build") or {}
        if not isinstance(build, dict) or build.get("context") != ".." \
                or build.get("dockerfile") != "deploy/Dockerfile":
            f.add("coordinator", "must build from deploy/Dockerfile with context .. (the repository)")
        mounts = [str(v) for v in coord.get("volumes") or []]
        if not any(v.split(":")[0] in volumes and v.split(":")[1] == "/data" for v in mounts):
            f.add("coordinator", "the SQLite store needs a named volume at /data")
        if not any(str(p).endswith(":8080") or str(p) == "8080" for p in coord.get("ports") or []):
            f.add("coordinator", "port 8080 must be published")
        env = env_of(coord)
        check_redis_login("coordinator", coord, "coordinator", f)
        if env.get("FLEETQ_DB", "/data/fleetq.db") != "/data/fleetq.db":
            f.add("coordinator", "FLEETQ_DB must be on the volume, /data/fleetq.db")
        if condition(coord, "redis") != "service_healthy":
            f.add("coordinator", "must wait for redis to be healthy")
        if "/health" not in healthcheck_text(coord):
            f.add("coordinator", "needs a health check on /health")
        if "xai_api_key" in secret_names(coord):
            f.add("coordinator", "does not need the key: do not give it the secret")

    for role in ROLES:
        build = (services.get(role) or {}).get("build")
        image = (services.get(role) or {}).get("image")
        if coord is not None and build != coord.get("build") and image != coord.get("image"):
            f.add(role, "must run the same image as the coordinator")

    mock = services.get("mockapi")
    if mock is not None and not mock.get("profiles"):
        f.add("mockapi", "the mock must only run under a profile (e.g. demo)")

    for name in ("xai_api_key",) + REDIS_SECRETS:
        secret = (doc.get("secrets") or {}).get(name) or {}
        if secret.get("file") != "./secrets/%s" % name:
            f.add("secrets", "%s must be read from ./secrets/%s (git-ignored)" % (name, name))
        extra = set(secret) - {"file"}
        if extra:
            f.add("secrets", "%s: only `file` is expected, found %s" % (name, sorted(extra)))

    check_workers(doc, f, resolved=False, base_url=None)
    check_secret_free_env(doc, f)


def check_resolved(doc, f, base_url):
    services = doc.get("services") or {}
    missing = {"redis", "coordinator", *ROLES} - set(services)
    if missing:
        f.add("config", "services missing: %s" % sorted(missing))
    check_workers(doc, f, resolved=True, base_url=base_url)
    check_secret_free_env(doc, f)
    for name, svc in services.items():
        for k, v in env_of(svc).items():
            if "${" in v:
                f.add(name, "%s=%s was not substituted" % (k, v))


def check_schema(doc, schema_path, f):
    import jsonschema
    with open(schema_path, encoding="utf-8") as fh:
        schema = json.load(fh)
    validator = jsonschema.Draft7Validator(schema)
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in err.path) or "(top)"
        f.add("schema", "%s: %s" % (where, err.message))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--schema")
    ap.add_argument("--resolved", action="store_true")
    ap.add_argument("--base-url")
    opts = ap.parse_args()

    f = Findings()
    doc = load_mapping(opts.file, f)
    if doc is not None and opts.resolved:
        check_resolved(doc, f, opts.base_url)
    elif doc is not None:
        if opts.schema:
            check_schema(doc, opts.schema, f)
        check_raw(doc, f)
    return report(opts.file, f)


if __name__ == "__main__":
    sys.exit(main())
