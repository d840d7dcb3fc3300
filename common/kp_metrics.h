/*  kp_metrics: a service's health in the Prometheus text format (version 0.0.4).
 *
 *  The same figures as "sys.health": the service writes them to a file for node_exporter's
 *  textfile collector (setting metrics-file, rewritten atomically every few seconds), and
 *  `kumppani metrics` prints them for the whole suite for any other scraper. */
#ifndef KP_METRICS_H
#define KP_METRICS_H

#include "kumppani/v1/log.pb-c.h"

#include <stddef.h>

/* Formats r into buf (NUL-terminated). Returns the length, or -1 if buf is too small. With
 * headers false the # HELP / # TYPE lines are left out (for concatenating services). */
int kp_metrics_format(const Kumppani__V1__HealthReply *r, int headers, char *buf, size_t len);

/* Writes text to path atomically (path.tmp, fsync, rename). Returns 0 or -errno. */
int kp_metrics_write(const char *path, const char *text, size_t len);

#endif
