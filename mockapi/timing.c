/* timing.c -- monotonic clock and interruptible sleeps.
 *
 * Shutdown is a pipe: mock_timing_stop writes one byte and never reads it,
 * so the read end stays readable and every poll() on it returns at once
 * from then on. A sleeping request polls that pipe and its own client
 * socket. A socket that reports a hang-up, or is readable with nothing to
 * read (recv with MSG_PEEK returns 0: end of file), means the client left.
 * A socket readable with real bytes (a pipelined request) is no longer
 * watched, so the loop cannot spin on it.
 */
#include "mock_timing.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int stop_pipe[2] = { -1, -1 };
static atomic_int stopping;

int64_t mock_timing_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mock_timing_init(void)
{
    return pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK);
}

void mock_timing_stop(void)
{
    atomic_store(&stopping, 1);
    if (stop_pipe[1] >= 0) {
        ssize_t n = write(stop_pipe[1], "x", 1);
        (void)n;
    }
}

int mock_timing_stopping(void)
{
    return atomic_load(&stopping);
}

void mock_timing_cleanup(void)
{
    for (int i = 0; i < 2; i++) {
        if (stop_pipe[i] >= 0) close(stop_pipe[i]);
        stop_pipe[i] = -1;
    }
}

/* 1 when the peer of fd has closed its side. */
static int peer_closed(int fd, short revents, int *watch)
{
    if (revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL)) return 1;
    if (revents & POLLIN) {
        char c;
        ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0) return 1;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return 1;
        if (n > 0) *watch = 0;   /* pipelined data: stop watching */
    }
    return 0;
}

int mock_timing_wait(int client_fd, int64_t ms)
{
    int64_t deadline = mock_timing_now_ms() + ms;
    int watch = client_fd >= 0;

    for (;;) {
        if (atomic_load(&stopping)) return MOCK_WAIT_STOP;
        int64_t left = deadline - mock_timing_now_ms();
        if (left <= 0) return MOCK_WAIT_DONE;
        struct pollfd fds[2] = {
            { .fd = stop_pipe[0], .events = POLLIN },
            { .fd = watch ? client_fd : -1, .events = POLLIN | POLLRDHUP },
        };
        int slice = left > 1000 ? 1000 : (int)left;
        int rc = poll(fds, 2, slice);
        if (rc < 0) {
            if (errno == EINTR) continue;
            struct timespec ts = { slice / 1000, (long)(slice % 1000) * 1000000L };
            nanosleep(&ts, NULL);
            continue;
        }
        if (fds[0].revents) return MOCK_WAIT_STOP;
        if (watch && fds[1].revents && peer_closed(client_fd, fds[1].revents, &watch))
            return MOCK_WAIT_GONE;
    }
}
