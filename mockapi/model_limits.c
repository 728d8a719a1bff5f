/* model_limits.c -- reading a per-model limits SPEC into its table.
 *
 * SPEC is MODEL:KEY=N[,KEY=N...][;MODEL:...] with the keys rate and tokens.
 * It is read in place, one entry (up to ';') and one KEY=N pair (up to ',')
 * at a time. Only models the mock serves may be named, so that a typing
 * error cannot leave a model silently unlimited. A value of 0 means that
 * the model has no limit of that kind of its own.
 */
#include "mock_model_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct limit_key {
    const char *name;
    size_t offset;   /* of the long in mock_model_limit */
    long max;
};

static const struct limit_key limit_keys[] = {
    { "rate", offsetof(mock_model_limit, rate), 1000000000L },
    { "tokens", offsetof(mock_model_limit, tokens), 1000000000000L },
};

#define KEY_COUNT (sizeof(limit_keys) / sizeof(limit_keys[0]))

/* Reads n characters of digits as a whole number in [0, max]. */
static int parse_whole(const char *s, size_t n, long max, long *out)
{
    char digits[16];
    if (n == 0 || n >= sizeof(digits)) return -1;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return -1;
    memcpy(digits, s, n);
    digits[n] = '\0';
    long v = strtol(digits, NULL, 10);
    if (v > max) return -1;
    *out = v;
    return 0;
}

/* One KEY=N of model's entry; seen has a bit per key already given. */
static int parse_pair(const char *model, const char *s, size_t n, mock_model_limit *lim,
                      unsigned *seen, char *err, size_t errlen)
{
    if (n == 0) {
        snprintf(err, errlen, "%s: an empty limit (one ',' too many?)", model);
        return -1;
    }
    const char *eq = memchr(s, '=', n);
    if (!eq) {
        snprintf(err, errlen, "%s: \"%.*s\" has no '=' (write rate=N or tokens=N)",
                 model, (int)(n > 64 ? 64 : n), s);
        return -1;
    }
    size_t key_len = (size_t)(eq - s);
    size_t k = 0;
    while (k < KEY_COUNT && !(strlen(limit_keys[k].name) == key_len &&
                              memcmp(limit_keys[k].name, s, key_len) == 0))
        k++;
    if (k == KEY_COUNT) {
        snprintf(err, errlen, "%s: unknown key \"%.*s\" (the keys are rate and tokens)",
                 model, (int)(key_len > 64 ? 64 : key_len), s);
        return -1;
    }
    if (*seen & (1u << k)) {
        snprintf(err, errlen, "%s: %s is given twice", model, limit_keys[k].name);
        return -1;
    }
    *seen |= 1u << k;
    const char *value = eq + 1;
    size_t value_len = n - key_len - 1;
    long *field = (long *)((char *)lim + limit_keys[k].offset);
    if (parse_whole(value, value_len, limit_keys[k].max, field) != 0) {
        snprintf(err, errlen, "%s: %s=\"%.*s\" is not a whole number from 0 to %ld", model,
                 limit_keys[k].name, (int)(value_len > 32 ? 32 : value_len), value,
                 limit_keys[k].max);
        return -1;
    }
    return 0;
}

/* One MODEL:KEY=N[,KEY=N...] of n characters. */
static int parse_entry(const char *s, size_t n, mock_model_limits *out, char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', n);
    if (n == 0 || colon == s) {
        snprintf(err, errlen, "an entry has an empty model name (write MODEL:rate=N)");
        return -1;
    }
    if (!colon) {
        snprintf(err, errlen, "\"%.*s\" has no ':' (write MODEL:rate=N,tokens=N)",
                 (int)(n > 64 ? 64 : n), s);
        return -1;
    }
    char name[64];
    size_t name_len = (size_t)(colon - s);
    const mock_model *m = NULL;
    if (name_len < sizeof(name)) {
        memcpy(name, s, name_len);
        name[name_len] = '\0';
        m = mock_prices_find(name);
    }
    if (!m) {
        snprintf(err, errlen, "the mock serves no model \"%.*s\"; GET /v1/models lists them",
                 (int)(name_len > 64 ? 64 : name_len), s);
        return -1;
    }
    mock_model_limit *lim = &out->of[mock_prices_index(m)];
    if (lim->listed) {
        snprintf(err, errlen, "model %s is given twice", m->id);
        return -1;
    }
    lim->listed = 1;

    const char *p = colon + 1, *end = s + n;
    if (p == end) {
        snprintf(err, errlen, "%s: no limits after ':' (write %s:rate=N,tokens=N)", m->id, m->id);
        return -1;
    }
    unsigned seen = 0;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *pair_end = comma ? comma : end;
        if (parse_pair(m->id, p, (size_t)(pair_end - p), lim, &seen, err, errlen) != 0)
            return -1;
        if (!comma) return 0;
        p = comma + 1;
    }
}

int mock_model_limits_parse(const char *spec, mock_model_limits *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (*spec == '\0') return 0;
    const char *p = spec;
    for (;;) {
        const char *semi = strchr(p, ';');
        size_t n = semi ? (size_t)(semi - p) : strlen(p);
        if (parse_entry(p, n, out, err, errlen) != 0) return -1;
        if (!semi) return 0;
        p = semi + 1;
    }
}

const mock_model_limit *mock_model_limits_of(const mock_model_limits *t, const mock_model *m)
{
    const mock_model_limit *lim = &t->of[mock_prices_index(m)];
    return lim->listed ? lim : NULL;
}
