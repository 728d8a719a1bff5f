/* api_models.c -- the provider's list of models (GET {base_url}/models),
 * read once when a worker starts so that a configured model the provider
 * does not list is named in a warning before any task fails on it (see
 * api_models.h).
 *
 * A blocking libcurl call with a short time limit: the worker makes it
 * before its loop runs, when nothing else waits on it. An answer that is
 * not a list of models (404 from a server without the endpoint, HTML, a
 * timeout) is "unknown", never an error: many OpenAI-compatible servers
 * have no such endpoint, and the worker goes on as if nothing was asked.
 */
#include "api_models.h"

#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#define MODELS_BODY_MAX (1u << 20)

typedef struct body {
    char *data;
    size_t len;
} body;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    body *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > MODELS_BODY_MAX)
        return 0;   /* too big to be a list of models: stop */
    char *grown = realloc(b->data, b->len + n + 1);
    if (grown == NULL)
        return 0;
    memcpy(grown + b->len, ptr, n);
    b->len += n;
    grown[b->len] = '\0';
    b->data = grown;
    return n;
}

/* The ids of {"data": [{"id": ...}, ...]} into list; -1 when the body is
 * not that. */
static int parse_list(const char *text, fq_api_models *list)
{
    cJSON *root = cJSON_Parse(text);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    int rc = cJSON_IsArray(data) ? 0 : -1;
    for (const cJSON *m = rc == 0 ? data->child : NULL; m != NULL && rc == 0; m = m->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
        if (!cJSON_IsString(id))
            continue;
        char **grown = realloc(list->ids, (list->n + 1) * sizeof(*grown));
        char *copy = strdup(id->valuestring);
        if (grown != NULL)
            list->ids = grown;
        if (grown == NULL || copy == NULL) {
            free(copy);
            rc = -1;
            break;
        }
        list->ids[list->n++] = copy;
    }
    cJSON_Delete(root);
    return rc;
}

int fq_api_models_fetch(const char *base_url, const char *key, int timeout_ms,
                        fq_api_models *list)
{
    memset(list, 0, sizeof(*list));
    CURL *e = curl_easy_init();
    struct curl_slist *headers = NULL;
    body b = {0};
    char *url = NULL;
    int rc = -1;
    if (e == NULL || asprintf(&url, "%s/models", base_url) < 0) {
        url = NULL;
        goto out;
    }
    if (key != NULL && fq_api_add_auth(&headers, key, strlen(key)) != 0)
        goto out;
    long status = 0;
    if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_USERAGENT, "fleetq/" FQ_VERSION) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &b) != CURLE_OK ||
        curl_easy_perform(e) != CURLE_OK ||
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200 ||
        b.data == NULL)
        goto out;
    rc = parse_list(b.data, list);
    list->known = rc == 0;
out:
    if (rc != 0)
        fq_api_models_free(list);
    free(b.data);
    free(url);
    curl_slist_free_all(headers);
    if (e != NULL)
        curl_easy_cleanup(e);
    return rc;
}

int fq_api_models_has(const fq_api_models *list, const char *model)
{
    if (!list->known)
        return 1;   /* nothing to say either way */
    for (size_t i = 0; i < list->n; i++)
        if (strcmp(list->ids[i], model) == 0)
            return 1;
    return 0;
}

void fq_api_models_free(fq_api_models *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->ids[i]);
    free(list->ids);
    memset(list, 0, sizeof(*list));
}
