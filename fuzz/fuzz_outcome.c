/* fuzz_outcome.c -- libFuzzer harness for the classifier of an API call's
 * answer (outcome.h): the wordings table that tells a rate limit from spent
 * credits or quota and from a request too large, and the status guessed for
 * an error inside a stream.
 *
 * Input format: the first line is the HTTP status (decimal, any text), the
 * second the error's code (or OpenAI's type), the rest its message; an
 * empty code or message stands for none. Invariants:
 *  - the outcome is one of the known ones, and has a name;
 *  - a transport failure is a timeout or a network outcome, whatever the
 *    rest says; a 200 is ok or malformed as the body says;
 *  - a 429 is a rate limit, spent credits or a request too large, never
 *    anything else, and unknown wording is a rate limit;
 *  - a 5xx is a server error whatever it says;
 *  - a status guessed from the text is 0 or 429, and an error the
 *    wordings make 429 classifies as one of a 429's outcomes;
 *  - the limit kind of a rate limit is requests or tokens.
 * A broken invariant calls abort().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "outcome.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next line of [*p, end) as a new string (NULL when empty). */
static char *take_line(const char **p, const char *end, int whole)
{
    const char *nl = whole ? NULL : memchr(*p, '\n', (size_t)(end - *p));
    size_t n = nl != NULL ? (size_t)(nl - *p) : (size_t)(end - *p);
    char *s = malloc(n + 1);
    if (s == NULL)
        abort();
    memcpy(s, *p, n);
    s[n] = '\0';
    *p += nl != NULL ? n + 1 : n;
    if (s[0] == '\0') {
        free(s);
        return NULL;
    }
    return s;
}

static int is_429_outcome(fq_outcome o)
{
    return o == FQ_OUT_RATE_LIMITED || o == FQ_OUT_NO_CREDITS || o == FQ_OUT_TOO_LARGE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char *status_text = take_line(&p, end, 0);
    char *code = take_line(&p, end, 0);
    char *msg = take_line(&p, end, 1);
    long status = status_text != NULL ? strtol(status_text, NULL, 10) : 0;

    fq_outcome o = fq_outcome_classify(status, code, msg, 0, 0);
    if ((int)o < 0 || o >= FQ_OUT_COUNT || strcmp(fq_outcome_name(o), "unknown") == 0)
        fail("an outcome out of range");
    if (fq_outcome_classify(status, code, msg, 1, 1) != FQ_OUT_TIMEOUT ||
        fq_outcome_classify(status, code, msg, 1, 2) != FQ_OUT_NETWORK)
        fail("a transport failure not decided by the transport");
    if (fq_outcome_classify(200, code, msg, 1, 0) != FQ_OUT_OK ||
        fq_outcome_classify(200, code, msg, 0, 0) != FQ_OUT_MALFORMED)
        fail("a 200 not decided by its body");
    if (status == 429 && !is_429_outcome(o))
        fail("a 429 that is not a rate limit, spent credits or too large");
    if (status >= 500 && status < 600 && o != FQ_OUT_SERVER_ERROR)
        fail("a 5xx that is not a server error");
    if (fq_outcome_classify(429, "zzzz", "zzzz", 0, 0) != FQ_OUT_RATE_LIMITED)
        fail("unknown wording of a 429 is not a rate limit");

    long guessed = fq_outcome_status_of_text(code, msg);
    if (guessed != 0 && guessed != 429)
        fail("a status guessed from the text that is not 0 or 429");
    if (guessed == 429 && !is_429_outcome(fq_outcome_classify(guessed, code, msg, 0, 0)))
        fail("a guessed 429 that does not classify as one");

    fq_limit_kind k = fq_outcome_limit_kind(msg, -1, -1);
    if (k != FQ_LIMIT_REQUESTS && k != FQ_LIMIT_TOKENS)
        fail("a limit kind out of range");

    free(status_text);
    free(code);
    free(msg);
    return 0;
}
