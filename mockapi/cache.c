/* cache.c -- a small fixed-size hash set of prompt hashes.
 *
 * Open addressing with linear probing over 8192 slots; 0 marks an empty
 * slot (a real hash of 0 is stored as 1). When the set is three quarters
 * full it is emptied, which only makes a later repeat look like a cache
 * miss, as a real cache eviction would.
 */
#include "mock_cache.h"

#include <pthread.h>
#include <string.h>

#define CACHE_SLOTS 8192

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t cache_slot[CACHE_SLOTS];
static size_t cache_used;

uint64_t mock_cache_hash(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

int mock_cache_seen(uint64_t h)
{
    if (h == 0) h = 1;
    pthread_mutex_lock(&cache_lock);
    size_t i = (size_t)(h % CACHE_SLOTS);
    while (cache_slot[i] != 0) {
        if (cache_slot[i] == h) {
            pthread_mutex_unlock(&cache_lock);
            return 1;
        }
        i = (i + 1) % CACHE_SLOTS;
    }
    if (cache_used >= CACHE_SLOTS * 3 / 4) {
        memset(cache_slot, 0, sizeof(cache_slot));
        cache_used = 0;
        i = (size_t)(h % CACHE_SLOTS);
    }
    cache_slot[i] = h;
    cache_used++;
    pthread_mutex_unlock(&cache_lock);
    return 0;
}

void mock_cache_reset(void)
{
    pthread_mutex_lock(&cache_lock);
    memset(cache_slot, 0, sizeof(cache_slot));
    cache_used = 0;
    pthread_mutex_unlock(&cache_lock);
}
