/* redis_tls.c -- the TLS relays behind rediss:// (see redis_tls.h).
 *
 * DESIGN
 * A relay's thread first takes the local connection (accept on the Unix
 * socket, or the socketpair's end), then connects to Redis and shakes
 * hands, each step bounded by the relay's connect time and interruptible
 * by a release. Bytes hiredis sent meanwhile wait in the local socket.
 * Once the session is up the thread moves bytes both ways with both
 * sockets non-blocking: one buffer each way, a poll() on what each
 * direction waits for (OpenSSL may need the socket readable to write, or
 * writable to read), and an eventfd that a release writes to. Whatever
 * ends the relay (either side closing, an error, a release) closes both
 * sockets, so hiredis sees its connection lost and reconnects through a
 * new relay. The relay and its caller each hold a reference; the last to
 * let go frees it. The thread blocks every signal (a peer that has gone
 * gives EPIPE, not SIGPIPE). At exit every relay still running is told to
 * stop and waited for (a second at most), so that none is cut off while
 * it holds OpenSSL's state.
 */
#include "redis_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "text.h"
#include "timeutil.h"

#define RELAY_BUF 16384
#define SETTLE_MS 250      /* how long a TLS 1.3 server may take to refuse our certificate */

enum { RELAY_STARTING = 0, RELAY_UP, RELAY_ENDED };

struct fq_tls_relay {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int state;
    int refused;            /* the handshake failed */
    char error[320];

    int wake_fd;            /* eventfd: a release */
    int listen_fd;          /* the Unix socket hiredis connects to, or -1 */
    int local_fd;           /* hiredis' connection, once taken */
    int remote_fd;          /* the TCP connection to Redis */
    char dir[96];           /* the Unix socket's private directory, "" if none */
    char path[108];
    SSL *ssl;

    char host[256];
    int port;
    int connect_ms;
    fq_tls_relay *prev, *next;   /* the running relays */
};

/* The relays whose thread is running, for the wait at exit. */
static pthread_mutex_t running_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t running_cv = PTHREAD_COND_INITIALIZER;
static fq_tls_relay *running;

static SSL_CTX *tls_ctx;
static int tls_verify = 1;

/* ------------------------------------------------------------------------
 * Settings
 * --------------------------------------------------------------------- */

/* The first error OpenSSL queued, as text, and the queue cleared. */
static const char *ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        snprintf(buf, len, "unknown error");
    else
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

static void stop_running_relays(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    uint64_t one = 1;
    pthread_mutex_lock(&running_mu);
    for (fq_tls_relay *t = running; t != NULL; t = t->next)
        if (write(t->wake_fd, &one, sizeof(one)) < 0)
            continue;   /* full: a release already woke it */
    while (running != NULL && pthread_cond_timedwait(&running_cv, &running_mu, &until) == 0)
        ;
    pthread_mutex_unlock(&running_mu);
}

int fq_redis_tls_configure(const fq_config *cfg, char *err, size_t errlen)
{
    char why[200];
    fq_text_shown sh;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        snprintf(err, errlen, "REDIS_URL: cannot set up TLS: %s", ssl_reason(why, sizeof(why)));
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    int ok = cfg->redis_ca_file[0] != '\0'
                 ? SSL_CTX_load_verify_locations(ctx, cfg->redis_ca_file, NULL)
                 : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        if (cfg->redis_ca_file[0] != '\0')
            snprintf(err, errlen, "FLEETQ_REDIS_CA_FILE: cannot read CA certificates from %s: "
                     "%s (a PEM file of one or more certificates)",
                     fq_config_show(&sh, cfg->redis_ca_file), ssl_reason(why, sizeof(why)));
        else
            snprintf(err, errlen, "REDIS_URL: cannot read the system's CA store: %s; set "
                     "FLEETQ_REDIS_CA_FILE", ssl_reason(why, sizeof(why)));
        goto fail;
    }
    if (cfg->redis_cert_file[0] != '\0') {
        if (SSL_CTX_use_certificate_chain_file(ctx, cfg->redis_cert_file) != 1) {
            snprintf(err, errlen, "FLEETQ_REDIS_CERT_FILE: cannot read a certificate from %s: "
                     "%s", fq_config_show(&sh, cfg->redis_cert_file),
                     ssl_reason(why, sizeof(why)));
            goto fail;
        }
        int loaded = SSL_CTX_use_PrivateKey_file(ctx, cfg->redis_key_file, SSL_FILETYPE_PEM);
        if (loaded != 1 && ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
            snprintf(err, errlen, "FLEETQ_REDIS_KEY_FILE: cannot read a private key from %s: %s",
                     fq_config_show(&sh, cfg->redis_key_file), ssl_reason(why, sizeof(why)));
            goto fail;
        }
        if (loaded != 1 || SSL_CTX_check_private_key(ctx) != 1) {
            snprintf(err, errlen, "FLEETQ_REDIS_KEY_FILE: the key in %s does not belong to the "
                     "certificate in FLEETQ_REDIS_CERT_FILE",
                     fq_config_show(&sh, cfg->redis_key_file));
            ERR_clear_error();
            goto fail;
        }
    }
    SSL_CTX_set_verify(ctx, cfg->redis_tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    /* registered after OpenSSL's own clean-up (SSL_CTX_new set it up), so
     * it runs before it */
    static int exit_hook;
    if (!exit_hook && atexit(stop_running_relays) == 0)
        exit_hook = 1;
    if (tls_ctx != NULL)
        SSL_CTX_free(tls_ctx);
    tls_ctx = ctx;
    tls_verify = cfg->redis_tls_verify;
    return 0;
fail:
    SSL_CTX_free(ctx);
    return -1;
}

/* ------------------------------------------------------------------------
 * The relay's state, shared with its owner
 * --------------------------------------------------------------------- */

static void relay_unref(fq_tls_relay *t)
{
    pthread_mutex_lock(&t->mu);
    int last = --t->refs == 0;
    pthread_mutex_unlock(&t->mu);
    if (!last)
        return;
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    if (t->wake_fd >= 0)
        close(t->wake_fd);
    free(t);
}

/* Ends the relay with a reason (the first one given is kept). */
static void relay_end(fq_tls_relay *t, int refused, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void relay_end(fq_tls_relay *t, int refused, const char *fmt, ...)
{
    pthread_mutex_lock(&t->mu);
    if (t->state != RELAY_ENDED) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->error, sizeof(t->error), fmt, ap);
        va_end(ap);
        t->refused = refused;
        t->state = RELAY_ENDED;
        pthread_cond_broadcast(&t->cv);
    }
    pthread_mutex_unlock(&t->mu);
}

static void relay_up(fq_tls_relay *t)
{
    pthread_mutex_lock(&t->mu);
    if (t->state == RELAY_STARTING)
        t->state = RELAY_UP;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

int fq_tls_relay_wait(fq_tls_relay *t, int ms, char *err, size_t errlen)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->mu);
    while (t->state == RELAY_STARTING &&
           pthread_cond_timedwait(&t->cv, &t->mu, &until) == 0)
        ;
    int rc = t->state == RELAY_UP ? 0 : -1;
    if (rc != 0)
        snprintf(err, errlen, "%s", t->state == RELAY_ENDED
                                        ? t->error
                                        : "no TLS session within the connect time");
    pthread_mutex_unlock(&t->mu);
    return rc;
}

void fq_tls_relay_error(fq_tls_relay *t, char *buf, size_t len)
{
    pthread_mutex_lock(&t->mu);
    snprintf(buf, len, "%s", t->state == RELAY_ENDED ? t->error : "");
    pthread_mutex_unlock(&t->mu);
}

int fq_tls_relay_refused(fq_tls_relay *t)
{
    pthread_mutex_lock(&t->mu);
    int refused = t->refused;
    pthread_mutex_unlock(&t->mu);
    return refused;
}

void fq_tls_relay_detach(fq_tls_relay *t)
{
    relay_unref(t);
}

void fq_tls_relay_release(fq_tls_relay *t)
{
    if (t == NULL)
        return;
    uint64_t one = 1;
    ssize_t w = write(t->wake_fd, &one, sizeof(one));
    (void)w;   /* the counter cannot overflow from one write per relay */
    relay_unref(t);
}

/* ------------------------------------------------------------------------
 * The thread: waiting with a deadline
 * --------------------------------------------------------------------- */

/* Waits until fd is ready for events, the deadline passes (0) or a
 * release comes (-1). 1 when ready. */
static int wait_fd(fq_tls_relay *t, int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - fq_mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p[2] = {{fd, events, 0}, {t->wake_fd, POLLIN, 0}};
        int n = poll(p, 2, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || p[1].revents != 0)
            return -1;
        if (p[0].revents != 0)
            return 1;
    }
}

static int set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Takes hiredis' connection on the Unix socket, then removes the socket's
 * name and directory. */
static int take_local(fq_tls_relay *t, int64_t deadline)
{
    if (t->listen_fd >= 0) {
        int ready = wait_fd(t, t->listen_fd, POLLIN, deadline);
        if (ready > 0)
            t->local_fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        close(t->listen_fd);
        t->listen_fd = -1;
        unlink(t->path);
        rmdir(t->dir);
        if (t->local_fd < 0) {
            relay_end(t, 0, ready == 0 ? "hiredis did not connect to the TLS relay in time"
                                       : "the TLS relay was let go before it started");
            return -1;
        }
    }
    return set_nonblocking(t->local_fd);
}

static int connect_remote(fq_tls_relay *t, int64_t deadline)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", t->port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(t->host, port, &hints, &res);
    if (gai != 0) {
        relay_end(t, 0, "cannot resolve %s: %s", t->host, gai_strerror(gai));
        return -1;
    }
    int err = 0;
    for (struct addrinfo *a = res; a != NULL && t->remote_fd < 0; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) {
            int ready = wait_fd(t, fd, POLLOUT, deadline);
            socklen_t len = sizeof(err);
            if (ready > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
                t->remote_fd = fd;
                break;
            }
            if (ready <= 0)
                err = ready == 0 ? ETIMEDOUT : ECANCELED;
        } else {
            err = errno;
        }
        close(fd);
    }
    freeaddrinfo(res);
    if (t->remote_fd < 0) {
        relay_end(t, 0, "cannot reach %s:%d: %s", t->host, t->port, strerror(err));
        return -1;
    }
    int on = 1;
    setsockopt(t->remote_fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    return 0;
}

static int is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static void lost(fq_tls_relay *t, int ssl_error, const char *doing);

/* With TLS 1.3 the client's side of the handshake ends before the server
 * has checked the client's certificate: a server that wants one it did not
 * get says so in an alert right after, and one that is content sends its
 * session tickets. Reads what comes within SETTLE_MS, so that a refusal is
 * a failed handshake, said before any command is sent. */
static int settle(fq_tls_relay *t)
{
    if (SSL_version(t->ssl) < TLS1_3_VERSION)
        return 0;
    int64_t until = fq_mono_ms() + SETTLE_MS;
    char byte;
    for (;;) {
        int ready = wait_fd(t, t->remote_fd, POLLIN, until);
        if (ready <= 0)
            return ready == 0 ? 0 : -1;   /* nothing came: content */
        ERR_clear_error();
        int n = SSL_peek(t->ssl, &byte, 1);
        if (n > 0)
            return 0;
        int e = SSL_get_error(t->ssl, n);
        if (e == SSL_ERROR_WANT_READ)
            return 0;   /* tickets read: the server took the handshake */
        if (e != SSL_ERROR_WANT_WRITE) {
            lost(t, e, "finishing the handshake");
            return -1;
        }
    }
}

static int handshake(fq_tls_relay *t, int64_t deadline)
{
    char why[200];
    t->ssl = SSL_new(tls_ctx);
    if (t->ssl == NULL || SSL_set_fd(t->ssl, t->remote_fd) != 1) {
        relay_end(t, 0, "TLS with %s:%d: %s", t->host, t->port, ssl_reason(why, sizeof(why)));
        return -1;
    }
    int ip = is_ip_literal(t->host);
    if (!ip)
        SSL_set_tlsext_host_name(t->ssl, t->host);   /* SNI */
    if (tls_verify) {
        int named = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), t->host)
                       : SSL_set1_host(t->ssl, t->host);
        if (named != 1) {
            relay_end(t, 0, "TLS with %s:%d: cannot check the host name", t->host, t->port);
            return -1;
        }
    }
    for (;;) {
        ERR_clear_error();
        int rc = SSL_connect(t->ssl);
        if (rc == 1)
            return settle(t);
        int e = SSL_get_error(t->ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int ready = wait_fd(t, t->remote_fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                                deadline);
            if (ready > 0)
                continue;
            relay_end(t, 0, ready == 0 ? "TLS handshake with %s:%d timed out (is it a TLS "
                                         "port?)"
                                       : "TLS handshake with %s:%d stopped",
                      t->host, t->port);
            return -1;
        }
        long verify = SSL_get_verify_result(t->ssl);
        if (tls_verify && verify != X509_V_OK)
            relay_end(t, 1, "the TLS certificate of %s:%d does not verify: %s (check "
                      "FLEETQ_REDIS_CA_FILE and the host name in REDIS_URL)", t->host, t->port,
                      X509_verify_cert_error_string(verify));
        else if (e == SSL_ERROR_SSL)
            relay_end(t, 1, "TLS handshake with %s:%d failed: %s", t->host, t->port,
                      ssl_reason(why, sizeof(why)));
        else
            relay_end(t, 1, "TLS handshake with %s:%d failed: the server closed the "
                      "connection (is it a TLS port? does it require a client certificate, "
                      "FLEETQ_REDIS_CERT_FILE?)", t->host, t->port);
        ERR_clear_error();
        return -1;
    }
}

/* ------------------------------------------------------------------------
 * The thread: moving bytes
 * --------------------------------------------------------------------- */

typedef struct buf {
    char data[RELAY_BUF];
    size_t len, off;
} buf;

/* Ends the relay on a failed SSL_read or SSL_write. An alert from the
 * server counts as a refusal: with TLS 1.3 a server that wants a client
 * certificate says so only after the client's side of the handshake. */
static void lost(fq_tls_relay *t, int ssl_error, const char *doing)
{
    char why[200];
    if (ssl_error == SSL_ERROR_ZERO_RETURN)
        relay_end(t, 0, "%s:%d closed the TLS connection", t->host, t->port);
    else if (ssl_error == SSL_ERROR_SSL)
        relay_end(t, 1, "TLS with %s:%d failed while %s: %s (does it require a client "
                  "certificate, FLEETQ_REDIS_CERT_FILE?)", t->host, t->port, doing,
                  ssl_reason(why, sizeof(why)));
    else
        relay_end(t, 0, "TLS connection to %s:%d lost while %s", t->host, t->port, doing);
}

/* After an SSL_read or SSL_write that returned rc <= 0: 0 with what the
 * socket must become (readable, writable) added to *remote, or -1 when
 * the relay is over. */
static int must_wait(fq_tls_relay *t, int rc, short *remote, const char *doing)
{
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ)
        *remote |= POLLIN;
    else if (e == SSL_ERROR_WANT_WRITE)
        *remote |= POLLOUT;
    else {
        lost(t, e, doing);
        return -1;
    }
    return 0;
}

/* One pass of every step that can make progress without waiting. Sets
 * the poll events each socket waits for; 1 on progress, 0 when all must
 * wait, -1 when the relay is over. */
static int pump(fq_tls_relay *t, buf *up, buf *down, short *local_ev, short *remote_ev)
{
    int progress = 0;
    short remote = 0;

    /* hiredis -> Redis */
    if (up->len == 0) {
        ssize_t n = read(t->local_fd, up->data, sizeof(up->data));
        if (n == 0) {
            relay_end(t, 0, "closed by the client");
            return -1;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            relay_end(t, 0, "local socket: %s", strerror(errno));
            return -1;
        }
        if (n > 0) {
            up->len = (size_t)n;
            up->off = 0;
            progress = 1;
        }
    }
    if (up->len > 0) {
        ERR_clear_error();
        int n = SSL_write(t->ssl, up->data + up->off, (int)(up->len - up->off));
        if (n > 0) {
            up->off += (size_t)n;
            if (up->off == up->len)
                up->len = 0;
            progress = 1;
        } else if (must_wait(t, n, &remote, "sending") != 0) {
            return -1;
        }
    }

    /* Redis -> hiredis */
    if (down->len == 0) {
        ERR_clear_error();
        int n = SSL_read(t->ssl, down->data, sizeof(down->data));
        if (n > 0) {
            down->len = (size_t)n;
            down->off = 0;
            progress = 1;
        } else if (must_wait(t, n, &remote, "reading") != 0) {
            return -1;
        }
    }
    if (down->len > 0) {
        ssize_t n = send(t->local_fd, down->data + down->off, down->len - down->off,
                         MSG_NOSIGNAL);
        if (n > 0) {
            down->off += (size_t)n;
            if (down->off == down->len)
                down->len = 0;
            progress = 1;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            relay_end(t, 0, "closed by the client");
            return -1;
        }
    }
    *local_ev = (short)((up->len == 0 ? POLLIN : 0) | (down->len > 0 ? POLLOUT : 0));
    *remote_ev = remote;
    return progress;
}

static void relay_bytes(fq_tls_relay *t)
{
    buf *up = malloc(sizeof(*up)), *down = malloc(sizeof(*down));
    if (up == NULL || down == NULL) {
        relay_end(t, 0, "out of memory");
        goto out;
    }
    up->len = down->len = 0;
    for (;;) {
        short local_ev, remote_ev;
        int p = pump(t, up, down, &local_ev, &remote_ev);
        if (p < 0)
            break;
        if (p > 0)
            continue;
        /* a socket waited on for nothing is left out, or its hang-up
         * would wake the poll for ever */
        struct pollfd fds[3] = {{local_ev ? t->local_fd : -1, local_ev, 0},
                                {remote_ev ? t->remote_fd : -1, remote_ev, 0},
                                {t->wake_fd, POLLIN, 0}};
        if (poll(fds, 3, -1) < 0 && errno != EINTR) {
            relay_end(t, 0, "poll: %s", strerror(errno));
            break;
        }
        if (fds[2].revents != 0) {
            relay_end(t, 0, "let go");
            break;
        }
        if ((fds[0].revents & (POLLERR | POLLNVAL)) != 0) {
            relay_end(t, 0, "closed by the client");
            break;
        }
    }
out:
    free(up);
    free(down);
}

static void *relay_main(void *arg)
{
    fq_tls_relay *t = arg;
    int64_t deadline = fq_mono_ms() + t->connect_ms;
    if (take_local(t, deadline) == 0 && connect_remote(t, deadline) == 0 &&
        handshake(t, deadline) == 0) {
        relay_up(t);
        relay_bytes(t);
    }
    if (t->ssl != NULL) {
        SSL_shutdown(t->ssl);   /* best effort: the socket is non-blocking */
        SSL_free(t->ssl);
    }
    ERR_clear_error();
    OPENSSL_thread_stop();
    if (t->remote_fd >= 0)
        close(t->remote_fd);
    if (t->local_fd >= 0)
        close(t->local_fd);
    pthread_mutex_lock(&running_mu);
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        running = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    pthread_cond_broadcast(&running_cv);
    pthread_mutex_unlock(&running_mu);
    relay_unref(t);
    return NULL;
}

/* ------------------------------------------------------------------------
 * Starting a relay
 * --------------------------------------------------------------------- */

static fq_tls_relay *relay_new(const char *host, int port, int connect_ms, char *err,
                               size_t errlen)
{
    if (tls_ctx == NULL) {
        snprintf(err, errlen, "TLS is not set up (REDIS_URL is not rediss://)");
        return NULL;
    }
    fq_tls_relay *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    t->refs = 2;
    t->listen_fd = t->local_fd = t->remote_fd = -1;
    t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    snprintf(t->host, sizeof(t->host), "%s", host);
    t->port = port;
    t->connect_ms = connect_ms;
    if (t->wake_fd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        t->refs = 1;
        relay_unref(t);
        return NULL;
    }
    return t;
}

static int relay_spawn(fq_tls_relay *t, char *err, size_t errlen)
{
    static int warned;
    if (!tls_verify && !__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
        fq_log(FQ_LOG_WARN, "redis.tls_unverified", FQ_LS, "host", t->host,
               FQ_LS, "why", "FLEETQ_REDIS_TLS_VERIFY=false: the server's certificate is not "
               "checked, so the connection can be intercepted", FQ_LEND);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);   /* the thread starts with every signal blocked */
    pthread_t tid;
    pthread_mutex_lock(&running_mu);
    int rc = pthread_create(&tid, &attr, relay_main, t);
    if (rc == 0) {
        t->next = running;
        if (running != NULL)
            running->prev = t;
        running = t;
    }
    pthread_mutex_unlock(&running_mu);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start a TLS relay thread: %s", strerror(rc));
        return -1;
    }
    return 0;
}

fq_tls_relay *fq_tls_relay_listen(const char *host, int port, int connect_ms, char *path,
                                  size_t pathlen, char *err, size_t errlen)
{
    fq_tls_relay *t = relay_new(host, port, connect_ms, err, errlen);
    if (t == NULL)
        return NULL;
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > 60)
        tmp = "/tmp";
    snprintf(t->dir, sizeof(t->dir), "%s/fleetq-tls-XXXXXX", tmp);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (mkdtemp(t->dir) == NULL) {
        snprintf(err, errlen, "cannot make a directory for the TLS relay in %s: %s", tmp,
                 strerror(errno));
        t->dir[0] = '\0';
        goto fail;
    }
    snprintf(t->path, sizeof(t->path), "%s/r", t->dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t->path);
    t->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t->listen_fd < 0 || bind(t->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(t->listen_fd, 1) != 0) {
        snprintf(err, errlen, "cannot listen for the TLS relay on %s: %s", t->path,
                 strerror(errno));
        goto fail;
    }
    if (relay_spawn(t, err, errlen) != 0)
        goto fail;
    snprintf(path, pathlen, "%s", t->path);
    return t;
fail:
    if (t->listen_fd >= 0)
        close(t->listen_fd);
    if (t->dir[0] != '\0') {
        unlink(t->path);
        rmdir(t->dir);
    }
    t->refs = 1;
    relay_unref(t);
    return NULL;
}

fq_tls_relay *fq_tls_relay_pair(const char *host, int port, int connect_ms, int *fd,
                                char *err, size_t errlen)
{
    fq_tls_relay *t = relay_new(host, port, connect_ms, err, errlen);
    if (t == NULL)
        return NULL;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        t->refs = 1;
        relay_unref(t);
        return NULL;
    }
    t->local_fd = sv[1];
    if (relay_spawn(t, err, errlen) != 0) {
        close(sv[0]);
        close(sv[1]);
        t->refs = 1;
        relay_unref(t);
        return NULL;
    }
    *fd = sv[0];
    return t;
}
