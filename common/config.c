/* config.c -- configuration from the environment (see config.h and the
 * configuration table in the README).
 *
 * fq_config_load() fills an fq_config in one pass over the table of
 * settings (settings.def), in its order: each typed row through the generic
 * reader of its type (an integer in a range, a boolean, text, a fraction,
 * an amount in USD), which parses the row's default the same way when the
 * variable is unset; every other row through the reader it names (here:
 * the key, the access tokens, Redis' URL, password file and TLS;
 * config_values.c and config_roles.c: the rest). Each writes one error line
 * starting with the variable's name; for a number whose range allows 0,
 * the line ends with what 0 means. An empty variable counts as unset.
 * Values other than the key are trimmed of surrounding white space.
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

#include "config_read.h"
#include "cost.h"
#include "redis_tls.h"
#include "settings.h"
#include "text.h"

#define KEY_FILE_MAX (64 * 1024)
#define KEY_MAX 4096

/* ------------------------------------------------------------------------
 * Small helpers
 * --------------------------------------------------------------------- */

/* The variable's value, NULL when unset or empty. */
const char *fq_cfg_env(const char *name)
{
    const char *v = getenv(name);
    return (v != NULL && v[0] != '\0') ? v : NULL;
}

/* Copies s without surrounding white space into out (bounded); returns the
 * trimmed length, which may exceed outlen - 1 (then out is cut). */
size_t fq_cfg_trim(const char *s, char *out, size_t outlen)
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

/* Parses the trimmed text buf[0..n) as a value of row s's type into field.
 * Returns 0, or -1 when it is not one or out of the row's range. */
static int parse_value(const fq_setting *s, const char *buf, size_t n, void *field)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    int64_t x;
    double d;
    switch (s->type) {
    case FQ_SET_INT64:
    case FQ_SET_INT:
        if (fq_text_parse_int64(buf, n, &x) != 0 || x < s->lo || x > s->hi)
            return -1;
        if (s->type == FQ_SET_INT)
            *(int *)field = (int)x;
        else
            *(int64_t *)field = x;
        return 0;
    case FQ_SET_BOOL:
        for (int i = 0; i < 4; i++) {
            if (strcasecmp(buf, yes[i]) == 0 || strcasecmp(buf, no[i]) == 0) {
                *(int *)field = strcasecmp(buf, yes[i]) == 0;
                return 0;
            }
        }
        return -1;
    case FQ_SET_FRACTION:
        if (fq_text_parse_decimal(buf, n, &d) != 0 || d < (double)s->lo || d > (double)s->hi)
            return -1;
        *(double *)field = d;
        return 0;
    case FQ_SET_USD:
        return fq_cost_parse_usd(buf, field);
    default:
        return -1;
    }
}

/* What a value of row s's type must be, for its error line; for a number
 * whose range allows 0, what 0 means comes after the value (tail). */
static void expected(const fq_setting *s, char *what, size_t len, char *tail, size_t tlen)
{
    if (s->zero != NULL && s->type != FQ_SET_USD)
        snprintf(tail, tlen, "; 0 means %s", s->zero);
    switch (s->type) {
    case FQ_SET_INT64:
    case FQ_SET_INT:
        if (s->lo == 0 && s->hi == INT64_MAX)
            snprintf(what, len, "must be a non-negative integer");
        else
            snprintf(what, len, "must be an integer from %lld to %lld", (long long)s->lo,
                     (long long)s->hi);
        return;
    case FQ_SET_BOOL:
        snprintf(what, len, "must be true or false (also 1/0, yes/no, on/off)");
        return;
    case FQ_SET_FRACTION:
        snprintf(what, len, "must be a number from %g to %g (like 0.25)", (double)s->lo,
                 (double)s->hi);
        return;
    case FQ_SET_USD:
        snprintf(what, len, "must be a non-negative amount in USD like 50 or 12.5 (0 = %s)",
                 s->zero ? s->zero : "nothing");
        return;
    default:
        snprintf(what, len, "has no reader");
    }
}

/* A string copied into a fixed buffer; trimmed. */
static int read_str(const char *name, const char *def, char *out, size_t outlen, char *err,
                    size_t errlen)
{
    const char *v = fq_cfg_env(name);
    if (v == NULL) {
        snprintf(out, outlen, "%s", def);
        return 0;
    }
    size_t n = fq_cfg_trim(v, out, outlen);
    if (n >= outlen)
        return fq_text_fail(err, errlen, "%s: longer than %zu bytes", name, outlen - 1);
    if (n == 0)
        snprintf(out, outlen, "%s", def);
    return 0;
}

int fq_cfg_read_value(const fq_setting *s, const char *name, void *field, const char *def,
                      char *err, size_t errlen)
{
    const char *v = fq_cfg_env(name);
    const char *given = v != NULL ? v : def;
    char buf[64], what[160], tail[160] = "";
    fq_text_shown sh;
    if (s->type == FQ_SET_STR)
        return read_str(name, def, field, s->size, err, errlen);
    size_t n = fq_cfg_trim(given, buf, sizeof(buf));
    if (n < sizeof(buf) && parse_value(s, buf, n, field) == 0)
        return 0;
    expected(s, what, sizeof(what), tail, sizeof(tail));
    return fq_text_fail(err, errlen, "%s: %s, got %s%s", name, what, fq_config_show(&sh, given),
                        tail);
}

int fq_cfg_read_row(const fq_setting *s, void *field, char *err, size_t errlen)
{
    return fq_cfg_read_value(s, s->name, field, fq_setting_default(s, -1), err, errlen);
}

const char *fq_cfg_given(const fq_setting *s)
{
    const char *v = fq_cfg_env(s->name);
    return v != NULL ? v : fq_setting_default(s, -1);
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
    const char *file = fq_cfg_env(file_name);
    if (file != NULL && fq_cfg_env(name) != NULL)
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
    const char *xk = fq_cfg_env("XAI_API_KEY"), *gk = fq_cfg_env("GROK_API_KEY");
    const char *xf = fq_cfg_env("XAI_API_KEY_FILE"), *gf = fq_cfg_env("GROK_API_KEY_FILE");
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

/* The row XAI_API_KEY (with GROK_API_KEY and both _FILE forms): the key,
 * unless the program never needs it (FQ_NO_KEY); from here on every
 * message hides it. */
int fq_cfg_read_key(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                    size_t errlen)
{
    (void)s;
    if (!(needs & FQ_NO_KEY) && load_key(cfg, needs, err, errlen) != 0)
        return -1;
    hidden_set(0, cfg->api_key);
    return 0;
}

/* The rows FLEETQ_DASHBOARD_TOKEN and FLEETQ_METRICS_TOKEN (with their
 * _FILE forms), into their fields. */
int fq_cfg_read_token(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                      size_t errlen)
{
    (void)needs;
    return read_access_token(s->name, (char *)cfg + s->offset, s->size, err, errlen);
}

int fq_config_reload_key(fq_config *cfg, char *err, size_t errlen)
{
    const char *name = "XAI_API_KEY_FILE";
    const char *gf = fq_cfg_env("GROK_API_KEY_FILE");
    if (fq_cfg_env("XAI_API_KEY_FILE") == NULL && gf != NULL && strcmp(gf, cfg->api_key_file) == 0)
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
 * Redis: the password's file and TLS
 * --------------------------------------------------------------------- */

/* REDIS_URL, parsed by redis_url.c; unset, the row's default. */
int fq_cfg_read_redis_url(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                          size_t errlen)
{
    (void)needs;
    const char *given = fq_cfg_given(s);
    size_t n = strlen(given);
    char *url = malloc(n + 1);
    if (url == NULL)
        return fq_text_fail(err, errlen, "REDIS_URL: out of memory");
    fq_cfg_trim(given, url, n + 1);
    int rc = fq_config_parse_redis_url(cfg, url, err, errlen);
    explicit_bzero(url, n);
    free(url);
    return rc;
}

/* REDIS_PASSWORD_FILE (a Compose secret) completes a REDIS_URL that names
 * the user alone (redis://fleetq-worker@redis:6379/0) or no one. */
int fq_cfg_read_redis_password(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                               size_t errlen)
{
    (void)s;
    (void)needs;
    const char *file = fq_cfg_env("REDIS_PASSWORD_FILE");
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

/* FLEETQ_REDIS_TLS_VERIFY, then the TLS settings together (the rows before
 * it read FLEETQ_REDIS_CA_FILE, _CERT_FILE and _KEY_FILE): for a rediss://
 * URL only; the TLS set-up itself checks the files. */
int fq_cfg_read_redis_tls(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                          size_t errlen)
{
    (void)needs;
    if (fq_cfg_read_row(s, &cfg->redis_tls_verify, err, errlen) != 0)
        return -1;
    if ((cfg->redis_cert_file[0] == '\0') != (cfg->redis_key_file[0] == '\0'))
        return fq_text_fail(err, errlen, "%s: set FLEETQ_REDIS_CERT_FILE and "
                            "FLEETQ_REDIS_KEY_FILE together (a client certificate and its key)",
                            cfg->redis_cert_file[0] ? "FLEETQ_REDIS_CERT_FILE"
                                                    : "FLEETQ_REDIS_KEY_FILE");
    if (!cfg->redis_tls) {
        const char *set = cfg->redis_ca_file[0]     ? "FLEETQ_REDIS_CA_FILE"
                          : cfg->redis_cert_file[0] ? "FLEETQ_REDIS_CERT_FILE"
                          : fq_cfg_env("FLEETQ_REDIS_TLS_VERIFY") ? "FLEETQ_REDIS_TLS_VERIFY"
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

/* Reads every row of the table that fq_config_load() reads, in order: a
 * row with a reader of its own through it, any other row through the
 * generic reader of its type; a role's row for each role in turn (through
 * its reader of one role's variable, if it has one). A row read with
 * another is read by that one's reader. */
static int load_all(fq_config *cfg, unsigned needs, char *err, size_t errlen)
{
    for (size_t i = 0; i < fq_settings_count; i++) {
        const fq_setting *s = &fq_settings[i];
        /* a program's own setting is read here when it has a field
         * (FLEETQ_STANDBY): checked like every other, at start */
        if ((s->by != FQ_BY_CONFIG && s->size == 0) || s->with != NULL)
            continue;
        if (s->read != NULL) {
            if (s->read(cfg, s, needs, err, errlen) != 0)
                return -1;
            continue;
        }
        if (!fq_setting_per_role(s)) {
            if (fq_cfg_read_row(s, (char *)cfg + s->offset, err, errlen) != 0)
                return -1;
            continue;
        }
        for (int r = 0; r < FQ_ROLE_COUNT; r++) {
            char name[64];
            fq_setting_name(s, r, name, sizeof(name));
            int rc = s->read_role != NULL
                         ? s->read_role(cfg, s, r, name, err, errlen)
                         : fq_cfg_read_value(s, name, (char *)&cfg->roles[r] + s->offset,
                                             fq_setting_default(s, r), err, errlen);
            if (rc != 0)
                return -1;
        }
    }
    return 0;
}

int fq_config_load(fq_config *cfg, unsigned needs, char *err, size_t errlen)
{
    const char *why;
    const char *xk = fq_cfg_env("XAI_API_KEY"), *gk = fq_cfg_env("GROK_API_KEY");
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
