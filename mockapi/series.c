/* series.c -- a sliding window of timed amounts in a growable array.
 *
 * The entries are kept in time order in two parallel arrays with a head
 * index: entries older than the window are dropped from the head, new ones
 * appended at the tail, and the arrays are compacted (when at most half
 * full) or doubled when the tail reaches their end.
 */
#include "mock_series.h"

#include <stdlib.h>
#include <string.h>

void mock_series_prune(mock_series *s, int64_t cutoff)
{
    while (s->len > 0 && s->at[s->head] <= cutoff) {
        s->sum -= s->amount[s->head];
        s->head++;
        s->len--;
    }
    if (s->len == 0) s->head = 0;
}

int mock_series_push(mock_series *s, int64_t at, int64_t amount)
{
    if (s->head + s->len == s->cap) {
        if (s->head > 0 && s->len <= s->cap / 2) {
            memmove(s->at, s->at + s->head, s->len * sizeof(*s->at));
            memmove(s->amount, s->amount + s->head, s->len * sizeof(*s->amount));
            s->head = 0;
        } else {
            size_t cap = s->cap ? s->cap * 2 : 256;
            int64_t *a = realloc(s->at, cap * sizeof(*a));
            if (!a) return -1;
            s->at = a;
            int64_t *b = realloc(s->amount, cap * sizeof(*b));
            if (!b) return -1;
            s->amount = b;
            s->cap = cap;
        }
    }
    s->at[s->head + s->len] = at;
    s->amount[s->head + s->len] = amount;
    s->len++;
    s->sum += amount;
    return 0;
}

int64_t mock_series_wait(const mock_series *s, int64_t excess, int64_t window_ms,
                         int64_t now_ms)
{
    if (excess <= 0 || s->len == 0) return 0;
    int64_t leaving = 0;
    size_t i = s->head;
    for (; i + 1 < s->head + s->len; i++) {
        leaving += s->amount[i];
        if (leaving >= excess) break;
    }
    int64_t wait = s->at[i] + window_ms - now_ms;
    return wait > 0 ? wait : 0;
}

void mock_series_clear(mock_series *s)
{
    s->head = s->len = 0;
    s->sum = 0;
}

void mock_series_free(mock_series *s)
{
    free(s->at);
    free(s->amount);
    memset(s, 0, sizeof(*s));
}
