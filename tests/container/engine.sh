# engine.sh -- a private container engine for the container stage: podman
# (Debian 12) with its storage, configuration and Docker API socket under
# the test's own directory, so that a run touches no image, container or
# volume of the machine's and leaves nothing behind. Sourced by
# tests/container/test_container.sh after tests/integration/lib.sh.
#
# Why these settings (each one was needed on the machines the suite runs on):
#   - runc, not crun: crun refuses a cgroup set-up in hybrid mode;
#   - no default ulimits: a sandbox may forbid setrlimit;
#   - cgroupfs and a file events log: there may be no systemd;
#   - base images made locally: nothing can be pulled from a registry, so
#     debian:bookworm-slim is a debootstrap of Debian 12 (minbase) from the
#     mirror apt already uses, and the Redis image Compose names is built
#     from Debian's redis-server (tests/container/redis.Dockerfile);
#   - health checks run by fqc_health_loop: podman schedules them with
#     systemd timers, so without systemd `depends_on: service_healthy`
#     would wait for ever.
#
#   fqc_engine_start            private storage, config and API socket
#   fqc_podman ARGS...          podman on that storage
#   fqc_base_image              debian:bookworm-slim from debootstrap
#   fqc_build TAG FILE CONTEXT  podman build, network of the host for apt
#   fqc_health_loop PROJECT     runs the health checks of PROJECT's containers
#   fqc_engine_stop             everything above stopped by id and removed
#
# FQC_PROJECT names the Compose project the caller runs (unique per run).

FQC_DIR=$FQ_TMP/engine
FQC_CACHE=${FLEETQ_CONTAINER_CACHE:-$FQ_SRC/build-container}

FQC_PODMAN=(podman --root "$FQC_DIR/storage" --runroot "$FQC_DIR/run" --storage-driver overlay
            --tmpdir "$FQC_DIR/tmp")
fqc_podman() { "${FQC_PODMAN[@]}" "$@"; }

fqc_engine_start() {
    # podman keeps a cache of blob digests outside --root: remove it at the
    # end unless it was there before
    [ -e /var/lib/containers/cache ] || FQC_NEW_BLOB_CACHE=1
    mkdir -p "$FQC_DIR/storage" "$FQC_DIR/run" "$FQC_DIR/tmp" "$FQC_CACHE"
    mkdir -p "$FQC_DIR/networks"
    # the networks Compose makes are kept beside the storage too
    cat >"$FQC_DIR/containers.conf" <<EOF
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_config_dir = "$FQC_DIR/networks"
EOF
    export CONTAINERS_CONF=$FQC_DIR/containers.conf
    "${FQC_PODMAN[@]}" system service --time=0 "unix://$FQC_DIR/podman.sock" \
        >"$FQ_TMP/podman-service.log" 2>&1 &
    FQC_SERVICE_PID=$!
    FQ_PIDS+=("$FQC_SERVICE_PID")
    export DOCKER_HOST=unix://$FQC_DIR/podman.sock
    fq_wait_for 30 curl -sf --unix-socket "$FQC_DIR/podman.sock" http://d/_ping ||
        fq_fail "the podman API socket did not answer in 30 s: $(tail -n 5 "$FQ_TMP/podman-service.log")"
}

# The sources apt uses on this machine, for the images' apt: the same Debian
# 12 mirror (and its updates and security suites) as the host.
fqc_apt_sources() {
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        echo "sources.list.d/debian.sources"
    elif [ -s /etc/apt/sources.list ]; then
        echo "sources.list"
    else
        fq_fail "no Debian apt sources on this machine (/etc/apt/sources.list.d/debian.sources)"
    fi
}

fqc_mirror() {
    local src
    src=/etc/apt/$(fqc_apt_sources)
    case $src in
    *.sources) awk '/^URIs:/ { print $2; exit }' "$src" ;;
    *) awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$src" ;;
    esac
}

# debian:bookworm-slim, made with debootstrap once and kept (as a tarball)
# in FQC_CACHE for a week, then imported into the private storage.
fqc_base_image() {
    local tarball=$FQC_CACHE/bookworm-minbase.tar mirror rootfs sources
    if [ -z "$(find "$tarball" -mtime -7 2>/dev/null)" ]; then
        mirror=$(fqc_mirror)
        [ -n "$mirror" ] || fq_fail "cannot tell the Debian mirror from /etc/apt/$(fqc_apt_sources)"
        fq_log "base image: debootstrap bookworm (minbase)"
        rootfs=$FQ_TMP/rootfs
        debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$FQ_TMP/debootstrap.log" 2>&1 ||
            fq_fail "debootstrap failed: $(tail -n 3 "$FQ_TMP/debootstrap.log")"
        sources=$(fqc_apt_sources)
        rm -f "$rootfs/etc/apt/sources.list"
        mkdir -p "$rootfs/etc/apt/sources.list.d"
        cp "/etc/apt/$sources" "$rootfs/etc/apt/$sources"
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        tar -C "$rootfs" -cf "$tarball.new" . && mv "$tarball.new" "$tarball"
        rm -rf "$rootfs"
    fi
    fqc_podman import "$tarball" docker.io/library/debian:bookworm-slim >/dev/null ||
        fq_fail "podman import of the base image failed"
}

fqc_build() { # TAG DOCKERFILE CONTEXT
    local log=$FQ_TMP/build-${1//[:\/]/_}.log
    fqc_podman build --network=host -t "$1" -f "$2" "$3" >"$log" 2>&1 ||
        fq_fail "podman build of $1 failed: $(tail -n 15 "$log")"
}

# Runs `podman healthcheck run` for every container of a Compose project
# that has a health check, every 2 s, until killed.
fqc_health_loop() { # PROJECT
    local project=$1
    (
        # stops, between two rounds, once fqc_engine_stop asks: no podman
        # command may run while the engine's directory is removed
        while [ ! -e "$FQC_DIR.health-stop" ]; do
            for id in $(fqc_podman ps -q --filter "label=com.docker.compose.project=$project" 2>/dev/null); do
                fqc_podman healthcheck run "$id" >/dev/null 2>&1 || true
            done
            sleep 2
        done
    ) &
    FQC_HEALTH_PID=$!
    FQ_PIDS+=("$FQC_HEALTH_PID")
}

fqc_engine_stop() {
    if [ -n "${FQC_HEALTH_PID:-}" ]; then
        touch "$FQC_DIR.health-stop"
        wait "$FQC_HEALTH_PID" 2>/dev/null || true
        rm -f "$FQC_DIR.health-stop"
    fi
    [ -d "$FQC_DIR/storage" ] || return 0
    local ids
    ids=$(fqc_podman ps -aq 2>/dev/null || true)
    if [ -n "$ids" ]; then
        # shellcheck disable=SC2086  # one id a word
        fqc_podman rm -f -t 5 $ids >/dev/null 2>&1 || true
    fi
    fqc_podman volume rm -af >/dev/null 2>&1 || true
    fqc_podman network prune -f >/dev/null 2>&1 || true
    if [ -n "${FQC_SERVICE_PID:-}" ]; then
        kill -TERM "$FQC_SERVICE_PID" 2>/dev/null || true
        wait "$FQC_SERVICE_PID" 2>/dev/null || true
    fi
    fqc_podman rmi -af >/dev/null 2>&1 || true
    # conmon lingers a while after an exec session; the network plugin keeps
    # the address book of each network Compose made, named for the project
    local pid
    for pid in $(pgrep -f "conmon .*$FQC_DIR" || true); do kill -TERM "$pid" 2>/dev/null || true; done
    # conmon starts `podman container cleanup` when a container exits; such
    # a late one would make the storage (and its mount) again under the
    # removal: wait for every process that names the engine's directory
    local _
    for _ in $(seq 1 100); do
        pgrep -f -- "$FQC_DIR" >/dev/null || break
        sleep 0.1
    done
    for pid in $(pgrep -f -- "$FQC_DIR" || true); do kill -KILL "$pid" 2>/dev/null || true; done
    rm -rf "/var/lib/cni/networks/${FQC_PROJECT:?}_"*
    [ -z "${FQC_NEW_BLOB_CACHE:-}" ] || rm -rf /var/lib/containers/cache
    # the storage's own mounts, then its files
    grep -o " $FQC_DIR/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$FQC_DIR"
}
