/* duration.c -- a wait in milliseconds, printed like a Go duration.
 *
 * Under a second it is whole milliseconds ("120ms"; 0 is "0s"); from a
 * second on it is hours, minutes and seconds with up to three decimals,
 * trailing zeros dropped, and the larger units only when they are not zero
 * ("1.5s", "6m0s", "1h0m0s").
 */
#include "mock_duration.h"

#include <stdio.h>

void mock_duration_format(long ms, char *out, size_t len)
{
    if (ms <= 0) {
        snprintf(out, len, "0s");
        return;
    }
    if (ms < 1000) {
        snprintf(out, len, "%ldms", ms);
        return;
    }
    long hours = ms / 3600000, minutes = ms / 60000 % 60;
    char secs[24];
    int n = snprintf(secs, sizeof(secs), "%ld.%03ld", ms / 1000 % 60, ms % 1000);
    while (n > 0 && secs[n - 1] == '0') secs[--n] = '\0';
    if (n > 0 && secs[n - 1] == '.') secs[--n] = '\0';
    /* secs is at most "59.999": the precision only tells the compiler so */
    if (hours > 0) snprintf(out, len, "%ldh%ldm%.6ss", hours, minutes, secs);
    else if (minutes > 0) snprintf(out, len, "%ldm%.6ss", minutes, secs);
    else snprintf(out, len, "%.6ss", secs);
}
