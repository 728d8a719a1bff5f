/* config_values.c -- the readers of the settings whose values have rules
 * of their own (settings.def names each): the key prefix, the API's URL,
 * the HTTP port, words from a short list, the lists of limits, prices and
 * parameters, and numbers stored otherwise than they are given. Each
 * writes one error line that starts with its variable's name and shows the
 * value through fq_config_show(), which hides the key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_read.h"
#include "cost.h"
#include "keys.h"
#include "log.h"
#include "model_params.h"
#include "text.h"

/* FLEETQ_KEY_PREFIX: the text, then the key names made from it. */
int fq_cfg_read_key_prefix(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                           size_t errlen)
{
    (void)needs;
    char why[160];
    fq_text_shown sh;
    if (fq_cfg_read_row(s, cfg->key_prefix, err, errlen) != 0)
        return -1;
    if (fq_keys_init(cfg->key_prefix, why, sizeof(why)) != 0)
        return fq_text_fail(err, errlen, "%s: %s, got %s", s->name, why,
                            fq_config_show(&sh, cfg->key_prefix));
    return 0;
}

/* XAI_BASE_URL: http:// or https://, a host, no spaces; kept without a
 * trailing slash. */
int fq_cfg_read_base_url(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                         size_t errlen)
{
    (void)needs;
    const char *v = fq_cfg_env(s->name);
    fq_text_shown sh;
    if (fq_cfg_read_row(s, cfg->base_url, err, errlen) != 0)
        return -1;
    char *u = cfg->base_url;
    size_t n = strlen(u);
    size_t scheme = strncasecmp(u, "https://", 8) == 0 ? 8 : strncasecmp(u, "http://", 7) == 0 ? 7 : 0;
    if (scheme == 0)
        return fq_text_fail(err, errlen, "XAI_BASE_URL: must start with http:// or https:// "
                            "(like %s), got %s", fq_setting_default(s, -1),
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

/* PORT, or else FLEETQ_HTTP_PORT (PORT is what platforms such as Render
 * set, so it wins). */
int fq_cfg_read_http_port(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                          size_t errlen)
{
    (void)needs;
    const char *name = fq_cfg_env(s->name) != NULL ? s->name : "FLEETQ_HTTP_PORT";
    return fq_cfg_read_value(s, name, &cfg->http_port, fq_setting_default(s, -1), err,
                             errlen);
}

/* Reads row s's value (its default when unset) as one word: what parse
 * makes of it, or else its index in words[0..n) (any case). Returns that,
 * or -1 with "NAME: must be <expected>, got ..." in err. */
static int read_word(const fq_setting *s, int (*parse)(const char *word),
                     const char *const *words, int n, const char *expected, char *err,
                     size_t errlen)
{
    const char *given = fq_cfg_given(s);
    char buf[16];
    fq_text_shown sh;
    int found = -1;
    if (fq_cfg_trim(given, buf, sizeof(buf)) < sizeof(buf)) {
        if (parse != NULL)
            found = parse(buf);
        for (int i = 0; found < 0 && i < n; i++)
            if (strcasecmp(buf, words[i]) == 0)
                found = i;
    }
    if (found < 0)
        fq_text_fail(err, errlen, "%s: must be %s, got %s", s->name, expected,
                     fq_config_show(&sh, given));
    return found;
}

int fq_cfg_read_limit_scope(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                            size_t errlen)
{
    (void)needs;
    int scope = read_word(s, fq_limit_scope_parse, NULL, 0, "model (each model limited on its "
                          "own) or key (one limit for all)", err, errlen);
    cfg->limit_scope = (fq_limit_scope)scope;
    return scope < 0 ? -1 : 0;
}

int fq_cfg_read_model_limits(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                             size_t errlen)
{
    (void)needs;
    const char *v = fq_cfg_env(s->name);
    char why[256];
    if (v != NULL && fq_model_limits_parse(v, cfg->model_limits, FQ_MODEL_LIMITS_MAX,
                                           &cfg->n_model_limits, why, sizeof(why)) != 0)
        return fq_text_fail(err, errlen, "FLEETQ_MODEL_LIMITS: %s", why);
    return 0;
}

int fq_cfg_read_on_budget(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                          size_t errlen)
{
    (void)needs;
    static const char *const words[] = {[FQ_ON_BUDGET_WAIT] = "wait",
                                        [FQ_ON_BUDGET_FAIL] = "fail"};
    int found = read_word(s, NULL, words, 2, "wait or fail", err, errlen);
    cfg->on_budget = (fq_on_budget)found;
    return found < 0 ? -1 : 0;
}

int fq_cfg_read_log_level(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                          size_t errlen)
{
    (void)needs;
    cfg->log_level = read_word(s, fq_log_level_parse, NULL, 0, "debug, info, warn or error", err,
                               errlen);
    return cfg->log_level < 0 ? -1 : 0;
}

int fq_cfg_read_cache(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                      size_t errlen)
{
    (void)needs;
    static const char *const modes[] = {[FQ_CACHE_OFF] = "off", [FQ_CACHE_AUTO] = "auto",
                                        [FQ_CACHE_ON] = "on"};
    int found = read_word(s, NULL, modes, 3, "off, auto (cache answers to temperature 0 only) "
                          "or on", err, errlen);
    cfg->cache = (fq_cache_mode)found;
    return found < 0 ? -1 : 0;
}

/* FLEETQ_MAX_SUBMISSION_BYTES, kept as a size. */
int fq_cfg_read_submission_bytes(fq_config *cfg, const fq_setting *s, unsigned needs,
                                 char *err, size_t errlen)
{
    (void)needs;
    int64_t x;
    if (fq_cfg_read_row(s, &x, err, errlen) != 0)
        return -1;
    cfg->max_submission_bytes = (size_t)x;
    return 0;
}

/* FLEETQ_CACHE_MAX_MB, kept in bytes. */
int fq_cfg_read_cache_max(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                          size_t errlen)
{
    (void)needs;
    int64_t x;
    if (fq_cfg_read_row(s, &x, err, errlen) != 0)
        return -1;
    cfg->cache_max_bytes = x << 20;
    return 0;
}

/* FLEETQ_BACKOFF_MAX_MS: at least FLEETQ_BACKOFF_BASE_MS (read before it),
 * which is also the default when larger than the row's. */
int fq_cfg_read_backoff_max(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                            size_t errlen)
{
    (void)needs;
    const char *v = fq_cfg_env(s->name);
    int base = cfg->backoff_base_ms, x;
    fq_text_shown sh;
    if (v == NULL) {
        int def = (int)strtol(fq_setting_default(s, -1), NULL, 10);
        cfg->backoff_max_ms = base > def ? base : def;
        return 0;
    }
    if (fq_cfg_read_row(s, &x, err, errlen) != 0)
        return -1;
    if (x < base)
        return fq_text_fail(err, errlen,
                            "FLEETQ_BACKOFF_MAX_MS: must be at least "
                            "FLEETQ_BACKOFF_BASE_MS (%d), got %s",
                            base, fq_config_show(&sh, v));
    cfg->backoff_max_ms = x;
    return 0;
}

/* A row whose value a parser of its own reads (over a table of the whole
 * process): its error line is the variable's name and the parser's reason. */
static int read_by_parser(const fq_setting *s, int (*parse)(const char *v, char *why, size_t len),
                          char *err, size_t errlen)
{
    const char *v = fq_cfg_env(s->name);
    char why[256];
    if (v != NULL && parse(v, why, sizeof(why)) != 0)
        return fq_text_fail(err, errlen, "%s: %s", s->name, why);
    return 0;
}

/* FLEETQ_PRICES: over cost.c's table, for the whole process. */
int fq_cfg_read_prices(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                       size_t errlen)
{
    (void)cfg;
    (void)needs;
    return read_by_parser(s, fq_cost_override, err, errlen);
}

/* FLEETQ_MODEL_PARAMS: over model_params.c's table, for the whole process. */
int fq_cfg_read_model_params(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                             size_t errlen)
{
    (void)cfg;
    (void)needs;
    return read_by_parser(s, fq_model_params_override, err, errlen);
}
