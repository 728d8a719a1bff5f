/* fleet_limits.c -- the names of the fleet's limits and the parsers of a model's
 * own ceilings (see fleet_limits.h).
 */
#include "fleet_limits.h"

#include <stdio.h>
#include <string.h>

#include "text.h"

const char *const fq_limit_fields[] = {
    "scope", "rpm", "rph", "tpm", "burst", "max_inflight", "daily_budget_usd",
    "rate_limiting", "adaptive", NULL,
};

const char *const fq_model_limit_fields[] = {"rpm", "rph", "tpm", "inflight", NULL};

const char *fq_limit_scope_name(fq_limit_scope s)
{
    return s == FQ_SCOPE_KEY ? "key" : "model";
}

int fq_limit_scope_parse(const char *s)
{
    if (strcmp(s, "model") == 0)
        return FQ_SCOPE_MODEL;
    if (strcmp(s, "key") == 0)
        return FQ_SCOPE_KEY;
    return -1;
}

static int64_t *model_field(fq_model_limit *m, const char *key, size_t len)
{
    int64_t *slots[] = {&m->rpm, &m->rph, &m->tpm, &m->inflight};
    for (int i = 0; fq_model_limit_fields[i] != NULL; i++) {
        if (strlen(fq_model_limit_fields[i]) == len &&
            memcmp(fq_model_limit_fields[i], key, len) == 0)
            return slots[i];
    }
    return NULL;
}

int fq_model_limit_parse(const char *spec, size_t len, fq_model_limit *out, char *err,
                         size_t errlen)
{
    fq_text_shown sh;
    const char *p = spec, *end = spec + len;
    if (len == 0)
        return fq_text_fail(err, errlen, "%s: no limits given (e.g. rpm=60,tpm=16000)",
                            out->model);
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma ? comma : end;
        const char *eq = memchr(p, '=', (size_t)(item_end - p));
        if (eq == NULL || eq == p)
            return fq_text_fail(err, errlen, "%s: expected KEY=N (rpm, rph, tpm, inflight), "
                                "got %s", out->model,
                                fq_text_show(&sh, p, (size_t)(item_end - p)));
        int64_t *slot = model_field(out, p, (size_t)(eq - p));
        if (slot == NULL)
            return fq_text_fail(err, errlen, "%s: unknown limit %s; allowed: rpm, rph, tpm, "
                                "inflight", out->model, fq_text_show(&sh, p, (size_t)(eq - p)));
        int64_t v;
        size_t vlen = (size_t)(item_end - eq - 1);
        if (fq_text_parse_int64(eq + 1, vlen, &v) != 0 || v < 0)
            return fq_text_fail(err, errlen, "%s: %.*s must be a non-negative integer, got %s",
                                out->model, (int)(eq - p), p,
                                fq_text_show(&sh, eq + 1, vlen));
        *slot = v;
        p = comma ? comma + 1 : end;
    }
    return 0;
}

static int model_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > FQ_MODEL_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
            !strchr("._-/@", c))
            return 0;
    }
    return 1;
}

int fq_model_limits_parse(const char *spec, fq_model_limit *out, size_t cap, size_t *n,
                          char *err, size_t errlen)
{
    fq_text_shown sh;
    const char *p = spec, *end = spec + strlen(spec);
    *n = 0;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *entry_end = semi ? semi : end;
        while (p < entry_end && (*p == ' ' || *p == '\t'))
            p++;
        if (p == entry_end) {   /* an empty entry, e.g. a trailing ';' */
            p = semi ? semi + 1 : end;
            continue;
        }
        const char *colon = memchr(p, ':', (size_t)(entry_end - p));
        size_t mlen = colon ? (size_t)(colon - p) : 0;
        if (colon == NULL || !model_name_valid(p, mlen))
            return fq_text_fail(err, errlen, "expected MODEL:KEY=N[,KEY=N...] entries "
                                "separated by ';' (a model name of letters, digits and ._-/@), "
                                "got %s", fq_text_show(&sh, p, (size_t)(entry_end - p)));
        for (size_t i = 0; i < *n; i++) {
            if (strlen(out[i].model) == mlen && memcmp(out[i].model, p, mlen) == 0)
                return fq_text_fail(err, errlen, "%.*s has two entries", (int)mlen, p);
        }
        if (*n == cap)
            return fq_text_fail(err, errlen, "more than %zu models", cap);
        fq_model_limit *m = &out[*n];
        memset(m, 0, sizeof(*m));
        memcpy(m->model, p, mlen);
        m->rpm = m->rph = m->tpm = m->inflight = -1;
        size_t slen = (size_t)(entry_end - colon - 1);
        while (slen > 0 && (colon[slen] == ' ' || colon[slen] == '\t'))
            slen--;
        if (fq_model_limit_parse(colon + 1, slen, m, err, errlen) != 0)
            return -1;
        (*n)++;
        p = semi ? semi + 1 : end;
    }
    return 0;
}

int fq_model_limit_argv(const fq_model_limit *m, fq_argv *out)
{
    const int64_t values[] = {m->rpm, m->rph, m->tpm, m->inflight};
    int bad = 0;
    for (int i = 0; fq_model_limit_fields[i] != NULL; i++) {
        if (values[i] < 0)
            continue;
        char name[FQ_MODEL_NAME_MAX + 32];
        snprintf(name, sizeof(name), "model:%s:%s", m->model, fq_model_limit_fields[i]);
        bad |= fq_argv_adds(out, name) | fq_argv_addll(out, values[i]);
    }
    return bad;
}
