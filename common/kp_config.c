/*  kp_config: file < environment < flags. Small on purpose: services have a dozen settings. */
#include "kp_config.h"

#include "kp_arena.h"
#include "kp_err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kp_config_item_t *
s_find(kp_config_item_t *items, const char *name, size_t len)
{
    for (kp_config_item_t *it = items; it->name; it++)
        if (strlen(it->name) == len && strncmp(it->name, name, len) == 0)
            return it;
    return NULL;
}

static void
s_set(kp_config_item_t *it, const char *v)
{
    free(it->value);
    it->value = kp_xstrdup(v);
}

static char *
s_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

static int
s_load_file(kp_config_item_t *items, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "config: cannot read %s: %s\n", path, strerror(errno));
        return KP_ECONFIG;
    }
    char line[1024];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = s_trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "config: %s:%d: expected 'name = value'\n", path, lineno);
            fclose(f);
            return KP_ECONFIG;
        }
        *eq = 0;
        char *name = s_trim(s), *value = s_trim(eq + 1);
        kp_config_item_t *it = s_find(items, name, strlen(name));
        if (!it) {
            fprintf(stderr, "config: %s:%d: unknown setting '%s'\n", path, lineno, name);
            fclose(f);
            return KP_ECONFIG;
        }
        s_set(it, value);
    }
    fclose(f);
    return 0;
}

static void
s_usage(const kp_config_item_t *items, const char *program)
{
    printf("usage: %s [--config FILE] [--NAME VALUE ...]\n\nsettings (flag, environment, "
           "default):\n",
           program);
    for (const kp_config_item_t *it = items; it->name; it++) {
        char env[96] = "KP_";
        size_t j = 3;
        for (const char *p = it->name; *p && j < sizeof env - 1; p++)
            env[j++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        env[j] = 0;
        printf("  --%-22s %-24s %s (default: %s)\n", it->name, env, it->help,
               it->def ? it->def : "none");
    }
}

int
kp_config_load(kp_config_item_t *items, const char *program, int argc, char **argv)
{
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_usage(items, program);
            return 1;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            file = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
    }
    if (file && s_load_file(items, file) != 0)
        return KP_ECONFIG;
    for (kp_config_item_t *it = items; it->name; it++) {
        char env[96] = "KP_";
        size_t j = 3;
        for (const char *p = it->name; *p && j < sizeof env - 1; p++)
            env[j++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        env[j] = 0;
        const char *v = getenv(env);
        if (v)
            s_set(it, v);
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", program, a);
            return KP_ECONFIG;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const char *value = eq ? eq + 1 : NULL;
        if (len == 6 && strncmp(a, "config", 6) == 0) {
            if (!value)
                i++;
            continue;
        }
        kp_config_item_t *it = s_find(items, a, len);
        if (!it) {
            fprintf(stderr, "%s: unknown flag '--%.*s' (see --help)\n", program, (int)len, a);
            return KP_ECONFIG;
        }
        if (!value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: flag '--%s' needs a value\n", program, it->name);
                return KP_ECONFIG;
            }
            value = argv[++i];
        }
        s_set(it, value);
    }
    return 0;
}

void
kp_config_free(kp_config_item_t *items)
{
    for (kp_config_item_t *it = items; it->name; it++) {
        free(it->value);
        it->value = NULL;
    }
}

const char *
kp_config_get(const kp_config_item_t *items, const char *name)
{
    for (const kp_config_item_t *it = items; it->name; it++)
        if (strcmp(it->name, name) == 0)
            return it->value ? it->value : it->def;
    return NULL;
}

int
kp_config_uint(const kp_config_item_t *items, const char *name, uint64_t *out)
{
    const char *v = kp_config_get(items, name);
    if (!v || !*v) {
        *out = 0;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || !isdigit((unsigned char)v[0])) {
        fprintf(stderr, "config: '%s' must be a whole number\n", name);
        return KP_ECONFIG;
    }
    *out = n;
    return 0;
}

int
kp_config_range(const kp_config_item_t *items, const char *name, uint64_t min, uint64_t max,
                uint64_t *out)
{
    int rc = kp_config_uint(items, name, out);
    if (rc || (*out >= min && *out <= max))
        return rc; /* not a number: kp_config_uint said so */
    fprintf(stderr, "config: '%s' must be a whole number from %llu to %llu\n", name,
            (unsigned long long)min, (unsigned long long)max);
    return KP_ECONFIG;
}
