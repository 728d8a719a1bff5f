/* config.c -- configuration from the environment (see config.h and the
 * configuration table in the README).
 *
 * fq_config_load() fills an fq_config in one pass: defaults first, then
 * each variable in turn, each through a small typed reader (integer in a
 * range, boolean, USD amount, URL, ...) that writes one error line starting
 * with the variable's name. An empty variable counts as unset. Values other
 * than the key are trimmed of surrounding white space.
 *
 * The API key comes first: XAI_API_KEY or its alias GROK_API_KEY, or a file
 * named by XAI_API_KEY_FILE / GROK_API_KEY_FILE (Docker and Render
 * secrets). Conflicting sources are errors rather than silent choices. The
 * key is stripped of surrounding white space and must then be printable
 * ASCII without spaces, because it goes into an HTTP header. No message
 * about the key echoes it. Messages about other variables do echo the bad
 * value, so while loading, fq_config_show() replaces the key (and the raw
 * key variables) in any value by the redacted form before fq_text_show()
 * (text.c) cuts the value short: a key pasted into the wrong variable shows
 * as "xai-…b14o", never as a prefix. As a last guard the finished error
 * line is searched for the key too. Buffers that held the key are wiped
 * with explicit_bzero() before they are freed.
 *
 * FLEETQ_STREAM (boolean, default false) makes workers ask for streamed
 * answers ("stream": true with the usage chunk, read by sse.c as it
 * arrives) instead of one whole body; results, usage and outcomes are the
 * same, and a stream that goes silent for 30 s after it began fails as a
 * timeout (api.h, FQ_API_STALL_S).
 *
 * URLs shown in messages have their user:password part replaced by "***".
 * REDIS_URL is parsed by redis_url.c, which shows values through the same
 * two functions. On failure the config is left freed and zeroed, so callers
 * can print the line and exit without further cleanup.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cost.h"
#include "keys.h"
#include "log.h"
#include "model_params.h"
#include "redis_tls.h"
#include "text.h"

#define DEFAULT_BASE_URL "https://api.x.ai/v1"
#define DEFAULT_DB "./fleetq.db"
#define KEY_FILE_MAX (64 * 1024)
#define KEY_MAX 4096

/* ------------------------------------------------------------------------
 * Small helpers
 * --------------------------------------------------------------------- */

/* The variable's value, NULL when unset or empty. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return (v != NULL && v[0] != '\0') ? v : NULL;
}

/* Copies s without surrounding white space into out (bounded); returns the
 * trimmed length, which may exceed outlen - 1 (then out is cut). */
static size_t trim_into(const char *s, char *out, size_t outlen)
{
    size_t b = 0, e = strlen(s);
    while (b < e && fq_text_is_space(s[b]))
        b++;
    while (e > b && fq_text_is_space(s[e - 1]))
        e--;
    size_t n = e - b;
    size_t c = n < outlen - 1 ? n : outlen - 1;
    memcpy(out, s + b, c);
    out[c] = '\0';
    return n;
}

/* ------------------------------------------------------------------------
 * Values in error lines
 * --------------------------------------------------------------------- */

/* Values that must never be echoed while fq_config_load() runs: the key
 * and the raw key variables. fq_config_show() redacts them before the value
 * is cut short, so not even a prefix of a key pasted into the wrong
 * variable can appear. Loading runs once at start-up, single-threaded. */
#define MAX_HIDDEN 3
static const char *hidden[MAX_HIDDEN];

static void hidden_set(int i, const char *secret)
{
    hidden[i] = (secret != NULL && strlen(secret) >= 8) ? secret : NULL;
}

/* s with every occurrence of needle replaced by repl (malloc'd), or NULL
 * when needle does not occur or memory ran out. */
static char *replace_dup(const char *s, const char *needle, const char *repl)
{
    size_t nl = strlen(needle), rl = strlen(repl), count = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += nl)
        count++;
    if (count == 0)
        return NULL;
    char *out = malloc(strlen(s) - count * nl + count * rl + 1);
    if (out == NULL)
        return NULL;
    char *o = out;
    const char *p = s, *hit;
    while ((hit = strstr(p, needle)) != NULL) {
        memcpy(o, p, (size_t)(hit - p));
        o += hit - p;
        memcpy(o, repl, rl);
        o += rl;
        p = hit + nl;
    }
    strcpy(o, p);
    return out;
}

/* s quoted for an error line, each hidden value replaced by its redacted
 * form first (on the heap, wiped afterwards). */
const char *fq_config_show(fq_text_shown *b, const char *s)
{
    char *owned = NULL;
    for (int k = 0; k < MAX_HIDDEN; k++) {
        char red[32];
        if (hidden[k] == NULL || strstr(s, hidden[k]) == NULL)
            continue;
        fq_config_redact_key(hidden[k], red, sizeof(red));
        char *next = replace_dup(s, hidden[k], red);
        if (next == NULL) {
            free(owned);
            snprintf(b->s, sizeof(b->s), "(a value holding the key)");
            return b->s;
        }
        free(owned);
        s = owned = next;
    }
    fq_text_show(b, s, strlen(s));
    if (owned != NULL) {
        explicit_bzero(owned, strlen(owned));
        free(owned);
    }
    return b->s;
}

/* A URL for a message: anything between "://" and the last '@' (user and
 * password, even when a stray '/' in the password ended the authority
 * early) becomes "***". */
const char *fq_config_show_url(fq_text_shown *b, const char *url)
{
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    const char *at = strrchr(auth, '@');
    if (at == NULL)
        return fq_config_show(b, url);
    size_t head = (size_t)(auth - url), tail = strlen(at);
    char *tmp = malloc(head + 3 + tail + 1);
    if (tmp == NULL) {
        snprintf(b->s, sizeof(b->s), "(a URL)");
        return b->s;
    }
    memcpy(tmp, url, head);
    memcpy(tmp + head, "***", 3);
    memcpy(tmp + head + 3, at, tail + 1);
    fq_config_show(b, tmp);
    free(tmp);
    return b->s;
}

/* ------------------------------------------------------------------------
 * Typed readers: each names its variable in the error
 * --------------------------------------------------------------------- */

static int read_int(const char *name, int64_t def, int64_t lo, int64_t hi, int64_t *out,
                    char *err, size_t errlen)
{
    const char *v = env(name);
    char buf[64];
    int64_t x;
    fq_text_shown sh;
    if (v == NULL) {
        *out = def;
        return 0;
    }
    size_t n = trim_into(v, buf, sizeof(buf));
    if (n < sizeof(buf) && fq_text_parse_int64(buf, n, &x) == 0 && x >= lo && x <= hi) {
        *out = x;
        return 0;
    }
    if (lo == 0 && hi == INT64_MAX)
        return fq_text_fail(err, errlen, "%s: must be a non-negative integer, got %s", name,
                            fq_config_show(&sh, v));
    return fq_text_fail(err, errlen, "%s: must be an integer from %lld to %lld, got %s", name,
                        (long long)lo, (long long)hi, fq_config_show(&sh, v));
}

static int read_int32(const char *name, int def, int lo, int hi, int *out, char *err, size_t errlen)
{
    int64_t x;
    if (read_int(name, def, lo, hi, &x, err, errlen) != 0)
        return -1;
    *out = (int)x;
    return 0;
}

static int read_bool(const char *name, int def, int *out, char *err, size_t errlen)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    const char *v = env(name);
    char buf[16];
    fq_text_shown sh;
    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (trim_into(v, buf, sizeof(buf)) < sizeof(buf)) {
        for (int i = 0; i < 4; i++) {
            if (strcasecmp(buf, yes[i]) == 0) {
                *out = 1;
                return 0;
            }
            if (strcasecmp(buf, no[i]) == 0) {
                *out = 0;
                return 0;
            }
        }
    }
    return fq_text_fail(err, errlen, "%s: must be true or false (also 1/0, yes/no, on/off), got %s",
                        name, fq_config_show(&sh, v));
}

/* A decimal number from lo to hi: digits with an optional fraction. */
static int read_fraction(const char *name, double def, double lo, double hi, double *out,
                         char *err, size_t errlen)
{
    const char *v = env(name);
    char buf[64];
    fq_text_shown sh;
    if (v == NULL) {
        *out = def;
        return 0;
    }
    size_t n = trim_into(v, buf, sizeof(buf));
    double d;
    if (n < sizeof(buf) && fq_text_parse_decimal(buf, n, &d) == 0 && d >= lo && d <= hi) {
        *out = d;
        return 0;
    }
    return fq_text_fail(err, errlen, "%s: must be a number from %g to %g (like 0.25), got %s", name,
                        lo, hi, fq_config_show(&sh, v));
}

/* A string copied into a fixed buffer; trimmed. */
static int read_str(const char *name, const char *def, char *out, size_t outlen, char *err,
                    size_t errlen)
{
    const char *v = env(name);
    if (v == NULL) {
        snprintf(out, outlen, "%s", def);
        return 0;
    }
    size_t n = trim_into(v, out, outlen);
    if (n >= outlen)
        return fq_text_fail(err, errlen, "%s: longer than %zu bytes", name, outlen - 1);
    if (n == 0)
        snprintf(out, outlen, "%s", def);
    return 0;
}

/* ------------------------------------------------------------------------
 * The key
 * --------------------------------------------------------------------- */

static void wipe_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* The key without surrounding white space, in a new buffer, or NULL with
 * *why set ("empty", "inner", "long", "oom"). The key must be printable
 * ASCII without spaces: it goes into an Authorization header as is. */
static char *key_clean(const char *s, size_t len, const char **why)
{
    size_t b = 0, e = len;
    while (b < e && fq_text_is_space(s[b]))
        b++;
    while (e > b && fq_text_is_space(s[e - 1]))
        e--;
    if (e == b) {
        *why = "empty";
        return NULL;
    }
    if (e - b > KEY_MAX) {
        *why = "long";
        return NULL;
    }
    for (size_t i = b; i < e; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f) {
            *why = "inner";
            return NULL;
        }
    }
    char *k = malloc(e - b + 1);
    if (k == NULL) {
        *why = "oom";
        return NULL;
    }
    memcpy(k, s + b, e - b);
    k[e - b] = '\0';
    return k;
}

/* Reads and cleans a secret's file (the API key's, the dashboard token's);
 * name is the variable and what the secret, for messages. */
static char *read_key_file(const char *name, const char *path, const char *what, char *err,
                           size_t errlen)
{
    char *data = NULL, *key = NULL;
    const char *why = NULL;
    size_t len = 0;
    fq_text_shown sh;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fq_text_fail(err, errlen, "%s: cannot read %s: %s", name, fq_config_show(&sh, path),
                     strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) != 0) {
        fq_text_fail(err, errlen, "%s: cannot read %s: %s", name, fq_config_show(&sh, path),
                     strerror(errno));
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        fq_text_fail(err, errlen, "%s: cannot read %s: %s", name, fq_config_show(&sh, path),
                     strerror(EISDIR));
        goto done;
    }
    if ((data = malloc(KEY_FILE_MAX + 1)) == NULL) {
        fq_text_fail(err, errlen, "%s: out of memory", name);
        goto done;
    }
    while (len <= KEY_FILE_MAX) {
        ssize_t r = read(fd, data + len, KEY_FILE_MAX + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fq_text_fail(err, errlen, "%s: cannot read %s: %s", name, fq_config_show(&sh, path),
                         strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    if (len > KEY_FILE_MAX) {
        fq_text_fail(err, errlen, "%s: %s is larger than %d KiB; it should hold only the key", name,
                     fq_config_show(&sh, path), KEY_FILE_MAX / 1024);
        goto done;
    }
    key = key_clean(data, len, &why);
    if (key == NULL) {
        if (strcmp(why, "empty") == 0)
            fq_text_fail(err, errlen, "%s: %s is empty; put %s in it", name,
                         fq_config_show(&sh, path), what);
        else if (strcmp(why, "oom") == 0)
            fq_text_fail(err, errlen, "%s: out of memory", name);
        else
            fq_text_fail(err, errlen,
                         "%s: %s does not hold a single key (%s); it should hold only %s, "
                         "printable characters without spaces",
                         name, fq_config_show(&sh, path), what,
                         strcmp(why, "long") == 0 ? "too long"
                                                  : "white space or control characters inside");
    }
done:
    if (data != NULL) {
        explicit_bzero(data, KEY_FILE_MAX + 1);
        free(data);
    }
    if (fd >= 0)
        close(fd);
    return key;
}

/* An access token of the coordinator's HTTP server: the variable name,
 * or the file its <name>_FILE names (a Compose secret), into out; ""
 * when neither is set. FLEETQ_DASHBOARD_TOKEN opens the dashboard,
 * FLEETQ_METRICS_TOKEN /metrics and the detailed /health. A token goes
 * into a header (and the login form), so it is printable ASCII without
 * spaces, and long enough not to be guessed; an error never shows it. */
static int read_access_token(const char *name, char *out, size_t outlen, char *err,
                             size_t errlen)
{
    char file_name[64];
    snprintf(file_name, sizeof(file_name), "%s_FILE", name);
    const char *file = env(file_name);
    if (file != NULL && env(name) != NULL)
        return fq_text_fail(err, errlen, "set %s or %s, not both", name, file_name);
    if (file != NULL) {
        name = file_name;
        char *token = read_key_file(name, file, "the token (openssl rand -hex 24)", err, errlen);
        if (token == NULL)
            return -1;
        size_t n = strlen(token);
        int fits = n < outlen;
        if (fits)
            memcpy(out, token, n + 1);
        wipe_free(token);
        if (!fits)
            return fq_text_fail(err, errlen, "%s: the token is longer than %zu characters", name,
                                outlen - 1);
    } else if (read_str(name, "", out, outlen, err, errlen) != 0) {
        return -1;
    }
    size_t n = strlen(out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c <= ' ' || c > '~') {
            explicit_bzero(out, outlen);
            return fq_text_fail(err, errlen, "%s: use printable ASCII without spaces (character "
                                "%zu is not); e.g. openssl rand -hex 24", name, i + 1);
        }
    }
    if (n > 0 && n < FQ_ACCESS_TOKEN_MIN) {
        explicit_bzero(out, outlen);
        return fq_text_fail(err, errlen, "%s: at least %d characters, got %zu; e.g. openssl "
                            "rand -hex 24", name, FQ_ACCESS_TOKEN_MIN, n);
    }
    return 0;
}

/* 1 when a and b are the same key once white space is stripped. */
static int same_key(const char *a, const char *b)
{
    const char *why;
    char *ka = key_clean(a, strlen(a), &why);
    char *kb = key_clean(b, strlen(b), &why);
    int same = ka != NULL && kb != NULL && strcmp(ka, kb) == 0;
    wipe_free(ka);
    wipe_free(kb);
    return same;
}

/* The key "none" (FQ_KEY_NONE) stands for a server that needs no key: the
 * worker then sends no Authorization header. Any other value keeps every
 * rule of a real key. */
static int take_key(fq_config *cfg, char *key)
{
    cfg->api_keyless = strcmp(key, FQ_KEY_NONE) == 0;
    if (cfg->api_keyless) {
        wipe_free(key);
        key = NULL;
    }
    cfg->api_key = key;
    return 0;
}

static int load_key(fq_config *cfg, unsigned needs, char *err, size_t errlen)
{
    const char *xk = env("XAI_API_KEY"), *gk = env("GROK_API_KEY");
    const char *xf = env("XAI_API_KEY_FILE"), *gf = env("GROK_API_KEY_FILE");
    const char *kname = xk ? "XAI_API_KEY" : "GROK_API_KEY", *key = xk ? xk : gk;
    const char *fname = xf ? "XAI_API_KEY_FILE" : "GROK_API_KEY_FILE", *file = xf ? xf : gf;
    const char *why = NULL;
    fq_text_shown sh;

    if (xk != NULL && gk != NULL && !same_key(xk, gk))
        return fq_text_fail(err, errlen,
                            "XAI_API_KEY: XAI_API_KEY and GROK_API_KEY are both set to "
                            "different keys; set only one");
    if (xf != NULL && gf != NULL && strcmp(xf, gf) != 0)
        return fq_text_fail(err, errlen,
                            "XAI_API_KEY_FILE: XAI_API_KEY_FILE and GROK_API_KEY_FILE are "
                            "both set to different files; set only one");
    if (key != NULL && file != NULL)
        return fq_text_fail(err, errlen, "%s and %s are both set; set only one", kname, fname);

    if (file != NULL) {
        if (strlen(file) >= sizeof(cfg->api_key_file))
            return fq_text_fail(err, errlen, "%s: the path %s is longer than %zu bytes", fname,
                                fq_config_show(&sh, file), sizeof(cfg->api_key_file) - 1);
        char *k = read_key_file(fname, file, "the xAI API key", err, errlen);
        if (k == NULL)
            return -1;
        snprintf(cfg->api_key_file, sizeof(cfg->api_key_file), "%s", file);
        return take_key(cfg, k);
    }
    if (key != NULL) {
        char *k = key_clean(key, strlen(key), &why);
        if (k != NULL)
            return take_key(cfg, k);
        if (strcmp(why, "empty") == 0)
            return fq_text_fail(err, errlen, "%s: only white space; set the xAI API key", kname);
        if (strcmp(why, "oom") == 0)
            return fq_text_fail(err, errlen, "%s: out of memory", kname);
        return fq_text_fail(err, errlen,
                            "%s: not a single key (%s); set only the key, printable "
                            "characters without spaces",
                            kname,
                            strcmp(why, "long") == 0 ? "too long"
                                                     : "white space or control characters inside");
    }
    if (needs & FQ_NEED_KEY)
        return fq_text_fail(err, errlen,
                            "XAI_API_KEY: not set; set XAI_API_KEY or XAI_API_KEY_FILE "
                            "(the xAI API key), or XAI_API_KEY=" FQ_KEY_NONE
                            " for a server that needs no key");
    return 0;
}

int fq_config_reload_key(fq_config *cfg, char *err, size_t errlen)
{
    const char *name = "XAI_API_KEY_FILE";
    const char *gf = env("GROK_API_KEY_FILE");
    if (env("XAI_API_KEY_FILE") == NULL && gf != NULL && strcmp(gf, cfg->api_key_file) == 0)
        name = "GROK_API_KEY_FILE";
    if (cfg->api_key_file[0] == '\0')
        return fq_text_fail(err, errlen,
                            "XAI_API_KEY_FILE: not set; the key came from the environment, "
                            "so there is no file to re-read (restart to change it)");
    char *key = read_key_file(name, cfg->api_key_file, "the xAI API key", err, errlen);
    if (key == NULL)
        return -1;
    int same = cfg->api_key != NULL ? strcmp(cfg->api_key, key) == 0
                                    : cfg->api_keyless && strcmp(key, FQ_KEY_NONE) == 0;
    if (same) {
        wipe_free(key);
        return 0;
    }
    wipe_free(cfg->api_key);
    take_key(cfg, key);
    return 1;
}

void fq_config_redact_key(const char *key, char *buf, size_t len)
{
    if (buf == NULL || len == 0)
        return;
    size_t n = key ? strlen(key) : 0;
    if (n >= 12)
        snprintf(buf, len, "%.4s\xE2\x80\xA6%s", key, key + n - 4);
    else
        snprintf(buf, len, "\xE2\x80\xA6");
}

/* Replaces every run of err that is a piece of secret, 12 bytes or longer
 * (or the whole secret when it is shorter), by the secret's redacted form:
 * a key pasted into another variable and cut short in its error line is
 * caught too. */
static void scrub_err(char *err, size_t errlen, const char *secret)
{
    char red[32], out[1024];
    if (err == NULL || errlen == 0 || secret == NULL || strlen(secret) < 8)
        return;
    size_t sl = strlen(secret), n = strlen(err), o = 0, i = 0;
    size_t min_run = sl < 12 ? sl : 12;
    fq_config_redact_key(secret, red, sizeof(red));
    while (i < n && o < sizeof(out) - 1) {
        size_t best = 0;
        for (size_t j = 0; j + min_run <= sl; j++) {
            size_t k = 0;
            while (i + k < n && j + k < sl && err[i + k] == secret[j + k])
                k++;
            if (k > best)
                best = k;
        }
        if (best >= min_run) {
            o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", red);
            i += best;
        } else {
            out[o++] = err[i++];
        }
    }
    out[o < sizeof(out) ? o : sizeof(out) - 1] = '\0';
    snprintf(err, errlen, "%s", out);
}

/* ------------------------------------------------------------------------
 * The API base URL
 * --------------------------------------------------------------------- */

static int read_base_url(fq_config *cfg, char *err, size_t errlen)
{
    const char *v = env("XAI_BASE_URL");
    fq_text_shown sh;
    if (read_str("XAI_BASE_URL", DEFAULT_BASE_URL, cfg->base_url, sizeof(cfg->base_url), err,
                 errlen) != 0)
        return -1;
    char *u = cfg->base_url;
    size_t n = strlen(u);
    size_t scheme = strncasecmp(u, "https://", 8) == 0 ? 8 : strncasecmp(u, "http://", 7) == 0 ? 7 : 0;
    if (scheme == 0)
        return fq_text_fail(err, errlen, "XAI_BASE_URL: must start with http:// or https:// "
                            "(like " DEFAULT_BASE_URL "), got %s",
                            fq_config_show_url(&sh, v ? v : u));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c <= 0x20 || c >= 0x7f)
            return fq_text_fail(err, errlen,
                                "XAI_BASE_URL: must not contain spaces or control "
                                "characters, got %s",
                                fq_config_show_url(&sh, u));
    }
    while (n > scheme && u[n - 1] == '/')
        u[--n] = '\0';
    if (n == scheme || u[scheme] == '/')
        return fq_text_fail(err, errlen, "XAI_BASE_URL: no host, got %s",
                            fq_config_show_url(&sh, v ? v : u));
    return 0;
}

/* ------------------------------------------------------------------------
 * Role profiles
 * --------------------------------------------------------------------- */

static const struct {
    const char *upper;
    const char *model;
    const char *system;
    int priority;
    double share;
} role_defaults[FQ_ROLE_COUNT] = {
    [FQ_ROLE_CEO] = {"CEO", "grok-4",
        "You are the strategic lead of a software team. Think about goals, trade-offs and "
        "risks, then give a clear, prioritised plan with concrete next steps.",
        2, 0.40},
    [FQ_ROLE_CODE] = {"CODE", "grok-code-fast-1",
        "You are a senior software engineer. Write correct, clear, tested code; explain briefly "
        "what you changed and why.",
        4, 0.30},
    [FQ_ROLE_QUALITY] = {"QUALITY", "grok-3-mini",
        "You are a careful code reviewer. Find bugs, security problems and unclear code; say "
        "what is wrong, why it matters and how to fix it.",
        4, 0.20},
    [FQ_ROLE_MEMORY] = {"MEMORY", "grok-4-fast",
        "You keep the team's memory. Summarise and index what you are given into short, "
        "factual notes that are easy to search later.",
        6, 0.10},
};

static int load_roles(fq_config *cfg, char *err, size_t errlen)
{
    char name[64];
    fq_text_shown sh;
    double sum = 0;
    const char *last_share = NULL;
    char share_names[FQ_ROLE_COUNT][64];

    for (int r = 0; r < FQ_ROLE_COUNT; r++) {
        fq_role_profile *p = &cfg->roles[r];
        const char *up = role_defaults[r].upper;

        snprintf(name, sizeof(name), "FLEETQ_ROLE_%s_MODEL", up);
        const char *mv = env(name);
        char model[256];
        size_t mlen = trim_into(mv ? mv : role_defaults[r].model, model, sizeof(model));
        if (mlen >= sizeof(p->model) || !fq_text_name_valid(model, mlen, sizeof(p->model) - 1))
            return fq_text_fail(err, errlen,
                                "%s: must be 1 to %zu characters of A-Z a-z 0-9 . _ : -, got %s",
                                name, sizeof(p->model) - 1, fq_config_show(&sh, mv ? mv : ""));
        memcpy(p->model, model, mlen + 1);

        snprintf(name, sizeof(name), "FLEETQ_ROLE_%s_SYSTEM", up);
        const char *sys = env(name);
        if (sys != NULL && !fq_utf8_valid(sys, strlen(sys)))
            return fq_text_fail(err, errlen, "%s: not valid UTF-8; use UTF-8 text", name);
        if ((p->system = strdup(sys ? sys : role_defaults[r].system)) == NULL)
            return fq_text_fail(err, errlen, "%s: out of memory", name);

        snprintf(name, sizeof(name), "FLEETQ_ROLE_%s_PRIORITY", up);
        const char *pv = env(name);
        p->priority = role_defaults[r].priority;
        if (pv != NULL) {
            char buf[16];
            size_t n = trim_into(pv, buf, sizeof(buf));
            int prio = n < sizeof(buf) ? fq_priority_parse(buf, n) : -1;
            if (prio < 0)
                return fq_text_fail(err, errlen,
                                    "%s: must be critical, high, normal, low, bulk or a "
                                    "digit 0-9, got %s",
                                    name, fq_config_show(&sh, pv));
            p->priority = prio;
        }

        snprintf(share_names[r], sizeof(share_names[r]), "FLEETQ_ROLE_%s_SHARE", up);
        if (read_fraction(share_names[r], role_defaults[r].share, 0, 1, &p->share, err, errlen) != 0)
            return -1;
        if (env(share_names[r]) != NULL)
            last_share = share_names[r];
        sum += p->share;

        char reserve_name[64];
        snprintf(reserve_name, sizeof(reserve_name), "FLEETQ_ROLE_%s_RESERVE", up);
        if (read_fraction(reserve_name, 0, 0, 1, &p->reserve, err, errlen) != 0)
            return -1;

        snprintf(name, sizeof(name), "FLEETQ_ROLE_%s_FALLBACK", up);
        const char *fb = env(name);
        if (fq_fallback_parse(name, fb ? fb : "", fb ? strlen(fb) : 0, NULL, &p->fallback, err,
                              errlen) != 0)
            return -1;
    }
    if (sum > 1.0 + 1e-9)
        return fq_text_fail(err, errlen,
                            "%s: the shares of the four roles add up to %.4g (ceo %g, code "
                            "%g, quality %g, memory %g); they must add up to at most 1",
                            last_share ? last_share : "FLEETQ_ROLE_CEO_SHARE", sum,
                            cfg->roles[0].share, cfg->roles[1].share, cfg->roles[2].share,
                            cfg->roles[3].share);
    return 0;
}

/* ------------------------------------------------------------------------
 * Redis: the password's file and TLS
 * --------------------------------------------------------------------- */

/* REDIS_PASSWORD_FILE (a Compose secret) completes a REDIS_URL that names
 * the user alone (redis://fleetq-worker@redis:6379/0) or no one. */
static int read_redis_password(fq_config *cfg, char *err, size_t errlen)
{
    const char *file = env("REDIS_PASSWORD_FILE");
    fq_text_shown sh;
    if (file == NULL) {
        if (cfg->redis_user[0] != '\0' && cfg->redis_password[0] == '\0')
            return fq_text_fail(err, errlen,
                                "REDIS_URL: the user %s has no password; use "
                                "redis://user:password@host, or set REDIS_PASSWORD_FILE",
                                fq_config_show(&sh, cfg->redis_user));
        return 0;
    }
    if (cfg->redis_password[0] != '\0')
        return fq_text_fail(err, errlen, "REDIS_PASSWORD_FILE: REDIS_URL holds a password too; "
                            "give it in one place");
    char *pass = read_key_file("REDIS_PASSWORD_FILE", file, "the Redis password", err, errlen);
    if (pass == NULL)
        return -1;
    size_t n = strlen(pass);
    int fits = n < sizeof(cfg->redis_password);
    if (fits)
        memcpy(cfg->redis_password, pass, n + 1);
    wipe_free(pass);
    if (!fits)
        return fq_text_fail(err, errlen, "REDIS_PASSWORD_FILE: the password is longer than %zu "
                            "bytes", sizeof(cfg->redis_password) - 1);
    return 0;
}

/* FLEETQ_REDIS_CA_FILE, _CERT_FILE, _KEY_FILE and _TLS_VERIFY, for a
 * rediss:// URL only; the TLS set-up itself checks the files. */
static int read_redis_tls(fq_config *cfg, char *err, size_t errlen)
{
    if (read_str("FLEETQ_REDIS_CA_FILE", "", cfg->redis_ca_file, sizeof(cfg->redis_ca_file), err,
                 errlen) != 0 ||
        read_str("FLEETQ_REDIS_CERT_FILE", "", cfg->redis_cert_file,
                 sizeof(cfg->redis_cert_file), err, errlen) != 0 ||
        read_str("FLEETQ_REDIS_KEY_FILE", "", cfg->redis_key_file, sizeof(cfg->redis_key_file),
                 err, errlen) != 0 ||
        read_bool("FLEETQ_REDIS_TLS_VERIFY", 1, &cfg->redis_tls_verify, err, errlen) != 0)
        return -1;
    if ((cfg->redis_cert_file[0] == '\0') != (cfg->redis_key_file[0] == '\0'))
        return fq_text_fail(err, errlen, "%s: set FLEETQ_REDIS_CERT_FILE and "
                            "FLEETQ_REDIS_KEY_FILE together (a client certificate and its key)",
                            cfg->redis_cert_file[0] ? "FLEETQ_REDIS_CERT_FILE"
                                                    : "FLEETQ_REDIS_KEY_FILE");
    if (!cfg->redis_tls) {
        const char *set = cfg->redis_ca_file[0]     ? "FLEETQ_REDIS_CA_FILE"
                          : cfg->redis_cert_file[0] ? "FLEETQ_REDIS_CERT_FILE"
                          : env("FLEETQ_REDIS_TLS_VERIFY") ? "FLEETQ_REDIS_TLS_VERIFY"
                                                           : NULL;
        if (set != NULL)
            return fq_text_fail(err, errlen, "%s: set, but REDIS_URL is not rediss:// (TLS)",
                                set);
        return 0;
    }
    return fq_redis_tls_configure(cfg, err, errlen);
}

/* ------------------------------------------------------------------------
 * Loading
 * --------------------------------------------------------------------- */

static int load_all(fq_config *cfg, unsigned needs, char *err, size_t errlen)
{
    const char *v;
    fq_text_shown sh;
    int64_t x;

    if (!(needs & FQ_NO_KEY) && load_key(cfg, needs, err, errlen) != 0)
        return -1;
    hidden_set(0, cfg->api_key);

    if ((v = env("REDIS_URL")) != NULL) {
        size_t n = strlen(v);
        char *url = malloc(n + 1);
        if (url == NULL)
            return fq_text_fail(err, errlen, "REDIS_URL: out of memory");
        trim_into(v, url, n + 1);
        int rc = fq_config_parse_redis_url(cfg, url, err, errlen);
        explicit_bzero(url, n);
        free(url);
        if (rc != 0)
            return -1;
    } else if (fq_config_parse_redis_url(cfg, NULL, err, errlen) != 0) {  /* the default */
        return -1;
    }
    if (read_redis_password(cfg, err, errlen) != 0 || read_redis_tls(cfg, err, errlen) != 0)
        return -1;
    if (read_str("FLEETQ_KEY_PREFIX", FQ_KEY_PREFIX_DEFAULT, cfg->key_prefix,
                 sizeof(cfg->key_prefix), err, errlen) != 0)
        return -1;
    char prefix_err[160];
    if (fq_keys_init(cfg->key_prefix, prefix_err, sizeof(prefix_err)) != 0)
        return fq_text_fail(err, errlen, "FLEETQ_KEY_PREFIX: %s, got %s", prefix_err,
                            fq_config_show(&sh, cfg->key_prefix));
    if (read_int32("FLEETQ_STORE_STALL_SECONDS", 10, 1, 86400, &cfg->store_stall_s, err,
                   errlen) != 0)
        return -1;
    if (read_int32("FLEETQ_RESULT_TTL", 86400, 1, 30 * 86400, &cfg->result_ttl_s, err,
                   errlen) != 0 ||
        read_int32("FLEETQ_RETAIN_DAYS", 0, 0, 100000, &cfg->retain_days, err, errlen) != 0)
        return -1;
    if (read_base_url(cfg, err, errlen) != 0)
        return -1;
    if (read_str("FLEETQ_DB", DEFAULT_DB, cfg->db_path, sizeof(cfg->db_path), err, errlen) != 0)
        return -1;
    if (read_int32(env("PORT") ? "PORT" : "FLEETQ_HTTP_PORT", 8080, 0, 65535, &cfg->http_port,
                   err, errlen) != 0)
        return -1;

    if (read_access_token("FLEETQ_DASHBOARD_TOKEN", cfg->dashboard_token,
                          sizeof(cfg->dashboard_token), err, errlen) != 0 ||
        read_access_token("FLEETQ_METRICS_TOKEN", cfg->metrics_token, sizeof(cfg->metrics_token),
                          err, errlen) != 0)
        return -1;

    if (read_int("GROK_RATE_LIMIT_RPM", 480, 0, INT64_MAX, &cfg->rate_limit_rpm, err, errlen) != 0 ||
        read_int("GROK_RATE_LIMIT_RPH", 0, 0, INT64_MAX, &cfg->rate_limit_rph, err, errlen) != 0 ||
        read_int("GROK_RATE_LIMIT_TPM", 0, 0, INT64_MAX, &cfg->rate_limit_tpm, err, errlen) != 0 ||
        read_int("FLEETQ_MAX_INFLIGHT", 0, 0, INT64_MAX, &cfg->max_inflight, err, errlen) != 0)
        return -1;
    if (read_bool("ENABLE_RATE_LIMITING", 1, &cfg->rate_limiting, err, errlen) != 0)
        return -1;
    if (read_int32("FLEETQ_RATE_BURST", 1, 1, 1000, &cfg->rate_burst, err, errlen) != 0)
        return -1;

    cfg->daily_budget_ticks = 50 * FQ_TICKS_PER_USD;
    if ((v = env("DAILY_BUDGET_USD")) != NULL) {
        char buf[64];
        size_t n = trim_into(v, buf, sizeof(buf));
        if (n >= sizeof(buf) || fq_cost_parse_usd(buf, &cfg->daily_budget_ticks) != 0)
            return fq_text_fail(err, errlen,
                                "DAILY_BUDGET_USD: must be a non-negative amount in USD "
                                "like 50 or 12.5 (0 = no cap), got %s",
                                fq_config_show(&sh, v));
    }

    cfg->limit_scope = FQ_SCOPE_MODEL;
    if ((v = env("FLEETQ_LIMIT_SCOPE")) != NULL) {
        char buf[16];
        size_t n = trim_into(v, buf, sizeof(buf));
        int scope = n < sizeof(buf) ? fq_limit_scope_parse(buf) : -1;
        if (scope < 0)
            return fq_text_fail(err, errlen, "FLEETQ_LIMIT_SCOPE: must be model (each model "
                                "limited on its own) or key (one limit for all), got %s",
                                fq_config_show(&sh, v));
        cfg->limit_scope = (fq_limit_scope)scope;
    }
    if ((v = env("FLEETQ_MODEL_LIMITS")) != NULL) {
        char why[256];
        if (fq_model_limits_parse(v, cfg->model_limits, FQ_MODEL_LIMITS_MAX,
                                  &cfg->n_model_limits, why, sizeof(why)) != 0)
            return fq_text_fail(err, errlen, "FLEETQ_MODEL_LIMITS: %s", why);
    }

    if (read_int32("MAX_TOKENS_DEFAULT", 500, 1, FQ_MAX_TOKENS_LIMIT, &cfg->max_tokens_default,
                   err, errlen) != 0 ||
        read_int32("REQUEST_TIMEOUT", 90, 1, FQ_TIMEOUT_LIMIT, &cfg->request_timeout_s, err,
                   errlen) != 0 ||
        read_int32("GROK_MAX_RETRIES", 3, 0, 20, &cfg->max_retries, err, errlen) != 0 ||
        read_int32("FLEETQ_LEASE_SECONDS", 30, 5, 3600, &cfg->lease_s, err, errlen) != 0 ||
        read_int32("FLEETQ_GRACE_SECONDS", 25, 0, 3600, &cfg->grace_s, err, errlen) != 0 ||
        read_int32("FLEETQ_PLAN_MAX", 20, 1, (int)FQ_AFTER_MAX - 1, &cfg->plan_max, err,
                   errlen) != 0 ||
        read_int32("FLEETQ_PLAN_DEPTH", 3, 1, FQ_PLAN_DEPTH_LIMIT, &cfg->plan_depth, err,
                   errlen) != 0 ||
        read_int32("FLEETQ_RECALL_K", 3, 0, 10, &cfg->recall_k, err, errlen) != 0)
        return -1;

    cfg->on_budget = FQ_ON_BUDGET_WAIT;
    if ((v = env("FLEETQ_ON_BUDGET")) != NULL) {
        char buf[16];
        trim_into(v, buf, sizeof(buf));
        if (strcasecmp(buf, "fail") == 0)
            cfg->on_budget = FQ_ON_BUDGET_FAIL;
        else if (strcasecmp(buf, "wait") != 0)
            return fq_text_fail(err, errlen, "FLEETQ_ON_BUDGET: must be wait or fail, got %s",
                                fq_config_show(&sh, v));
    }

    cfg->log_level = FQ_LOG_INFO;
    if ((v = env("FLEETQ_LOG_LEVEL")) != NULL) {
        char buf[16];
        size_t n = trim_into(v, buf, sizeof(buf));
        int lvl = n < sizeof(buf) ? fq_log_level_parse(buf) : -1;
        if (lvl < 0)
            return fq_text_fail(err, errlen,
                                "FLEETQ_LOG_LEVEL: must be debug, info, warn or error, got %s",
                                fq_config_show(&sh, v));
        cfg->log_level = lvl;
    }

    if (read_int("FLEETQ_MAX_SUBMISSION_BYTES", 1 << 20, 1024, 64 << 20, &x, err, errlen) != 0)
        return -1;
    cfg->max_submission_bytes = (size_t)x;
    if (read_int("FLEETQ_REASONING_RESERVE", 2048, 0, 1000000, &cfg->reasoning_reserve, err,
                 errlen) != 0)
        return -1;
    if (read_int32("FLEETQ_BACKOFF_BASE_MS", 1000, 1, 600000, &cfg->backoff_base_ms, err,
                   errlen) != 0)
        return -1;
    int max_def = cfg->backoff_base_ms > 60000 ? cfg->backoff_base_ms : 60000;
    if ((v = env("FLEETQ_BACKOFF_MAX_MS")) != NULL) {
        if (read_int("FLEETQ_BACKOFF_MAX_MS", max_def, 1, 3600000, &x, err, errlen) != 0)
            return -1;
        if (x < cfg->backoff_base_ms)
            return fq_text_fail(err, errlen,
                                "FLEETQ_BACKOFF_MAX_MS: must be at least "
                                "FLEETQ_BACKOFF_BASE_MS (%d), got %s",
                                cfg->backoff_base_ms, fq_config_show(&sh, v));
        cfg->backoff_max_ms = (int)x;
    } else {
        cfg->backoff_max_ms = max_def;
    }

    if (read_bool("FLEETQ_ADAPTIVE", 1, &cfg->adaptive, err, errlen) != 0 ||
        read_int32("FLEETQ_RATE_WINDOW_MS", 1000, 100, 3600000, &cfg->rate_window_ms, err,
                   errlen) != 0 ||
        read_int32("FLEETQ_FREEZE_MS", 250, 0, 600000, &cfg->freeze_ms, err, errlen) != 0 ||
        read_int32("FLEETQ_BREAKER_THRESHOLD", 5, 1, 1000, &cfg->breaker_threshold, err,
                   errlen) != 0 ||
        read_int32("FLEETQ_BREAKER_COOLDOWN_MS", 5000, 100, 3600000, &cfg->breaker_cooldown_ms,
                   err, errlen) != 0 ||
        read_int32("FLEETQ_PAUSE_PROBE_SECONDS", 300, 1, 86400, &cfg->pause_probe_s, err,
                   errlen) != 0)
        return -1;
    if (read_bool("FLEETQ_STANDBY", 0, &cfg->standby, err, errlen) != 0 ||
        read_bool("FLEETQ_NEW_DATABASE", 0, &cfg->new_database, err, errlen) != 0)
        return -1;
    if (read_bool("FLEETQ_STREAM", 0, &cfg->stream, err, errlen) != 0 ||
        read_int32("FLEETQ_STREAM_MAXLEN", 10000, 2, 1000000, &cfg->stream_maxlen, err,
                   errlen) != 0 ||
        read_int32("FLEETQ_CACHE_TTL", 86400, 1, 30 * 86400, &cfg->cache_ttl_s, err,
                   errlen) != 0 ||
        read_int("FLEETQ_CACHE_MAX_MB", 64, 1, 1 << 20, &x, err, errlen) != 0)
        return -1;
    cfg->cache_max_bytes = x << 20;
    cfg->cache = FQ_CACHE_AUTO;
    if ((v = env("FLEETQ_CACHE")) != NULL) {
        static const char *const modes[] = {[FQ_CACHE_OFF] = "off", [FQ_CACHE_AUTO] = "auto",
                                            [FQ_CACHE_ON] = "on"};
        char buf[16];
        trim_into(v, buf, sizeof(buf));
        int found = -1;
        for (int m = 0; m < 3; m++)
            if (strcasecmp(buf, modes[m]) == 0)
                found = m;
        if (found < 0)
            return fq_text_fail(err, errlen, "FLEETQ_CACHE: must be off, auto (cache answers "
                                "to temperature 0 only) or on, got %s", fq_config_show(&sh, v));
        cfg->cache = (fq_cache_mode)found;
    }

    if ((v = env("FLEETQ_PRICES")) != NULL) {
        char reason[256];
        if (fq_cost_override(v, reason, sizeof(reason)) != 0)
            return fq_text_fail(err, errlen, "FLEETQ_PRICES: %s", reason);
    }
    if ((v = env("FLEETQ_MODEL_PARAMS")) != NULL) {
        char reason[256];
        if (fq_model_params_override(v, reason, sizeof(reason)) != 0)
            return fq_text_fail(err, errlen, "FLEETQ_MODEL_PARAMS: %s", reason);
    }

    return load_roles(cfg, err, errlen);
}

int fq_config_load(fq_config *cfg, unsigned needs, char *err, size_t errlen)
{
    const char *why;
    const char *xk = env("XAI_API_KEY"), *gk = env("GROK_API_KEY");
    char *raw[2] = {xk ? key_clean(xk, strlen(xk), &why) : NULL,
                    gk ? key_clean(gk, strlen(gk), &why) : NULL};
    memset(cfg, 0, sizeof(*cfg));
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    hidden_set(0, NULL);
    hidden_set(1, raw[0]);
    hidden_set(2, raw[1]);
    int rc = load_all(cfg, needs, err, errlen);
    if (rc != 0) {
        /* Last guard: no key in the message, whatever variable held it. */
        scrub_err(err, errlen, cfg->api_key);
        scrub_err(err, errlen, raw[0]);
        scrub_err(err, errlen, raw[1]);
        fq_config_free(cfg);
    }
    for (int k = 0; k < MAX_HIDDEN; k++)
        hidden[k] = NULL;
    wipe_free(raw[0]);
    wipe_free(raw[1]);
    return rc;
}

void fq_config_free(fq_config *cfg)
{
    if (cfg == NULL)
        return;
    wipe_free(cfg->api_key);
    for (int r = 0; r < FQ_ROLE_COUNT; r++) {
        free(cfg->roles[r].system);
        free(cfg->roles[r].fallback);
    }
    explicit_bzero(cfg->redis_password, sizeof(cfg->redis_password));
    explicit_bzero(cfg->dashboard_token, sizeof(cfg->dashboard_token));
    explicit_bzero(cfg->metrics_token, sizeof(cfg->metrics_token));
    memset(cfg, 0, sizeof(*cfg));
}
