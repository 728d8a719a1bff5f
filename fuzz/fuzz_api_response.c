/* fuzz_api_response.c -- libFuzzer harness for fq_api_parse_response()
 * (api.h, api_parse.c): the status and body of a chat-completions reply.
 *
 * Input format: the first line is "<status>[ t<n>[ <transport message>]]"
 * and everything after the first '\n' is the body, so a seed reads like
 * "429\n{\"code\":...}". The status is an optional '-' and up to nine
 * digits (none means 0); " t1" marks a timeout, " t2" any other transport
 * failure, and the rest of the line is the transport's message. The body
 * is copied into a buffer of exactly its length (not NUL-terminated, like
 * curl hands it over), so an over-read trips AddressSanitizer.
 *
 * Each input is parsed as given, then once more as a failed transfer whose
 * message is the body, which pushes arbitrary bytes through the cleaning of
 * transport messages. After each parse the result must hold: the status as
 * given; an outcome in range; OK exactly when the status is 200, the
 * transfer completed and content was found; content only with OK; an error
 * line on every other outcome that is shorter than 300 bytes, valid UTF-8,
 * free of control characters and of leading white space; usage counts
 * that are non-negative with cached <= prompt, and all zero with cost -1
 * when the call failed. A broken invariant calls abort().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "task.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ERROR_MAX 300   /* api_parse.c's bound, NUL included */


static void check_error(const char *e)
{
    fuzz_check_error_line(e, ERROR_MAX, 0);
    if (e[0] == ' ')
        fail("error line starts with white space");
}

static void check_usage(const fq_usage *u, int ok)
{
    if (ok) {
        if (u->prompt_tokens < 0 || u->completion_tokens < 0 || u->reasoning_tokens < 0 ||
            u->cached_tokens < 0 || u->total_tokens < 0)
            fail("negative token count");
        if (u->cached_tokens > u->prompt_tokens)
            fail("more cached tokens than prompt tokens");
        if (u->cost_ticks < -1)
            fail("cost_ticks below -1");
    } else if (u->prompt_tokens || u->completion_tokens || u->reasoning_tokens ||
               u->cached_tokens || u->total_tokens || u->cost_ticks != -1) {
        fail("usage filled in for a failed call");
    }
}

static void check_result(const fq_api_result *r, long status, int transport)
{
    if (r->http_status != status)
        fail("http_status differs from the status given");
    if ((int)r->outcome < 0 || (int)r->outcome >= FQ_OUT_COUNT)
        fail("outcome out of range");
    int ok = r->outcome == FQ_OUT_OK;
    if (ok != (status == 200 && transport == 0 && r->content != NULL))
        fail("outcome OK does not match status 200 with content");
    if (transport == 1 && r->outcome != FQ_OUT_TIMEOUT)
        fail("a timeout not classified as timeout");
    if (transport == 2 && r->outcome != FQ_OUT_NETWORK)
        fail("a transport failure not classified as network");
    if (ok) {
        if (r->error != NULL)
            fail("error set on success");
    } else {
        if (r->content != NULL || r->finish_reason != NULL)
            fail("content or finish_reason set on failure");
        if (r->error == NULL)
            fail("no error on failure");
        check_error(r->error);
    }
    check_usage(&r->usage, ok);
}

static void parse_and_check(long status, const char *body, size_t len, int transport,
                            const char *msg)
{
    fq_api_result r;
    memset(&r, 0xA5, sizeof(r));    /* the parser must set what it owns */
    fq_api_parse_response(status, body, len, transport, msg, &r);
    check_result(&r, status, transport);
    fq_api_result_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size);
    size_t head = nl ? (size_t)(nl - in) : size;
    size_t i = 0;
    int neg = 0, transport = 0;
    long status = 0;

    if (i < head && in[i] == '-') {
        neg = 1;
        i++;
    }
    for (int digits = 0; i < head && digits < 9 && in[i] >= '0' && in[i] <= '9'; digits++, i++)
        status = status * 10 + (in[i] - '0');
    if (neg)
        status = -status;
    if (i + 1 < head && in[i] == ' ' && in[i + 1] == 't') {
        transport = (i + 2 < head && in[i + 2] == '1') ? 1 : 2;
        i += 3;
        if (i < head && in[i] == ' ')
            i++;
    }
    char *msg = NULL;
    if (transport != 0 && i < head) {
        msg = malloc(head - i + 1);
        if (msg == NULL)
            return 0;
        memcpy(msg, in + i, head - i);
        msg[head - i] = '\0';
    }

    size_t blen = nl ? size - head - 1 : 0;
    char *body = malloc(blen ? blen : 1);
    char *cbody = malloc(blen + 1);
    if (body == NULL || cbody == NULL) {
        free(body);
        free(cbody);
        free(msg);
        return 0;
    }
    if (blen > 0)
        memcpy(body, nl + 1, blen);
    memcpy(cbody, blen ? nl + 1 : "", blen);
    cbody[blen] = '\0';

    parse_and_check(status, blen ? body : NULL, blen, transport, msg);
    parse_and_check(status, body, blen, 1 + (int)(blen & 1), cbody);

    free(body);
    free(cbody);
    free(msg);
    return 0;
}
