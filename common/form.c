/* form.c -- one field of a form-encoded body (see form.h). */
#include "form.h"

#include <string.h>

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
           : -1;
}

/* Decodes v[0..n) into out; -1 when it does not fit or holds a NUL. */
static long decode(const char *v, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        int hi, lo;
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < n && (hi = hex_digit(v[i + 1])) >= 0 &&
                   (lo = hex_digit(v[i + 2])) >= 0) {
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0' || o + 1 >= outlen)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

long fq_form_value(const char *body, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    if (outlen == 0)
        return -1;
    out[0] = '\0';
    for (size_t at = 0; at <= len;) {
        const char *field = body + at;
        const char *amp = memchr(field, '&', len - at);
        size_t flen = amp != NULL ? (size_t)(amp - field) : len - at;
        const char *eq = memchr(field, '=', flen);
        if (eq != NULL && (size_t)(eq - field) == nlen && memcmp(field, name, nlen) == 0) {
            long n = decode(eq + 1, flen - nlen - 1, out, outlen);
            if (n < 0)
                out[0] = '\0';
            return n;
        }
        if (amp == NULL)
            break;
        at += flen + 1;
    }
    return -1;
}
