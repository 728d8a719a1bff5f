/* chat.c -- checking a chat request and making up its answer.
 *
 * Parsing walks the body once: the model name, then every message (its
 * role and its content, a string or an array of parts whose "text" parts
 * count), summing prompt tokens as ceil(bytes / 4) + 3 per message and
 * hashing the text. The answer is deterministic for a given request text:
 * it starts with "Mock answer to: " and the first 40 bytes of the last user
 * message (cut at a character boundary, invalid UTF-8 replaced by '?'), and
 * goes on with English-like sentences picked by a generator seeded from the
 * text hash, until it is about 4 bytes per completion token long. Token
 * counts that are not forced by the settings come from the shared PRNG.
 * A plan request (a system message with FQ_PLAN_MARK, plan.h) is answered
 * with what follows "mock-plan:" in the user message, as it is, or else
 * with a plan of two code subtasks, each reviewed by quality. The answer's
 * JSON is written by chat_body.c.
 */
#include "mock_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mock_cache.h"
#include "mock_faults.h"
#include "plan.h"

/* ---------------------------------------------------------------------
 * Parsing and checks
 * ------------------------------------------------------------------- */

static int role_known(const char *r)
{
    static const char *const roles[] = { "system", "user", "assistant", "tool", "developer" };
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        if (strcmp(r, roles[i]) == 0) return 1;
    return 0;
}

/* Counts the text bytes of a content value and hashes them into *h; sets
 * *first_text to the first text seen. Returns 0, or -1 if the value is not
 * a string, null, or an array of typed parts. */
static int content_text(const cJSON *content, size_t *bytes, uint64_t *h,
                        const char **first_text, size_t *first_len)
{
    *bytes = 0;
    *first_text = NULL;
    *first_len = 0;
    if (cJSON_IsString(content)) {
        *bytes = strlen(content->valuestring);
        *h = mock_cache_hash(*h, content->valuestring, *bytes);
        *first_text = content->valuestring;
        *first_len = *bytes;
        return 0;
    }
    if (!cJSON_IsArray(content)) return -1;
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        if (!cJSON_IsObject(part) || !cJSON_IsString(type)) return -1;
        if (strcmp(type->valuestring, "text") != 0) continue;
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(text)) return -1;
        size_t n = strlen(text->valuestring);
        *bytes += n;
        *h = mock_cache_hash(*h, text->valuestring, n);
        if (!*first_text) {
            *first_text = text->valuestring;
            *first_len = n;
        }
    }
    return 0;
}

static int check_messages(const cJSON *messages, mock_chat_req *req, char *err, size_t errlen)
{
    if (!messages) {
        snprintf(err, errlen, "Missing required field \"messages\": send an array of "
                 "{\"role\", \"content\"} objects.");
        return -1;
    }
    if (!cJSON_IsArray(messages)) {
        snprintf(err, errlen, "Field \"messages\" must be an array of {\"role\", \"content\"} objects.");
        return -1;
    }
    if (cJSON_GetArraySize(messages) == 0) {
        snprintf(err, errlen, "Field \"messages\" must contain at least one message.");
        return -1;
    }
    int i = 0;
    int have_system = 0;
    const cJSON *m;
    req->text_hash = MOCK_HASH_START;
    req->last_user = "";
    req->last_user_len = 0;
    cJSON_ArrayForEach(m, messages) {
        if (!cJSON_IsObject(m)) {
            snprintf(err, errlen, "messages[%d] must be an object with \"role\" and \"content\".", i);
            return -1;
        }
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsString(role) || !role_known(role->valuestring)) {
            snprintf(err, errlen, "messages[%d].role must be one of system, user, assistant, "
                     "tool, developer.", i);
            return -1;
        }
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        int is_assistant = strcmp(role->valuestring, "assistant") == 0;
        size_t bytes = 0;
        const char *text = NULL;
        size_t text_len = 0;
        uint64_t h = mock_cache_hash(MOCK_HASH_START, role->valuestring,
                                     strlen(role->valuestring) + 1);
        if ((!content || cJSON_IsNull(content)) && is_assistant) {
            /* an assistant turn that only made tool calls */
        } else if (!content) {
            snprintf(err, errlen, "messages[%d] has no \"content\".", i);
            return -1;
        } else if (content_text(content, &bytes, &h, &text, &text_len) != 0) {
            snprintf(err, errlen, "messages[%d].content must be a string or an array of "
                     "content parts such as {\"type\": \"text\", \"text\": \"...\"}.", i);
            return -1;
        }
        req->prompt_tokens += (int64_t)((bytes + 3) / 4) + 3;
        req->text_hash = mock_cache_hash(req->text_hash, &h, sizeof(h));
        int is_system = strcmp(role->valuestring, "system") == 0;
        if (i == 0 || (is_system && !have_system)) req->prefix_hash = h;
        if (is_system) have_system = 1;
        if (is_system && text != NULL && memmem(text, text_len, FQ_PLAN_MARK,
                                                 strlen(FQ_PLAN_MARK)) != NULL)
            req->plan = 1;
        if (strcmp(role->valuestring, "user") == 0) {
            req->last_user = text ? text : "";
            req->last_user_len = text ? text_len : 0;
        }
        i++;
    }
    return 0;
}

/* Checks the optional fields every model takes. */
static int check_options(const cJSON *root, mock_chat_req *req, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "max_tokens");
    if (!v || cJSON_IsNull(v)) v = cJSON_GetObjectItemCaseSensitive(root, "max_completion_tokens");
    req->max_tokens = MOCK_DEFAULT_MAX_TOKENS;
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e9 ||
            v->valuedouble != (double)(long)v->valuedouble) {
            snprintf(err, errlen, "max_tokens must be a positive integer.");
            return -1;
        }
        req->max_tokens = (long)v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "stream");
    if (v && !cJSON_IsNull(v) && !cJSON_IsBool(v)) {
        snprintf(err, errlen, "stream must be true or false.");
        return -1;
    }
    req->stream = cJSON_IsTrue(v);
    v = cJSON_GetObjectItemCaseSensitive(root, "temperature");
    if (v && !cJSON_IsNull(v) &&
        (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 2)) {
        snprintf(err, errlen, "temperature must be a number between 0 and 2.");
        return -1;
    }
    return 0;
}

/* The first parameter the model refuses, in xAI's camelCase, or NULL. */
static const char *refused_parameter(const cJSON *root, const mock_model *m)
{
    static const struct { const char *json, *name; } params[] = {
        { "presence_penalty", "presencePenalty" },
        { "frequency_penalty", "frequencyPenalty" },
        { "stop", "stop" },
        { "reasoning_effort", "reasoningEffort" },
    };
    if (!m->reasoning) return NULL;
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, params[i].json);
        if (!v || cJSON_IsNull(v)) continue;
        if (strcmp(params[i].json, "reasoning_effort") == 0 && m->takes_effort) continue;
        return params[i].name;
    }
    return NULL;
}

int mock_chat_parse(const char *body, size_t len, const mock_model_list *served,
                    mock_chat_req *req, char *err, size_t errlen)
{
    memset(req, 0, sizeof(*req));
    req->root = cJSON_ParseWithLength(body, len);
    if (!req->root) {
        snprintf(err, errlen, "The request body is not valid JSON. Send a JSON object "
                 "with \"model\" and \"messages\".");
        goto bad;
    }
    if (!cJSON_IsObject(req->root)) {
        snprintf(err, errlen, "The request body must be a JSON object with \"model\" "
                 "and \"messages\".");
        goto bad;
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(req->root, "model");
    if (!model || cJSON_IsNull(model)) {
        snprintf(err, errlen, "Missing required field \"model\": name one of the models "
                 "listed by GET /v1/models, e.g. \"grok-4\".");
        goto bad;
    }
    if (!cJSON_IsString(model)) {
        snprintf(err, errlen, "Field \"model\" must be a string such as \"grok-4\".");
        goto bad;
    }
    if (check_messages(cJSON_GetObjectItemCaseSensitive(req->root, "messages"), req,
                       err, errlen) != 0)
        goto bad;
    if (check_options(req->root, req, err, errlen) != 0) goto bad;
    req->model = mock_model_list_find(served, model->valuestring);
    if (!req->model) {
        snprintf(err, errlen, "The model %.200s does not exist or your team does not have "
                 "access to it. Please ensure you're using the correct API key. If you "
                 "believe this is an error, please contact support.", model->valuestring);
        mock_chat_req_free(req);
        return 404;
    }
    const char *refused = refused_parameter(req->root, req->model);
    if (refused) {
        snprintf(err, errlen, "Model %s does not support parameter %s.", req->model->id, refused);
        goto bad;
    }
    return 0;
bad:
    mock_chat_req_free(req);
    return 400;
}

void mock_chat_req_free(mock_chat_req *req)
{
    cJSON_Delete(req->root);
    memset(req, 0, sizeof(*req));
}

/* ---------------------------------------------------------------------
 * The answer
 * ------------------------------------------------------------------- */

struct text {
    char *buf;
    size_t len, cap;
};

static int text_add(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1) cap *= 2;
        char *b = realloc(t->buf, cap);
        if (!b) return -1;
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
    return 0;
}

/* Length of the valid UTF-8 sequence at s (at most avail bytes), 0 if the
 * sequence does not fit, -1 if it is not valid UTF-8. */
static int utf8_seq(const unsigned char *s, size_t avail)
{
    int n;
    if (s[0] < 0x80) return 1;
    else if (s[0] >= 0xc2 && s[0] <= 0xdf) n = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef) n = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) n = 4;
    else return -1;
    for (int i = 1; i < n; i++) {
        if ((size_t)i >= avail) return 0;
        if ((s[i] & 0xc0) != 0x80) return -1;
    }
    return n;
}

/* Appends at most max bytes of s, ending on a character boundary. */
static int add_quote(struct text *t, const char *s, size_t len, size_t max)
{
    size_t i = 0;
    while (i < len && i < max) {
        const unsigned char *p = (const unsigned char *)s + i;
        size_t avail = (len < max ? len : max) - i;
        int n = utf8_seq(p, avail);
        if (n == 0) break;
        if (n < 0) {
            if (text_add(t, "?", 1) != 0) return -1;
            i++;
            continue;
        }
        if (text_add(t, (const char *)p, (size_t)n) != 0) return -1;
        i += (size_t)n;
    }
    return 0;
}

static const char *const words[] = {
    "the", "queue", "worker", "answer", "request", "model", "token", "budget",
    "fleet", "result", "limit", "window", "retry", "shared", "every", "task",
    "with", "under", "a", "one", "is", "runs", "keeps", "counts", "waits",
    "quickly", "steady", "careful", "priority", "output", "prompt", "store",
    "and", "then", "before", "after", "each", "short", "clear", "simple",
};

#define WORD_COUNT (sizeof(words) / sizeof(words[0]))

static uint64_t lcg_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* Sentences of 6 to 14 words until t holds at least target bytes. */
static int add_sentences(struct text *t, size_t target, uint64_t seed)
{
    int left = 0;   /* words left in the current sentence; 0 = start one */
    while (t->len < target) {
        int start = left == 0;
        if (start) left = 6 + (int)(lcg_next(&seed) % 9);
        const char *w = words[lcg_next(&seed) % WORD_COUNT];
        size_t n = strlen(w);
        if (t->len > 0 && t->buf[t->len - 1] != '\n' && text_add(t, " ", 1) != 0) return -1;
        if (start) {
            char upper = (char)(w[0] - 'a' + 'A');   /* the words are lowercase */
            if (text_add(t, &upper, 1) != 0 || text_add(t, w + 1, n - 1) != 0) return -1;
        } else if (text_add(t, w, n) != 0) {
            return -1;
        }
        if (--left == 0 || t->len >= target) {
            if (text_add(t, ".", 1) != 0) return -1;
            left = 0;
        }
    }
    return 0;
}

/* The answer to a plan request: what follows "mock-plan:" in the user's
 * message, as it is (a test's good or bad plan), else a plan of two code
 * subtasks, each reviewed by quality: a build, and its tests. */
static int plan_answer(const mock_chat_req *req, struct text *t)
{
    static const char tag[] = "mock-plan:";
    const char *at = memmem(req->last_user, req->last_user_len, tag, sizeof(tag) - 1);
    if (at != NULL) {
        at += sizeof(tag) - 1;
        const char *end = req->last_user + req->last_user_len;
        while (at < end && (*at == ' ' || *at == '\n'))
            at++;
        return text_add(t, at, (size_t)(end - at));
    }
    size_t n = req->last_user_len < 40 ? req->last_user_len : 40;
    cJSON *plan = cJSON_CreateArray();
    cJSON *build = cJSON_CreateObject(), *test = cJSON_CreateObject();
    char prompt[128];
    snprintf(prompt, sizeof(prompt), "Build the first part of: %.*s", (int)n, req->last_user);
    int ok = plan && build && test && cJSON_AddItemToArray(plan, build);
    if (ok)
        ok = cJSON_AddItemToArray(plan, test);
    else
        cJSON_Delete(build);
    if (!ok)
        cJSON_Delete(test);
    ok = ok && cJSON_AddStringToObject(build, "id", "build") &&
         cJSON_AddStringToObject(build, "role", "code") &&
         cJSON_AddStringToObject(build, "review_by", "quality") &&
         cJSON_AddStringToObject(build, "prompt", prompt) &&
         cJSON_AddStringToObject(test, "id", "test") &&
         cJSON_AddStringToObject(test, "role", "code") &&
         cJSON_AddStringToObject(test, "review_by", "quality") &&
         cJSON_AddItemToObject(test, "after",
                               cJSON_CreateStringArray((const char *const[]){"build"}, 1)) &&
         cJSON_AddStringToObject(test, "prompt", "Write the tests of [{{build}}]");
    char *json = ok ? cJSON_PrintUnformatted(plan) : NULL;
    cJSON_Delete(plan);
    int rc = json ? text_add(t, json, strlen(json)) : -1;
    cJSON_free(json);
    return rc;
}

int mock_chat_answer_make(const mock_chat_req *req, const mock_config *cfg,
                          mock_chat_answer *a)
{
    memset(a, 0, sizeof(*a));
    mock_rand_uuid(a->id);
    a->created = (int64_t)time(NULL);

    long c = cfg->completion_tokens >= 0 ? cfg->completion_tokens : mock_rand_range(16, 200);
    if (c > req->max_tokens) {
        c = req->max_tokens;
        a->cut_at_max = 1;
    }
    long r = 0;
    if (req->model->reasoning) {
        if (cfg->reasoning_tokens >= 0) {
            r = cfg->reasoning_tokens;
        } else {
            r = mock_rand_range(c / 2, 2 * c);
            if (r > 1024) r = 1024;
        }
    }
    a->prompt_tokens = req->prompt_tokens;
    a->completion_tokens = c;
    a->reasoning_tokens = r;
    a->cached_tokens = mock_cache_seen(req->prefix_hash) ? req->prompt_tokens / 2 : 0;
    a->cost_ticks = mock_prices_cost(req->model, a->prompt_tokens, a->cached_tokens,
                                     a->completion_tokens, a->reasoning_tokens);

    struct text t = { 0 };
    if (text_add(&t, "", 0) != 0) goto err;
    if (req->plan) {
        if (plan_answer(req, &t) != 0) goto err;
        a->completion_tokens = (int64_t)(t.len + 3) / 4;
        a->cut_at_max = 0;
        a->cost_ticks = mock_prices_cost(req->model, a->prompt_tokens, a->cached_tokens,
                                         a->completion_tokens, a->reasoning_tokens);
    } else if (c > 0) {
        static const char lead[] = "Mock answer to: ";
        if (text_add(&t, lead, sizeof(lead) - 1) != 0) goto err;
        if (add_quote(&t, req->last_user, req->last_user_len, 40) != 0) goto err;
        size_t target = (size_t)c * 4;
        if (t.len < target) {
            if (text_add(&t, "\n\n", 2) != 0) goto err;
            if (add_sentences(&t, target, req->text_hash) != 0) goto err;
        }
    }
    a->content = t.buf;
    a->content_len = t.len;
    return 0;
err:
    free(t.buf);
    return -1;
}

void mock_chat_answer_free(mock_chat_answer *a)
{
    free(a->content);
    a->content = NULL;
}
