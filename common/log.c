/* log.c -- JSON-lines logging on stderr that can never print the key (see
 * log.h).
 *
 * fq_log() collects its typed (name, value) pairs into a small array and
 * renders one JSON object per line: ts (UTC, milliseconds, from
 * CLOCK_REALTIME), level, prog, event, then the fields in order. Every
 * string is escaped here: quotes and backslashes, control characters as
 * \u00XX (DEL too), and each byte that is not part of valid UTF-8
 * (fq_utf8_seq() in text.c) becomes U+FFFD, so a line is always valid
 * JSON whatever bytes a field held.
 * Doubles that JSON cannot hold (NaN, infinities) print as null.
 *
 * Secrets are scrubbed twice. First every string is searched before it is
 * escaped and each occurrence of a registered secret is replaced by its
 * redacted form ("xai-…b14o"), so that cutting a long value can never leave
 * a piece of a key behind. Then the finished line is searched again for the
 * raw and the JSON-escaped spelling of each secret. API keys are printable
 * ASCII without quotes or backslashes, so in practice the two spellings are
 * the same; the second search is a guard, not the main mechanism.
 *
 * A line longer than 64 KiB is rendered again with every string value cut
 * to a smaller bound (at a character boundary, never inside an escape) and
 * gets "truncated":true. Each line goes out with one write(2) on fd 2, so
 * lines from processes sharing stderr do not interleave (writes to a pipe up
 * to PIPE_BUF are atomic; longer ones are still one call). A mutex keeps
 * the secret list consistent if several threads log.
 */
#include "log.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "text.h"

#define LOG_LINE_MAX (64 * 1024)
#define LOG_MAX_FIELDS 64
#define LOG_MAX_SECRETS 4
#define LOG_SECRET_MIN 8
#define REDACT_MAX 32

typedef struct secret {
    char *raw;
    char *escaped;               /* NULL when it equals raw */
    char redacted[REDACT_MAX];
    char redacted_esc[REDACT_MAX * 6];  /* the same, JSON-escaped */
} secret;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_prog[64] = "fleetq";
static int log_level = FQ_LOG_INFO;
static secret secrets[LOG_MAX_SECRETS];
static int nsecrets;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* ------------------------------------------------------------------------
 * Levels and set-up
 * --------------------------------------------------------------------- */

int fq_log_level_parse(const char *s)
{
    if (s == NULL)
        return -1;
    for (int i = FQ_LOG_DEBUG; i <= FQ_LOG_ERROR; i++) {
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    }
    if (strcasecmp(s, "warning") == 0)
        return FQ_LOG_WARN;
    return -1;
}

void fq_log_init(const char *prog, fq_log_level level)
{
    pthread_mutex_lock(&log_lock);
    snprintf(log_prog, sizeof(log_prog), "%s", prog != NULL ? prog : "fleetq");
    pthread_mutex_unlock(&log_lock);
    fq_log_set_level(level);
}

void fq_log_set_level(fq_log_level level)
{
    if ((int)level < FQ_LOG_DEBUG)
        level = FQ_LOG_DEBUG;
    if ((int)level > FQ_LOG_ERROR)
        level = FQ_LOG_ERROR;
    __atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

int fq_log_enabled(fq_log_level level)
{
    return (int)level >= __atomic_load_n(&log_level, __ATOMIC_RELAXED) &&
           (int)level <= FQ_LOG_ERROR;
}

/* ------------------------------------------------------------------------
 * A growable line buffer
 * --------------------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t len, cap;
    int oom;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Appends s as the inside of a JSON string, at most cap bytes of output;
 * sets *cut when it had to stop early. */
static void put_escaped(buf *b, const char *s, size_t len, size_t cap, int *cut)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, out = 0;
    while (i < len) {
        char piece[8];
        size_t plen, adv = 1;
        unsigned c = p[i];
        if (c == '"' || c == '\\') {
            piece[0] = '\\';
            piece[1] = (char)c;
            plen = 2;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(piece, sizeof(piece), "\\u%04x", c);
            plen = 6;
        } else if (c < 0x80) {
            piece[0] = (char)c;
            plen = 1;
        } else if ((adv = fq_utf8_seq(p + i, len - i)) > 0) {
            memcpy(piece, p + i, adv);
            plen = adv;
        } else {
            memcpy(piece, "\xEF\xBF\xBD", 3);  /* U+FFFD */
            plen = 3;
            adv = 1;
        }
        if (out + plen > cap) {
            if (cut != NULL)
                *cut = 1;
            return;
        }
        put(b, piece, plen);
        out += plen;
        i += adv;
    }
}

static void put_string(buf *b, const char *s, size_t cap, int *cut)
{
    if (s == NULL) {
        puts_(b, "null");
        return;
    }
    put(b, "\"", 1);
    put_escaped(b, s, strlen(s), cap, cut);
    put(b, "\"", 1);
}

/* ------------------------------------------------------------------------
 * Secrets
 * --------------------------------------------------------------------- */

/* The same shape as fq_config_redact_key(): first 4, "…", last 4 for keys
 * of 12 bytes or more, else "…" alone. Kept here so that logging does not
 * depend on the configuration module. */
static void redact(const char *key, char *out, size_t len)
{
    size_t n = strlen(key);
    if (n >= 12)
        snprintf(out, len, "%.4s\xE2\x80\xA6%s", key, key + n - 4);
    else
        snprintf(out, len, "\xE2\x80\xA6");
}

static void secret_wipe(secret *s)
{
    if (s->raw != NULL) {
        explicit_bzero(s->raw, strlen(s->raw));
        free(s->raw);
    }
    if (s->escaped != NULL) {
        explicit_bzero(s->escaped, strlen(s->escaped));
        free(s->escaped);
    }
    memset(s, 0, sizeof(*s));
}

void fq_log_add_secret(const char *value)
{
    if (value == NULL || strlen(value) < LOG_SECRET_MIN)
        return;
    secret s;
    memset(&s, 0, sizeof(s));
    if ((s.raw = strdup(value)) == NULL)
        return;
    buf e = {0};
    put_escaped(&e, value, strlen(value), (size_t)-1, NULL);
    if (!e.oom && e.p != NULL && strcmp(e.p, value) != 0)
        s.escaped = e.p;
    else if (e.p != NULL) {
        explicit_bzero(e.p, e.len);
        free(e.p);
    }
    redact(value, s.redacted, sizeof(s.redacted));
    buf r = {0};
    put_escaped(&r, s.redacted, strlen(s.redacted), sizeof(s.redacted_esc) - 1, NULL);
    snprintf(s.redacted_esc, sizeof(s.redacted_esc), "%s", r.p != NULL ? r.p : "");
    free(r.p);

    pthread_mutex_lock(&log_lock);
    for (int i = 0; i < nsecrets; i++) {
        if (strcmp(secrets[i].raw, value) == 0) {
            pthread_mutex_unlock(&log_lock);
            secret_wipe(&s);
            return;
        }
    }
    if (nsecrets == LOG_MAX_SECRETS) {
        /* Full: the oldest goes, the newest key matters most. */
        secret_wipe(&secrets[0]);
        memmove(&secrets[0], &secrets[1], sizeof(secrets[0]) * (LOG_MAX_SECRETS - 1));
        memset(&secrets[LOG_MAX_SECRETS - 1], 0, sizeof(secrets[0]));
        nsecrets--;
    }
    secrets[nsecrets++] = s;
    pthread_mutex_unlock(&log_lock);
}

void fq_log_clear_secrets(void)
{
    pthread_mutex_lock(&log_lock);
    for (int i = 0; i < nsecrets; i++)
        secret_wipe(&secrets[i]);
    nsecrets = 0;
    pthread_mutex_unlock(&log_lock);
}

/* Replaces every occurrence of needle in *s (length *len, NUL-terminated,
 * malloc'd when owned) by repl. Returns a new malloc'd string, or NULL when
 * there was nothing to replace or memory ran out. */
static char *replace_all(const char *s, size_t len, const char *needle, const char *repl,
                         size_t *outlen)
{
    size_t nl = strlen(needle), rl = strlen(repl), count = 0;
    const char *p = s, *end = s + len, *hit;
    while ((hit = memmem(p, (size_t)(end - p), needle, nl)) != NULL) {
        count++;
        p = hit + nl;
    }
    if (count == 0)
        return NULL;
    size_t newlen = len - count * nl + count * rl;
    char *out = malloc(newlen + 1);
    if (out == NULL)
        return NULL;
    char *o = out;
    p = s;
    while ((hit = memmem(p, (size_t)(end - p), needle, nl)) != NULL) {
        memcpy(o, p, (size_t)(hit - p));
        o += hit - p;
        memcpy(o, repl, rl);
        o += rl;
        p = hit + nl;
    }
    memcpy(o, p, (size_t)(end - p));
    o += end - p;
    *o = '\0';
    *outlen = newlen;
    return out;
}

/* Scrubs s of every secret. With escaped set, s is a finished JSON line:
 * the escaped spelling is searched too, and the replacement is escaped so
 * that the line stays valid JSON. Returns s itself when clean, else a
 * malloc'd copy that the caller frees; NULL only when s is NULL. On
 * allocation failure a clean copy cannot be made, so "[redacted]" stands in
 * for the whole string. */
static const char *scrub(const char *s, int escaped, char **owned)
{
    *owned = NULL;
    if (s == NULL)
        return NULL;
    size_t len = strlen(s);
    char *cur = NULL;
    for (int i = 0; i < nsecrets; i++) {
        const char *needles[2] = {secrets[i].raw, escaped ? secrets[i].escaped : NULL};
        for (int k = 0; k < 2; k++) {
            if (needles[k] == NULL || memmem(cur ? cur : s, len, needles[k], strlen(needles[k])) == NULL)
                continue;
            size_t nlen = 0;
            char *next = replace_all(cur ? cur : s, len, needles[k],
                                     escaped ? secrets[i].redacted_esc : secrets[i].redacted, &nlen);
            free(cur);
            if (next == NULL) {
                *owned = NULL;
                return "[redacted]";
            }
            cur = next;
            len = nlen;
        }
    }
    *owned = cur;
    return cur ? cur : s;
}

/* ------------------------------------------------------------------------
 * Rendering
 * --------------------------------------------------------------------- */

typedef struct field {
    const char *name;
    int type;
    const char *s;
    int64_t i;
    double d;
} field;

static void put_ts(buf *b)
{
    struct timespec ts;
    struct tm tm;
    char out[64];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, sizeof(out) - n, ".%03ldZ", ts.tv_nsec / 1000000);
    puts_(b, out);
}

/* Renders one line; string values are cut to cap bytes each. */
static void render(buf *b, const char *ts, fq_log_level level, const char *event,
                   const field *f, int n, size_t cap, int *cut)
{
    char num[64];
    b->len = 0;
    puts_(b, "{\"ts\":\"");
    puts_(b, ts);
    puts_(b, "\",\"level\":\"");
    puts_(b, level_names[level]);
    puts_(b, "\",\"prog\":");
    put_string(b, log_prog, 256, cut);
    puts_(b, ",\"event\":");
    put_string(b, event != NULL ? event : "", 256, cut);
    for (int k = 0; k < n; k++) {
        put(b, ",", 1);
        put_string(b, f[k].name != NULL ? f[k].name : "?", 256, cut);
        put(b, ":", 1);
        switch (f[k].type) {
        case FQ_LS:
            put_string(b, f[k].s, cap, cut);
            break;
        case FQ_LI:
            snprintf(num, sizeof(num), "%lld", (long long)f[k].i);
            puts_(b, num);
            break;
        default:
            if (isfinite(f[k].d)) {
                /* The shortest form that reads back as the same double. */
                for (int prec = 15; prec <= 17; prec++) {
                    snprintf(num, sizeof(num), "%.*g", prec, f[k].d);
                    if (strtod(num, NULL) == f[k].d)
                        break;
                }
                puts_(b, num);
            } else {
                puts_(b, "null");
            }
            break;
        }
    }
    if (*cut)
        puts_(b, ",\"truncated\":true");
    puts_(b, "}\n");
}

static void write_all(const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(2, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        len -= (size_t)w;
    }
}

static void emit(fq_log_level level, const char *event, field *f, int n)
{
    char *owned[LOG_MAX_FIELDS + 2];
    int nowned = 0;
    buf ts = {0}, line = {0};
    int cut = 0;

    if ((int)level < FQ_LOG_DEBUG || (int)level > FQ_LOG_ERROR)
        level = FQ_LOG_ERROR;
    put_ts(&ts);

    pthread_mutex_lock(&log_lock);
    /* Scrub every string before escaping and cutting. */
    event = scrub(event, 0, &owned[nowned]);
    nowned += owned[nowned] != NULL;
    for (int k = 0; k < n; k++) {
        f[k].name = scrub(f[k].name, 0, &owned[nowned]);
        nowned += owned[nowned] != NULL;
        if (f[k].type == FQ_LS) {
            f[k].s = scrub(f[k].s, 0, &owned[nowned]);
            nowned += owned[nowned] != NULL;
        }
    }

    static const size_t caps[] = {(size_t)-1, 8192, 1024, 128, 16};
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
        cut = 0;
        render(&line, ts.oom ? "" : ts.p, level, event, f, n, caps[c], &cut);
        if (line.oom || line.len <= LOG_LINE_MAX)
            break;
    }

    /* The guard: the finished line, both spellings of every secret. */
    char *clean = NULL;
    const char *out = line.oom ? NULL : scrub(line.p, 1, &clean);
    pthread_mutex_unlock(&log_lock);

    if (out == NULL) {
        static const char oom[] = "{\"level\":\"error\",\"event\":\"log.out_of_memory\"}\n";
        write_all(oom, sizeof(oom) - 1);
    } else if (clean == NULL && strcmp(out, "[redacted]") == 0) {
        static const char red[] = "{\"level\":\"error\",\"event\":\"log.redacted\"}\n";
        write_all(red, sizeof(red) - 1);
    } else {
        write_all(out, strlen(out));
    }
    free(clean);
    for (int k = 0; k < nowned; k++)
        free(owned[k]);
    free(line.p);
    free(ts.p);
}

/* ------------------------------------------------------------------------
 * Entry points
 * --------------------------------------------------------------------- */

void fq_log(fq_log_level level, const char *event, ...)
{
    field f[LOG_MAX_FIELDS];
    int n = 0;
    va_list ap;
    if (!fq_log_enabled(level))
        return;
    va_start(ap, event);
    for (;;) {
        int type = va_arg(ap, int);
        if (type != FQ_LS && type != FQ_LI && type != FQ_LD)
            break;  /* FQ_LEND, or a tag we cannot read past */
        field x;
        memset(&x, 0, sizeof(x));
        x.type = type;
        x.name = va_arg(ap, const char *);
        if (type == FQ_LS)
            x.s = va_arg(ap, const char *);
        else if (type == FQ_LI)
            x.i = va_arg(ap, int64_t);
        else
            x.d = va_arg(ap, double);
        if (n < LOG_MAX_FIELDS)
            f[n++] = x;
    }
    va_end(ap);
    emit(level, event, f, n);
}

void fq_logf(fq_log_level level, const char *event, const char *fmt, ...)
{
    char small[512];
    char *msg = small;
    va_list ap;
    if (!fq_log_enabled(level))
        return;
    va_start(ap, fmt);
    int len = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (len < 0) {
        small[0] = '\0';
    } else if ((size_t)len >= sizeof(small)) {
        char *big = malloc((size_t)len + 1);
        if (big != NULL) {
            va_start(ap, fmt);
            vsnprintf(big, (size_t)len + 1, fmt, ap);
            va_end(ap);
            msg = big;
        }
    }
    field f = {.name = "msg", .type = FQ_LS, .s = msg};
    emit(level, event, &f, 1);
    if (msg != small) {
        explicit_bzero(msg, strlen(msg));
        free(msg);
    }
    explicit_bzero(small, sizeof(small));
}
