/* mock_timing.h -- clocks and sleeps that give way to shutdown and to
 * clients that hang up.
 *
 * Latency and hang faults sleep inside a request thread. Those sleeps must
 * end at once when the mock is told to stop (or MHD_stop_daemon would wait
 * for them), and should end when the client has given up, so that a test
 * which times out does not leave threads asleep for ten minutes.
 */
#ifndef MOCK_TIMING_H
#define MOCK_TIMING_H

#include <stdint.h>

enum {
    MOCK_WAIT_DONE = 0,    /* slept the whole time */
    MOCK_WAIT_GONE = -1,   /* the client closed its connection */
    MOCK_WAIT_STOP = -2    /* the mock is shutting down */
};

/* Monotonic milliseconds. */
int64_t mock_timing_now_ms(void);

/* Sets up the shutdown wake-up. Returns 0, or -1 with errno set. */
int mock_timing_init(void);

/* Wakes every current and future mock_timing_wait at once. */
void mock_timing_stop(void);

/* 1 once mock_timing_stop was called. */
int mock_timing_stopping(void);

/* Releases what mock_timing_init made. */
void mock_timing_cleanup(void);

/* Sleeps ms milliseconds, watching client_fd (-1: none) for a hang-up.
 * Returns one of MOCK_WAIT_*. */
int mock_timing_wait(int client_fd, int64_t ms);

#endif
