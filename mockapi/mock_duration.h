/* mock_duration.h -- waits written the way OpenAI writes them.
 *
 * OpenAI's x-ratelimit-reset-* headers and its "Please try again in ..."
 * words give a wait as Go prints a duration: "0s", "120ms", "1s", "1.5s",
 * "6m0s", "2m0.25s", "1h0m0s".
 */
#ifndef MOCK_DURATION_H
#define MOCK_DURATION_H

#include <stddef.h>

/* Writes ms (0 or more) into out. */
void mock_duration_format(long ms, char *out, size_t len);

#endif
