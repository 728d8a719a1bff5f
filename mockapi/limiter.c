/* limiter.c -- the key's and each model's windows of admitted requests and
 * answered tokens.
 *
 * Every model has windows whether or not it has limits of its own, so that
 * its max_in_window is known and limits set later through /mock/config see
 * the recent past at once. A request is admitted when, in the key's window
 * and (if the model has limits of its own) in the model's, fewer than the
 * effective request limit were admitted in the last window_ms and the
 * tokens answered plus this prompt stay within the token limit (an empty
 * token window always admits). Request limits are checked before token
 * limits, and the model's before the key's. With count_refused, requests
 * refused for a request limit enter both request windows as well, as on
 * providers that count unsuccessful requests. max_in_window is updated on
 * each admission, which is when the count of any window can grow, so it is
 * the true maximum over all windows (of admitted requests; with
 * count_refused, of all requests). Window length and limits come from the
 * caller's copy of the settings, so changes through /mock/config apply at
 * once.
 */
#include "mock_limiter.h"

#include <math.h>
#include <pthread.h>

#include "mock_faults.h"
#include "mock_series.h"

/* The windows of the key, or of one model. Zeroed = empty, no noise drawn. */
struct window {
    mock_series requests, tokens;
    long max_in_window;
    int noise_drawn;        /* 1: noise_factor holds since noise_epoch */
    int64_t noise_epoch;
    double noise_factor;
};

static pthread_mutex_t limiter_lock = PTHREAD_MUTEX_INITIALIZER;
static struct window key_window;
static struct window model_windows[MOCK_MODEL_SLOTS];

static struct window *window_of(const mock_model *m)
{
    return &model_windows[mock_prices_index(m)];
}

static void window_prune(struct window *w, const mock_config *cfg, int64_t now_ms)
{
    mock_series_prune(&w->requests, now_ms - cfg->window_ms);
    mock_series_prune(&w->tokens, now_ms - cfg->window_ms);
}

/* The limit in force now in w, with noise; call with the lock held. */
static long effective(struct window *w, const mock_config *cfg, int64_t now_ms, long limit)
{
    if (cfg->rate_noise <= 0.0) return limit;
    if (!w->noise_drawn || now_ms - w->noise_epoch >= cfg->window_ms) {
        w->noise_drawn = 1;
        w->noise_epoch = now_ms;
        w->noise_factor = 1.0 + cfg->rate_noise * (2.0 * mock_rand_unit() - 1.0);
    }
    long n = lround((double)limit * w->noise_factor);
    return n < 1 ? 1 : n;
}

/* 1 when w's request limit (0 = none) refuses one more request now, with
 * hit filled in; else 0. */
static int refuses_request(struct window *w, const mock_config *cfg, int64_t now_ms,
                           long limit, int per_model, mock_limit_hit *hit)
{
    if (limit <= 0) return 0;
    long allowed = effective(w, cfg, now_ms, limit);
    if (w->requests.sum < allowed) return 0;
    hit->per_model = per_model;
    hit->limit = allowed;
    hit->used = (long)w->requests.sum;
    hit->requested = 1;
    hit->retry_ms = (long)mock_series_wait(&w->requests, w->requests.sum - allowed + 1,
                                           cfg->window_ms, now_ms);
    return 1;
}

/* 1 when w's token limit (0 = none) refuses a prompt of this size now,
 * with hit filled in; else 0. */
static int refuses_tokens(struct window *w, const mock_config *cfg, int64_t now_ms,
                          long limit, int per_model, int64_t prompt, mock_limit_hit *hit)
{
    if (limit <= 0 || w->tokens.sum == 0) return 0;
    long allowed = effective(w, cfg, now_ms, limit);
    if (w->tokens.sum + prompt <= allowed) return 0;
    hit->per_model = per_model;
    hit->limit = allowed;
    hit->used = (long)w->tokens.sum;
    hit->requested = (long)prompt;
    hit->retry_ms = (long)mock_series_wait(&w->tokens, w->tokens.sum + prompt - allowed,
                                           cfg->window_ms, now_ms);
    return 1;
}

/* Records one request in the model's and the key's request windows. */
static int record_request(struct window *model, int64_t now_ms)
{
    if (mock_series_push(&model->requests, now_ms, 1) != 0) return -1;
    return mock_series_push(&key_window.requests, now_ms, 1);
}

static void note_maximum(struct window *w)
{
    if (w->requests.sum > w->max_in_window) w->max_in_window = (long)w->requests.sum;
}

int mock_limiter_admit(const mock_config *cfg, const mock_model *m, int64_t now_ms,
                       int64_t prompt_tokens, mock_limit_hit *hit)
{
    const mock_model_limit *own = mock_model_limits_of(&cfg->model_limits, m);
    struct window *mw = window_of(m);
    int rc = MOCK_LIMIT_OK;

    pthread_mutex_lock(&limiter_lock);
    window_prune(&key_window, cfg, now_ms);
    window_prune(mw, cfg, now_ms);
    if ((own && refuses_request(mw, cfg, now_ms, own->rate, 1, hit)) ||
        refuses_request(&key_window, cfg, now_ms, cfg->rate_limit, 0, hit)) {
        rc = MOCK_LIMIT_REQUESTS;
        if (cfg->count_refused && record_request(mw, now_ms) != 0) rc = MOCK_LIMIT_NOMEM;
    } else if ((own && refuses_tokens(mw, cfg, now_ms, own->tokens, 1, prompt_tokens, hit)) ||
               refuses_tokens(&key_window, cfg, now_ms, cfg->token_limit, 0, prompt_tokens,
                              hit)) {
        rc = MOCK_LIMIT_TOKENS;
    } else if (record_request(mw, now_ms) != 0) {
        rc = MOCK_LIMIT_NOMEM;
    } else {
        note_maximum(&key_window);
        note_maximum(mw);
    }
    pthread_mutex_unlock(&limiter_lock);
    return rc;
}

int mock_limiter_charge(const mock_config *cfg, const mock_model *m, int64_t now_ms,
                        int64_t tokens)
{
    struct window *mw = window_of(m);
    pthread_mutex_lock(&limiter_lock);
    window_prune(&key_window, cfg, now_ms);
    window_prune(mw, cfg, now_ms);
    int rc = mock_series_push(&mw->tokens, now_ms, tokens);
    if (rc == 0) rc = mock_series_push(&key_window.tokens, now_ms, tokens);
    pthread_mutex_unlock(&limiter_lock);
    return rc;
}

static long remaining(long advertised, int64_t used)
{
    return advertised > used ? advertised - (long)used : 0;
}

void mock_limiter_view(const mock_config *cfg, const mock_model *m, int64_t now_ms,
                       mock_limit_view *out)
{
    const mock_model_limit *own = mock_model_limits_of(&cfg->model_limits, m);
    struct window *mw = window_of(m);
    int own_rate = own && own->rate > 0, own_tokens = own && own->tokens > 0;

    out->limit_requests = own_rate ? 2 * own->rate
                        : cfg->advertised_limit >= 0 ? cfg->advertised_limit
                        : cfg->rate_limit > 0 ? 2 * cfg->rate_limit : 480;
    out->limit_tokens = own_tokens ? 2 * own->tokens
                      : cfg->token_limit > 0 ? 2 * cfg->token_limit : 2000000;
    pthread_mutex_lock(&limiter_lock);
    window_prune(&key_window, cfg, now_ms);
    window_prune(mw, cfg, now_ms);
    const mock_series *requests = &(own_rate ? mw : &key_window)->requests;
    const mock_series *tokens = &(own_tokens ? mw : &key_window)->tokens;
    out->remaining_requests = remaining(out->limit_requests, requests->sum);
    out->remaining_tokens = remaining(out->limit_tokens, tokens->sum);
    out->reset_requests_ms = (long)mock_series_wait(requests, requests->sum, cfg->window_ms,
                                                    now_ms);
    out->reset_tokens_ms = (long)mock_series_wait(tokens, tokens->sum, cfg->window_ms, now_ms);
    pthread_mutex_unlock(&limiter_lock);
}

long mock_limiter_max_in_window(void)
{
    pthread_mutex_lock(&limiter_lock);
    long n = key_window.max_in_window;
    pthread_mutex_unlock(&limiter_lock);
    return n;
}

long mock_limiter_model_max_in_window(const mock_model *m)
{
    pthread_mutex_lock(&limiter_lock);
    long n = window_of(m)->max_in_window;
    pthread_mutex_unlock(&limiter_lock);
    return n;
}

static void window_clear(struct window *w)
{
    mock_series_clear(&w->requests);
    mock_series_clear(&w->tokens);
    w->max_in_window = 0;
    w->noise_drawn = 0;
}

static void window_free(struct window *w)
{
    mock_series_free(&w->requests);
    mock_series_free(&w->tokens);
}

void mock_limiter_reset(void)
{
    pthread_mutex_lock(&limiter_lock);
    window_clear(&key_window);
    for (size_t i = 0; i < MOCK_MODEL_SLOTS; i++) window_clear(&model_windows[i]);
    pthread_mutex_unlock(&limiter_lock);
}

void mock_limiter_cleanup(void)
{
    pthread_mutex_lock(&limiter_lock);
    window_free(&key_window);
    for (size_t i = 0; i < MOCK_MODEL_SLOTS; i++) window_free(&model_windows[i]);
    pthread_mutex_unlock(&limiter_lock);
}
