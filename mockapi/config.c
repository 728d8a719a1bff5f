/* config.c -- the shared settings: defaults, checks, and runtime changes.
 *
 * The settings live in one static mock_config behind a mutex. Readers copy
 * the whole struct out; writers build a complete new struct, check it, and
 * copy it in, so every update is atomic. POST /mock/config is applied by
 * walking a table of setting names, each with its kind and limits, against
 * a copy of the current settings; any unknown name or bad value rejects the
 * whole update.
 */
#include "mock_config.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static mock_config config_shared;

void mock_config_defaults(mock_config *c)
{
    memset(c, 0, sizeof(*c));
    c->hang_ms = 600000;
    c->window_ms = 60000;
    c->advertised_limit = -1;
    c->credits_status = 403;
    c->rate_headers = MOCK_STYLE_AUTO;
    c->stream_error_status = 500;
    c->auth = 1;
    mock_model_list_all(&c->models);
    c->models_endpoint = 1;
    c->usage = 1;
    c->reasoning_tokens = -1;
    c->completion_tokens = -1;
    c->cost_ticks = 1;
}

int mock_config_parse_style(const char *name, int *style)
{
    if (strcmp(name, "xai") == 0) *style = MOCK_STYLE_XAI;
    else if (strcmp(name, "openai") == 0) *style = MOCK_STYLE_OPENAI;
    else return -1;
    return 0;
}

int mock_config_parse_header_style(const char *name, int *style)
{
    if (strcmp(name, "auto") != 0) return mock_config_parse_style(name, style);
    *style = MOCK_STYLE_AUTO;
    return 0;
}

int mock_config_header_style(const mock_config *c)
{
    return c->rate_headers == MOCK_STYLE_AUTO ? c->error_style : c->rate_headers;
}

int mock_config_stream_status_known(int status)
{
    return status == 429 || status == 500 || status == 503;
}

int mock_config_check(const mock_config *c, char *err, size_t errlen)
{
    const char *bad = NULL;

    if (c->latency_ms < 0) bad = "latency_ms must be 0 or more";
    else if (c->jitter_ms < 0) bad = "jitter_ms must be 0 or more";
    else if (c->stream_chunk_ms < 0) bad = "stream_chunk_ms must be 0 or more";
    else if (c->hang_ms < 0) bad = "hang_ms must be 0 or more";
    else if (c->rate_limit < 0) bad = "rate_limit must be 0 (off) or more";
    else if (c->window_ms < 1) bad = "window_ms must be at least 1";
    else if (c->advertised_limit < -1) bad = "advertised_limit must be 0 or more";
    else if (!(c->rate_noise >= 0.0 && c->rate_noise <= 0.5))
        bad = "rate_noise must be between 0 and 0.5";
    else if (c->token_limit < 0) bad = "token_limit must be 0 (off) or more";
    else if (c->request_token_limit < 0) bad = "request_token_limit must be 0 (off) or more";
    else if (!(c->fail_rate >= 0.0 && c->fail_rate <= 1.0))
        bad = "fail_rate must be between 0 and 1";
    else if (!(c->hang_rate >= 0.0 && c->hang_rate <= 1.0))
        bad = "hang_rate must be between 0 and 1";
    else if (!(c->reset_rate >= 0.0 && c->reset_rate <= 1.0))
        bad = "reset_rate must be between 0 and 1";
    else if (!(c->truncate_rate >= 0.0 && c->truncate_rate <= 1.0))
        bad = "truncate_rate must be between 0 and 1";
    else if (!(c->stream_error_rate >= 0.0 && c->stream_error_rate <= 1.0))
        bad = "stream_error_rate must be between 0 and 1";
    else if (c->fail_rate + c->hang_rate + c->reset_rate + c->truncate_rate +
             c->stream_error_rate > 1.0 + 1e-9)
        bad = "fail_rate + hang_rate + reset_rate + truncate_rate + stream_error_rate must add "
              "up to at most 1";
    else if (!mock_config_stream_status_known(c->stream_error_status))
        bad = "stream_error_status must be 429, 500 or 503";
    else if (c->credits_ticks < 0) bad = "credits_usd must be 0 (unlimited) or more";
    else if (c->credits_status != 403 && c->credits_status != 429)
        bad = "credits_status must be 403 or 429";
    else if (c->reasoning_tokens < -1) bad = "reasoning_tokens must be 0 or more";
    else if (c->completion_tokens < -1) bad = "completion_tokens must be 0 or more";
    if (bad) {
        snprintf(err, errlen, "%s", bad);
        return -1;
    }
    return 0;
}

void mock_config_set(const mock_config *c)
{
    pthread_mutex_lock(&config_lock);
    config_shared = *c;
    pthread_mutex_unlock(&config_lock);
}

void mock_config_get(mock_config *out)
{
    pthread_mutex_lock(&config_lock);
    *out = config_shared;
    pthread_mutex_unlock(&config_lock);
}

/* ---------------------------------------------------------------------
 * Runtime changes from JSON
 * ------------------------------------------------------------------- */

enum setting_kind {
    SET_LONG,        /* integer >= 0 */
    SET_LONG_AUTO,   /* integer >= 0, or null / -1 for "automatic" */
    SET_RATE,        /* number */
    SET_BOOL,        /* true/false or 0/1 */
    SET_KEY,         /* string, or null / "" for "any key" */
    SET_USD,         /* number of dollars, stored as ticks */
    SET_STATUS,      /* an HTTP status (mock_config_check says which ones) */
    SET_STYLE,       /* "xai" or "openai" */
    SET_HEADER_STYLE,/* "auto", "xai" or "openai" */
    SET_MODEL_LIMITS,/* a per-model SPEC string, or null / "" for none */
    SET_MODEL_LIST   /* a comma list of models, or null / "" for all */
};

struct setting {
    const char *name;
    enum setting_kind kind;
    size_t offset;
};

#define SETTING(n, k) { #n, k, offsetof(mock_config, n) }

static const struct setting settings[] = {
    { "key", SET_KEY, offsetof(mock_config, key) },
    SETTING(latency_ms, SET_LONG),
    SETTING(jitter_ms, SET_LONG),
    SETTING(stream_chunk_ms, SET_LONG),
    SETTING(hang_ms, SET_LONG),
    SETTING(rate_limit, SET_LONG),
    SETTING(window_ms, SET_LONG),
    SETTING(advertised_limit, SET_LONG_AUTO),
    SETTING(rate_noise, SET_RATE),
    SETTING(count_refused, SET_BOOL),
    SETTING(token_limit, SET_LONG),
    SETTING(request_token_limit, SET_LONG),
    SETTING(model_limits, SET_MODEL_LIMITS),
    SETTING(error_style, SET_STYLE),
    SETTING(rate_headers, SET_HEADER_STYLE),
    SETTING(fail_rate, SET_RATE),
    SETTING(hang_rate, SET_RATE),
    SETTING(reset_rate, SET_RATE),
    SETTING(truncate_rate, SET_RATE),
    SETTING(stream_error_rate, SET_RATE),
    SETTING(stream_error_status, SET_STATUS),
    { "credits_usd", SET_USD, offsetof(mock_config, credits_ticks) },
    SETTING(credits_status, SET_STATUS),
    SETTING(quota_exhausted, SET_BOOL),
    SETTING(blocked, SET_BOOL),
    SETTING(auth, SET_BOOL),
    SETTING(models, SET_MODEL_LIST),
    SETTING(models_endpoint, SET_BOOL),
    SETTING(reasoning_tokens, SET_LONG_AUTO),
    SETTING(completion_tokens, SET_LONG_AUTO),
    SETTING(usage, SET_BOOL),
    SETTING(cost_ticks, SET_BOOL),
    SETTING(verbose, SET_BOOL),
};

/* Reads a whole number in [min, 1e12] from a JSON number. */
static int json_whole(const cJSON *v, double min, long *out)
{
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= min && d <= 1e12) || d != floor(d)) return -1;
    *out = (long)d;
    return 0;
}

static int apply_one(mock_config *c, const struct setting *s, const cJSON *v,
                     char *err, size_t errlen)
{
    void *field = (char *)c + s->offset;
    long n = 0;

    switch (s->kind) {
    case SET_LONG:
        if (json_whole(v, 0, &n) != 0) goto bad;
        *(long *)field = n;
        return 0;
    case SET_LONG_AUTO:
        if (cJSON_IsNull(v)) n = -1;
        else if (json_whole(v, -1, &n) != 0) goto bad;
        *(long *)field = n;
        return 0;
    case SET_RATE:
        if (!cJSON_IsNumber(v)) goto bad;
        *(double *)field = v->valuedouble;
        return 0;
    case SET_BOOL:
        if (cJSON_IsBool(v)) n = cJSON_IsTrue(v);
        else if (json_whole(v, 0, &n) != 0 || n > 1) goto bad;
        *(int *)field = (int)n;
        return 0;
    case SET_KEY:
        if (cJSON_IsNull(v)) {
            *(char *)field = '\0';
            return 0;
        }
        if (!cJSON_IsString(v) || strlen(v->valuestring) >= MOCK_KEY_MAX) goto bad;
        memcpy(field, v->valuestring, strlen(v->valuestring) + 1);
        return 0;
    case SET_USD:
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1e8)) goto bad;
        *(int64_t *)field = (int64_t)llround(v->valuedouble * (double)MOCK_TICKS_PER_USD);
        return 0;
    case SET_STATUS:
        if (json_whole(v, 0, &n) != 0 || n > 999) goto bad;
        *(int *)field = (int)n;
        return 0;
    case SET_STYLE:
        if (!cJSON_IsString(v) || mock_config_parse_style(v->valuestring, field) != 0) {
            snprintf(err, errlen, "setting \"%s\" must be \"xai\" or \"openai\"", s->name);
            return -1;
        }
        return 0;
    case SET_HEADER_STYLE:
        if (!cJSON_IsString(v) || mock_config_parse_header_style(v->valuestring, field) != 0) {
            snprintf(err, errlen, "setting \"%s\" must be \"auto\", \"xai\" or \"openai\"",
                     s->name);
            return -1;
        }
        return 0;
    case SET_MODEL_LIMITS:
    case SET_MODEL_LIST: {
        char why[200];
        const char *text = cJSON_IsNull(v) ? "" : cJSON_IsString(v) ? v->valuestring : NULL;
        if (!text) goto bad;
        int rc = s->kind == SET_MODEL_LIMITS
                     ? mock_model_limits_parse(text, field, why, sizeof(why))
                     : mock_model_list_parse(text, field, why, sizeof(why));
        if (rc != 0) {
            snprintf(err, errlen, "setting \"%s\": %s", s->name, why);
            return -1;
        }
        return 0;
    }
    }
bad:
    snprintf(err, errlen, "setting \"%s\" has a value of the wrong type or range", s->name);
    return -1;
}

int mock_config_apply_json(const cJSON *obj, char *err, size_t errlen)
{
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "send a JSON object of settings, e.g. {\"rate_limit\": 5}");
        return -1;
    }
    pthread_mutex_lock(&config_lock);
    mock_config next = config_shared;
    const cJSON *v;
    cJSON_ArrayForEach(v, obj) {
        const struct setting *s = NULL;
        for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
            if (v->string && strcmp(v->string, settings[i].name) == 0) {
                s = &settings[i];
                break;
            }
        }
        if (!s) {
            snprintf(err, errlen, "unknown setting \"%.64s\"", v->string ? v->string : "");
            goto fail;
        }
        if (apply_one(&next, s, v, err, errlen) != 0) goto fail;
    }
    if (mock_config_check(&next, err, errlen) != 0) goto fail;
    config_shared = next;
    pthread_mutex_unlock(&config_lock);
    return 0;
fail:
    pthread_mutex_unlock(&config_lock);
    return -1;
}
