/* stats.c -- the mock's counters behind one mutex.
 *
 * "requests" counts every POST to /v1/chat/completions; "status" counts
 * final HTTP statuses of those (a reset connection has none and a hang whose
 * client left has none); "ok" counts well-formed 200s, while truncated 200s
 * count under status "200" and faults.truncated, and streams that end in an
 * error event under status "200" and faults.stream_error. Tokens and
 * spend_ticks sum over every billed 200, truncated ones included, because
 * the provider bills a call whose answer got lost on the way, but not the
 * streams that end in an error (the provider failed). They count the usage
 * of answers sent without one (the setting usage off) all the same.
 * "request_too_large" counts the requests refused before the rate limits
 * for asking more tokens than request_token_limit. "models" counts admitted
 * requests per model; "by_model" has more per model: requests that reached
 * the rate limits (= admitted + rate_limited), those refused by a limit
 * (its own or the key's; rate_limited_tokens of them by a token limit),
 * and the prompt+completion+reasoning tokens billed.
 */
#include "mock_stats.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define STATUS_SLOTS 600

struct model_counters {
    int64_t requests, admitted, rate_limited, rate_limited_tokens, tokens;
};

struct counters {
    int64_t requests, admitted, ok, rate_limited, auth_failures;
    int64_t request_too_large;
    int64_t reset, hang, truncated, server_error, stream_error;
    int64_t prompt, completion, reasoning, cached, spend;
    int64_t max_concurrent;
    int64_t status[STATUS_SLOTS];
    struct model_counters models[MOCK_MODEL_SLOTS];
};

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct counters stats;
static int64_t inflight;

void mock_stats_begin(void)
{
    pthread_mutex_lock(&stats_lock);
    stats.requests++;
    inflight++;
    if (inflight > stats.max_concurrent) stats.max_concurrent = inflight;
    pthread_mutex_unlock(&stats_lock);
}

void mock_stats_end(void)
{
    pthread_mutex_lock(&stats_lock);
    if (inflight > 0) inflight--;
    pthread_mutex_unlock(&stats_lock);
}

void mock_stats_status(int status)
{
    pthread_mutex_lock(&stats_lock);
    if (status >= 100 && status < STATUS_SLOTS) stats.status[status]++;
    pthread_mutex_unlock(&stats_lock);
}

void mock_stats_auth_failure(void)
{
    pthread_mutex_lock(&stats_lock);
    stats.auth_failures++;
    pthread_mutex_unlock(&stats_lock);
}

static struct model_counters *counters_of(const mock_model *m)
{
    return &stats.models[mock_prices_index(m)];
}

void mock_stats_model_request(const mock_model *m)
{
    pthread_mutex_lock(&stats_lock);
    counters_of(m)->requests++;
    pthread_mutex_unlock(&stats_lock);
}

void mock_stats_rate_limited(const mock_model *m, int tokens)
{
    pthread_mutex_lock(&stats_lock);
    stats.rate_limited++;
    counters_of(m)->rate_limited++;
    if (tokens) counters_of(m)->rate_limited_tokens++;
    pthread_mutex_unlock(&stats_lock);
}

void mock_stats_request_too_large(void)
{
    pthread_mutex_lock(&stats_lock);
    stats.request_too_large++;
    pthread_mutex_unlock(&stats_lock);
}

void mock_stats_admitted(const mock_model *m)
{
    pthread_mutex_lock(&stats_lock);
    stats.admitted++;
    counters_of(m)->admitted++;
    pthread_mutex_unlock(&stats_lock);
}

void mock_stats_fault(mock_fault f)
{
    pthread_mutex_lock(&stats_lock);
    switch (f) {
    case MOCK_FAULT_RESET: stats.reset++; break;
    case MOCK_FAULT_HANG: stats.hang++; break;
    case MOCK_FAULT_SERVER_ERROR: stats.server_error++; break;
    case MOCK_FAULT_TRUNCATE: stats.truncated++; break;
    case MOCK_FAULT_STREAM_ERROR: stats.stream_error++; break;
    case MOCK_FAULT_NONE: break;
    }
    pthread_mutex_unlock(&stats_lock);
}

void mock_stats_billed(const mock_model *m, int ok, int64_t prompt, int64_t completion,
                       int64_t reasoning, int64_t cached, int64_t ticks)
{
    pthread_mutex_lock(&stats_lock);
    if (ok) stats.ok++;
    counters_of(m)->tokens += prompt + completion + reasoning;
    stats.prompt += prompt;
    stats.completion += completion;
    stats.reasoning += reasoning;
    stats.cached += cached;
    stats.spend += ticks;
    pthread_mutex_unlock(&stats_lock);
}

int64_t mock_stats_spend(void)
{
    pthread_mutex_lock(&stats_lock);
    int64_t n = stats.spend;
    pthread_mutex_unlock(&stats_lock);
    return n;
}

static int add_num(cJSON *obj, const char *name, int64_t v)
{
    return cJSON_AddNumberToObject(obj, name, (double)v) ? 0 : -1;
}

static int add_model_counters(cJSON *by_model, const char *id, const struct model_counters *m)
{
    cJSON *obj = cJSON_AddObjectToObject(by_model, id);
    if (!obj) return -1;
    if (add_num(obj, "requests", m->requests) != 0) return -1;
    if (add_num(obj, "admitted", m->admitted) != 0) return -1;
    if (add_num(obj, "rate_limited", m->rate_limited) != 0) return -1;
    if (add_num(obj, "rate_limited_tokens", m->rate_limited_tokens) != 0) return -1;
    return add_num(obj, "tokens", m->tokens);
}

cJSON *mock_stats_json(void)
{
    pthread_mutex_lock(&stats_lock);
    struct counters s = stats;
    int64_t now_inflight = inflight;
    pthread_mutex_unlock(&stats_lock);

    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    if (add_num(root, "requests", s.requests) != 0) goto err;
    if (add_num(root, "admitted", s.admitted) != 0) goto err;
    cJSON *status = cJSON_AddObjectToObject(root, "status");
    if (!status) goto err;
    for (int i = 0; i < STATUS_SLOTS; i++) {
        if (s.status[i] == 0) continue;
        char name[8];
        snprintf(name, sizeof(name), "%d", i);
        if (add_num(status, name, s.status[i]) != 0) goto err;
    }
    if (add_num(root, "ok", s.ok) != 0) goto err;
    if (add_num(root, "rate_limited", s.rate_limited) != 0) goto err;
    if (add_num(root, "request_too_large", s.request_too_large) != 0) goto err;
    cJSON *faults = cJSON_AddObjectToObject(root, "faults");
    if (!faults) goto err;
    if (add_num(faults, "reset", s.reset) != 0) goto err;
    if (add_num(faults, "hang", s.hang) != 0) goto err;
    if (add_num(faults, "truncated", s.truncated) != 0) goto err;
    if (add_num(faults, "server_error", s.server_error) != 0) goto err;
    if (add_num(faults, "stream_error", s.stream_error) != 0) goto err;
    if (add_num(root, "auth_failures", s.auth_failures) != 0) goto err;
    if (add_num(root, "prompt_tokens", s.prompt) != 0) goto err;
    if (add_num(root, "completion_tokens", s.completion) != 0) goto err;
    if (add_num(root, "reasoning_tokens", s.reasoning) != 0) goto err;
    if (add_num(root, "cached_tokens", s.cached) != 0) goto err;
    if (add_num(root, "spend_ticks", s.spend) != 0) goto err;
    if (add_num(root, "max_concurrent", s.max_concurrent) != 0) goto err;
    if (add_num(root, "inflight", now_inflight) != 0) goto err;
    cJSON *models = cJSON_AddObjectToObject(root, "models");
    if (!models) goto err;
    cJSON *by_model = cJSON_AddObjectToObject(root, "by_model");
    if (!by_model) goto err;
    for (size_t i = 0; i < mock_prices_count(); i++) {
        const char *id = mock_prices_at(i)->id;
        if (add_num(models, id, s.models[i].admitted) != 0) goto err;
        if (add_model_counters(by_model, id, &s.models[i]) != 0) goto err;
    }
    return root;
err:
    cJSON_Delete(root);
    return NULL;
}

void mock_stats_reset(void)
{
    pthread_mutex_lock(&stats_lock);
    memset(&stats, 0, sizeof(stats));
    stats.max_concurrent = inflight;
    pthread_mutex_unlock(&stats_lock);
}
