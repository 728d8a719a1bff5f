/* test_sse.c -- the streamed chat completion parser (common/sse.c) and the
 * client reading a stream over HTTP (common/api.c).
 *
 * The first part feeds canned streams to the parser: fleetq-mockapi's
 * format and xAI's/OpenAI's (usage in a chunk of its own, reasoning
 * content, keep-alive comments), whole, one byte at a time and cut at
 * random places, all of which must give the same result; line ends, event
 * fields and the byte order mark; every way a stream can be incomplete or
 * wrong, the size limits, and how invalid UTF-8 is passed on.
 *
 * The second part runs the real client against the loopback server of
 * http_fixture.h (a thread per connection), which answers by the "model" of
 * the request:
 *   sse-ok      the xAI stream in 7-byte HTTP chunks;
 *   sse-ctype   the same with "Text/Event-Stream; charset=utf-8";
 *   sse-cut     half the stream, then the connection breaks;
 *   sse-stall   two events, then silence for 4 s;
 *   sse-slow    the stream in 8 pieces 250 ms apart;
 *   sse-late    the stream after 2 s of silence before the headers;
 *   sse-error   content, then an error event, then more content;
 *   sse-leak    an error event that echoes the key it was sent;
 *   json-429    a JSON rate-limit error body, as providers answer errors;
 *   json-ok     a whole JSON completion although a stream was asked for.
 * It checks that a request built with stream set asks for the stream and
 * the usage chunk. Each client test ends with uv_loop_close() == 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <uv.h>

#include "api.h"
#include "http_fixture.h"
#include "sse.h"

/* ------------------------------------------------------------------------
 * Canned streams
 * ---------------------------------------------------------------------- */

#define CHUNK_HEAD "{\"id\":\"9f2c\",\"object\":\"chat.completion.chunk\",\"created\":1735689600," \
                   "\"model\":\"grok-3-mini\","

/* What fleetq-mockapi sends: a role chunk with empty content, content
 * chunks, one chunk with finish_reason and usage, [DONE]. */
static const char mock_stream[] =
    "data: " CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
    "\"content\":\"\"}}],\"system_fingerprint\":\"fp_mock\"}\n\n"
    "data: " CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello, \"}}],"
    "\"system_fingerprint\":\"fp_mock\"}\n\n"
    "data: " CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"w\xC3\xB6rld \xE2\x9C\x93\"}}],"
    "\"system_fingerprint\":\"fp_mock\"}\n\n"
    "data: " CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5,\"total_tokens\":40,"
    "\"prompt_tokens_details\":{\"text_tokens\":12,\"audio_tokens\":0,\"image_tokens\":0,"
    "\"cached_tokens\":4},\"completion_tokens_details\":{\"reasoning_tokens\":23,"
    "\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0},"
    "\"num_sources_used\":0,\"cost_in_usd_ticks\":123456},\"system_fingerprint\":\"fp_mock\"}\n\n"
    "data: [DONE]\n\n";

/* xAI / OpenAI with stream_options.include_usage: a keep-alive comment,
 * usage null on ordinary chunks, reasoning content, finish_reason on the
 * last content chunk, then usage alone with empty choices. */
static const char xai_stream[] =
    ": keep-alive\n\n"
    "data: " CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}],"
    "\"usage\":null}\n\n"
    "data: " CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":"
    "\"Thinking about it\"}}],\"usage\":null}\n\n"
    "data: " CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The answer\"},"
    "\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: " CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" is 42.\"},"
    "\"finish_reason\":\"length\"}],\"usage\":null}\n\n"
    "data: " CHUNK_HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":30,"
    "\"completion_tokens\":7,\"total_tokens\":137,\"prompt_tokens_details\":"
    "{\"cached_tokens\":10},\"completion_tokens_details\":{\"reasoning_tokens\":100},"
    "\"cost_in_usd_ticks\":98765}}\n\n"
    "data: [DONE]\n\n";

/* Every kind of line: comments, event names, id and retry, unknown
 * fields, a field without a colon, data without the space, one event's
 * JSON over several data lines, the byte order mark, an event of another
 * name, an empty data event, and input after [DONE]. */
static const char fields_stream[] =
    "\xEF\xBB\xBF: a comment before anything\n"
    "retry: 3000\n"
    "id: 1\n"
    "event: message\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n"
    "\n"
    "event: ping\n"
    "data: not json, and skipped because of its name\n"
    "\n"
    "id\n"
    "data\n"
    "\n"
    ":another comment\n"
    "data: {\"choices\":[{\"index\":0,\n"
    "data: \"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}],\n"
    "data: \"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}\n"
    "\n"
    "unknown: field\n"
    "event: an-event-name-far-too-long-to-be-one-we-know\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"skipped\"}}]}\n"
    "\n"
    "data:[DONE]\n"
    "\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"after done\"}}]}\n\n"
    "data: {broken\n\n";

/* ------------------------------------------------------------------------
 * Running the parser
 * ---------------------------------------------------------------------- */

typedef struct snap {
    fq_sse_state state;
    int done;
    char *content;
    size_t len;
    char *finish;
    int has_usage;
    fq_usage usage;
    char *error;
    fq_api_result res;
} snap;

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

/* Finishes p and records everything it says, then its result. */
static void take(fq_sse *p, snap *s)
{
    size_t len;
    const char *c;
    memset(s, 0, sizeof(*s));
    fq_sse_finish(p);
    s->state = fq_sse_get_state(p);
    s->done = fq_sse_done(p);
    c = fq_sse_content(p, &len);
    s->content = malloc(len + 1);
    assert_non_null(s->content);
    memcpy(s->content, c, len + 1);
    s->len = len;
    s->finish = dup_or_null(fq_sse_finish_reason(p));
    s->has_usage = fq_sse_usage(p, &s->usage);
    s->error = dup_or_null(fq_sse_error(p));
    fq_sse_result(p, 200, &s->res);
    fq_sse_free(p);
}

static void snap_free(snap *s)
{
    free(s->content);
    free(s->finish);
    free(s->error);
    fq_api_result_free(&s->res);
}

static void feed_all(fq_sse *p, const char *buf, size_t len, const size_t *cuts, size_t ncuts)
{
    size_t at = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        fq_sse_feed(p, buf + at, end - at);
        at = end;
    }
}

static void run_whole(const char *buf, size_t len, snap *s)
{
    fq_sse *p = fq_sse_new();
    assert_non_null(p);
    fq_sse_feed(p, buf, len);
    take(p, s);
}

static void run_bytes(const char *buf, size_t len, snap *s)
{
    fq_sse *p = fq_sse_new();
    assert_non_null(p);
    for (size_t i = 0; i < len; i++)
        fq_sse_feed(p, buf + i, 1);
    take(p, s);
}

static unsigned next_rand(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) & 0x7fff;
}

/* Cut at up to 12 random places, some of them empty chunks. */
static void run_random(const char *buf, size_t len, unsigned seed, snap *s)
{
    size_t cuts[12];
    size_t n = next_rand(&seed) % 13;
    for (size_t i = 0; i < n; i++)
        cuts[i] = len > 0 ? next_rand(&seed) % (len + 1) : 0;
    for (size_t i = 1; i < n; i++)            /* sort */
        for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
            size_t t = cuts[j];
            cuts[j] = cuts[j - 1];
            cuts[j - 1] = t;
        }
    fq_sse *p = fq_sse_new();
    assert_non_null(p);
    feed_all(p, buf, len, cuts, n);
    take(p, s);
}

static void assert_same_opt(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        assert_true(a == b);
    else
        assert_string_equal(a, b);
}

static void assert_same(const snap *a, const snap *b)
{
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->done, b->done);
    assert_int_equal(a->len, b->len);
    assert_memory_equal(a->content, b->content, a->len);
    assert_same_opt(a->finish, b->finish);
    assert_int_equal(a->has_usage, b->has_usage);
    assert_memory_equal(&a->usage, &b->usage, sizeof(a->usage));
    assert_same_opt(a->error, b->error);
    assert_int_equal(a->res.outcome, b->res.outcome);
    assert_same_opt(a->res.content, b->res.content);
    assert_same_opt(a->res.error, b->res.error);
}

/* Whole, byte by byte and 300 random ways give the same as whole. */
static void check_splits(const char *buf, size_t len, snap *whole)
{
    snap s;
    run_whole(buf, len, whole);
    run_bytes(buf, len, &s);
    assert_same(whole, &s);
    snap_free(&s);
    for (unsigned seed = 1; seed <= 300; seed++) {
        run_random(buf, len, seed, &s);
        assert_same(whole, &s);
        snap_free(&s);
    }
}

/* An error line as the store keeps it: bounded, no control characters. */
static void assert_clean_line(const char *e)
{
    assert_non_null(e);
    assert_true(strlen(e) > 0 && strlen(e) < 300);
    for (const unsigned char *c = (const unsigned char *)e; *c != '\0'; c++)
        assert_true(*c >= 0x20 && *c != 0x7f);
}

/* Every count of a usage, one by one. */
static void assert_usage(const fq_usage *u, fq_usage want)
{
    assert_int_equal(u->prompt_tokens, want.prompt_tokens);
    assert_int_equal(u->completion_tokens, want.completion_tokens);
    assert_int_equal(u->reasoning_tokens, want.reasoning_tokens);
    assert_int_equal(u->cached_tokens, want.cached_tokens);
    assert_int_equal(u->total_tokens, want.total_tokens);
    assert_int_equal(u->cost_ticks, want.cost_ticks);
}

static int starts_with(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* s with every "\n" replaced by eol (malloc'd). */
static char *with_eol(const char *s, const char *eol)
{
    size_t n = 0, el = strlen(eol);
    for (const char *c = s; *c; c++)
        n += *c == '\n' ? el : 1;
    char *out = malloc(n + 1), *o = out;
    assert_non_null(out);
    for (const char *c = s; *c; c++) {
        if (*c == '\n') {
            memcpy(o, eol, el);
            o += el;
        } else {
            *o++ = *c;
        }
    }
    *o = '\0';
    return out;
}

/* ------------------------------------------------------------------------
 * The formats
 * ---------------------------------------------------------------------- */

static void test_mock_format(void **state)
{
    snap s;
    check_splits(mock_stream, strlen(mock_stream), &s);
    assert_int_equal(s.state, FQ_SSE_OK);
    assert_true(s.done);
    assert_string_equal(s.content, "Hello, w\xC3\xB6rld \xE2\x9C\x93");
    assert_string_equal(s.finish, "stop");
    assert_true(s.has_usage);
    assert_null(s.error);

    assert_int_equal(s.res.outcome, FQ_OUT_OK);
    assert_int_equal(s.res.http_status, 200);
    assert_null(s.res.error);
    assert_string_equal(s.res.content, "Hello, w\xC3\xB6rld \xE2\x9C\x93");
    assert_string_equal(s.res.finish_reason, "stop");
    assert_usage(&s.res.usage, (fq_usage){ .prompt_tokens = 12, .completion_tokens = 5,
                                           .reasoning_tokens = 23, .cached_tokens = 4,
                                           .total_tokens = 40, .cost_ticks = 123456 });
    snap_free(&s);
}

static void test_xai_format(void **state)
{
    snap s;
    check_splits(xai_stream, strlen(xai_stream), &s);
    assert_int_equal(s.res.outcome, FQ_OUT_OK);
    /* reasoning content is not part of the answer */
    assert_string_equal(s.res.content, "The answer is 42.");
    assert_string_equal(s.res.finish_reason, "length");
    assert_usage(&s.res.usage, (fq_usage){ .prompt_tokens = 30, .completion_tokens = 7,
                                           .reasoning_tokens = 100, .cached_tokens = 10,
                                           .total_tokens = 137, .cost_ticks = 98765 });
    snap_free(&s);
}

/* The same stream with CRLF and with CR line ends, cut anywhere (also
 * between CR and LF), says exactly what the LF one says. */
static void test_line_ends(void **state)
{
    snap lf, other;
    static const char *const streams[] = {xai_stream, fields_stream};
    static const char *const eols[] = {"\r\n", "\r"};
    for (size_t k = 0; k < 2; k++) {
        run_whole(streams[k], strlen(streams[k]), &lf);
        assert_int_equal(lf.res.outcome, FQ_OUT_OK);
        for (size_t i = 0; i < 2; i++) {
            char *t = with_eol(streams[k], eols[i]);
            check_splits(t, strlen(t), &other);
            assert_same(&lf, &other);
            snap_free(&other);
            free(t);
        }
        snap_free(&lf);
    }
    /* mixed in one stream */
    static const char mixed[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\r\n\r\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}\r\r"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"c\"},\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}\n\r\n"
        "data: [DONE]\r\n\n";
    check_splits(mixed, strlen(mixed), &other);
    assert_int_equal(other.res.outcome, FQ_OUT_OK);
    assert_string_equal(other.res.content, "abc");
    snap_free(&other);
}

/* The fields stream, and several choices in one chunk. */
static void test_event_fields(void **state)
{
    snap s;
    check_splits(fields_stream, strlen(fields_stream), &s);
    assert_int_equal(s.state, FQ_SSE_OK);
    assert_true(s.done);
    assert_int_equal(s.res.outcome, FQ_OUT_OK);
    assert_string_equal(s.res.content, "ab");
    assert_string_equal(s.res.finish_reason, "stop");
    assert_int_equal(s.res.usage.prompt_tokens, 1);
    assert_int_equal(s.res.usage.completion_tokens, 2);
    assert_int_equal(s.res.usage.cost_ticks, -1);
    snap_free(&s);

    /* several choices: only index 0 is the answer; "error": null is no error */
    static const char two[] =
        "data: {\"error\":null,\"choices\":[{\"index\":1,\"delta\":{\"content\":\"X\"}},"
        "{\"index\":0,\"delta\":{\"content\":\"Y\"},\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}\n\n"
        "data: [DONE]\n\n";
    run_whole(two, strlen(two), &s);
    assert_int_equal(s.res.outcome, FQ_OUT_OK);
    assert_string_equal(s.res.content, "Y");
    snap_free(&s);

    /* a byte order mark right before the first field; only there */
    static const char bom[] =
        "\xEF\xBB\xBF" "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Z\"},"
        "\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}\n\n"
        "\xEF\xBB\xBF" "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"skipped\"}}]}\n\n"
        "data: [DONE]\n\n";
    check_splits(bom, strlen(bom), &s);
    assert_int_equal(s.res.outcome, FQ_OUT_OK);
    assert_string_equal(s.res.content, "Z");
    snap_free(&s);
}

/* OpenAI counts reasoning inside completion_tokens; the stream's usage is
 * normalised as a whole body's is. */
static void test_usage_normalised(void **state)
{
    static const char t[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":50,"
        "\"total_tokens\":60,\"completion_tokens_details\":{\"reasoning_tokens\":30}},"
        "\"cost_in_usd_ticks\":777}\n\n"
        "data: [DONE]\n\n";
    snap s;
    run_whole(t, strlen(t), &s);
    assert_int_equal(s.res.outcome, FQ_OUT_OK);
    assert_int_equal(s.res.usage.prompt_tokens, 10);
    assert_int_equal(s.res.usage.completion_tokens, 20);
    assert_int_equal(s.res.usage.reasoning_tokens, 30);
    assert_int_equal(s.res.usage.total_tokens, 60);
    assert_int_equal(s.res.usage.cost_ticks, 777);     /* from the chunk's root */
    snap_free(&s);

    /* a server that repeats usage on every chunk: the last one counts */
    static const char rep[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}],"
        "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n"
        "data: [DONE]\n\n";
    run_whole(rep, strlen(rep), &s);
    assert_int_equal(s.res.outcome, FQ_OUT_OK);
    assert_int_equal(s.res.usage.completion_tokens, 2);
    assert_int_equal(s.res.usage.total_tokens, 7);
    snap_free(&s);
}

/* ------------------------------------------------------------------------
 * Incomplete streams
 * ---------------------------------------------------------------------- */

/* Every prefix that stops before the line "data: [DONE]" has ended is
 * truncated (MALFORMED, retried, nothing of it kept); from there on the
 * answer is complete, with or without the final blank line. */
static void test_every_prefix(void **state)
{
    const char *streams[] = {mock_stream, xai_stream};
    for (size_t k = 0; k < 2; k++) {
        const char *t = streams[k];
        size_t len = strlen(t);
        size_t complete = (size_t)(strstr(t, "data: [DONE]\n") - t) + strlen("data: [DONE]\n");
        for (size_t n = 0; n <= len; n++) {
            snap s;
            run_whole(t, n, &s);
            if (n < complete) {
                assert_int_equal(s.res.outcome, FQ_OUT_MALFORMED);
                assert_null(s.res.content);
                assert_clean_line(s.res.error);
                assert_true(starts_with(s.res.error, "truncated stream: no [DONE] after "));
                assert_int_equal(s.res.usage.total_tokens, 0);
            } else {
                assert_int_equal(s.res.outcome, FQ_OUT_OK);
                assert_null(s.res.error);
            }
            snap_free(&s);
        }
    }
}

static void test_no_finish_or_usage(void **state)
{
    static const char no_finish[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"half an ans\"}}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,"
        "\"total_tokens\":2}}\n\n"
        "data: [DONE]\n\n";
    snap s;
    run_whole(no_finish, strlen(no_finish), &s);
    assert_true(s.done);
    assert_int_equal(s.res.outcome, FQ_OUT_MALFORMED);
    assert_null(s.res.content);
    assert_string_equal(s.res.error, "truncated stream: [DONE] without a finish_reason (2 events)");
    snap_free(&s);

    static const char no_usage[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}],"
        "\"usage\":null}\n\n"
        "data: [DONE]\n\n";
    /* a server that ignores stream_options.include_usage: the answer
     * stands, its tokens to be estimated */
    run_whole(no_usage, strlen(no_usage), &s);
    assert_int_equal(s.res.outcome, FQ_OUT_OK);
    assert_string_equal(s.res.content, "hi");
    assert_int_equal(s.res.usage_estimated, 1);
    assert_null(s.res.error);
    snap_free(&s);

    /* an empty answer is still an answer */
    static const char empty[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"},\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":0,\"total_tokens\":3}}\n\n"
        "data: [DONE]\n\n";
    run_whole(empty, strlen(empty), &s);
    assert_int_equal(s.res.outcome, FQ_OUT_OK);
    assert_string_equal(s.res.content, "");
    snap_free(&s);

    /* nothing at all */
    run_whole("", 0, &s);
    assert_int_equal(s.res.outcome, FQ_OUT_MALFORMED);
    assert_string_equal(s.res.error, "truncated stream: no [DONE] after 0 events (0 bytes)");
    snap_free(&s);
}

/* ------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------- */

static void check_error_event(const char *t, fq_outcome want, const char *want_error)
{
    snap s;
    check_splits(t, strlen(t), &s);
    assert_int_equal(s.state, FQ_SSE_ERROR_EVENT);
    assert_int_equal(s.res.outcome, want);
    assert_null(s.res.content);
    assert_null(s.res.finish_reason);
    assert_clean_line(s.res.error);
    assert_string_equal(s.res.error, want_error);
    snap_free(&s);
}

static void test_error_events(void **state)
{
    /* OpenAI's nested form, after some content, with content after it */
    check_error_event(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"part\"}}]}\n\n"
        "data: {\"error\":{\"message\":\"Rate limit reached for requests\",\"type\":\"requests\","
        "\"param\":null,\"code\":\"rate_limit_exceeded\"}}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"more\"},\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}\n\n"
        "data: [DONE]\n\n",
        FQ_OUT_RATE_LIMITED, "stream error rate_limit_exceeded: Rate limit reached for requests");
    /* xAI's flat form; control characters in the text are cleaned */
    check_error_event(
        "data: {\"code\":\"Internal error\",\"error\":\"Service\\ntemporarily\\u0007 unavailable\"}\n\n",
        FQ_OUT_SERVER_ERROR, "stream error Internal error: Service temporarily unavailable");
    /* a status in the error object decides */
    check_error_event(
        "data: {\"error\":{\"message\":\"Your team has used all available credits\",\"status\":429}}\n\n",
        FQ_OUT_NO_CREDITS, "stream error: Your team has used all available credits");
    check_error_event(
        "data: {\"error\":{\"message\":\"prompt too long\",\"code\":400}}\n\n",
        FQ_OUT_BAD_REQUEST, "stream error 400: prompt too long");
    /* an event named error, plain text */
    check_error_event("event: error\ndata: upstream timed out\n\n",
                      FQ_OUT_SERVER_ERROR, "stream error: upstream timed out");

    /* the parser stops at once: later input is refused */
    fq_sse *p = fq_sse_new();
    assert_non_null(p);
    static const char e[] = "data: {\"error\":\"boom\"}\n\n";
    assert_int_equal(fq_sse_feed(p, e, strlen(e)), -1);
    assert_int_equal(fq_sse_feed(p, "data: [DONE]\n\n", 14), -1);
    assert_false(fq_sse_done(p));
    assert_string_equal(fq_sse_error(p), "stream error: boom");
    fq_sse_free(p);
}

static void check_malformed(const char *t, const char *want_error)
{
    snap s;
    check_splits(t, strlen(t), &s);
    assert_int_equal(s.state, FQ_SSE_MALFORMED);
    assert_int_equal(s.res.outcome, FQ_OUT_MALFORMED);
    assert_null(s.res.content);
    assert_clean_line(s.res.error);
    assert_string_equal(s.res.error, want_error);
    snap_free(&s);
}

static void test_malformed_json(void **state)
{
    check_malformed("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
                    "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]\n\n"
                    "data: [DONE]\n\n",
                    "malformed stream: event 2 is not valid JSON (38 bytes)");
    check_malformed("data: {\"a\":1} trailing\n\n",
                    "malformed stream: event 1 is not valid JSON (16 bytes)");
    check_malformed("data: [1,2]\n\n", "malformed stream: event 1 is not a JSON object");
    check_malformed("data: 42\n\n", "malformed stream: event 1 is not a JSON object");
    check_malformed("data: \x01\x02\xff garbage\n\n",
                    "malformed stream: event 1 is not valid JSON (11 bytes)");
    /* JSON cut by the end of the stream, its line complete */
    check_malformed("data: {\"choices\":[\n", "malformed stream: event 1 is not valid JSON (12 bytes)");
}

/* ------------------------------------------------------------------------
 * Limits
 * ---------------------------------------------------------------------- */

/* "data: {"x":"aaa..."}" exactly n bytes long, without the line end. */
static char *line_of(size_t n)
{
    char *b = malloc(n + 3);
    assert_non_null(b);
    static const char head[] = "data: {\"x\":\"";
    memcpy(b, head, strlen(head));
    memset(b + strlen(head), 'a', n - strlen(head) - 2);
    memcpy(b + n - 2, "\"}", 2);
    memcpy(b + n, "\n\n", 3);
    return b;
}

static void test_long_lines(void **state)
{
    /* exactly at the limit: fine (a chunk without choices is ignored) */
    char *ok = line_of(FQ_SSE_LINE_MAX);
    snap s, t;
    run_whole(ok, FQ_SSE_LINE_MAX + 2, &s);
    assert_int_equal(s.state, FQ_SSE_OK);
    run_random(ok, FQ_SSE_LINE_MAX + 2, 7, &t);
    assert_same(&s, &t);
    snap_free(&s);
    snap_free(&t);
    free(ok);

    /* one byte over, whole in one chunk or cut up */
    char *over = line_of(FQ_SSE_LINE_MAX + 1);
    run_whole(over, FQ_SSE_LINE_MAX + 3, &s);
    assert_int_equal(s.state, FQ_SSE_LINE_TOO_LONG);
    assert_int_equal(s.res.outcome, FQ_OUT_MALFORMED);
    assert_string_equal(s.res.error, "malformed stream: a line is over 1024 KiB");
    run_random(over, FQ_SSE_LINE_MAX + 3, 11, &t);
    assert_same(&s, &t);
    snap_free(&s);
    snap_free(&t);
    free(over);

    /* an endless line fed in 4 KiB pieces is refused once it passes the
     * limit, without waiting for its end */
    fq_sse *p = fq_sse_new();
    assert_non_null(p);
    char piece[4096];
    memset(piece, 'a', sizeof(piece));
    assert_int_equal(fq_sse_feed(p, "data: ", 6), 0);
    size_t fed = 6;
    int rc = 0;
    while (rc == 0 && fed < 4 * FQ_SSE_LINE_MAX) {
        rc = fq_sse_feed(p, piece, sizeof(piece));
        fed += sizeof(piece);
    }
    assert_int_equal(rc, -1);
    assert_true(fed > FQ_SSE_LINE_MAX && fed <= FQ_SSE_LINE_MAX + sizeof(piece) + 6);
    assert_int_equal(fq_sse_get_state(p), FQ_SSE_LINE_TOO_LONG);
    fq_sse_free(p);

    /* an event of many short data lines is bounded the same way */
    p = fq_sse_new();
    assert_non_null(p);
    char dl[1030];
    memcpy(dl, "data: ", 6);
    memset(dl + 6, 'b', 1023);
    dl[1029] = '\n';
    rc = 0;
    for (int i = 0; i < 2000 && rc == 0; i++)
        rc = fq_sse_feed(p, dl, sizeof(dl));
    assert_int_equal(rc, -1);
    assert_int_equal(fq_sse_get_state(p), FQ_SSE_LINE_TOO_LONG);
    assert_string_equal(fq_sse_error(p), "malformed stream: an event's data is over 1024 KiB");
    fq_sse_free(p);
}

/* Content chunks of 64 KiB: exactly FQ_API_MAX_RESPONSE in all is an
 * answer, one more chunk is refused. */
static void feed_content_chunks(fq_sse *p, int chunks)
{
    size_t n = 64 * 1024;
    char *c = malloc(n + 128);
    assert_non_null(c);
    int off = snprintf(c, 128, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"");
    memset(c + off, 'z', n);
    size_t len = (size_t)off + n;
    len += (size_t)snprintf(c + len, 128, "\"}}]}\n\n");
    for (int i = 0; i < chunks; i++)
        fq_sse_feed(p, c, len);
    free(c);
}

static void test_content_cap(void **state)
{
    static const char tail[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}],"
        "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":9,\"total_tokens\":10}}\n\n"
        "data: [DONE]\n\n";
    int at_cap = (int)(FQ_API_MAX_RESPONSE / (64 * 1024));
    fq_sse *p = fq_sse_new();
    assert_non_null(p);
    feed_content_chunks(p, at_cap);
    assert_int_equal(fq_sse_feed(p, tail, strlen(tail)), 0);
    snap s;
    take(p, &s);
    assert_int_equal(s.res.outcome, FQ_OUT_OK);
    assert_int_equal(strlen(s.res.content), FQ_API_MAX_RESPONSE);
    snap_free(&s);

    p = fq_sse_new();
    assert_non_null(p);
    feed_content_chunks(p, at_cap + 1);
    assert_int_equal(fq_sse_get_state(p), FQ_SSE_TOO_LARGE);
    assert_int_equal(fq_sse_feed(p, tail, strlen(tail)), -1);
    take(p, &s);
    assert_int_equal(s.res.outcome, FQ_OUT_MALFORMED);
    assert_null(s.res.content);
    assert_string_equal(s.res.error, "response content over 8 MiB");
    /* what was kept never passed the cap */
    assert_true(s.len <= FQ_API_MAX_RESPONSE);
    snap_free(&s);
}

/* ------------------------------------------------------------------------
 * UTF-8 and other statuses
 * ---------------------------------------------------------------------- */

/* Invalid UTF-8 inside a JSON string passes through unchanged, as it does
 * in a whole body: the streamed answer and the whole one are the same
 * bytes. A character split between two deltas is joined again. */
static void test_utf8_passes_through(void **state)
{
    static const char t[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"A\xFF\xFE" "B\xC3\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\xA9 \\u00e9 \xED\xA0\x80\"},"
        "\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}\n\n"
        "data: [DONE]\n\n";
    static const char want[] = "A\xFF\xFE" "B\xC3\xA9 \xC3\xA9 \xED\xA0\x80";
    snap s;
    check_splits(t, strlen(t), &s);
    assert_int_equal(s.res.outcome, FQ_OUT_OK);
    assert_string_equal(s.res.content, want);

    static const char whole[] =
        "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
        "\"A\xFF\xFE" "B\xC3\xA9 \\u00e9 \xED\xA0\x80\"},\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}";
    fq_api_result r;
    memset(&r, 0, sizeof(r));
    fq_api_parse_response(200, whole, strlen(whole), 0, NULL, &r);
    assert_int_equal(r.outcome, FQ_OUT_OK);
    assert_string_equal(r.content, s.res.content);
    fq_api_result_free(&r);
    snap_free(&s);
}

static void test_other_status(void **state)
{
    fq_sse *p = fq_sse_new();
    assert_non_null(p);
    fq_sse_feed(p, mock_stream, strlen(mock_stream));
    fq_api_result r;
    memset(&r, 0, sizeof(r));
    fq_sse_result(p, 503, &r);
    assert_int_equal(r.outcome, FQ_OUT_SERVER_ERROR);
    assert_int_equal(r.http_status, 503);
    assert_null(r.content);
    assert_string_equal(r.error, "HTTP 503: an event stream instead of a body");
    fq_api_result_free(&r);
    fq_sse_free(p);
    fq_sse_free(NULL);
    assert_int_equal(fq_sse_feed(NULL, "x", 1), -1);
}

static void test_build_request(void **state)
{
    fq_api_request req = { .model = "grok-3-mini", .prompt = "hi", .max_tokens = 8, .stream = 1 };
    char *b = fq_api_build_request(&req);
    assert_non_null(b);
    cJSON *j = cJSON_Parse(b);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "stream")));
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "stream_options");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "include_usage")));
    cJSON_Delete(j);
    free(b);

    req.stream = 0;
    b = fq_api_build_request(&req);
    assert_non_null(b);
    j = cJSON_Parse(b);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "stream")));
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "stream_options"));
    cJSON_Delete(j);
    free(b);
}

/* ------------------------------------------------------------------------
 * The server
 * ---------------------------------------------------------------------- */

static fx_server *srv;

static const char ok_json[] =
    "{\"id\":\"c0ffee\",\"object\":\"chat.completion\",\"model\":\"json-ok\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"whole\"},"
    "\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":1,\"total_tokens\":5}}";

static const char error_stream[] =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"so far\"}}]}\n\n"
    "data: {\"error\":{\"message\":\"Too many requests\",\"type\":\"rate_limit_error\"}}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"never read\"}}]}\n\n"
    "data: [DONE]\n\n";

/* a as an event stream, not to be cached: text/event-stream unless a names
 * another content type; chunked, as a gives a piece size */
static int reply_stream(fx_request *rq, fx_answer a)
{
    if (a.content_type == NULL)
        a.content_type = "text/event-stream";
    a.headers[0] = "Cache-Control";
    a.headers[1] = "no-cache";
    return fx_reply(rq, &a);
}

static int respond(fx_request *rq, void *data)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(rq->json, "stream_options");
    int asks_stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rq->json, "stream")) &&
                      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "include_usage"));
    if (!asks_stream)
        return fx_reply_body(rq, 400, "{\"code\":\"test\",\"error\":\"no stream asked for\"}");

    const char *model = rq->model;
    size_t len = strlen(xai_stream), third = len / 3 + 1;
    if (strcmp(model, "sse-ok") == 0)
        return reply_stream(rq, (fx_answer){ .body = xai_stream, .piece = 7 });
    if (strcmp(model, "sse-ctype") == 0)
        return reply_stream(rq, (fx_answer){ .body = mock_stream, .piece = 64,
                                             .content_type = "Text/Event-Stream; charset=utf-8" });
    if (strcmp(model, "sse-cut") == 0)
        return reply_stream(rq, (fx_answer){ .body = xai_stream, .piece = 32,
                                             .cut_after = len / 2 });
    if (strcmp(model, "sse-stall") == 0)
        return reply_stream(rq, (fx_answer){ .body = xai_stream, .piece = third / 2,
                                             .cut_after = third / 2 * 2, .hang_ms = 4000 });
    if (strcmp(model, "sse-slow") == 0)
        return reply_stream(rq, (fx_answer){ .body = xai_stream, .piece = len / 8 + 1,
                                             .piece_delay_ms = 250 });
    if (strcmp(model, "sse-late") == 0)
        return reply_stream(rq, (fx_answer){ .body = xai_stream, .piece = third,
                                             .delay_ms = 2000 });
    if (strcmp(model, "sse-error") == 0)
        return reply_stream(rq, (fx_answer){ .body = error_stream, .piece = 16 });
    if (strcmp(model, "sse-leak") == 0) {
        /* an error event that echoes the key it was sent, in pieces */
        char text[512];
        const char *auth = fx_header(rq, "Authorization");
        const char *key = auth != NULL && strncmp(auth, "Bearer ", 7) == 0 ? auth + 7 : "";
        snprintf(text, sizeof(text), "data: {\"error\":\"Incorrect API key provided: %s "
                 "(in short: %.12s)\"}\n\n", key, key);
        return reply_stream(rq, (fx_answer){ .body = text, .piece = 5 });
    }
    if (strcmp(model, "json-429") == 0)
        return fx_reply_body(rq, 429, "{\"code\":\"Some resource has been exhausted\","
                                      "\"error\":\"Too many requests, slow down\"}");
    if (strcmp(model, "json-ok") == 0)
        return fx_reply_body(rq, 200, ok_json);
    return fx_reply_body(rq, 404, "{\"code\":\"not found\",\"error\":\"no such model\"}");
}

static int group_setup(void **state)
{
    srv = fx_server_start(respond, NULL);
    return srv != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
    fx_server_stop(srv);
    return 0;
}

/* ------------------------------------------------------------------------
 * The client
 * ---------------------------------------------------------------------- */

static int setup(void **state)
{
    fx_client *f = fx_client_new(srv, "/v1", 1);
    *state = f;
    if (f == NULL || fq_api_set_key(f->api, "test-key-for-streams") != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    assert_int_equal(fx_client_free(*state), 0);
    return 0;
}

static void test_http_stream(void **state)
{
    fx_client *f = *state;
    fx_seen s;
    fx_call(f, "sse-ok", 10, &s);
    assert_int_equal(s.outcome, FQ_OUT_OK);
    assert_int_equal(s.status, 200);
    assert_null(s.error);
    assert_string_equal(s.content, "The answer is 42.");
    assert_string_equal(s.finish, "length");
    assert_int_equal(s.usage.reasoning_tokens, 100);
    assert_int_equal(s.usage.cost_ticks, 98765);
    fx_seen_free(&s, 1);

    fx_call(f, "sse-ctype", 10, &s);
    assert_int_equal(s.outcome, FQ_OUT_OK);
    assert_string_equal(s.content, "Hello, w\xC3\xB6rld \xE2\x9C\x93");
    assert_int_equal(s.usage.cached_tokens, 4);
    fx_seen_free(&s, 1);
}

static void test_http_cut(void **state)
{
    fx_client *f = *state;
    fx_seen s;
    fx_call(f, "sse-cut", 10, &s);
    assert_int_equal(s.outcome, FQ_OUT_MALFORMED);
    assert_int_equal(s.status, 200);
    assert_null(s.content);
    assert_clean_line(s.error);
    assert_true(starts_with(s.error, "truncated stream: no [DONE] after "));
    fx_seen_free(&s, 1);
}

static void test_http_stall(void **state)
{
    fx_client *f = *state;
    fx_seen s;
    fq_api_set_stall_timeout(f->api, 1);
    fx_call(f, "sse-stall", 30, &s);
    assert_int_equal(s.outcome, FQ_OUT_TIMEOUT);
    assert_true(starts_with(s.error, "stream stalled: no data for 1 s (HTTP 200, "));
    assert_null(s.content);
    assert_true(s.latency_ms >= 900 && s.latency_ms < 3500);
    fx_seen_free(&s, 1);

    /* bytes every 250 ms keep a stream alive however long it takes */
    fx_call(f, "sse-slow", 30, &s);
    assert_int_equal(s.outcome, FQ_OUT_OK);
    assert_string_equal(s.content, "The answer is 42.");
    assert_true(s.latency_ms >= 1500);
    fx_seen_free(&s, 1);

    /* the stall clock starts with the first byte, not with the request */
    fx_call(f, "sse-late", 30, &s);
    assert_int_equal(s.outcome, FQ_OUT_OK);
    assert_true(s.latency_ms >= 1900);
    fx_seen_free(&s, 1);

    /* the total timeout still holds for a stream */
    fq_api_set_stall_timeout(f->api, 0);
    fx_call(f, "sse-stall", 2, &s);
    assert_int_equal(s.outcome, FQ_OUT_TIMEOUT);
    assert_true(starts_with(s.error, "timeout after 2 s (HTTP 200, "));
    fx_seen_free(&s, 1);
}

static void test_http_errors(void **state)
{
    fx_client *f = *state;
    fx_seen s;
    fx_call(f, "sse-error", 10, &s);
    assert_int_equal(s.outcome, FQ_OUT_RATE_LIMITED);
    assert_int_equal(s.status, 200);
    assert_null(s.content);
    assert_string_equal(s.error, "stream error rate_limit_error: Too many requests");
    fx_seen_free(&s, 1);

    /* a key echoed in an error event never reaches the error line */
    fx_call(f, "sse-leak", 10, &s);
    assert_int_equal(s.status, 200);
    assert_non_null(s.error);
    assert_null(strstr(s.error, "test-key"));
    assert_non_null(strstr(s.error, "provided: ******************** (in short: ************)"));
    fx_seen_free(&s, 1);

    /* errors come as plain JSON even to a streaming request */
    fx_call(f, "json-429", 10, &s);
    assert_int_equal(s.outcome, FQ_OUT_RATE_LIMITED);
    assert_int_equal(s.status, 429);
    assert_string_equal(s.error, "HTTP 429 Some resource has been exhausted: "
                                 "Too many requests, slow down");
    fx_seen_free(&s, 1);

    /* a server that answers whole is read whole */
    fx_call(f, "json-ok", 10, &s);
    assert_int_equal(s.outcome, FQ_OUT_OK);
    assert_string_equal(s.content, "whole");
    fx_seen_free(&s, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mock_format),
        cmocka_unit_test(test_xai_format),
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_event_fields),
        cmocka_unit_test(test_usage_normalised),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_no_finish_or_usage),
        cmocka_unit_test(test_error_events),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_content_cap),
        cmocka_unit_test(test_utf8_passes_through),
        cmocka_unit_test(test_other_status),
        cmocka_unit_test(test_build_request),
        cmocka_unit_test_setup_teardown(test_http_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_stall, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
