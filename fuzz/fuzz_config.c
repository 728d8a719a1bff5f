/* fuzz_config.c -- libFuzzer harness for the configuration parser:
 * fq_config_load() over the environment, and fq_config_parse_redis_url()
 * on its own (config.h, config.c, redis_url.c).
 *
 * Input format: lines of NAME=VALUE. A NAME from the fixed list of
 * variables that config.c reads is set with setenv() (a value stops at its
 * first NUL, as in a real environment); every other line is parsed directly
 * as a Redis URL. Before each input every listed variable is unset, so no
 * run sees another's values or the environment the fuzzer started in.
 *
 * The key files: XAI_API_KEY_FILE and GROK_API_KEY_FILE never name a path
 * from the input. Their VALUE is the content of a file in a private
 * temporary directory, which the variable then names ("@missing" names a
 * file that does not exist, "@dir" the directory itself). When both carry
 * the same content they name the same file. The files are removed after
 * each input and the directory ($TMPDIR/fuzz_config.XXXXXX) at exit; a
 * crash or a kill leaves it behind, so run.sh points TMPDIR at a directory
 * of its own that it removes.
 *
 * Each input is loaded with needs 0, FQ_NEED_KEY and FQ_NO_KEY. Invariants:
 *  - a failure leaves one error line (non-empty, no control characters)
 *    and a zeroed config;
 *  - a success with FQ_NEED_KEY implies one with 0, with the same values
 *    and a key; a success with 0 implies one with FQ_NO_KEY, with the same
 *    values but no key and no key file;
 *  - a loaded config respects the ranges of config.h, and re-reading an
 *    unchanged key file reports "unchanged";
 *  - no error line holds a key (8 bytes or more, from either variable or,
 *    unless FQ_NO_KEY, a key file whose content mixes upper case, lower
 *    case and digits), nor any 20-byte run of one that mixes them, unless
 *    that run also occurs in another variable's value once the copies of
 *    the whole key in it are redacted (then it was given openly);
 *  - a Redis URL either parses into a host, a port from 1 to 65535 and a
 *    non-negative database, or fails with one error line, leaves the config
 *    untouched, and shows no such 20-byte run of its user:password part.
 * A broken invariant calls abort().
 *
 * FLEETQ_PRICES changes cost.c's price table for the whole process and
 * there is no way to reset it, so the table fills up over a run; a crash
 * that needs a particular table may not repeat on its own.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "task.h"
#include "text.h"
#include "fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ERR_LEN 512
#define RUN 20                 /* bytes of a key run that must never show */
#define MAX_VARS 64


/* ------------------------------------------------------------------------
 * The variables config.c reads
 * --------------------------------------------------------------------- */

static const char *const base_vars[] = {
    "XAI_API_KEY", "GROK_API_KEY", "XAI_API_KEY_FILE", "GROK_API_KEY_FILE",
    "REDIS_URL", "XAI_BASE_URL", "FLEETQ_DB", "PORT", "FLEETQ_HTTP_PORT",
    "GROK_RATE_LIMIT_RPM", "GROK_RATE_LIMIT_RPH", "GROK_RATE_LIMIT_TPM",
    "FLEETQ_MAX_INFLIGHT", "ENABLE_RATE_LIMITING", "FLEETQ_RATE_BURST",
    "DAILY_BUDGET_USD", "MAX_TOKENS_DEFAULT", "REQUEST_TIMEOUT", "GROK_MAX_RETRIES",
    "FLEETQ_LEASE_SECONDS", "FLEETQ_GRACE_SECONDS", "FLEETQ_ON_BUDGET",
    "FLEETQ_LOG_LEVEL", "FLEETQ_MAX_SUBMISSION_BYTES", "FLEETQ_REASONING_RESERVE",
    "FLEETQ_BACKOFF_BASE_MS", "FLEETQ_BACKOFF_MAX_MS", "FLEETQ_ADAPTIVE",
    "FLEETQ_RATE_WINDOW_MS", "FLEETQ_FREEZE_MS", "FLEETQ_BREAKER_THRESHOLD",
    "FLEETQ_BREAKER_COOLDOWN_MS", "FLEETQ_PAUSE_PROBE_SECONDS", "FLEETQ_STREAM",
    "FLEETQ_PRICES",
};
#define N_BASE (sizeof(base_vars) / sizeof(base_vars[0]))

static const char *const role_upper[] = {"CEO", "CODE", "QUALITY", "MEMORY"};
static const char *const role_items[] = {"MODEL", "SYSTEM", "PRIORITY", "SHARE", "RESERVE"};

static char role_vars[4 * 5][40];
static const char *vars[MAX_VARS];
static size_t n_vars;

static char tmpdir[256];
static char xai_file[300], grok_file[300], missing_file[300];

static int var_index(const char *name, size_t len)
{
    for (size_t i = 0; i < n_vars; i++) {
        if (strlen(vars[i]) == len && memcmp(vars[i], name, len) == 0)
            return (int)i;
    }
    return -1;
}

static void clear_env(void)
{
    for (size_t i = 0; i < n_vars; i++)
        unsetenv(vars[i]);
}

static void cleanup(void)
{
    unlink(xai_file);
    unlink(grok_file);
    rmdir(tmpdir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (size_t i = 0; i < N_BASE; i++)
        vars[n_vars++] = base_vars[i];
    for (size_t r = 0; r < 4; r++) {
        for (size_t k = 0; k < 5; k++) {
            char *v = role_vars[r * 5 + k];
            snprintf(v, sizeof(role_vars[0]), "FLEETQ_ROLE_%s_%s", role_upper[r], role_items[k]);
            vars[n_vars++] = v;
        }
    }
    clear_env();

    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/fuzz_config.XXXXXX",
             base != NULL && base[0] != '\0' && strlen(base) < 200 ? base : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        perror("fuzz_config: mkdtemp");
        abort();
    }
    snprintf(xai_file, sizeof(xai_file), "%s/xai_key", tmpdir);
    snprintf(grok_file, sizeof(grok_file), "%s/grok_key", tmpdir);
    snprintf(missing_file, sizeof(missing_file), "%s/missing", tmpdir);
    atexit(cleanup);
    return 0;
}

/* ------------------------------------------------------------------------
 * Reading the input
 * --------------------------------------------------------------------- */

typedef struct given {
    char *value[MAX_VARS];     /* as the input gave it, NUL-terminated; NULL = unset */
} given;

static void given_free(given *g)
{
    for (size_t i = 0; i < n_vars; i++)
        free(g->value[i]);
    memset(g, 0, sizeof(*g));
}

static int write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t n = strlen(content);
    int rc = fwrite(content, 1, n, f) == n ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

/* The path a key-file variable is set to for the content the input gave. */
static const char *key_file_path(const char *content, const char *own, const char *other_content,
                                 const char *other_path)
{
    if (strcmp(content, "@missing") == 0)
        return missing_file;
    if (strcmp(content, "@dir") == 0)
        return tmpdir;
    if (other_content != NULL && other_path != NULL && strcmp(content, other_content) == 0)
        return other_path;
    if (write_file(own, content) != 0) {
        perror("fuzz_config: writing a key file");
        abort();
    }
    return own;
}

/* Sets the environment from g. */
static void apply_env(const given *g)
{
    int xi = var_index("XAI_API_KEY_FILE", 16), gi = var_index("GROK_API_KEY_FILE", 17);
    const char *xpath = NULL;
    clear_env();
    unlink(xai_file);
    unlink(grok_file);
    for (size_t i = 0; i < n_vars; i++) {
        const char *v = g->value[i];
        if (v == NULL)
            continue;
        if ((int)i == xi && v[0] != '\0') {
            xpath = key_file_path(v, xai_file, NULL, NULL);
            v = xpath;
        } else if ((int)i == gi && v[0] != '\0') {
            v = key_file_path(v, grok_file, g->value[xi], xpath);
        }
        setenv(vars[i], v, 1);
    }
}

/* ------------------------------------------------------------------------
 * Secrets in error lines
 * --------------------------------------------------------------------- */

/* s without surrounding white space, as config.c cleans a key; NULL when
 * it would not be accepted as one (empty, inner white space or control
 * characters, non-ASCII) or is shorter than 8 bytes. */
static char *clean_key(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t b = 0, e = strlen(s);
    while (b < e && fq_text_is_space(s[b]))
        b++;
    while (e > b && fq_text_is_space(s[e - 1]))
        e--;
    if (e - b < 8 || e - b > 4096)
        return NULL;
    for (size_t i = b; i < e; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f)
            return NULL;
    }
    return strndup(s + b, e - b);
}

static int mixed_run(const char *w, size_t n)
{
    int up = 0, low = 0, dig = 0;
    for (size_t i = 0; i < n; i++) {
        up |= w[i] >= 'A' && w[i] <= 'Z';
        low |= w[i] >= 'a' && w[i] <= 'z';
        dig |= w[i] >= '0' && w[i] <= '9';
    }
    return up && low && dig;
}

static void check_error_line(const char *err, size_t errlen)
{
    fuzz_check_error_line(err, errlen, 1);
}

/* 1 when run w[0..RUN) occurs in s as given or as an error line may show
 * it: quoted and escaped from any offset on (fq_text_show(), as values and
 * parts of values are shown), or as a URL with its user:password hidden,
 * before and after trimming (fq_config_show_url()). */
static int shows_run(const char *s, const char *w)
{
    fq_text_shown sh;
    size_t n = strlen(s);
    if (memmem(s, n, w, RUN) != NULL)
        return 1;
    for (size_t i = 0; i < n; i++) {
        const char *r = fq_text_show(&sh, s + i, n - i);
        if (memmem(r, strlen(r), w, RUN) != NULL)
            return 1;
    }
    size_t b = 0, e = n;
    while (b < e && fq_text_is_space(s[b]))
        b++;
    while (e > b && fq_text_is_space(s[e - 1]))
        e--;
    char *t = strndup(s + b, e - b);
    const char *forms[2] = {s, t};
    int found = 0;
    for (int k = 0; k < 2 && !found && forms[k] != NULL; k++) {
        const char *r = fq_config_show_url(&sh, forms[k]);
        found = memmem(r, strlen(r), w, RUN) != NULL;
    }
    free(t);
    return found;
}

/* s with every occurrence of key replaced by its redacted form, as
 * fq_config_show() shows a value (malloc'd; NULL when out of memory). */
static char *redact_in(const char *s, const char *key)
{
    char red[32];
    size_t kl = strlen(key), n = strlen(s), o = 0;
    fq_config_redact_key(key, red, sizeof(red));
    size_t rl = strlen(red);
    char *out = malloc(n / kl * rl + n + 1);
    if (out == NULL)
        return NULL;
    for (const char *p = s; *p != '\0';) {
        if (strncmp(p, key, kl) == 0) {
            memcpy(out + o, red, rl);
            o += rl;
            p += kl;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return out;
}

/* 1 when run w[0..RUN) may have come from a value that was given openly:
 * any variable other than the key variables, as an error line would show
 * it with the whole key redacted, or a path this harness made. */
static int run_given_openly(const given *g, const char *w, const char *key)
{
    int xk = var_index("XAI_API_KEY", 11), gk = var_index("GROK_API_KEY", 12);
    int xf = var_index("XAI_API_KEY_FILE", 16), gf = var_index("GROK_API_KEY_FILE", 17);
    if (shows_run(tmpdir, w) || shows_run(missing_file, w) || shows_run(xai_file, w) ||
        shows_run(grok_file, w))
        return 1;
    for (size_t i = 0; i < n_vars; i++) {
        const char *v = g->value[i];
        if (v == NULL || (int)i == xk || (int)i == gk || (int)i == xf || (int)i == gf)
            continue;
        char *openly = redact_in(v, key);
        int found = openly != NULL && shows_run(openly, w);
        free(openly);
        if (found)
            return 1;
    }
    return 0;
}

/* from_file: the key is the content of a key file, which config.c only
 * knows once it has read the file; before that, the same bytes may occur
 * in a message's fixed text ("XAI_API_"), so only keys that mix upper
 * case, lower case and digits are looked for whole. */
static void check_no_key(const given *g, const char *err, const char *raw, int from_file)
{
    char *key = clean_key(raw);
    if (key == NULL)
        return;
    size_t n = strlen(key);
    if ((!from_file || mixed_run(key, n)) && strstr(err, key) != NULL) {
        fprintf(stderr, "fuzz_config: error line: %s\n", err);
        fail("the key appears in an error line");
    }
    for (size_t i = 0; i + RUN <= n; i++) {
        const char *w = key + i;
        if (!mixed_run(w, RUN) || memmem(err, strlen(err), w, RUN) == NULL)
            continue;
        if (run_given_openly(g, w, key))
            continue;
        fprintf(stderr, "fuzz_config: error line: %s\n", err);
        fail("part of the key appears in an error line");
    }
    free(key);
}

/* With FQ_NO_KEY the key files are never read, so their content is not
 * known to be a key. */
static void check_secrets(const given *g, const char *err, unsigned needs)
{
    static const char *const names[] = {
        "XAI_API_KEY", "GROK_API_KEY", "XAI_API_KEY_FILE", "GROK_API_KEY_FILE",
    };
    for (size_t k = 0; k < ((needs & FQ_NO_KEY) ? 2 : 4); k++) {
        int i = var_index(names[k], strlen(names[k]));
        if (i >= 0 && g->value[i] != NULL)
            check_no_key(g, err, g->value[i], k >= 2);
    }
}

/* ------------------------------------------------------------------------
 * Loaded configurations
 * --------------------------------------------------------------------- */

static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0)
            return 0;
    }
    return 1;
}

static void check_str(const char *s, size_t cap, const char *what)
{
    if (strnlen(s, cap) >= cap)
        fail(what);
}

static void check_loaded(const fq_config *c, unsigned needs)
{
    check_str(c->redis_host, sizeof(c->redis_host), "redis_host not terminated");
    check_str(c->redis_user, sizeof(c->redis_user), "redis_user not terminated");
    check_str(c->redis_password, sizeof(c->redis_password), "redis_password not terminated");
    check_str(c->api_key_file, sizeof(c->api_key_file), "api_key_file not terminated");
    check_str(c->base_url, sizeof(c->base_url), "base_url not terminated");
    check_str(c->db_path, sizeof(c->db_path), "db_path not terminated");
    if (c->redis_host[0] == '\0' || c->redis_port < 1 || c->redis_port > 65535 || c->redis_db < 0)
        fail("bad Redis settings");
    if ((needs & FQ_NEED_KEY) && c->api_key == NULL)
        fail("no key although FQ_NEED_KEY");
    if ((needs & FQ_NO_KEY) && (c->api_key != NULL || c->api_key_file[0] != '\0'))
        fail("a key was read although FQ_NO_KEY");
    if (c->api_key != NULL) {
        size_t n = strlen(c->api_key);
        if (n == 0 || n > 4096)
            fail("key of a bad length");
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)c->api_key[i];
            if (ch <= 0x20 || ch >= 0x7f)
                fail("key holds white space or control characters");
        }
    }
    size_t bl = strlen(c->base_url);
    if ((strncasecmp(c->base_url, "http://", 7) != 0 && strncasecmp(c->base_url, "https://", 8) != 0) ||
        c->base_url[bl - 1] == '/')
        fail("bad base_url");
    for (size_t i = 0; i < bl; i++) {
        unsigned char ch = (unsigned char)c->base_url[i];
        if (ch <= 0x20 || ch >= 0x7f)
            fail("base_url holds white space or control characters");
    }
    if (c->db_path[0] == '\0')
        fail("empty db_path");
    if (c->http_port < 0 || c->http_port > 65535)
        fail("http_port out of range");
    if (c->rate_limit_rpm < 0 || c->rate_limit_rph < 0 || c->rate_limit_tpm < 0 ||
        c->max_inflight < 0 || c->daily_budget_ticks < 0 || c->reasoning_reserve < 0)
        fail("negative limit");
    if (c->rate_burst < 1 || c->rate_burst > 1000)
        fail("rate_burst out of range");
    if (c->max_tokens_default < 1 || c->max_tokens_default > FQ_MAX_TOKENS_LIMIT)
        fail("max_tokens_default out of range");
    if (c->request_timeout_s < 1 || c->max_retries < 0 || c->lease_s < 5 || c->grace_s < 0)
        fail("timing out of range");
    if (c->backoff_base_ms < 1 || c->backoff_max_ms < c->backoff_base_ms)
        fail("backoff out of range");
    if (c->max_submission_bytes < 1024)
        fail("max_submission_bytes out of range");
    double sum = 0;
    for (int r = 0; r < FQ_ROLE_COUNT; r++) {
        const fq_role_profile *p = &c->roles[r];
        size_t ml = strnlen(p->model, sizeof(p->model));
        if (ml >= sizeof(p->model) || !fq_text_name_valid(p->model, ml, sizeof(p->model) - 1))
            fail("bad role model");
        if (p->system == NULL || !fq_utf8_valid(p->system, strlen(p->system)))
            fail("bad role system prompt");
        if (p->priority < 0 || p->priority > FQ_PRIORITY_MAX)
            fail("role priority out of range");
        if (!(p->share >= 0 && p->share <= 1) || !(p->reserve >= 0 && p->reserve <= 1))
            fail("role share or reserve out of range");
        sum += p->share;
    }
    if (sum > 1.0 + 1e-9)
        fail("role shares add up to more than 1");
}

/* Two loads of the same environment agree on everything but the key
 * (compared too when with_key). */
static void check_same(const fq_config *a, const fq_config *b, int with_key)
{
    if (with_key && (strcmp(a->api_key_file, b->api_key_file) != 0 ||
                     (a->api_key == NULL) != (b->api_key == NULL) ||
                     (a->api_key != NULL && strcmp(a->api_key, b->api_key) != 0)))
        fail("loads with different needs read different keys");
    if (strcmp(a->redis_host, b->redis_host) != 0 || a->redis_port != b->redis_port ||
        a->redis_db != b->redis_db || strcmp(a->base_url, b->base_url) != 0 ||
        strcmp(a->db_path, b->db_path) != 0 || a->http_port != b->http_port ||
        a->rate_limit_rpm != b->rate_limit_rpm || a->daily_budget_ticks != b->daily_budget_ticks ||
        a->backoff_max_ms != b->backoff_max_ms || a->log_level != b->log_level ||
        a->max_submission_bytes != b->max_submission_bytes || a->stream != b->stream ||
        a->roles[FQ_ROLE_CODE].priority != b->roles[FQ_ROLE_CODE].priority ||
        a->roles[FQ_ROLE_CEO].share != b->roles[FQ_ROLE_CEO].share ||
        strcmp(a->roles[FQ_ROLE_MEMORY].model, b->roles[FQ_ROLE_MEMORY].model) != 0)
        fail("loads with different needs gave different values");
}

static void check_reload(fq_config *c)
{
    char err[ERR_LEN];
    if (c->api_key_file[0] == '\0')
        return;
    char *before = strdup(c->api_key);
    if (before == NULL)
        return;
    int rc = fq_config_reload_key(c, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "fuzz_config: reload gave %d: %s\n", rc, rc < 0 ? err : "");
        fail("re-reading an unchanged key file did not say unchanged");
    }
    if (c->api_key == NULL || strcmp(before, c->api_key) != 0)
        fail("re-reading an unchanged key file changed the key");
    free(before);
}

/* ------------------------------------------------------------------------
 * Redis URLs on their own
 * --------------------------------------------------------------------- */

/* The user:password part of url as redis_url.c finds it, or len 0. */
static const char *userinfo(const char *url, size_t *len)
{
    *len = 0;
    if (strncasecmp(url, "redis://", 8) != 0)
        return NULL;
    const char *a = url + 8;
    size_t alen = strcspn(a, "/?#");
    const char *at = memrchr(a, '@', alen);
    if (at == NULL)
        return NULL;
    *len = (size_t)(at - a);
    return a;
}

static void check_redis_url(const char *url)
{
    fq_config c;
    char err[ERR_LEN];
    memset(&c, 0, sizeof(c));
    err[0] = '\0';
    int rc = fq_config_parse_redis_url(&c, url, err, sizeof(err));
    if (rc == 0) {
        check_str(c.redis_host, sizeof(c.redis_host), "redis_host not terminated");
        check_str(c.redis_user, sizeof(c.redis_user), "redis_user not terminated");
        check_str(c.redis_password, sizeof(c.redis_password), "redis_password not terminated");
        if (c.redis_host[0] == '\0' || c.redis_port < 1 || c.redis_port > 65535 || c.redis_db < 0)
            fail("parsed Redis URL has bad settings");
        for (const char *h = c.redis_host; *h; h++) {
            char ch = *h;
            if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_' || ch == ':'))
                fail("parsed Redis host holds a character it may not");
        }
        return;
    }
    if (rc != -1)
        fail("fq_config_parse_redis_url returned neither 0 nor -1");
    check_error_line(err, sizeof(err));
    if (!all_zero(&c, sizeof(c)))
        fail("a failed Redis URL wrote into the config");
    size_t ul;
    const char *ui = userinfo(url, &ul);
    for (size_t i = 0; ui != NULL && i + RUN <= ul; i++) {
        const char *w = ui + i;
        if (!mixed_run(w, RUN) || memmem(err, strlen(err), w, RUN) == NULL)
            continue;
        /* Shown legitimately when the same bytes are also in the URL as it
         * may be shown, with user:password as "***". */
        const char *rest = ui + ul;
        char *pub = malloc(8 + 3 + strlen(rest) + 1);
        if (pub == NULL)
            continue;
        memcpy(pub, url, 8);
        memcpy(pub + 8, "***", 3);
        strcpy(pub + 11, rest);
        int shown = shows_run(pub, w);
        free(pub);
        if (shown)
            continue;
        fprintf(stderr, "fuzz_config: error line: %s\n", err);
        fail("part of the Redis user:password appears in an error line");
    }
}

/* ------------------------------------------------------------------------
 * Entry point
 * --------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    given g;
    memset(&g, 0, sizeof(g));

    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != '\n')
            continue;
        const char *line = (const char *)data + start;
        size_t len = i - start;
        start = i + 1;
        char *copy = strndup(line, len);    /* stops at a NUL, like the environment */
        if (copy == NULL)
            continue;
        char *eq = strchr(copy, '=');
        int v = eq ? var_index(copy, (size_t)(eq - copy)) : -1;
        if (v < 0) {
            check_redis_url(copy);
            char red[32];
            fq_config_redact_key(copy, red, sizeof(red));
            if (strnlen(red, sizeof(red)) >= sizeof(red))
                fail("redacted key not terminated");
            free(copy);
            continue;
        }
        if (strcmp(vars[v], "REDIS_URL") == 0)
            check_redis_url(eq + 1);
        free(g.value[v]);
        g.value[v] = strdup(eq + 1);
        free(copy);
    }

    apply_env(&g);

    static const unsigned masks[3] = {0, FQ_NEED_KEY, FQ_NO_KEY};
    fq_config cfg[3];
    int rc[3];
    char err[3][ERR_LEN];
    for (int m = 0; m < 3; m++) {
        memset(err[m], 0x5A, sizeof(err[m]));
        rc[m] = fq_config_load(&cfg[m], masks[m], err[m], sizeof(err[m]));
        if (rc[m] != 0 && rc[m] != -1)
            fail("fq_config_load returned neither 0 nor -1");
        if (rc[m] == 0) {
            check_loaded(&cfg[m], masks[m]);
        } else {
            check_error_line(err[m], sizeof(err[m]));
            check_secrets(&g, err[m], masks[m]);
            if (!all_zero(&cfg[m], sizeof(cfg[m])))
                fail("a failed load left the config filled in");
        }
    }
    /* cfg[0]: needs 0, cfg[1]: FQ_NEED_KEY, cfg[2]: FQ_NO_KEY */
    if (rc[1] == 0 && rc[0] != 0)
        fail("loads with FQ_NEED_KEY but not without it");
    if (rc[0] == 0 && rc[2] != 0)
        fail("loads when reading the key but not with FQ_NO_KEY");
    if (rc[1] == 0)
        check_same(&cfg[0], &cfg[1], 1);
    if (rc[0] == 0)
        check_same(&cfg[0], &cfg[2], 0);
    if (rc[1] == 0)
        check_reload(&cfg[1]);
    for (int m = 0; m < 3; m++)
        fq_config_free(&cfg[m]);

    clear_env();
    unlink(xai_file);
    unlink(grok_file);
    given_free(&g);
    return 0;
}
