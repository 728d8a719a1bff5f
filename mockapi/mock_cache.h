/* mock_cache.h -- which system prompts the mock has "cached".
 *
 * The real API serves a repeated prompt prefix from its cache and bills
 * those tokens at the cached price. The mock remembers a hash of each
 * request's system message (or first message); a request whose hash was
 * seen before gets half its prompt tokens counted as cached.
 */
#ifndef MOCK_CACHE_H
#define MOCK_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* 64-bit FNV-1a of len bytes, continuing from h (start with
 * MOCK_HASH_START). */
#define MOCK_HASH_START 0xcbf29ce484222325ULL
uint64_t mock_cache_hash(uint64_t h, const void *data, size_t len);

/* Records hash h; returns 1 if it had been recorded before, else 0. */
int mock_cache_seen(uint64_t h);

/* Forgets every recorded hash. */
void mock_cache_reset(void);

#endif
