/* api_models.h -- the models an OpenAI-compatible provider lists
 * (GET {base_url}/models), for the worker's check at start: a configured
 * model or fallback the provider does not list is named in one warning.
 * A provider without the endpoint gives no list, and then no warning.
 */
#ifndef FQ_API_MODELS_H
#define FQ_API_MODELS_H

#include <stddef.h>

typedef struct fq_api_models {
    int known;          /* 1 when the provider answered with a list */
    char **ids;
    size_t n;
} fq_api_models;

/* Asks base_url's /models with key (NULL: no Authorization header), within
 * timeout_ms. 0 with the list, or -1 (list->known 0) when the answer was
 * not a list of models: no endpoint, an error, a timeout. Blocking;
 * curl_global_init() is the caller's job. */
int fq_api_models_fetch(const char *base_url, const char *key, int timeout_ms,
                        fq_api_models *list);

/* 1 when model is listed, or when the list is not known. */
int fq_api_models_has(const fq_api_models *list, const char *model);

void fq_api_models_free(fq_api_models *list);

#endif
