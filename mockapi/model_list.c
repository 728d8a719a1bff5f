/* model_list.c -- reading --models into the set of served models.
 *
 * The list is read in place, one name (up to ',') at a time; each name must
 * be a model of the price table (GET /v1/models without --models lists
 * them), so that a typing error cannot leave a test with no model at all.
 */
#include "mock_model_list.h"

#include <stdio.h>
#include <string.h>

_Static_assert(MOCK_MODEL_SLOTS <= 32, "mock_model_list holds one bit per model slot");

void mock_model_list_all(mock_model_list *out)
{
    out->served = 0;
    for (size_t i = 0; i < mock_prices_count(); i++) out->served |= 1u << i;
}

/* One name of n characters. */
static int add_name(const char *s, size_t n, mock_model_list *out, char *err, size_t errlen)
{
    char name[64];
    const mock_model *m = NULL;
    if (n == 0) {
        snprintf(err, errlen, "an empty model name (one ',' too many?)");
        return -1;
    }
    if (n < sizeof(name)) {
        memcpy(name, s, n);
        name[n] = '\0';
        m = mock_prices_find(name);
    }
    if (!m) {
        snprintf(err, errlen, "the mock has no model \"%.*s\"; without --models, GET "
                 "/v1/models lists them", (int)(n > 64 ? 64 : n), s);
        return -1;
    }
    uint32_t bit = 1u << mock_prices_index(m);
    if (out->served & bit) {
        snprintf(err, errlen, "model %s is given twice", m->id);
        return -1;
    }
    out->served |= bit;
    return 0;
}

int mock_model_list_parse(const char *list, mock_model_list *out, char *err, size_t errlen)
{
    if (*list == '\0') {
        mock_model_list_all(out);
        return 0;
    }
    out->served = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (add_name(p, n, out, err, errlen) != 0) return -1;
        if (!comma) return 0;
        p = comma + 1;
    }
}

int mock_model_list_has(const mock_model_list *l, const mock_model *m)
{
    return (l->served >> mock_prices_index(m)) & 1u;
}

const mock_model *mock_model_list_find(const mock_model_list *l, const char *id)
{
    const mock_model *m = mock_prices_find(id);
    return m && mock_model_list_has(l, m) ? m : NULL;
}
