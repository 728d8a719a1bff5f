/* redis_tls.h -- Redis over TLS (rediss://) for hiredis 0.14, which speaks
 * plain TCP and Unix sockets only.
 *
 * Each TLS connection is a relay: a thread of its own holds the TLS
 * session with Redis (OpenSSL) and passes the bytes, unchanged, to and
 * from a local socket that hiredis is connected to. hiredis still writes
 * commands and parses replies; everything it does on a plain connection
 * (timeouts, the watchdog, reconnects) works the same, because when
 * either end of a relay closes, the relay closes the other.
 *
 * The async connection (redis.c) reaches its relay through a Unix socket
 * in a private directory (mode 0700) that exists only until the relay has
 * accepted the one connection it waits for; the blocking one
 * (redis_sync.c) through a socketpair.
 */
#ifndef FQ_REDIS_TLS_H
#define FQ_REDIS_TLS_H

#include <stddef.h>

#include "config.h"

typedef struct fq_tls_relay fq_tls_relay;

/* Sets the process up for rediss:// from cfg: the CA file (or the
 * system's CA store), the client certificate and key, and whether the
 * server's certificate is verified. Called by fq_config_load when
 * REDIS_URL is rediss://; -1 with a line naming the setting on error. */
int fq_redis_tls_configure(const fq_config *cfg, char *err, size_t errlen);

/* A relay to host:port that hiredis reaches at the Unix socket path
 * written to path (pathlen >= 108). The relay connects and shakes hands
 * within connect_ms. NULL with err when it cannot even start. */
fq_tls_relay *fq_tls_relay_listen(const char *host, int port, int connect_ms, char *path,
                                  size_t pathlen, char *err, size_t errlen);

/* A relay to host:port whose other end is the socket put in *fd, which
 * the caller hands to hiredis (redisConnectFd). NULL with err on error. */
fq_tls_relay *fq_tls_relay_pair(const char *host, int port, int connect_ms, int *fd,
                                char *err, size_t errlen);

/* Waits at most ms for the TLS session: 0 once it is up, -1 with the
 * reason in err when it failed ("the certificate of ... does not verify:
 * certificate has expired"). */
int fq_tls_relay_wait(fq_tls_relay *t, int ms, char *err, size_t errlen);

/* Why the relay failed or ended: "" while it has not. The reason names
 * the server, never a password or key. */
void fq_tls_relay_error(fq_tls_relay *t, char *buf, size_t len);

/* 1 when the relay ended because the TLS handshake failed (a certificate
 * that does not verify, a protocol error), not because a side closed. */
int fq_tls_relay_refused(fq_tls_relay *t);

/* Lets go of t while the relay goes on: it ends when either of its
 * sockets closes (a blocking connection's, once redisFree closes it). */
void fq_tls_relay_detach(fq_tls_relay *t);

/* Lets go of t: the relay stops, closing its sockets, and is freed once
 * its thread is done too. */
void fq_tls_relay_release(fq_tls_relay *t);

#endif
