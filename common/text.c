/* text.c -- byte-level helpers shared by the common library (see text.h).
 *
 * The routines that read bytes take a pointer and a length, never rely on
 * a terminating NUL, because the bytes come from Redis, HTTP or the
 * environment and may hold anything. One UTF-8 decoder serves submissions
 * (checked with it), log lines (which replace what it refuses by U+FFFD)
 * and error lines (which show what it accepts as it is).
 *
 * fq_text_show() is how an error line quotes a value it did not expect: it
 * escapes what a terminal or a log reader might misread and stops after
 * FQ_TEXT_SHOW_BYTES bytes of output, at a character boundary, saying how
 * long the value really was. Callers that must hide secrets (config.c)
 * replace them before they call it, so a cut never leaves part of one.
 */
#include "text.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task.h"  /* fq_utf8_valid() is declared there */

/* ------------------------------------------------------------------------
 * UTF-8
 * --------------------------------------------------------------------- */

size_t fq_utf8_seq(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < need + 1)
        return 0;
    for (size_t k = 1; k <= need; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    if (need == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
        return 0;
    if (need == 3 && (cp < 0x10000 || cp > 0x10FFFF))
        return 0;
    return need + 1;
}

size_t fq_utf8_bad_at(const char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t i = 0;
    while (i < len) {
        size_t n = fq_utf8_seq(p + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

int fq_utf8_valid(const char *buf, size_t len)
{
    if (buf == NULL)
        return len == 0;
    return fq_utf8_bad_at(buf, len) == len;
}

/* ------------------------------------------------------------------------
 * Error lines
 * --------------------------------------------------------------------- */

const char *fq_text_show(fq_text_shown *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0, i = 0;
    b->s[o++] = '"';
    while (i < len) {
        char piece[8];
        size_t plen, adv = 1;
        size_t n = fq_utf8_seq(p + i, len - i);
        if (p[i] == '"' || p[i] == '\\') {
            piece[0] = '\\';
            piece[1] = (char)p[i];
            plen = 2;
        } else if (p[i] >= 0x20 && p[i] < 0x7f) {
            piece[0] = (char)p[i];
            plen = 1;
        } else if (n > 1) {
            memcpy(piece, p + i, n);  /* whole UTF-8 characters as they are */
            plen = adv = n;
        } else {
            snprintf(piece, sizeof(piece), "\\x%02x", p[i]);
            plen = 4;
        }
        if (o - 1 + plen > FQ_TEXT_SHOW_BYTES)
            break;
        memcpy(b->s + o, piece, plen);
        o += plen;
        i += adv;
    }
    b->s[o++] = '"';
    b->s[o] = '\0';
    if (i < len)
        snprintf(b->s + o, sizeof(b->s) - o, "... (%zu bytes)", len);
    return b->s;
}

int fq_text_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ------------------------------------------------------------------------
 * Characters, names, numbers and copies
 * --------------------------------------------------------------------- */

int fq_text_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == ':' || c == '-';
}

int fq_text_name_valid(const char *s, size_t len, size_t max)
{
    if (len == 0 || len > max)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!name_char(s[i]))
            return 0;
    }
    return 1;
}

int fq_text_parse_int64(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    uint64_t v = 0;
    if (len > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == len)
        return -1;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        if (v > (uint64_t)INT64_MAX)
            return -1;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

int fq_text_parse_decimal(const char *s, size_t len, double *out)
{
    char buf[64];
    size_t digits = 0, dots = 0;
    if (len == 0 || len >= sizeof(buf))
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digits++;
        else if (s[i] == '.')
            dots++;
        else
            return -1;
    }
    if (digits == 0 || dots > 1)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    double d = strtod(buf, &end);
    if (*end != '\0' || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

char *fq_text_dupn(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d == NULL)
        return NULL;
    if (len)
        memcpy(d, s, len);
    d[len] = '\0';
    return d;
}
