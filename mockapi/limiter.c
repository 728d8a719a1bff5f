/* limiter.c -- sliding windows of admitted requests and answered tokens.
 *
 * Each window is a growable array of (time, amount) entries in time order
 * with a head index: entries older than the window are dropped from the
 * head, new ones appended at the tail, and the array is compacted when the
 * tail reaches its end. A request is admitted when fewer than the effective
 * limit were admitted in the last window_ms (and the tokens answered in the
 * window plus this prompt stay within the token limit; an empty token
 * window always admits). With count_refused, requests refused for the rate
 * enter the window as well, as on providers that count unsuccessful
 * requests. max_in_window is updated on each admission, which is when the
 * count of any window can grow, so it is the true maximum over all windows
 * (of admitted requests; with count_refused, of all requests). Window length and limits come from the caller's copy of the
 * settings, so changes through /mock/config apply at once.
 */
#include "mock_limiter.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mock_faults.h"

struct series {
    int64_t *at;      /* times, ms */
    int64_t *amount;  /* 1 per request, or tokens */
    size_t head, len, cap;
    int64_t sum;      /* sum of amount over live entries */
};

static pthread_mutex_t limiter_lock = PTHREAD_MUTEX_INITIALIZER;
static struct series requests, tokens;
static long max_in_window;
static int64_t noise_epoch = -1;
static double noise_factor = 1.0;

static void series_prune(struct series *s, int64_t cutoff)
{
    while (s->len > 0 && s->at[s->head] <= cutoff) {
        s->sum -= s->amount[s->head];
        s->head++;
        s->len--;
    }
    if (s->len == 0) s->head = 0;
}

static int series_push(struct series *s, int64_t at, int64_t amount)
{
    if (s->head + s->len == s->cap) {
        if (s->head > 0 && s->len <= s->cap / 2) {
            memmove(s->at, s->at + s->head, s->len * sizeof(*s->at));
            memmove(s->amount, s->amount + s->head, s->len * sizeof(*s->amount));
            s->head = 0;
        } else {
            size_t cap = s->cap ? s->cap * 2 : 256;
            int64_t *a = realloc(s->at, cap * sizeof(*a));
            if (!a) return -1;
            s->at = a;
            int64_t *b = realloc(s->amount, cap * sizeof(*b));
            if (!b) return -1;
            s->amount = b;
            s->cap = cap;
        }
    }
    s->at[s->head + s->len] = at;
    s->amount[s->head + s->len] = amount;
    s->len++;
    s->sum += amount;
    return 0;
}

static void series_free(struct series *s)
{
    free(s->at);
    free(s->amount);
    memset(s, 0, sizeof(*s));
}

/* The limit in force now, with noise; call with the lock held. */
static long effective(const mock_config *cfg, int64_t now_ms, long limit)
{
    if (cfg->rate_noise <= 0.0) return limit;
    if (noise_epoch < 0 || now_ms - noise_epoch >= cfg->window_ms) {
        noise_epoch = now_ms;
        noise_factor = 1.0 + cfg->rate_noise * (2.0 * mock_rand_unit() - 1.0);
    }
    long n = lround((double)limit * noise_factor);
    return n < 1 ? 1 : n;
}

int mock_limiter_admit(const mock_config *cfg, int64_t now_ms, int64_t prompt_tokens)
{
    int rc = MOCK_LIMIT_OK;
    pthread_mutex_lock(&limiter_lock);
    int64_t cutoff = now_ms - cfg->window_ms;
    series_prune(&requests, cutoff);
    series_prune(&tokens, cutoff);
    if (cfg->rate_limit > 0 &&
        requests.sum >= effective(cfg, now_ms, cfg->rate_limit)) {
        rc = MOCK_LIMIT_REQUESTS;
        if (cfg->count_refused && series_push(&requests, now_ms, 1) != 0) rc = MOCK_LIMIT_NOMEM;
    } else if (cfg->token_limit > 0 && tokens.sum > 0 &&
               tokens.sum + prompt_tokens > effective(cfg, now_ms, cfg->token_limit)) {
        rc = MOCK_LIMIT_TOKENS;
    } else if (series_push(&requests, now_ms, 1) != 0) {
        rc = MOCK_LIMIT_NOMEM;
    } else if (requests.sum > max_in_window) {
        max_in_window = (long)requests.sum;
    }
    pthread_mutex_unlock(&limiter_lock);
    return rc;
}

int mock_limiter_charge(const mock_config *cfg, int64_t now_ms, int64_t n)
{
    pthread_mutex_lock(&limiter_lock);
    series_prune(&tokens, now_ms - cfg->window_ms);
    int rc = series_push(&tokens, now_ms, n);
    pthread_mutex_unlock(&limiter_lock);
    return rc;
}

void mock_limiter_view(const mock_config *cfg, int64_t now_ms, mock_limit_view *out)
{
    pthread_mutex_lock(&limiter_lock);
    int64_t cutoff = now_ms - cfg->window_ms;
    series_prune(&requests, cutoff);
    series_prune(&tokens, cutoff);
    out->limit_requests = cfg->advertised_limit >= 0 ? cfg->advertised_limit
                        : cfg->rate_limit > 0 ? 2 * cfg->rate_limit : 480;
    out->limit_tokens = cfg->token_limit > 0 ? 2 * cfg->token_limit : 2000000;
    long used = (long)requests.sum;
    long toks = (long)tokens.sum;
    pthread_mutex_unlock(&limiter_lock);
    out->remaining_requests = out->limit_requests > used ? out->limit_requests - used : 0;
    out->remaining_tokens = out->limit_tokens > toks ? out->limit_tokens - toks : 0;
}

long mock_limiter_max_in_window(void)
{
    pthread_mutex_lock(&limiter_lock);
    long n = max_in_window;
    pthread_mutex_unlock(&limiter_lock);
    return n;
}

void mock_limiter_reset(void)
{
    pthread_mutex_lock(&limiter_lock);
    requests.head = requests.len = 0;
    requests.sum = 0;
    tokens.head = tokens.len = 0;
    tokens.sum = 0;
    max_in_window = 0;
    noise_epoch = -1;
    noise_factor = 1.0;
    pthread_mutex_unlock(&limiter_lock);
}

void mock_limiter_cleanup(void)
{
    pthread_mutex_lock(&limiter_lock);
    series_free(&requests);
    series_free(&tokens);
    pthread_mutex_unlock(&limiter_lock);
}
