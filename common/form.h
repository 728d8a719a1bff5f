/* form.h -- the value of one field of an application/x-www-form-urlencoded
 * body (what an HTML form posts: the dashboard's login), decoded.
 */
#ifndef FQ_FORM_H
#define FQ_FORM_H

#include <stddef.h>

/* Finds the first field called name in body[0..len) (fields split by '&',
 * name and value by the first '=') and decodes its value into out ('+' is
 * a space, %XX a byte; a '%' not followed by two hex digits stays as it
 * is), always NUL-terminated within outlen. Returns the value's length,
 * or -1 when there is no such field or its value does not fit (out is
 * then ""). A value decoding to a NUL byte is refused as not fitting. */
long fq_form_value(const char *body, size_t len, const char *name, char *out, size_t outlen);

#endif
