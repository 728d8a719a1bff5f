/* api_parse.c -- the pure half of the chat-completions client: building
 * request bodies, and turning response headers and bodies into an
 * fq_api_result (see api.h).
 *
 * Nothing here does I/O, so every rule can be unit-tested with canned bytes:
 *
 *  - A 200 is a success only when choices[0].message.content is a string;
 *    anything else (truncated JSON, content null) is a malformed body, which
 *    the fleet retries. Usage is optional: many OpenAI-compatible servers
 *    send none, and then usage_estimated is set for the worker to estimate
 *    the tokens (fq_cost_estimate_usage()). Usage numbers may
 *    arrive as doubles; each is accepted only when it is finite, non-negative
 *    and below FQ_COUNT_MAX, otherwise it counts as absent.
 *  - Usage is normalised to xAI's convention, where completion_tokens leaves
 *    reasoning out and total = prompt + completion + reasoning: when
 *    reasoning_tokens is absent the difference between total and
 *    prompt + completion is taken as reasoning; when an OpenAI-style endpoint
 *    reports reasoning as part of completion (total = prompt + completion and
 *    reasoning <= completion), the reasoning is moved out of completion so
 *    that cost.c never bills it twice.
 *  - Any other status is an error. The body is read as xAI's flat
 *    {"code": ..., "error": ...}, OpenAI's nested
 *    {"error": {"message", "type", "code"}}, a bare JSON string, or plain
 *    text / HTML (tags dropped), and the result's error becomes
 *    "HTTP <status> <code>: <message>", at most FQ_API_ERROR_MAX - 1 bytes,
 *    valid UTF-8, control characters turned into spaces and runs of white
 *    space folded, so it can go into logs and SQLite as it is.
 *  - A transfer that failed (timeout, reset, refused) carries the message
 *    the transport layer wrote, through the same cleaning.
 *  - An error event inside a streamed 200 (sse.c) is read the same way and
 *    classified by the status it names, or by its text (see
 *    stream_error_status()); its error reads "stream error <code>: <message>".
 *  - With stream set, the request asks for server-sent events and for the
 *    usage chunk at the end ("stream_options": {"include_usage": true}).
 *  - fq_outcome_classify() makes the final decision in every case.
 *
 * Parsing fills outcome, http_status, content, finish_reason, usage and
 * error, and leaves request_id, rl and latency_ms alone: the header
 * callback and the transport fill those.
 */
#include "api.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "model_params.h"
#include "text.h"
#include "timeutil.h"

#define FQ_API_ERROR_MAX 300              /* bytes of an error string, NUL included */
#define FQ_CLASSIFY_TEXT_MAX 1024         /* text of a plain body handed to classify */
#define FQ_COUNT_MAX 1000000000000000.0   /* 1e15: larger counts are garbage */
#define FQ_RETRY_AFTER_MAX_MS 3600000LL   /* Retry-After is bounded to one hour */

void fq_api_result_free(fq_api_result *r)
{
    if (r == NULL)
        return;
    free(r->content);
    free(r->finish_reason);
    free(r->error);
    r->content = NULL;
    r->finish_reason = NULL;
    r->error = NULL;
}

/* ------------------------------------------------------------------------
 * Clean, bounded text
 *
 * A writer appends bytes into a fixed buffer: valid UTF-8 is kept, invalid
 * bytes become '?', control characters become spaces, runs of white space
 * fold into one, leading white space is dropped, and a character that does
 * not fit whole is left out. With skip_tags set, HTML tags are dropped.
 * ---------------------------------------------------------------------- */

typedef struct text_writer {
    char *buf;
    size_t cap;         /* including the NUL */
    size_t len;
    int space_pending;
    int full;
} text_writer;

static void tw_init(text_writer *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->space_pending = 0;
    w->full = 0;
    buf[0] = '\0';
}

static void tw_put(text_writer *w, const char *s, size_t n)
{
    if (w->full)
        return;
    if (w->space_pending && w->len > 0) {
        if (w->len + 1 + n >= w->cap) {
            w->full = 1;
            return;
        }
        w->buf[w->len++] = ' ';
    }
    w->space_pending = 0;
    if (w->len + n >= w->cap) {
        w->full = 1;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void tw_text(text_writer *w, const char *text, size_t n, int skip_tags)
{
    const unsigned char *s = (const unsigned char *)text;
    int in_tag = 0;
    size_t i = 0;
    while (i < n && !w->full) {
        unsigned char c = s[i];
        if (skip_tags && (in_tag || c == '<')) {
            in_tag = c != '>';
            w->space_pending = 1;
            i++;
            continue;
        }
        if (c < 0x20 || c == 0x7f || c == ' ') {
            w->space_pending = 1;
            i++;
            continue;
        }
        size_t k = fq_utf8_seq(s + i, n - i);
        if (k == 0) {
            tw_put(w, "?", 1);
            i++;
            continue;
        }
        tw_put(w, (const char *)s + i, k);
        i += k;
    }
}

static void tw_str(text_writer *w, const char *s)
{
    tw_text(w, s, strlen(s), 0);
}

/* ------------------------------------------------------------------------
 * Success bodies
 * ---------------------------------------------------------------------- */

/* A token count or tick amount; def when absent, not a number, negative,
 * NaN or absurdly large. */
static int64_t json_count(const cJSON *obj, const char *name, int64_t def)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(it))
        return def;
    double d = it->valuedouble;
    if (!isfinite(d) || d < 0.0 || d > FQ_COUNT_MAX)
        return def;
    return (int64_t)d;
}

void fq_api_parse_usage(const cJSON *root, const cJSON *usage, fq_usage *u)
{
    int64_t p = json_count(usage, "prompt_tokens", 0);
    int64_t c = json_count(usage, "completion_tokens", 0);
    int64_t t = json_count(usage, "total_tokens", -1);
    int64_t r = -1;
    int64_t cached = 0;

    const cJSON *pd = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details");
    if (cJSON_IsObject(pd))
        cached = json_count(pd, "cached_tokens", 0);
    const cJSON *cd = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens_details");
    if (cJSON_IsObject(cd))
        r = json_count(cd, "reasoning_tokens", -1);

    if (r < 0)
        r = (t > p + c) ? t - p - c : 0;
    else if (r > 0 && t == p + c && r <= c)
        c -= r;     /* OpenAI counts reasoning inside completion */
    if (t < 0)
        t = p + c + r;
    if (cached > p)
        cached = p;

    u->prompt_tokens = p;
    u->completion_tokens = c;
    u->reasoning_tokens = r;
    u->cached_tokens = cached;
    u->total_tokens = t;
    u->cost_ticks = json_count(usage, "cost_in_usd_ticks", -1);
    if (u->cost_ticks < 0)
        u->cost_ticks = json_count(root, "cost_in_usd_ticks", -1);
}

size_t fq_api_request_text_bytes(const char *body, int *messages)
{
    size_t bytes = 0;
    *messages = 0;
    cJSON *root = body != NULL ? cJSON_Parse(body) : NULL;
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    for (const cJSON *m = cJSON_IsArray(msgs) ? msgs->child : NULL; m != NULL; m = m->next) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        (*messages)++;
        if (cJSON_IsString(content)) {
            bytes += strlen(content->valuestring);
            continue;
        }
        /* parts: the text of each */
        for (const cJSON *p = cJSON_IsArray(content) ? content->child : NULL; p != NULL;
             p = p->next) {
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(p, "text");
            if (cJSON_IsString(text))
                bytes += strlen(text->valuestring);
        }
    }
    cJSON_Delete(root);
    return bytes;
}

/* Returns 1 and fills out when the body is a complete chat completion. */
static int parse_success(const char *body, size_t len, fq_api_result *out)
{
    if (body == NULL || len == 0)
        return 0;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (root == NULL)
        return 0;
    int ok = 0;
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *first = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    const cJSON *msg = cJSON_IsObject(first)
                           ? cJSON_GetObjectItemCaseSensitive(first, "message") : NULL;
    const cJSON *content = cJSON_IsObject(msg)
                               ? cJSON_GetObjectItemCaseSensitive(msg, "content") : NULL;
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (cJSON_IsString(content)) {
        const cJSON *fr = cJSON_GetObjectItemCaseSensitive(first, "finish_reason");
        out->content = strdup(content->valuestring);
        if (cJSON_IsString(fr))
            out->finish_reason = strdup(fr->valuestring);
        if (cJSON_IsObject(usage))
            fq_api_parse_usage(root, usage, &out->usage);
        else
            out->usage_estimated = 1;
        /* else out of memory: retried like a bad body */
        ok = out->content != NULL && (!cJSON_IsString(fr) || out->finish_reason != NULL);
    }
    cJSON_Delete(root);
    return ok;
}

/* ------------------------------------------------------------------------
 * Error bodies
 * ---------------------------------------------------------------------- */

/* The code of an error body as text: a string, or a number printed. */
static const char *code_text(const cJSON *it, char *num, size_t numlen)
{
    if (cJSON_IsString(it) && it->valuestring[0] != '\0')
        return it->valuestring;
    if (cJSON_IsNumber(it) && isfinite(it->valuedouble)) {
        snprintf(num, numlen, "%.0f", it->valuedouble);
        return num;
    }
    return NULL;
}

static int looks_like_html(const char *body, size_t len)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)body[i]))
        i++;
    return i < len && body[i] == '<';
}

/* The code and message of an error body, pointing into the parsed JSON
 * or into the buffers here. */
typedef struct error_text {
    const char *code;
    const char *msg;
    char num[32];
    char plain[FQ_CLASSIFY_TEXT_MAX];
} error_text;

/* Reads xAI's flat {"code", "error"}, OpenAI's nested
 * {"error": {"message", "type", "code"}}, {"message", "code"}, a bare JSON
 * string, or else the body as plain text (HTML tags dropped). root is the
 * parsed body or NULL. */
static void error_fields(const cJSON *root, const char *body, size_t len, error_text *et)
{
    et->code = NULL;
    et->msg = NULL;
    if (cJSON_IsObject(root)) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
        if (cJSON_IsString(e)) {                       /* xAI: flat */
            et->msg = e->valuestring;
            et->code = code_text(cJSON_GetObjectItemCaseSensitive(root, "code"), et->num,
                                 sizeof(et->num));
        } else if (cJSON_IsObject(e)) {                /* OpenAI: nested */
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
            if (cJSON_IsString(m))
                et->msg = m->valuestring;
            et->code = code_text(cJSON_GetObjectItemCaseSensitive(e, "code"), et->num,
                                 sizeof(et->num));
            if (et->code == NULL)
                et->code = code_text(cJSON_GetObjectItemCaseSensitive(e, "type"), et->num,
                                     sizeof(et->num));
        } else {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "message");
            if (cJSON_IsString(m))
                et->msg = m->valuestring;
            et->code = code_text(cJSON_GetObjectItemCaseSensitive(root, "code"), et->num,
                                 sizeof(et->num));
        }
    } else if (cJSON_IsString(root)) {
        et->msg = root->valuestring;
    }
    if (et->msg == NULL && et->code == NULL && body != NULL && len > 0) {
        text_writer pw;
        tw_init(&pw, et->plain, sizeof(et->plain));
        tw_text(&pw, body, len, looks_like_html(body, len));
        if (pw.len > 0)
            et->msg = et->plain;
    }
    if (et->msg != NULL && et->msg[0] == '\0')
        et->msg = NULL;
}

/* "<head> <code>: <message>", cleaned and bounded, into out->error. */
static void format_error(const char *head, const error_text *et, fq_api_result *out)
{
    char err[FQ_API_ERROR_MAX];
    text_writer w;
    tw_init(&w, err, sizeof(err));
    tw_str(&w, head);
    if (et->code != NULL) {
        w.space_pending = 1;
        tw_str(&w, et->code);
    }
    if (et->msg != NULL) {
        tw_put(&w, ":", 1);
        w.space_pending = 1;
        tw_str(&w, et->msg);
    }
    free(out->error);
    out->error = strdup(err);
}

static void parse_error(long status, const char *body, size_t len, fq_api_result *out)
{
    error_text et;
    char head[64];
    cJSON *root = NULL;

    if (body != NULL && len > 0)
        root = cJSON_ParseWithLength(body, len);
    error_fields(root, body, len, &et);
    out->outcome = fq_outcome_classify(status, et.code, et.msg, 0, 0);
    snprintf(head, sizeof(head), "HTTP %ld", status);
    format_error(head, &et, out);
    cJSON_Delete(root);
}

/* A number from 400 to 599 in it (a JSON number or a string of three
 * digits), or 0. */
static long status_number(const cJSON *it)
{
    double d = -1.0;
    if (cJSON_IsNumber(it))
        d = it->valuedouble;
    else if (cJSON_IsString(it) && strlen(it->valuestring) == 3 &&
             isdigit((unsigned char)it->valuestring[0]) &&
             isdigit((unsigned char)it->valuestring[1]) &&
             isdigit((unsigned char)it->valuestring[2]))
        d = atof(it->valuestring);
    return (d >= 400.0 && d < 600.0) ? (long)d : 0;
}

/* The HTTP status an error event stands for: a "status" or "code" from 400
 * to 599 in the error object or the event, else 429 when its text speaks of
 * a rate limit or of credits (fq_outcome_classify() tells the two apart),
 * else 500: the server failed in the middle of its answer. */
static long stream_error_status(const cJSON *root, const error_text *et)
{
    const cJSON *e = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "error")
                                          : NULL;
    const cJSON *holders[2] = {cJSON_IsObject(e) ? e : NULL, cJSON_IsObject(root) ? root : NULL};
    static const char *const names[] = {"status", "code", "status_code"};
    for (size_t h = 0; h < 2; h++) {
        if (holders[h] == NULL)
            continue;
        for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
            long st = status_number(cJSON_GetObjectItemCaseSensitive(holders[h], names[n]));
            if (st != 0)
                return st;
        }
    }
    long st = fq_outcome_status_of_text(et->code, et->msg);
    return st != 0 ? st : 500;
}

void fq_api_parse_stream_error(const char *data, size_t len, fq_api_result *out)
{
    error_text et;
    cJSON *root = NULL;

    if (data != NULL && len > 0)
        root = cJSON_ParseWithLength(data, len);
    error_fields(root, data, len, &et);
    out->outcome = fq_outcome_classify(stream_error_status(root, &et), et.code, et.msg, 0, 0);
    format_error("stream error", &et, out);
    cJSON_Delete(root);
}

void fq_api_result_reset(fq_api_result *out, long status)
{
    out->http_status = status;
    out->content = NULL;
    out->finish_reason = NULL;
    out->error = NULL;
    memset(&out->usage, 0, sizeof(out->usage));
    out->usage.cost_ticks = -1;
    out->usage_estimated = 0;
}

void fq_api_parse_response(long status, const char *body, size_t len,
                           int transport, const char *transport_msg,
                           fq_api_result *out)
{
    fq_api_result_reset(out, status);

    if (transport != 0) {
        char err[FQ_API_ERROR_MAX];
        text_writer w;
        tw_init(&w, err, sizeof(err));
        if (transport_msg != NULL)
            tw_str(&w, transport_msg);
        if (w.len == 0)         /* none, or nothing left once cleaned */
            tw_str(&w, transport == 1 ? "timeout" : "network error");
        out->error = strdup(err);
        out->outcome = fq_outcome_classify(status, NULL, NULL, 0, transport);
        return;
    }
    if (status == 200) {
        int ok = parse_success(body, len, out);
        out->outcome = fq_outcome_classify(status, NULL, NULL, ok, 0);
        if (!ok || out->outcome != FQ_OUT_OK) {
            char err[FQ_API_ERROR_MAX];
            snprintf(err, sizeof(err), "malformed response body (%zu bytes)", len);
            out->error = strdup(err);
        }
        return;
    }
    parse_error(status, body, len, out);
}

/* ------------------------------------------------------------------------
 * Headers
 * ---------------------------------------------------------------------- */

void fq_ratelimit_headers_init(fq_ratelimit_headers *rl)
{
    rl->limit_requests = -1;
    rl->remaining_requests = -1;
    rl->limit_tokens = -1;
    rl->remaining_tokens = -1;
    rl->retry_after_ms = -1;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int name_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* A plain non-negative decimal of at most 18 digits; -1 otherwise. */
static int64_t header_int(const char *v, size_t n)
{
    if (n == 0 || n > 18)
        return -1;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

static int64_t clamp_retry(int64_t ms)
{
    if (ms < 0)
        return 0;
    return ms > FQ_RETRY_AFTER_MAX_MS ? FQ_RETRY_AFTER_MAX_MS : ms;
}

/* Retry-After: delta-seconds (a fraction is tolerated) or an HTTP-date,
 * as milliseconds from now bounded to [0, 1 h]; -1 when unparsable. */
static int64_t parse_retry_after(const char *v, size_t n)
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, v, n);
    buf[n] = '\0';

    if (isdigit((unsigned char)buf[0])) {
        int64_t sec = 0;
        int64_t frac_ms = 0;
        size_t i = 0;
        for (; isdigit((unsigned char)buf[i]); i++) {
            if (sec <= FQ_RETRY_AFTER_MAX_MS / 1000)   /* past the cap: stop growing */
                sec = sec * 10 + (buf[i] - '0');
        }
        if (buf[i] == '.') {
            int64_t scale = 100;
            for (i++; isdigit((unsigned char)buf[i]); i++) {
                frac_ms += (buf[i] - '0') * scale;
                scale /= 10;
            }
        }
        if (buf[i] != '\0')
            return -1;
        if (sec > FQ_RETRY_AFTER_MAX_MS / 1000)
            return FQ_RETRY_AFTER_MAX_MS;
        return clamp_retry(sec * 1000 + frac_ms);
    }

    static const char *const formats[] = {
        "%a, %d %b %Y %H:%M:%S GMT",    /* IMF-fixdate */
        "%A, %d-%b-%y %H:%M:%S GMT",    /* RFC 850 */
        "%a %b %e %H:%M:%S %Y",         /* asctime */
    };
    for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        const char *end = strptime(buf, formats[f], &tm);
        if (end == NULL || *end != '\0')
            continue;
        time_t t = timegm(&tm);
        if (t == (time_t)-1)
            return -1;
        return clamp_retry((int64_t)t * 1000 - fq_now_ms());
    }
    return -1;
}

static int request_id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == ':' || c == '-';
}

void fq_api_parse_header(const char *line, size_t len, fq_ratelimit_headers *rl,
                         char *request_id, size_t request_id_len)
{
    if (line == NULL)
        return;
    const char *colon = memchr(line, ':', len);
    if (colon == NULL)
        return;
    const char *name = line;
    size_t nlen = (size_t)(colon - line);
    while (nlen > 0 && is_ws(*name)) {
        name++;
        nlen--;
    }
    while (nlen > 0 && is_ws(name[nlen - 1]))
        nlen--;
    const char *v = colon + 1;
    size_t vlen = len - (size_t)(v - line);
    while (vlen > 0 && is_ws(*v)) {
        v++;
        vlen--;
    }
    while (vlen > 0 && is_ws(v[vlen - 1]))
        vlen--;

    int64_t *slot = NULL;
    if (rl != NULL) {
        if (name_is(name, nlen, "x-ratelimit-limit-requests"))
            slot = &rl->limit_requests;
        else if (name_is(name, nlen, "x-ratelimit-remaining-requests"))
            slot = &rl->remaining_requests;
        else if (name_is(name, nlen, "x-ratelimit-limit-tokens"))
            slot = &rl->limit_tokens;
        else if (name_is(name, nlen, "x-ratelimit-remaining-tokens"))
            slot = &rl->remaining_tokens;
        else if (name_is(name, nlen, "retry-after"))
            rl->retry_after_ms = parse_retry_after(v, vlen);
    }
    if (slot != NULL) {
        int64_t x = header_int(v, vlen);
        if (x >= 0)
            *slot = x;
        return;
    }
    if (request_id != NULL && request_id_len > 0 && name_is(name, nlen, "x-request-id")) {
        size_t o = 0;
        for (size_t i = 0; i < vlen && o + 1 < request_id_len; i++) {
            if (request_id_char(v[i]))
                request_id[o++] = v[i];
        }
        request_id[o] = '\0';
    }
}

/* ------------------------------------------------------------------------
 * Request bodies
 * ---------------------------------------------------------------------- */

static cJSON *chat_message(const char *role, const char *content)
{
    cJSON *m = cJSON_CreateObject();
    if (m == NULL)
        return NULL;
    if (cJSON_AddStringToObject(m, "role", role) == NULL ||
        cJSON_AddStringToObject(m, "content", content) == NULL) {
        cJSON_Delete(m);
        return NULL;
    }
    return m;
}

static int has_system_message(const cJSON *messages)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, messages) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (cJSON_IsString(role) && strcmp(role->valuestring, "system") == 0)
            return 1;
    }
    return 0;
}

static cJSON *build_messages(const fq_api_request *req)
{
    int want_system = req->system != NULL && req->system[0] != '\0';
    cJSON *arr = NULL;
    cJSON *m = NULL;

    if (req->messages != NULL) {
        arr = cJSON_Parse(req->messages);
        if (!cJSON_IsArray(arr))
            goto err;
        if (want_system && !has_system_message(arr)) {
            if ((m = chat_message("system", req->system)) == NULL)
                goto err;
            if (!cJSON_InsertItemInArray(arr, 0, m))
                goto err;
            m = NULL;
        }
        return arr;
    }
    if (req->prompt == NULL)
        goto err;
    if ((arr = cJSON_CreateArray()) == NULL)
        goto err;
    if (want_system) {
        if ((m = chat_message("system", req->system)) == NULL || !cJSON_AddItemToArray(arr, m))
            goto err;
        m = NULL;
    }
    if ((m = chat_message("user", req->prompt)) == NULL || !cJSON_AddItemToArray(arr, m))
        goto err;
    return arr;
err:
    cJSON_Delete(m);      /* a message not yet handed to arr */
    cJSON_Delete(arr);
    return NULL;
}

char *fq_api_build_request(const fq_api_request *req)
{
    cJSON *root = NULL;
    cJSON *messages = NULL;
    char *printed = NULL;
    char *out = NULL;

    if (req == NULL || req->model == NULL || req->model[0] == '\0')
        return NULL;
    if (req->has_temperature && !isfinite(req->temperature))
        return NULL;
    if ((messages = build_messages(req)) == NULL)
        goto err;
    if ((root = cJSON_CreateObject()) == NULL)
        goto err;
    if (cJSON_AddStringToObject(root, "model", req->model) == NULL)
        goto err;
    if (!cJSON_AddItemToObject(root, "messages", messages))
        goto err;
    messages = NULL;
    if (req->max_tokens > 0 &&
        cJSON_AddNumberToObject(root, "max_tokens", req->max_tokens) == NULL)
        goto err;
    if (req->has_temperature &&
        cJSON_AddNumberToObject(root, "temperature", req->temperature) == NULL)
        goto err;
    char dropped_here[8];
    if (fq_model_params_apply(root, req->model, req->params,
                              req->dropped ? req->dropped : dropped_here,
                              req->dropped ? req->dropped_len : sizeof(dropped_here)) != 0)
        goto err;
    if (!req->stream) {
        if (cJSON_AddFalseToObject(root, "stream") == NULL)
            goto err;
    } else {
        cJSON *opts;
        if (cJSON_AddTrueToObject(root, "stream") == NULL ||
            (opts = cJSON_AddObjectToObject(root, "stream_options")) == NULL ||
            cJSON_AddTrueToObject(opts, "include_usage") == NULL)
            goto err;
    }
    if ((printed = cJSON_PrintUnformatted(root)) == NULL)
        goto err;
    size_t n = strlen(printed);
    if ((out = malloc(n + 1)) == NULL)
        goto err;
    memcpy(out, printed, n + 1);
err:
    if (printed != NULL)
        cJSON_free(printed);
    cJSON_Delete(messages);
    cJSON_Delete(root);
    return out;
}
