/* mock_model_list.h -- which of the mock's models it lists and accepts.
 *
 * Some servers offer only a few models; --models (the setting models)
 * narrows the mock's table to a comma list such as "grok-4,grok-3". A model
 * left out is not in GET /v1/models and a request for it is a 404, as for
 * a model the mock does not know. The set lives inside mock_config, so it
 * is copied, checked and replaced with the other settings.
 */
#ifndef MOCK_MODEL_LIST_H
#define MOCK_MODEL_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "mock_prices.h"

typedef struct mock_model_list {
    uint32_t served;   /* bit mock_prices_index(m) set: m is served */
} mock_model_list;

/* Every model of the table. */
void mock_model_list_all(mock_model_list *out);

/* Reads a comma list of model ids ("" = every model) into out. Returns 0,
 * or -1 with a reason in err (a model the mock does not have, one given
 * twice, an empty name); out is then unspecified. */
int mock_model_list_parse(const char *list, mock_model_list *out, char *err, size_t errlen);

/* 1 when m is served. */
int mock_model_list_has(const mock_model_list *l, const mock_model *m);

/* The served model with this id, or NULL. */
const mock_model *mock_model_list_find(const mock_model_list *l, const char *id);

#endif
