/* Client-side rate limiting for the "adaptive" retry mode: a token bucket
 * whose fill rate follows CUBIC (increase slowly after a throttling answer,
 * cut to 70% on one), with the send rate measured in half-second buckets,
 * as botocore's retries/adaptive.py, bucket.py and throttling.py define it.
 * Times are seconds on any monotonic clock (tests pass their own). Private. */
#ifndef SMNEO_RATELIMIT_H
#define SMNEO_RATELIMIT_H

#include <pthread.h>

typedef struct smneo_ratelimit {
    pthread_mutex_t lock;
    int enabled;          /* becomes 1 at the first throttling answer */
    /* token bucket */
    double fill_rate, max_capacity, capacity, last_fill;
    int have_last_fill;
    /* CUBIC */
    double w_max, k, last_fail;
    /* measured send rate */
    double measured, last_bucket;
    double count;
} smneo_ratelimit;

void smneo__ratelimit_init(smneo_ratelimit *r, double now);
void smneo__ratelimit_destroy(smneo_ratelimit *r);
/* Before sending: 0 when a token was taken (or limiting is not enabled yet),
 * else the seconds to wait before asking again. */
double smneo__ratelimit_acquire(smneo_ratelimit *r, double now);
/* After every answer (or transport failure): throttled is 1 for a
 * throttling error. */
void smneo__ratelimit_update(smneo_ratelimit *r, int throttled, double now);
/* The bucket's current fill rate (requests per second), for tests and logs. */
double smneo__ratelimit_rate(smneo_ratelimit *r);
int smneo__ratelimit_enabled(smneo_ratelimit *r);

#endif
