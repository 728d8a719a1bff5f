/* timeutil.c -- clocks, back-off and randomness (see timeutil.h). */
#include "timeutil.h"

#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

int64_t fq_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fq_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*, seeded from getrandom(); good enough for jitter and ids. */
static uint64_t rng_state;

uint64_t fq_random64(void)
{
    if (rng_state == 0) {
        if (getrandom(&rng_state, sizeof(rng_state), 0) != sizeof(rng_state))
            rng_state = (uint64_t)fq_mono_ms() ^ ((uint64_t)clock() << 32);
        rng_state |= 1;
    }
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

int64_t fq_backoff_step_ms(int attempt, int64_t base_ms, int64_t max_ms)
{
    int64_t d = base_ms;
    for (int i = 1; i < attempt && d < max_ms; i++)
        d *= 2;
    return d > max_ms ? max_ms : d;
}

int64_t fq_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms)
{
    int64_t d = fq_backoff_step_ms(attempt, base_ms, max_ms);
    int64_t half = d / 2;
    return half + (int64_t)(fq_random64() % (uint64_t)(d - half + 1));
}
