/* fuzz_sse.c -- libFuzzer harness for the streamed chat completion parser
 * (sse.h, sse.c): server-sent events as a provider sends them.
 *
 * Input format: the first byte seeds how the rest is cut into chunks; the
 * rest is the event stream, so a seed reads like "\x07data: {...}\n\n".
 * Without a first byte there is nothing to do.
 *
 * The stream is fed twice: whole, in one buffer of exactly its length, and
 * cut into chunks of 0 to 40 bytes (now and then a longer one), each copied
 * into a buffer of exactly its own length, so a read past any chunk trips
 * AddressSanitizer. Both parsers are then finished and turned into results.
 *
 * Invariants (a broken one calls abort()): both parsers say the same thing
 * (state, [DONE], content bytes, finish_reason, usage, error line, and
 * outcome, content and error of the result), whatever the cuts; the state
 * is in range and an error line exists exactly when the state is not OK;
 * content has no NUL and never passes FQ_API_MAX_RESPONSE; every error line
 * is shorter than 300 bytes, valid UTF-8, without control characters; the
 * result is OK exactly when [DONE] and a finish_reason came without a
 * problem, then with content and finish_reason and no error, and with
 * usage_estimated set exactly when no usage came; otherwise with an error,
 * no content and no usage.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "sse.h"
#include "task.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ERROR_MAX 300   /* the bound on error lines, NUL included */


static int same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* Checks one finished parser on its own. */
static void check_parser(const fq_sse *p)
{
    fq_sse_state st = fq_sse_get_state(p);
    if ((int)st < FQ_SSE_OK || (int)st > FQ_SSE_NO_MEMORY)
        fail("state out of range");
    if ((st == FQ_SSE_OK) != (fq_sse_error(p) == NULL))
        fail("an error line without a problem, or a problem without one");
    if (st != FQ_SSE_OK)
        fuzz_check_error_line(fq_sse_error(p), ERROR_MAX, 0);
    size_t len;
    const char *c = fq_sse_content(p, &len);
    if (c == NULL || strlen(c) != len)
        fail("content length wrong or content with a NUL");
    if (len > FQ_API_MAX_RESPONSE)
        fail("content over the cap");
}

static void compare(const fq_sse *a, const fq_sse *b)
{
    size_t la, lb;
    const char *ca = fq_sse_content(a, &la);
    const char *cb = fq_sse_content(b, &lb);
    fq_usage ua, ub;
    memset(&ua, 0, sizeof(ua));
    memset(&ub, 0, sizeof(ub));
    if (fq_sse_get_state(a) != fq_sse_get_state(b))
        fail("state differs between whole and cut input");
    if (fq_sse_done(a) != fq_sse_done(b))
        fail("[DONE] differs between whole and cut input");
    if (la != lb || memcmp(ca, cb, la) != 0)
        fail("content differs between whole and cut input");
    if (!same_str(fq_sse_finish_reason(a), fq_sse_finish_reason(b)))
        fail("finish_reason differs between whole and cut input");
    if (fq_sse_usage(a, &ua) != fq_sse_usage(b, &ub) || memcmp(&ua, &ub, sizeof(ua)) != 0)
        fail("usage differs between whole and cut input");
    if (!same_str(fq_sse_error(a), fq_sse_error(b)))
        fail("error differs between whole and cut input");
}

static void check_result(const fq_api_result *r, int complete, int had_usage)
{
    if ((int)r->outcome < 0 || (int)r->outcome >= FQ_OUT_COUNT)
        fail("outcome out of range");
    if (r->http_status != 200)
        fail("http_status is not the status given");
    if ((r->outcome == FQ_OUT_OK) != complete)
        fail("outcome OK does not match a complete stream");
    if (r->outcome == FQ_OUT_OK) {
        if (r->content == NULL || r->finish_reason == NULL || r->error != NULL)
            fail("OK without content and finish_reason, or with an error");
        if (r->usage.prompt_tokens < 0 || r->usage.completion_tokens < 0 ||
            r->usage.reasoning_tokens < 0 || r->usage.cached_tokens < 0 ||
            r->usage.total_tokens < 0 || r->usage.cached_tokens > r->usage.prompt_tokens)
            fail("usage out of range");
        if (r->usage_estimated != !had_usage)
            fail("usage_estimated does not say whether usage came");
    } else {
        if (r->content != NULL || r->finish_reason != NULL)
            fail("content or finish_reason set on failure");
        fuzz_check_error_line(r->error, ERROR_MAX, 0);
        if (r->usage.prompt_tokens || r->usage.completion_tokens || r->usage.reasoning_tokens ||
            r->usage.cached_tokens || r->usage.total_tokens || r->usage.cost_ticks != -1)
            fail("usage filled in for a failed call");
        if (r->usage_estimated != 0)
            fail("usage_estimated set for a failed call");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint32_t seed = data[0] * 2654435761u + 1;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;

    fq_sse *whole = fq_sse_new();
    fq_sse *cut = fq_sse_new();
    char *buf = malloc(len ? len : 1);
    if (whole == NULL || cut == NULL || buf == NULL)
        goto out;
    memcpy(buf, in, len);
    fq_sse_feed(whole, buf, len);

    size_t at = 0;
    while (at < len) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 16) % 41;
        if (((seed >> 8) & 0x1f) == 0)
            n = (seed >> 20) % 4096;
        if (n > len - at)
            n = len - at;
        char *piece = malloc(n ? n : 1);
        if (piece == NULL)
            goto out;
        memcpy(piece, in + at, n);
        fq_sse_feed(cut, piece, n);
        free(piece);
        at += n;
    }
    fq_sse_finish(whole);
    fq_sse_finish(cut);
    check_parser(whole);
    check_parser(cut);
    compare(whole, cut);

    fq_usage u;
    int complete = fq_sse_get_state(whole) == FQ_SSE_OK && fq_sse_done(whole) &&
                   fq_sse_finish_reason(whole) != NULL;
    int had_usage = fq_sse_usage(whole, &u);
    fq_api_result ra, rb;
    memset(&ra, 0xA5, sizeof(ra));      /* the parser must set what it owns */
    memset(&rb, 0xA5, sizeof(rb));
    fq_sse_result(whole, 200, &ra);
    fq_sse_result(cut, 200, &rb);
    check_result(&ra, complete, had_usage);
    check_result(&rb, complete, had_usage);
    if (ra.outcome != rb.outcome || !same_str(ra.content, rb.content) ||
        !same_str(ra.error, rb.error))
        fail("results differ between whole and cut input");
    fq_api_result_free(&ra);
    fq_api_result_free(&rb);
out:
    free(buf);
    fq_sse_free(whole);
    fq_sse_free(cut);
    return 0;
}
