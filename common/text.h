/* text.h -- small routines over untrusted bytes that several files of the
 * common library share: UTF-8 decoding, the quoted rendering of a value for
 * an error line, writing that line, white space, the id alphabet, strict
 * decimals and length-bounded copies. Internal to the common library;
 * programs use the module headers.
 *
 * fq_utf8_valid() is defined in text.c too but declared in task.h, part of
 * the public task API.
 */
#ifndef FQ_TEXT_H
#define FQ_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when the bytes there
 * are not one: stray continuation bytes, overlong forms, surrogates, code
 * points above U+10FFFF and sequences cut short by avail. avail >= 1. */
size_t fq_utf8_seq(const unsigned char *p, size_t avail);

/* Offset of the first byte of buf[0..len) that is not valid UTF-8, or len. */
size_t fq_utf8_bad_at(const char *buf, size_t len);

/* At most this many bytes of a value are shown in an error line. */
#define FQ_TEXT_SHOW_BYTES 40

typedef struct fq_text_shown {
    char s[FQ_TEXT_SHOW_BYTES * 4 + 48];
} fq_text_shown;

/* Renders s[0..len) into b for an error line and returns b->s: in double
 * quotes, printable ASCII and whole valid UTF-8 characters as they are,
 * quotes and backslashes escaped, any other byte as \xNN, at most
 * FQ_TEXT_SHOW_BYTES bytes of that, then "... (N bytes)" when cut. */
const char *fq_text_show(fq_text_shown *b, const char *s, size_t len);

/* Writes one formatted line into err (when err is not NULL and errlen > 0)
 * and returns -1, so a check can `return fq_text_fail(...)`. */
int fq_text_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 1 for the six ASCII white space characters: space, \t \n \r \v \f. */
int fq_text_is_space(char c);

/* 1 when s[0..len) is 1 to max characters of A-Z a-z 0-9 . _ : - (the
 * alphabet of task ids and model names). */
int fq_text_name_valid(const char *s, size_t len, size_t max);

/* Strict decimal integer in s[0..len): an optional '-', then at least one
 * digit and nothing else; values beyond +-INT64_MAX are refused. Returns 0
 * with the value in *out, or -1. */
int fq_text_parse_int64(const char *s, size_t len, int64_t *out);

/* Strict decimal number in s[0..len): digits with at most one '.' (".5"
 * and "1." too), at least one digit, at most 63 bytes; no sign, exponent,
 * white space, hex, inf or nan. Returns 0 with the value in *out, or -1. */
int fq_text_parse_decimal(const char *s, size_t len, double *out);

/* A NUL-terminated malloc'd copy of s[0..len) (bytes after a NUL in s are
 * copied too), or NULL when memory ran out. */
char *fq_text_dupn(const char *s, size_t len);

#endif
