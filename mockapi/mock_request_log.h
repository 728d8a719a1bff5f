/* mock_request_log.h -- the --request-log file (see request_log.c). */
#ifndef MOCK_REQUEST_LOG_H
#define MOCK_REQUEST_LOG_H

#include <stddef.h>

/* Opens path for appending; 0, or -1 with errno set. */
int mock_request_log_open(const char *path);
/* Appends one request body as a line (nothing when no log is open). */
void mock_request_log_write(const char *body, size_t len);

#endif
