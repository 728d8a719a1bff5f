/* faults.c -- seeded PRNG (xoshiro256**) and the fault draw.
 *
 * The generator state is seeded through splitmix64 and guarded by a mutex,
 * because MHD runs request handlers on one thread per connection. A fault
 * is drawn with a single uniform number compared against the cumulative
 * rates reset, hang, server error, truncate, stream error, in that order
 * (a stream error drawn for a call that is not streamed is no fault); the
 * config check keeps their sum at most 1.
 */
#include "mock_faults.h"

#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t rand_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t rand_state[4] = { 1, 2, 3, 4 };

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void mock_rand_seed(uint64_t seed)
{
    pthread_mutex_lock(&rand_lock);
    for (int i = 0; i < 4; i++) rand_state[i] = splitmix64(&seed);
    pthread_mutex_unlock(&rand_lock);
}

uint64_t mock_rand_u64(void)
{
    pthread_mutex_lock(&rand_lock);
    uint64_t *s = rand_state;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    pthread_mutex_unlock(&rand_lock);
    return result;
}

double mock_rand_unit(void)
{
    return (double)(mock_rand_u64() >> 11) * (1.0 / 9007199254740992.0);
}

long mock_rand_range(long lo, long hi)
{
    if (hi <= lo) return lo;
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (long)(mock_rand_u64() % span);
}

void mock_rand_uuid(char out[37])
{
    uint64_t a = mock_rand_u64(), b = mock_rand_u64();
    snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx",
             (unsigned)(a >> 32), (unsigned)((a >> 16) & 0xffff),
             (unsigned)(a & 0xfff), (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
             (unsigned long long)(b & 0xffffffffffffULL));
}

mock_fault mock_faults_draw(const mock_config *cfg, int stream)
{
    double total = cfg->reset_rate + cfg->hang_rate + cfg->fail_rate + cfg->truncate_rate +
                   cfg->stream_error_rate;
    if (total <= 0.0) return MOCK_FAULT_NONE;
    double u = mock_rand_unit();
    double edge = cfg->reset_rate;
    if (u < edge) return MOCK_FAULT_RESET;
    edge += cfg->hang_rate;
    if (u < edge) return MOCK_FAULT_HANG;
    edge += cfg->fail_rate;
    if (u < edge) return MOCK_FAULT_SERVER_ERROR;
    edge += cfg->truncate_rate;
    if (u < edge) return MOCK_FAULT_TRUNCATE;
    edge += cfg->stream_error_rate;
    if (u < edge && stream) return MOCK_FAULT_STREAM_ERROR;
    return MOCK_FAULT_NONE;
}

const char *mock_faults_name(mock_fault f)
{
    switch (f) {
    case MOCK_FAULT_RESET: return "reset";
    case MOCK_FAULT_HANG: return "hang";
    case MOCK_FAULT_SERVER_ERROR: return "server_error";
    case MOCK_FAULT_TRUNCATE: return "truncated";
    case MOCK_FAULT_STREAM_ERROR: return "stream_error";
    case MOCK_FAULT_NONE: break;
    }
    return "none";
}
