/* sse.c -- the streamed chat completion parser (see sse.h).
 *
 * DESIGN
 *
 * Three layers, each fed by the one before:
 *
 *  - Lines. fq_sse_feed() scans for CR and LF. A line that lies whole inside
 *    one chunk is handled in place; the rest of a chunk is kept in the line
 *    buffer until its end arrives. A CR at the end of a chunk leaves a note
 *    so that the LF starting the next chunk does not count as a blank line.
 *    No line may be longer than FQ_SSE_LINE_MAX.
 *  - Events, as the WHATWG server-sent events rules say: a blank line
 *    dispatches; "data" lines are joined with LF; "event" names the event;
 *    "id", "retry", unknown fields and ':' comments carry nothing here. A
 *    UTF-8 byte order mark before the first line is dropped. Unnamed and
 *    "message" events are chunks of the completion, "error" events are
 *    errors, and other names (pings from proxies and the like) are skipped.
 *  - Chunks. "[DONE]" ends the stream. Anything else must be one JSON object
 *    with nothing after it but white space: an "error" member makes it an
 *    error event (classified by fq_api_parse_stream_error() in
 *    api_parse.c, so that a streamed error reads like any other), otherwise
 *    the choice with index 0 gives delta.content and finish_reason, and a
 *    "usage" object is read by fq_api_parse_usage(), so token counts are
 *    normalised exactly as for a whole body.
 *
 * The first problem latches: the reason is written once, and input after it
 * is ignored, so a caller can stop the transfer as soon as fq_sse_feed()
 * returns -1. Reasons are built from fixed text and numbers, or by
 * api_parse.c's cleaning for provider text, so they are one bounded line.
 *
 * fq_sse_result() decides the outcome with fq_outcome_classify(), the same
 * way a whole body is judged: only a stream with [DONE] and a
 * finish_reason is a complete answer; anything less is MALFORMED
 * (retried). Usage is optional: many servers ignore
 * stream_options.include_usage, and the answer is there all the same
 * (usage_estimated is set, and the worker estimates the tokens).
 */
#include "sse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define SSE_ERROR_MAX 300       /* bytes of a reason, NUL included */
#define SSE_EVENT_NAME_MAX 32

struct fq_sse {
    fq_sse_state state;
    char *error;                /* the reason once state != FQ_SSE_OK */
    fq_outcome error_outcome;   /* for FQ_SSE_ERROR_EVENT */
    int done;                   /* [DONE] seen */
    int finished;               /* fq_sse_finish() ran */

    /* lines */
    char *line;                 /* the start of a line cut by a chunk end */
    size_t line_len, line_cap;
    int after_cr;               /* the last byte fed was a CR */
    int started;                /* the first line has been handled */

    /* the event being read */
    char *data;
    size_t data_len, data_cap;
    int has_data;
    char event[SSE_EVENT_NAME_MAX];
    size_t event_len;
    int event_long;             /* a name too long to be one we know */

    /* the completion */
    char *content;
    size_t content_len, content_cap;
    char *finish_reason;
    fq_usage usage;
    int has_usage;
    size_t events;              /* chunks handled */
    size_t bytes;               /* bytes fed */
};

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static void fail(fq_sse *p, fq_sse_state st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(fq_sse *p, fq_sse_state st, const char *fmt, ...)
{
    char buf[SSE_ERROR_MAX];
    va_list ap;
    if (p->state != FQ_SSE_OK)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    p->state = st;
    p->error = strdup(buf);
}

/* Appends s[0..n) to a NUL-terminated buffer of at most max bytes (NUL not
 * counted). Returns 0, 1 when it would go over max, -1 when out of memory. */
static int buf_add(char **b, size_t *len, size_t *cap, const char *s, size_t n, size_t max)
{
    if (n > max - *len)
        return 1;
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1)
            c *= 2;
        if (c > max + 1)
            c = max + 1;        /* never more than the limit allows */
        char *nb = realloc(*b, c);
        if (nb == NULL)
            return -1;
        *b = nb;
        *cap = c;
    }
    if (n > 0)
        memcpy(*b + *len, s, n);
    *len += n;
    (*b)[*len] = '\0';
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int field_is(const char *s, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(s, name, n) == 0;
}

/* ------------------------------------------------------------------------
 * Chunks
 * ---------------------------------------------------------------------- */

static void error_event(fq_sse *p, const char *d, size_t n)
{
    fq_api_result r;
    if (p->state != FQ_SSE_OK)
        return;
    memset(&r, 0, sizeof(r));
    fq_api_parse_stream_error(d, n, &r);
    p->state = FQ_SSE_ERROR_EVENT;
    p->error_outcome = r.outcome;
    p->error = r.error;         /* NULL when out of memory: see fq_sse_error() */
}

/* The choice with index 0 (or without an index), or NULL. */
static const cJSON *choice_zero(const cJSON *choices)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, choices) {
        if (!cJSON_IsObject(c))
            continue;
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(c, "index");
        if (idx == NULL || (cJSON_IsNumber(idx) && idx->valuedouble == 0.0))
            return c;
    }
    return NULL;
}

static void add_content(fq_sse *p, const char *s)
{
    int rc = buf_add(&p->content, &p->content_len, &p->content_cap, s, strlen(s),
                     FQ_API_MAX_RESPONSE);
    if (rc > 0)
        fail(p, FQ_SSE_TOO_LARGE, "response content over %u MiB",
             (unsigned)(FQ_API_MAX_RESPONSE >> 20));
    else if (rc < 0)
        fail(p, FQ_SSE_NO_MEMORY, "out of memory while reading the stream");
}

static void handle_chunk(fq_sse *p, const char *d, size_t n)
{
    const char *end = NULL;
    size_t event = ++p->events;
    cJSON *root = cJSON_ParseWithLengthOpts(d, n, &end, 0);

    if (root != NULL && end != NULL) {
        while (end < d + n && is_space(*end))
            end++;
    }
    if (root == NULL || end != d + n) {
        fail(p, FQ_SSE_MALFORMED, "malformed stream: event %zu is not valid JSON (%zu bytes)",
             event, n);
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        fail(p, FQ_SSE_MALFORMED, "malformed stream: event %zu is not a JSON object", event);
        goto out;
    }
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (err != NULL && !cJSON_IsNull(err)) {
        error_event(p, d, n);
        goto out;
    }
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *choice = cJSON_IsArray(choices) ? choice_zero(choices) : NULL;
    if (choice != NULL) {
        const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
        const cJSON *content = cJSON_IsObject(delta)
                                   ? cJSON_GetObjectItemCaseSensitive(delta, "content") : NULL;
        if (cJSON_IsString(content) && content->valuestring[0] != '\0')
            add_content(p, content->valuestring);
        const cJSON *fr = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");
        if (cJSON_IsString(fr) && fr->valuestring[0] != '\0') {
            char *copy = strdup(fr->valuestring);
            if (copy == NULL) {
                fail(p, FQ_SSE_NO_MEMORY, "out of memory while reading the stream");
                goto out;
            }
            free(p->finish_reason);
            p->finish_reason = copy;
        }
    }
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (cJSON_IsObject(usage)) {
        fq_api_parse_usage(root, usage, &p->usage);
        p->has_usage = 1;
    }
out:
    cJSON_Delete(root);
}

/* The data of a message event: [DONE], a chunk, or nothing but white
 * space (skipped). */
static void handle_data(fq_sse *p, const char *d, size_t n)
{
    while (n > 0 && is_space(d[0])) {
        d++;
        n--;
    }
    while (n > 0 && is_space(d[n - 1]))
        n--;
    if (n == 0)
        return;
    if (field_is(d, n, "[DONE]")) {
        p->done = 1;
        return;
    }
    handle_chunk(p, d, n);
}

/* ------------------------------------------------------------------------
 * Events and lines
 * ---------------------------------------------------------------------- */

static void dispatch(fq_sse *p)
{
    if (p->has_data) {
        size_t n = p->data_len;
        if (n > 0 && p->data[n - 1] == '\n')
            n--;
        /* a name too long to be "message" or "error" is one we skip */
        if (!p->event_long &&
            (p->event_len == 0 || field_is(p->event, p->event_len, "message")))
            handle_data(p, p->data, n);
        else if (!p->event_long && field_is(p->event, p->event_len, "error"))
            error_event(p, p->data, n);
    }
    p->data_len = 0;
    if (p->data != NULL)
        p->data[0] = '\0';
    p->has_data = 0;
    p->event_len = 0;
    p->event_long = 0;
}

static void handle_line(fq_sse *p, const char *s, size_t n)
{
    if (!p->started) {
        p->started = 1;
        if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3;
            n -= 3;
        }
    }
    if (n == 0) {
        dispatch(p);
        return;
    }
    if (s[0] == ':')
        return;                 /* a comment, often a keep-alive */
    const char *colon = memchr(s, ':', n);
    size_t flen = colon != NULL ? (size_t)(colon - s) : n;
    const char *v = colon != NULL ? colon + 1 : s + n;
    size_t vlen = (size_t)(s + n - v);
    if (vlen > 0 && v[0] == ' ') {
        v++;
        vlen--;
    }
    if (field_is(s, flen, "data")) {
        int rc = buf_add(&p->data, &p->data_len, &p->data_cap, v, vlen, FQ_SSE_LINE_MAX);
        if (rc == 0)
            rc = buf_add(&p->data, &p->data_len, &p->data_cap, "\n", 1, FQ_SSE_LINE_MAX);
        if (rc > 0)
            fail(p, FQ_SSE_LINE_TOO_LONG, "malformed stream: an event's data is over %u KiB",
                 (unsigned)(FQ_SSE_LINE_MAX >> 10));
        else if (rc < 0)
            fail(p, FQ_SSE_NO_MEMORY, "out of memory while reading the stream");
        p->has_data = 1;
    } else if (field_is(s, flen, "event")) {
        p->event_long = vlen >= sizeof(p->event);
        p->event_len = p->event_long ? 0 : vlen;
        if (!p->event_long)
            memcpy(p->event, v, vlen);
    }
    /* id, retry and unknown fields carry nothing for a completion */
}

static void line_too_long(fq_sse *p)
{
    fail(p, FQ_SSE_LINE_TOO_LONG, "malformed stream: a line is over %u KiB",
         (unsigned)(FQ_SSE_LINE_MAX >> 10));
}

/* Adds n bytes to the line being held across chunks. Returns 0, or -1
 * after failing the parser (line too long, out of memory). */
static int hold_line(fq_sse *p, const char *b, size_t n)
{
    int rc = buf_add(&p->line, &p->line_len, &p->line_cap, b, n, FQ_SSE_LINE_MAX);
    if (rc > 0)
        line_too_long(p);
    else if (rc < 0)
        fail(p, FQ_SSE_NO_MEMORY, "out of memory while reading the stream");
    return rc == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------
 * Public API
 * ---------------------------------------------------------------------- */

fq_sse *fq_sse_new(void)
{
    fq_sse *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->usage.cost_ticks = -1;
    return p;
}

void fq_sse_free(fq_sse *p)
{
    if (p == NULL)
        return;
    free(p->error);
    free(p->line);
    free(p->data);
    free(p->content);
    free(p->finish_reason);
    free(p);
}

int fq_sse_feed(fq_sse *p, const char *buf, size_t len)
{
    size_t i = 0;

    if (p == NULL)
        return -1;
    if (p->state != FQ_SSE_OK)
        return -1;
    if (p->done || p->finished)
        return 0;
    p->bytes += len;
    while (i < len) {
        if (p->after_cr) {
            p->after_cr = 0;
            if (buf[i] == '\n') {   /* the LF of a CRLF cut in two */
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < len && buf[j] != '\n' && buf[j] != '\r')
            j++;
        if (j == len) {             /* the line goes on in the next chunk */
            hold_line(p, buf + i, j - i);
            break;
        }
        if (p->line_len == 0) {
            if (j - i > FQ_SSE_LINE_MAX)
                line_too_long(p);
            else
                handle_line(p, buf + i, j - i);
        } else {
            if (hold_line(p, buf + i, j - i) == 0)
                handle_line(p, p->line, p->line_len);
            p->line_len = 0;
        }
        if (buf[j] == '\r') {
            if (j + 1 < len && buf[j + 1] == '\n')
                j++;
            else if (j + 1 == len)
                p->after_cr = 1;
        }
        i = j + 1;
        if (p->state != FQ_SSE_OK || p->done)
            break;
    }
    return p->state == FQ_SSE_OK ? 0 : -1;
}

void fq_sse_finish(fq_sse *p)
{
    if (p == NULL || p->finished)
        return;
    p->finished = 1;
    p->line_len = 0;            /* a line cut short says nothing for sure */
    if (p->state == FQ_SSE_OK && !p->done && p->has_data)
        dispatch(p);
}

fq_sse_state fq_sse_get_state(const fq_sse *p)
{
    return p->state;
}

int fq_sse_done(const fq_sse *p)
{
    return p->done;
}

const char *fq_sse_content(const fq_sse *p, size_t *len)
{
    if (len != NULL)
        *len = p->content_len;
    return p->content != NULL ? p->content : "";
}

const char *fq_sse_finish_reason(const fq_sse *p)
{
    return p->finish_reason;
}

int fq_sse_usage(const fq_sse *p, fq_usage *u)
{
    if (!p->has_usage)
        return 0;
    if (u != NULL)
        *u = p->usage;
    return 1;
}

const char *fq_sse_error(const fq_sse *p)
{
    if (p->state == FQ_SSE_OK)
        return NULL;
    if (p->error != NULL)
        return p->error;
    return p->state == FQ_SSE_ERROR_EVENT ? "stream error" : "out of memory while reading the stream";
}

void fq_sse_result(fq_sse *p, long status, fq_api_result *out)
{
    char err[SSE_ERROR_MAX];
    const char *why = NULL;

    fq_sse_finish(p);
    fq_api_result_reset(out, status);

    if (status != 200) {
        out->outcome = fq_outcome_classify(status, NULL, fq_sse_error(p), 0, 0);
        snprintf(err, sizeof(err), "HTTP %ld: %s", status,
                 p->state != FQ_SSE_OK ? fq_sse_error(p) : "an event stream instead of a body");
        out->error = strdup(err);
        return;
    }
    if (p->state == FQ_SSE_ERROR_EVENT) {
        out->outcome = p->error_outcome;
        out->error = strdup(fq_sse_error(p));
        return;
    }
    if (p->state != FQ_SSE_OK) {
        why = fq_sse_error(p);
    } else if (!p->done) {
        snprintf(err, sizeof(err), "truncated stream: no [DONE] after %zu events (%zu bytes)",
                 p->events, p->bytes);
        why = err;
    } else if (p->finish_reason == NULL) {
        snprintf(err, sizeof(err), "truncated stream: [DONE] without a finish_reason (%zu events)",
                 p->events);
        why = err;
    } else {
        out->finish_reason = strdup(p->finish_reason);
        if (p->content != NULL) {
            out->content = p->content;      /* taken over */
            p->content = NULL;
            p->content_len = p->content_cap = 0;
        } else {
            out->content = strdup("");
        }
        if (out->content == NULL || out->finish_reason == NULL) {
            free(out->content);
            free(out->finish_reason);
            out->content = out->finish_reason = NULL;
            why = "out of memory while reading the stream";
        } else {
            out->usage = p->usage;
            out->usage_estimated = !p->has_usage;   /* many servers send none */
        }
    }
    out->outcome = fq_outcome_classify(200, NULL, NULL, why == NULL, 0);
    if (why != NULL)
        out->error = strdup(why);
}
