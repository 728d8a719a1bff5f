/* request_log.c -- --request-log: every chat request the mock accepts, as
 * the provider received it, one compact JSON object per line, so that a
 * test can read what fleetq sent (the prompt after substitution, the
 * context it attached). Handlers run on MHD's threads: each line is
 * written whole under a mutex and flushed at once.
 */
#include "mock_request_log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_file;

int mock_request_log_open(const char *path)
{
    log_file = fopen(path, "a");
    return log_file != NULL ? 0 : -1;
}

void mock_request_log_write(const char *body, size_t len)
{
    if (log_file == NULL)
        return;
    cJSON *doc = cJSON_ParseWithLength(body, len);
    char *line = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (line == NULL)
        return;
    pthread_mutex_lock(&log_lock);
    fputs(line, log_file);
    fputc('\n', log_file);
    fflush(log_file);
    pthread_mutex_unlock(&log_lock);
    cJSON_free(line);
}
