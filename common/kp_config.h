/*  kp_config: settings from a file, the environment and flags, in rising precedence.
 *
 *  A service declares its settings as a table of kp_config_item_t. Each item `name` (e.g.
 *  "data-dir") can be set
 *    - in a file given with --config FILE, as lines "data-dir = ./data/events" ('#' comments);
 *    - in the environment as KP_DATA_DIR (upper case, '-' -> '_'), for containers;
 *    - as a flag: --data-dir ./data/events or --data-dir=./data/events.
 *  --help prints the table. Values are strings; kp_config_uint parses numbers. */
#ifndef KP_CONFIG_H
#define KP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *name; /* "data-dir" */
    const char *def;  /* default value, or NULL */
    const char *help; /* one line */
    char *value;      /* set by kp_config_load (owned by the table; kp_config_free) */
} kp_config_item_t;

/* Loads file, environment and flags into items (terminated by an item with name NULL).
 * Returns 0; 1 if --help was given (usage printed to stdout); KP_ECONFIG on an unknown flag,
 * a missing value or an unreadable file (a message naming it printed to stderr). */
int kp_config_load(kp_config_item_t *items, const char *program, int argc, char **argv);

/* Frees the values. */
void kp_config_free(kp_config_item_t *items);

/* The value of name (falling back to its default), or NULL. */
const char *kp_config_get(const kp_config_item_t *items, const char *name);

/* Parses the value of name as an unsigned number; returns 0 or KP_ECONFIG (message printed). */
int kp_config_uint(const kp_config_item_t *items, const char *name, uint64_t *out);

/* kp_config_uint and a rule: the number must lie in min..max (unset counts as 0). Returns 0,
 * or KP_ECONFIG after printing "config: 'name' must be a whole number from min to max". */
int kp_config_range(const kp_config_item_t *items, const char *name, uint64_t min, uint64_t max,
                    uint64_t *out);

#endif
