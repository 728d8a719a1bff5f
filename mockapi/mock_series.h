/* mock_series.h -- one sliding window of timed amounts.
 *
 * The building block of the true rate limits: the admitted requests (an
 * amount of 1 each) or the answered tokens of the last window_ms, with
 * their running sum. Not thread-safe: the limiter holds its lock around
 * every call. A zeroed mock_series is an empty window.
 */
#ifndef MOCK_SERIES_H
#define MOCK_SERIES_H

#include <stddef.h>
#include <stdint.h>

typedef struct mock_series {
    int64_t *at;      /* times, ms */
    int64_t *amount;  /* 1 per request, or tokens */
    size_t head, len, cap;
    int64_t sum;      /* sum of amount over live entries */
} mock_series;

/* Drops the entries at or before cutoff (now - window length). */
void mock_series_prune(mock_series *s, int64_t cutoff);

/* Appends amount at time at (not before the last entry). Returns 0, or -1
 * when out of memory (nothing is added). */
int mock_series_push(mock_series *s, int64_t at, int64_t amount);

/* Milliseconds from now_ms until entries holding at least excess of the
 * sum have left a window of window_ms (0 when excess <= 0 or the window is
 * empty; until the last entry leaves when excess exceeds the sum). */
int64_t mock_series_wait(const mock_series *s, int64_t excess, int64_t window_ms,
                         int64_t now_ms);

/* Empties the window, keeping its memory. */
void mock_series_clear(mock_series *s);

/* Frees the memory; s is then an empty window. */
void mock_series_free(mock_series *s);

#endif
