/* fuzz_form.c -- libFuzzer harness for the form-body reader (form.h), the
 * parser of the dashboard's login posts.
 *
 * Input format: the first byte picks the output buffer's size (0..63),
 * the bytes up to the first newline are the field name (up to a NUL in
 * them), the rest the body, copied into a buffer of exactly its length
 * (not NUL-terminated, as a request body is not). Invariants:
 *  - the answer is -1 (out then "") or the value's length, which is the
 *    string length of out and below the buffer's size;
 *  - no byte beyond the buffer is written (a guard byte after it);
 *  - the value decoded, encoded again (every byte as %XX) in a body of
 *    its own and read back, is the same value.
 * A broken invariant calls abort().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GUARD 0x5a

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t outlen = data[0] % 64;
    const char *rest = (const char *)data + 1;
    size_t restlen = size - 1;
    const char *nl = memchr(rest, '\n', restlen);
    size_t namelen = nl != NULL ? (size_t)(nl - rest) : restlen;
    char *name = malloc(namelen + 1);
    size_t blen = nl != NULL ? restlen - namelen - 1 : 0;
    char *body = malloc(blen + 1);
    char *out = malloc(outlen + 1);
    if (name == NULL || body == NULL || out == NULL)
        abort();
    memcpy(name, rest, namelen);
    name[namelen] = '\0';
    namelen = strlen(name);
    if (blen > 0)
        memcpy(body, nl + 1, blen);
    out[outlen] = (char)GUARD;

    long n = fq_form_value(body, blen, name, out, outlen);
    if ((unsigned char)out[outlen] != GUARD)
        fail("wrote past the buffer");
    if (n < -1 || (n >= 0 && (size_t)n >= outlen))
        fail("a length out of range");
    if (outlen > 0 && n == -1 && out[0] != '\0')
        fail("no value, yet out is not empty");
    if (n >= 0 && strlen(out) != (size_t)n)
        fail("the length is not out's");

    if (n >= 0 && strchr(name, '&') == NULL && strchr(name, '=') == NULL) {
        /* encode the value as %XX and read it back */
        size_t elen = namelen + 1 + 3 * (size_t)n;
        char *enc = malloc(elen + 1), *again = malloc((size_t)n + 1);
        if (enc == NULL || again == NULL)
            abort();
        memcpy(enc, name, namelen);
        enc[namelen] = '=';
        for (long i = 0; i < n; i++)
            snprintf(enc + namelen + 1 + 3 * i, 4, "%%%02X", (unsigned char)out[i]);
        if (fq_form_value(enc, elen, name, again, (size_t)n + 1) != n || strcmp(again, out) != 0)
            fail("a value encoded and read back is not the same");
        free(enc);
        free(again);
    }
    free(name);
    free(body);
    free(out);
    return 0;
}
