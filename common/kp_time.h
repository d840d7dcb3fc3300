/*  kp_time: wall-clock milliseconds. One place, so that a controllable clock for tests has
 *  one place to go. */
#ifndef KP_TIME_H
#define KP_TIME_H

#include <stdint.h>
#include <time.h>

static inline int64_t
kp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t
kp_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
