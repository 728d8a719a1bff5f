/* mock_config.h -- the mock's settings, shared by every request thread.
 *
 * One process-wide mock_config holds everything the command line and
 * POST /mock/config may change. Request handlers take a private copy at
 * the start of each request (mock_config_get), so a change made while a
 * request runs takes effect from the next request on and a handler never
 * sees half of an update.
 */
#ifndef MOCK_CONFIG_H
#define MOCK_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "mock_model_limits.h"
#include "mock_model_list.h"

#define MOCK_KEY_MAX 512
#define MOCK_TICKS_PER_USD 10000000000LL

/* Whose words and shape error bodies take. */
enum {
    MOCK_STYLE_XAI = 0,      /* {"code": "...", "error": "..."} */
    MOCK_STYLE_OPENAI = 1,   /* {"error": {"message", "type", "param", "code"}} */
    MOCK_STYLE_AUTO = -1     /* rate_headers only: follow error_style */
};

typedef struct mock_config {
    char key[MOCK_KEY_MAX];   /* expected Bearer key; "" accepts any non-empty one */
    long latency_ms;          /* added to every answered call */
    long jitter_ms;           /* uniform extra 0..jitter_ms */
    long stream_chunk_ms;     /* pause before each streamed chunk after the first */
    long hang_ms;             /* how long a hang fault sleeps */
    long rate_limit;          /* true requests per window for the key; 0 = off */
    long window_ms;           /* sliding window length */
    long advertised_limit;    /* x-ratelimit-limit-requests; -1 = automatic */
    double rate_noise;        /* 0..0.5: true limit wobbles by +-this share */
    int count_refused;        /* 1: refused requests count towards the window */
    long token_limit;         /* true tokens per window for the key; 0 = off */
    mock_model_limits model_limits;  /* each listed model's own true limits */
    long request_token_limit; /* a request's prompt + max_tokens above it: 429; 0 = off */
    int error_style;          /* MOCK_STYLE_XAI or MOCK_STYLE_OPENAI */
    int rate_headers;         /* whose x-ratelimit-* set: MOCK_STYLE_*, AUTO = error_style's */
    double fail_rate;         /* share answered 500/502/503 */
    double hang_rate;         /* share that sleeps hang_ms first */
    double reset_rate;        /* share closed without an answer */
    double truncate_rate;     /* share answered with a cut body */
    double stream_error_rate; /* share of streamed calls ending in an error event */
    int stream_error_status;  /* the status that event stands for: 429, 500 or 503 */
    int64_t credits_ticks;    /* spending limit in ticks; 0 = unlimited */
    int credits_status;       /* 403 or 429 */
    int quota_exhausted;      /* 1: credits count as spent, whatever the spend */
    int blocked;              /* 1: the key is blocked */
    int auth;                 /* 0: no key is asked for (a key-less server) */
    mock_model_list models;   /* the models listed and accepted */
    int models_endpoint;      /* 0: GET /v1/models is a 404 */
    long reasoning_tokens;    /* forced reasoning tokens; -1 = random */
    long completion_tokens;   /* forced completion tokens; -1 = random */
    int usage;                /* 0: answers carry no usage object */
    int cost_ticks;           /* 1: usage carries cost_in_usd_ticks */
    int verbose;              /* 1: one JSON line per request on stderr */
} mock_config;

/* Reads "xai" or "openai" into *style. Returns 0, or -1 for anything else. */
int mock_config_parse_style(const char *name, int *style);

/* Reads "auto", "xai" or "openai" into *style (the rate_headers setting).
 * Returns 0, or -1 for anything else. */
int mock_config_parse_header_style(const char *name, int *style);

/* The style of the x-ratelimit-* headers under c: rate_headers, or
 * error_style when that is MOCK_STYLE_AUTO. */
int mock_config_header_style(const mock_config *c);

/* 1 when an error event inside a stream may stand for status (429, 500 or
 * 503: the setting stream_error_status). */
int mock_config_stream_status_known(int status);

/* Fills c with the built-in defaults. */
void mock_config_defaults(mock_config *c);

/* Checks that the values of c are consistent (ranges, rates adding up to at
 * most 1). Returns 0, or -1 with a reason naming the setting in err. */
int mock_config_check(const mock_config *c, char *err, size_t errlen);

/* Replaces the shared settings with a copy of c (which must pass
 * mock_config_check). */
void mock_config_set(const mock_config *c);

/* Copies the shared settings into out. */
void mock_config_get(mock_config *out);

/* Applies a JSON object of settings (the keys of POST /mock/config) all at
 * once: either every change is taken or none. Returns 0, or -1 with a reason
 * in err. */
int mock_config_apply_json(const cJSON *obj, char *err, size_t errlen);

#endif
