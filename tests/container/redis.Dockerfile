# redis.Dockerfile -- a stand-in for the image redis:7-bookworm that
# deploy/docker-compose.yml names, for the container stage, where no
# registry can be reached: Debian 12's redis-server (7.0) on the local
# debian:bookworm-slim. Like the official image it works in /data (the
# Compose file mounts the volume there) and runs with protected mode off,
# so that other containers may connect; the official image is built that
# way, and Debian's redis-server would otherwise refuse them.
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server redis-tools \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o redis -g redis /data

WORKDIR /data
COPY redis-entrypoint.sh /usr/local/bin/redis-entrypoint
ENTRYPOINT ["/usr/local/bin/redis-entrypoint"]
CMD ["redis-server"]
