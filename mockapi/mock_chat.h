/* mock_chat.h -- one chat completion: checking the request, making up the
 * answer, and writing the OpenAI-compatible body.
 *
 * The checks and their messages follow xAI's: a body that is not a valid
 * chat request is a 400, an unknown model a 404, and a parameter the model
 * refuses (reasoning models take no penalties, stop or, except grok-3-mini,
 * reasoning_effort) a 400 naming the parameter in camelCase.
 */
#ifndef MOCK_CHAT_H
#define MOCK_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "mock_config.h"
#include "mock_model_list.h"
#include "mock_prices.h"

#define MOCK_DEFAULT_MAX_TOKENS 1024

typedef struct mock_chat_req {
    cJSON *root;               /* the parsed body (owned) */
    const mock_model *model;
    int stream;                /* "stream": true */
    long max_tokens;
    int64_t prompt_tokens;     /* sum of ceil(bytes/4) + 3 per message */
    uint64_t prefix_hash;      /* the system message, else the first one */
    uint64_t text_hash;        /* all message text: seeds the answer */
    const char *last_user;     /* text of the last user message, in root */
    size_t last_user_len;
    int plan;                  /* a system message asks for a plan (FQ_PLAN_MARK) */
} mock_chat_req;

typedef struct mock_chat_answer {
    char id[37];
    int64_t created;           /* unix seconds */
    int64_t prompt_tokens;
    int64_t completion_tokens;
    int64_t reasoning_tokens;
    int64_t cached_tokens;
    int64_t cost_ticks;
    int cut_at_max;            /* finish_reason "length" */
    char *content;             /* NUL-terminated, malloc'd */
    size_t content_len;
} mock_chat_answer;

/* Parses and checks a request body; a model that is not served is unknown
 * (404). Returns 0 with req filled (free it with mock_chat_req_free), or
 * the HTTP status to answer (400 or 404) with the message for the "error"
 * field in err; req then owns nothing. */
int mock_chat_parse(const char *body, size_t len, const mock_model_list *served,
                    mock_chat_req *req, char *err, size_t errlen);

void mock_chat_req_free(mock_chat_req *req);

/* Decides tokens, cache hits and cost and writes the content. Returns 0,
 * or -1 when out of memory. */
int mock_chat_answer_make(const mock_chat_req *req, const mock_config *cfg,
                          mock_chat_answer *a);

void mock_chat_answer_free(mock_chat_answer *a);

/* Adds the "usage" object of an answer to obj, as the settings shape it:
 * none with usage off, cost_in_usd_ticks only with cost_ticks on. Returns
 * 0, or -1 when out of memory. */
int mock_chat_add_usage(cJSON *obj, const mock_chat_answer *a, const mock_config *cfg);

/* The whole chat.completion body, printed; free with cJSON_free. NULL when
 * out of memory. */
char *mock_chat_body(const mock_chat_req *req, const mock_chat_answer *a,
                     const mock_config *cfg, size_t *len);

#endif
