/* Private SigV4 hooks for tests and benchmarks (not installed). */
#ifndef SMNEO_SIGV4_PRIVATE_H
#define SMNEO_SIGV4_PRIVATE_H

#include <stdint.h>

/* Counters of the derived-signing-key cache since the last reset. */
typedef struct smneo__sigv4_cache_stats {
    uint64_t hits;
    uint64_t misses;
} smneo__sigv4_cache_stats;

void smneo__sigv4_cache_stats_get(smneo__sigv4_cache_stats *out);
/* Empties the cache (wiping the keys) and resets the counters. */
void smneo__sigv4_cache_reset(void);

/* Number of keys the cache holds at most. */
#define SMNEO__SIGV4_CACHE_SLOTS 16

#endif
