/* cost.c -- the price table and what calls cost, in USD ticks (see cost.h).
 *
 * Prices are quoted in USD per million tokens, which is exactly
 * price * 1e4 ticks per token (1 USD = 1e10 ticks). Every computation turns
 * a price into an integer number of ticks per token once, with llround(),
 * and then works in int64 only, so that the same usage always costs the
 * same ticks and budgets add up exactly. Prices therefore count to 1/10000
 * USD per million tokens, far below any real price step. Products saturate
 * at INT64_MAX instead of overflowing, so absurd token counts can only ever
 * over-count.
 *
 * The table is a small static array: the built-in xAI prices, then any
 * models that FLEETQ_PRICES adds. A model missing from it is priced by a
 * synthetic entry holding the highest price of each kind, kept in step with
 * the table whenever an override changes it.
 */
#include "cost.h"
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_MAX 64
#define USD_DECIMALS 10

static fq_price table[TABLE_MAX] = {
    {"grok-4", 3.00, 0.75, 15.00, 1},
    {"grok-3", 3.00, 0.75, 15.00, 0},
    {"grok-3-mini", 0.30, 0.075, 0.50, 1},
    {"grok-code-fast-1", 0.20, 0.02, 1.50, 1},
    {"grok-4-fast", 0.20, 0.05, 0.50, 1},
};
static int table_len = 5;

/* The highest price of each kind in the table above, marked reasoning. */
static fq_price fallback = {"unknown", 3.00, 0.75, 15.00, 1};

static void fallback_update(void)
{
    fallback.input_per_m = fallback.cached_per_m = fallback.output_per_m = 0;
    for (int i = 0; i < table_len; i++) {
        fallback.input_per_m = fmax(fallback.input_per_m, table[i].input_per_m);
        fallback.cached_per_m = fmax(fallback.cached_per_m, table[i].cached_per_m);
        fallback.output_per_m = fmax(fallback.output_per_m, table[i].output_per_m);
    }
    fallback.reasoning = 1;
}

/* ------------------------------------------------------------------------
 * Lookup
 * --------------------------------------------------------------------- */

const fq_price *fq_cost_lookup(const char *model)
{
    const fq_price *best = NULL;
    size_t best_len = 0;
    if (model == NULL)
        return &fallback;
    for (int i = 0; i < table_len; i++) {
        if (strcmp(table[i].model, model) == 0)
            return &table[i];
    }
    /* The longest entry that is a prefix ending at a '-' of the name. */
    for (int i = 0; i < table_len; i++) {
        size_t len = strlen(table[i].model);
        if (len > best_len && strncmp(table[i].model, model, len) == 0 && model[len] == '-') {
            best = &table[i];
            best_len = len;
        }
    }
    return best != NULL ? best : &fallback;
}

/* ------------------------------------------------------------------------
 * Arithmetic in ticks
 * --------------------------------------------------------------------- */

/* Ticks per token of a price in USD per million tokens. */
static int64_t ticks_per_token(double usd_per_m)
{
    if (!(usd_per_m > 0))
        return 0;
    double t = usd_per_m * (double)(FQ_TICKS_PER_USD / 1000000);
    if (t >= 9.0e18)
        return INT64_MAX;
    return (int64_t)llround(t);
}

static int64_t sat_mul(int64_t a, int64_t b)
{
    int64_t r;
    if (a <= 0 || b <= 0)
        return 0;
    if (__builtin_mul_overflow(a, b, &r))
        return INT64_MAX;
    return r;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return INT64_MAX;
    return r;
}

static int64_t nonneg(int64_t v)
{
    return v < 0 ? 0 : v;
}

int64_t fq_cost_ticks(const fq_price *p, const fq_usage *u)
{
    int64_t prompt = nonneg(u->prompt_tokens);
    int64_t cached = nonneg(u->cached_tokens);
    if (cached > prompt)
        cached = prompt;
    int64_t out = sat_add(nonneg(u->completion_tokens), nonneg(u->reasoning_tokens));
    int64_t t = sat_mul(prompt - cached, ticks_per_token(p->input_per_m));
    t = sat_add(t, sat_mul(cached, ticks_per_token(p->cached_per_m)));
    t = sat_add(t, sat_mul(out, ticks_per_token(p->output_per_m)));
    return t;
}

int64_t fq_cost_billed(const fq_price *p, const fq_usage *u)
{
    if (u->cost_ticks >= 0)
        return u->cost_ticks;
    return fq_cost_ticks(p, u);
}

static int64_t ceil_div(size_t n, size_t d)
{
    size_t q = n / d + (n % d != 0);
    return q > (size_t)INT64_MAX ? INT64_MAX : (int64_t)q;
}

int64_t fq_cost_estimate_prompt_tokens(size_t prompt_bytes, int messages)
{
    return sat_add(ceil_div(prompt_bytes, 4), sat_mul(4, messages > 0 ? messages : 0));
}

void fq_cost_estimate_usage(size_t prompt_bytes, int messages, size_t answer_bytes,
                            fq_usage *u)
{
    memset(u, 0, sizeof(*u));
    u->prompt_tokens = fq_cost_estimate_prompt_tokens(prompt_bytes, messages);
    u->completion_tokens = ceil_div(answer_bytes, 4);
    u->total_tokens = sat_add(u->prompt_tokens, u->completion_tokens);
    u->cost_ticks = -1;
}

int64_t fq_cost_worst_case(const fq_price *p, size_t prompt_bytes, int messages,
                           int64_t max_tokens, int64_t reasoning_reserve)
{
    int64_t prompt = sat_add(ceil_div(prompt_bytes, 2), sat_mul(8, messages > 0 ? messages : 0));
    int64_t out = nonneg(max_tokens);
    /* Only reasoning models think before they answer; unknown models are
     * marked reasoning, so they get the reserve too. */
    if (p->reasoning)
        out = sat_add(out, nonneg(reasoning_reserve));
    return sat_add(sat_mul(prompt, ticks_per_token(p->input_per_m)),
                   sat_mul(out, ticks_per_token(p->output_per_m)));
}

/* ------------------------------------------------------------------------
 * USD text
 * --------------------------------------------------------------------- */

char *fq_cost_format_usd(int64_t ticks, char *buf, size_t len)
{
    uint64_t mag = ticks < 0 ? (uint64_t)0 - (uint64_t)ticks : (uint64_t)ticks;
    uint64_t whole = mag / (uint64_t)FQ_TICKS_PER_USD;
    uint64_t frac = mag % (uint64_t)FQ_TICKS_PER_USD;
    char fbuf[USD_DECIMALS + 2];
    if (buf == NULL || len == 0)
        return buf;
    if (frac == 0) {
        snprintf(buf, len, "%s%llu", ticks < 0 ? "-" : "", (unsigned long long)whole);
        return buf;
    }
    snprintf(fbuf, sizeof(fbuf), "%010llu", (unsigned long long)frac);
    size_t n = strlen(fbuf);
    while (n > 0 && fbuf[n - 1] == '0')
        fbuf[--n] = '\0';
    snprintf(buf, len, "%s%llu.%s", ticks < 0 ? "-" : "", (unsigned long long)whole, fbuf);
    return buf;
}

int fq_cost_parse_usd(const char *s, int64_t *ticks)
{
    int64_t whole = 0, frac = 0;
    int whole_digits = 0, frac_digits = 0;
    const char *p = s;
    if (s == NULL)
        return -1;
    for (; *p >= '0' && *p <= '9'; p++, whole_digits++) {
        if (whole > INT64_MAX / FQ_TICKS_PER_USD)
            return -1;
        whole = whole * 10 + (*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, frac_digits++) {
            if (frac_digits == USD_DECIMALS)
                return -1;
            frac = frac * 10 + (*p - '0');
        }
        if (frac_digits == 0)
            return -1;
    }
    if (*p != '\0' || whole_digits + frac_digits == 0)
        return -1;
    for (int i = frac_digits; i < USD_DECIMALS; i++)
        frac *= 10;
    int64_t t;
    if (__builtin_mul_overflow(whole, FQ_TICKS_PER_USD, &t) || __builtin_add_overflow(t, frac, &t))
        return -1;
    *ticks = t;
    return 0;
}

/* ------------------------------------------------------------------------
 * FLEETQ_PRICES
 * --------------------------------------------------------------------- */

/* Parses one "model=in/cached/out[:r]" entry (NUL-terminated, writable). */
static int parse_entry(char *e, fq_price *p, int *reasoning_given, char *err, size_t errlen)
{
    char *eq = strchr(e, '=');
    char *parts[3];
    fq_text_shown sh;
    memset(p, 0, sizeof(*p));
    *reasoning_given = 0;
    if (eq == NULL || eq == e) {
        snprintf(err, errlen, "entry %s must look like model=input/cached/output "
                 "(USD per 1M tokens, e.g. grok-4=3/0.75/15, \":r\" for a reasoning model)",
                 fq_text_show(&sh, e, strlen(e)));
        return -1;
    }
    *eq = '\0';
    size_t mlen = strlen(e);
    if (mlen >= sizeof(p->model)) {
        snprintf(err, errlen, "model name %s is longer than %zu bytes",
                 fq_text_show(&sh, e, mlen), sizeof(p->model) - 1);
        return -1;
    }
    for (size_t i = 0; i < mlen; i++) {
        char c = e[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-')) {
            snprintf(err, errlen, "model name %s may only hold A-Z a-z 0-9 . _ : -",
                     fq_text_show(&sh, e, mlen));
            return -1;
        }
    }
    memcpy(p->model, e, mlen + 1);
    char *v = eq + 1;
    size_t vlen = strlen(v);
    if (vlen >= 2 && strcmp(v + vlen - 2, ":r") == 0) {
        v[vlen - 2] = '\0';
        *reasoning_given = 1;
    }
    parts[0] = v;
    parts[1] = strchr(v, '/');
    parts[2] = parts[1] ? strchr(parts[1] + 1, '/') : NULL;
    if (parts[1] == NULL || parts[2] == NULL || strchr(parts[2] + 1, '/') != NULL) {
        snprintf(err, errlen, "%s: prices must be input/cached/output in USD per 1M tokens "
                 "(e.g. 3/0.75/15)", p->model);
        return -1;
    }
    *parts[1]++ = '\0';
    *parts[2]++ = '\0';
    double *dst[3] = {&p->input_per_m, &p->cached_per_m, &p->output_per_m};
    for (int i = 0; i < 3; i++) {
        int64_t t;
        if (fq_cost_parse_usd(parts[i], &t) != 0 || t > 1000000 * FQ_TICKS_PER_USD) {
            snprintf(err, errlen, "%s: price %s must be a non-negative decimal like 0.75 "
                     "(USD per 1M tokens, at most 1000000)", p->model,
                     fq_text_show(&sh, parts[i], strlen(parts[i])));
            return -1;
        }
        *dst[i] = (double)t / (double)FQ_TICKS_PER_USD;
    }
    p->reasoning = *reasoning_given;
    return 0;
}

int fq_cost_override(const char *spec, char *err, size_t errlen)
{
    char scratch[8];
    if (err == NULL || errlen == 0) {
        err = scratch;
        errlen = sizeof(scratch);
    }
    err[0] = '\0';
    if (spec == NULL || spec[0] == '\0')
        return 0;
    char *copy = strdup(spec);
    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Parse everything first so that a bad entry changes nothing. */
    fq_price parsed[TABLE_MAX];
    int reasoning_given[TABLE_MAX];
    int np = 0, rc = -1;
    char *save = NULL;
    for (char *e = strtok_r(copy, ",", &save); e != NULL; e = strtok_r(NULL, ",", &save)) {
        while (*e == ' ')
            e++;
        size_t l = strlen(e);
        while (l > 0 && e[l - 1] == ' ')
            e[--l] = '\0';
        if (l == 0)
            continue;
        if (np == TABLE_MAX) {
            snprintf(err, errlen, "too many entries (at most %d)", TABLE_MAX);
            goto done;
        }
        if (parse_entry(e, &parsed[np], &reasoning_given[np], err, errlen) != 0)
            goto done;
        np++;
    }
    int extra = 0;
    for (int i = 0; i < np; i++) {
        int found = 0;
        for (int k = 0; k < table_len && !found; k++)
            found = strcmp(table[k].model, parsed[i].model) == 0;
        for (int k = 0; k < i && !found; k++)
            found = strcmp(parsed[k].model, parsed[i].model) == 0;
        extra += !found;
    }
    if (table_len + extra > TABLE_MAX) {
        snprintf(err, errlen, "too many models (the table holds at most %d)", TABLE_MAX);
        goto done;
    }
    for (int i = 0; i < np; i++) {
        int k;
        for (k = 0; k < table_len; k++) {
            if (strcmp(table[k].model, parsed[i].model) == 0)
                break;
        }
        if (k == table_len)
            table_len++;
        else if (!reasoning_given[i])
            parsed[i].reasoning = table[k].reasoning;
        table[k] = parsed[i];
    }
    fallback_update();
    rc = 0;
done:
    free(copy);
    return rc;
}
