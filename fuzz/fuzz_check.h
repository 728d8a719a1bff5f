/* fuzz_check.h -- the checks every harness makes of an error line, and
 * the way a harness reports a broken invariant (abort(), which libFuzzer
 * turns into a saved crashing input). Included by the fuzz_*.c harnesses.
 */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task.h"

static void fail(const char *what)
{
    fprintf(stderr, "%s: invariant broken: %s\n", program_invocation_short_name, what);
    abort();
}

/* An error line in a buffer of cap bytes: present and not empty, ended
 * within cap, free of control characters, and valid UTF-8 (when may_cut,
 * a line that filled the buffer may end inside a character). */
static inline void fuzz_check_error_line(const char *e, size_t cap, int may_cut)
{
    if (e == NULL)
        fail("no error line");
    size_t n = strnlen(e, cap);
    if (n == 0)
        fail("empty error line");
    if (n >= cap)
        fail("error line not ended within its bound");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)e[i];
        if (c < 0x20 || c == 0x7f)
            fail("control character in the error line");
    }
    if ((!may_cut || n < cap - 1) && !fq_utf8_valid(e, n))
        fail("error line is not valid UTF-8");
}

#endif
