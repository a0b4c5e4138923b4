/* The adaptive retry mode's client-side rate limiter (see ratelimit.h). The
 * constants and update rules are botocore 1.43's; tests/core/test_ratelimit.c
 * replays a sequence recorded from botocore's own classes. */
#include "ratelimit.h"

#include <math.h>

enum { BUCKET_SCALE = 2 };               /* rate measured in 1/2 s buckets */
static const double MIN_RATE = 0.5;      /* the bucket never fills slower */
static const double SMOOTHING = 0.8;     /* weight of the newest measurement */
static const double CUBIC_C = 0.4;       /* CUBIC scale constant */
static const double CUBIC_BETA = 0.7;    /* rate kept after a throttle */
static const double MAX_ADJUST = 2.0;    /* never above twice the measured rate */

static void cubic_zero_point(smneo_ratelimit *r)
{
    r->k = cbrt(r->w_max * (1 - CUBIC_BETA) / CUBIC_C);
}

static void refill(smneo_ratelimit *r, double now)
{
    if (!r->have_last_fill) {
        r->have_last_fill = 1;
        r->last_fill = now;
        return;
    }
    double c = r->capacity + (now - r->last_fill) * r->fill_rate;
    r->capacity = c < r->max_capacity ? c : r->max_capacity;
    r->last_fill = now;
}

static void set_rate(smneo_ratelimit *r, double rate, double now)
{
    refill(r, now);
    r->fill_rate = rate > MIN_RATE ? rate : MIN_RATE;
    r->max_capacity = rate >= 1 ? rate : 1;
    if (r->capacity > r->max_capacity)
        r->capacity = r->max_capacity;
}

void smneo__ratelimit_init(smneo_ratelimit *r, double now)
{
    pthread_mutex_init(&r->lock, NULL);
    r->enabled = 0;
    r->capacity = 0;
    r->have_last_fill = 0;
    r->fill_rate = 0;
    r->max_capacity = 1;
    set_rate(r, 1, now); /* botocore starts the bucket at 1 request/s */
    r->w_max = 0;
    cubic_zero_point(r);
    r->last_fail = now;
    r->measured = 0;
    r->count = 0;
    r->last_bucket = floor(now);
}

void smneo__ratelimit_destroy(smneo_ratelimit *r) { pthread_mutex_destroy(&r->lock); }

double smneo__ratelimit_acquire(smneo_ratelimit *r, double now)
{
    pthread_mutex_lock(&r->lock);
    double wait = 0;
    if (r->enabled) {
        refill(r, now);
        if (r->capacity >= 1)
            r->capacity -= 1;
        else
            wait = (1 - r->capacity) / r->fill_rate;
    }
    pthread_mutex_unlock(&r->lock);
    return wait;
}

void smneo__ratelimit_update(smneo_ratelimit *r, int throttled, double now)
{
    pthread_mutex_lock(&r->lock);
    /* The measured send rate (botocore's RateClocker.record). */
    double bucket = floor(now * BUCKET_SCALE) / BUCKET_SCALE;
    r->count += 1;
    if (bucket > r->last_bucket) {
        double current = r->count / (bucket - r->last_bucket);
        r->measured = current * SMOOTHING + r->measured * (1 - SMOOTHING);
        r->count = 0;
        r->last_bucket = bucket;
    }
    double measured = r->measured, rate;
    if (!throttled) {
        double dt = now - r->last_fail - r->k;
        rate = CUBIC_C * dt * dt * dt + r->w_max;
    } else {
        double use = r->enabled && r->fill_rate < measured ? r->fill_rate : measured;
        r->w_max = use;
        cubic_zero_point(r);
        r->last_fail = now;
        rate = use * CUBIC_BETA;
        r->enabled = 1;
    }
    double cap = MAX_ADJUST * measured;
    set_rate(r, rate < cap ? rate : cap, now);
    pthread_mutex_unlock(&r->lock);
}

double smneo__ratelimit_rate(smneo_ratelimit *r)
{
    pthread_mutex_lock(&r->lock);
    double v = r->fill_rate;
    pthread_mutex_unlock(&r->lock);
    return v;
}

int smneo__ratelimit_enabled(smneo_ratelimit *r)
{
    pthread_mutex_lock(&r->lock);
    int v = r->enabled;
    pthread_mutex_unlock(&r->lock);
    return v;
}
