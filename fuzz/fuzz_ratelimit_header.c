/* fuzz_ratelimit_header.c -- libFuzzer harness for fq_api_parse_header()
 * (api.h, api_parse.c): the response header lines curl hands over one by
 * one, such as "x-ratelimit-remaining-requests: 17\r\n" or
 * "retry-after: Wed, 21 Oct 2015 07:28:00 GMT".
 *
 * The input is split after every '\n' into lines (each keeps its "\r\n",
 * as curl's header callback sees it); each line is copied into a buffer of
 * exactly its length and parsed into one fq_ratelimit_headers after
 * fq_ratelimit_headers_init(). Then the whole input is parsed as one line
 * into a fresh set. The request id goes into a 128-byte buffer and, for
 * bounds, into a short one whose length comes from the input's size; both
 * sit between guard bytes that must stay untouched.
 *
 * Invariants: every count is -1 or from 0 to 10^18; retry_after_ms is -1
 * or from 0 to one hour; each request id buffer holds a NUL within its
 * length and only the id alphabet before it. Parsing with NULL outputs
 * must not crash. A broken invariant calls abort().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GUARD 16
#define GUARD_BYTE 0x5A
#define COUNT_MAX 1000000000000000000LL   /* header_int() takes at most 18 digits */
#define RETRY_MAX_MS 3600000LL

typedef struct id_buf {
    unsigned char before[GUARD];
    char id[128];
    unsigned char after[GUARD];
} id_buf;


static void id_buf_init(id_buf *b)
{
    memset(b, GUARD_BYTE, sizeof(*b));
    b->id[0] = '\0';
}

static int id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == ':' || c == '-';
}

static void check_id(const id_buf *b, size_t idlen)
{
    for (size_t i = 0; i < GUARD; i++) {
        if (b->before[i] != GUARD_BYTE || b->after[i] != GUARD_BYTE)
            fail("request id written outside its buffer");
    }
    for (size_t i = idlen; i < sizeof(b->id); i++) {
        if ((unsigned char)b->id[i] != GUARD_BYTE)
            fail("request id written past the length it was given");
    }
    size_t n = strnlen(b->id, idlen);
    if (n >= idlen)
        fail("request id not NUL-terminated within its buffer");
    for (size_t i = 0; i < n; i++) {
        if (!id_char(b->id[i]))
            fail("request id holds a character outside [A-Za-z0-9._:-]");
    }
}

static void check_count(int64_t v, const char *what)
{
    if (v != -1 && (v < 0 || v >= COUNT_MAX))
        fail(what);
}

static void check_rl(const fq_ratelimit_headers *rl)
{
    check_count(rl->limit_requests, "limit_requests out of range");
    check_count(rl->remaining_requests, "remaining_requests out of range");
    check_count(rl->limit_tokens, "limit_tokens out of range");
    check_count(rl->remaining_tokens, "remaining_tokens out of range");
    if (rl->retry_after_ms != -1 && (rl->retry_after_ms < 0 || rl->retry_after_ms > RETRY_MAX_MS))
        fail("retry_after_ms out of range");
}

/* Parses data[0..len) from an exactly-sized copy into rl and both ids. */
static void parse_line(const uint8_t *data, size_t len, fq_ratelimit_headers *rl, id_buf *full,
                       id_buf *small, size_t small_len)
{
    char *line = malloc(len ? len : 1);
    if (line == NULL)
        return;
    if (len > 0)
        memcpy(line, data, len);
    fq_api_parse_header(line, len, rl, full->id, sizeof(full->id));
    fq_api_parse_header(line, len, NULL, small->id, small_len);
    fq_api_parse_header(line, len, rl, NULL, 0);
    fq_api_parse_header(line, len, NULL, NULL, 0);
    free(line);
    check_rl(rl);
    check_id(full, sizeof(full->id));
    check_id(small, small_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fq_ratelimit_headers rl;
    id_buf full, small;
    size_t small_len = 1 + size % 8;

    fq_ratelimit_headers_init(&rl);
    check_rl(&rl);
    if (rl.limit_requests != -1 || rl.remaining_requests != -1 || rl.limit_tokens != -1 ||
        rl.remaining_tokens != -1 || rl.retry_after_ms != -1)
        fail("fq_ratelimit_headers_init left a value other than -1");
    id_buf_init(&full);
    id_buf_init(&small);

    size_t start = 0;
    for (size_t i = 0; i < size; i++) {
        if (data[i] != '\n' && i + 1 < size)
            continue;
        parse_line(data + start, i + 1 - start, &rl, &full, &small, small_len);
        start = i + 1;
    }

    fq_ratelimit_headers_init(&rl);
    id_buf_init(&full);
    id_buf_init(&small);
    parse_line(data, size, &rl, &full, &small, small_len);
    fq_api_parse_header(NULL, 0, &rl, full.id, sizeof(full.id));
    return 0;
}
