/*  test_kp_config: file < environment < flags, both flag forms, errors, --help, numbers.
 *
 *  The environment is process-wide: every test sets the KP_ variables it needs and removes
 *  them again in its teardown, so the order the tests run in does not matter. */
#include "kp_boot.h"
#include "kp_config.h"
#include "kp_err.h"
#include "kp_test_server.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first. */
// clang-format off
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

#define N_ITEMS 5

typedef struct {
    char dir[64];
    char file[96];
    kp_config_item_t items[N_ITEMS + 1];
} fx_t;

static const char *const s_env[] = {"KP_DATA_DIR", "KP_API", "KP_BATCH_MAX", "KP_LOG_LEVEL",
                                    "KP_HEARTBEAT_MS"};

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    if (!kp_test_tmpdir(fx->dir, sizeof fx->dir, "kp_config"))
        return -1;
    snprintf(fx->file, sizeof fx->file, "%s/svc.conf", fx->dir);
    const kp_config_item_t items[N_ITEMS + 1] = {
        {"data-dir", "./data", "directory", NULL},
        {"api", "tcp://127.0.0.1:7201", "endpoint", NULL},
        {"batch-max", "2048", "requests per turn", NULL},
        {"log-level", "info", "level", NULL},
        {"heartbeat-ms", NULL, "no default", NULL},
        {NULL, NULL, NULL, NULL},
    };
    memcpy(fx->items, items, sizeof items);
    for (size_t i = 0; i < sizeof s_env / sizeof s_env[0]; i++)
        unsetenv(s_env[i]);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    kp_config_free(fx->items);
    for (size_t i = 0; i < sizeof s_env / sizeof s_env[0]; i++)
        unsetenv(s_env[i]);
    (void)remove(fx->file);
    int rc = rmdir(fx->dir);
    free(fx);
    return rc;
}

static void
s_write(const fx_t *fx, const char *text)
{
    FILE *f = fopen(fx->file, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Loads with argv given as a NULL-terminated list after the program name. */
static int
s_load(fx_t *fx, ...)
{
    char *argv[16] = {"svc"};
    int argc = 1;
    va_list ap;
    va_start(ap, fx);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 15;)
        argv[argc++] = a;
    va_end(ap);
    return kp_config_load(fx->items, "svc", argc, argv);
}

static const char *
s_get(const fx_t *fx, const char *name)
{
    return kp_config_get(fx->items, name);
}

static void
test_defaults(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_load(fx, NULL), 0);
    assert_string_equal(s_get(fx, "data-dir"), "./data");
    assert_string_equal(s_get(fx, "batch-max"), "2048");
    assert_null(s_get(fx, "heartbeat-ms"));
    assert_null(s_get(fx, "no-such-setting"));
}

static void
test_precedence(void **state)
{
    fx_t *fx = *state;
    s_write(fx, "# service settings\n"
                "data-dir = /srv/file-data   # trailing comment\n"
                "\n"
                "  api=tcp://file:1  \n"
                "batch-max = 10\n"
                "log-level = debug\n");
    setenv("KP_API", "tcp://env:2", 1);
    setenv("KP_BATCH_MAX", "20", 1);
    setenv("KP_LOG_LEVEL", "notice", 1);
    assert_int_equal(s_load(fx, "--config", fx->file, "--batch-max=30", "--log-level", "err", NULL),
                     0);
    assert_string_equal(s_get(fx, "data-dir"), "/srv/file-data"); /* file only, trimmed */
    assert_string_equal(s_get(fx, "api"), "tcp://env:2");         /* env beats file */
    assert_string_equal(s_get(fx, "batch-max"), "30");            /* flag beats env */
    assert_string_equal(s_get(fx, "log-level"), "err");           /* --name value form */
    assert_null(s_get(fx, "heartbeat-ms"));                       /* still unset */
}

static void
test_flag_forms(void **state)
{
    fx_t *fx = *state;
    s_write(fx, "api = tcp://file:1\n");
    assert_int_equal(s_load(fx, "--config=", NULL), KP_ECONFIG); /* empty file name */
    kp_config_free(fx->items);
    assert_int_equal(s_load(fx, "--config=x", "--help", NULL), 1); /* --help wins first */
    char cfg[128];
    snprintf(cfg, sizeof cfg, "--config=%s", fx->file);
    assert_int_equal(
        s_load(fx, cfg, "--data-dir", "/a", "--heartbeat-ms=250", "--data-dir=/b=c", NULL), 0);
    assert_string_equal(s_get(fx, "api"), "tcp://file:1");
    assert_string_equal(s_get(fx, "data-dir"), "/b=c"); /* last wins; '=' inside the value */
    assert_string_equal(s_get(fx, "heartbeat-ms"), "250");
    /* A value may look like a flag when it follows a flag that needs one. */
    assert_int_equal(s_load(fx, "--api", "--weird", NULL), 0);
    assert_string_equal(s_get(fx, "api"), "--weird");
    /* An empty value is a value. */
    assert_int_equal(s_load(fx, "--api=", NULL), 0);
    assert_string_equal(s_get(fx, "api"), "");
    kp_config_free(fx->items);
    assert_string_equal(s_get(fx, "api"), "tcp://127.0.0.1:7201"); /* back to the default */
}

static void
test_errors(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_load(fx, "--no-such-flag", "1", NULL), KP_ECONFIG);
    assert_int_equal(s_load(fx, "--no-such-flag=1", NULL), KP_ECONFIG);
    assert_int_equal(s_load(fx, "--data", "x", NULL), KP_ECONFIG); /* no prefix matching */
    assert_int_equal(s_load(fx, "--api", NULL), KP_ECONFIG);       /* missing value */
    assert_int_equal(s_load(fx, "stray", NULL), KP_ECONFIG);       /* positional argument */
    assert_int_equal(s_load(fx, "-api", "x", NULL), KP_ECONFIG);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/missing.conf", fx->dir);
    assert_int_equal(s_load(fx, "--config", missing, NULL), KP_ECONFIG);
    s_write(fx, "api tcp://x:1\n"); /* no '=' */
    assert_int_equal(s_load(fx, "--config", fx->file, NULL), KP_ECONFIG);
    s_write(fx, "apii = tcp://x:1\n"); /* unknown setting */
    assert_int_equal(s_load(fx, "--config", fx->file, NULL), KP_ECONFIG);
}

static void
test_help(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_load(fx, "--help", NULL), 1);
    assert_int_equal(s_load(fx, "--api", "x", "-h", NULL), 1);
    /* --help is honoured even next to an error. */
    assert_int_equal(s_load(fx, "--bogus", "--help", NULL), 1);
}

static void
test_uint(void **state)
{
    fx_t *fx = *state;
    uint64_t v = 99;
    assert_int_equal(kp_config_uint(fx->items, "batch-max", &v), 0);
    assert_int_equal(v, 2048); /* the default */
    assert_int_equal(kp_config_uint(fx->items, "heartbeat-ms", &v), 0);
    assert_int_equal(v, 0); /* unset, no default */
    assert_int_equal(s_load(fx, "--batch-max", "18446744073709551615", NULL), 0);
    assert_int_equal(kp_config_uint(fx->items, "batch-max", &v), 0);
    assert_true(v == UINT64_MAX);

    static const char *const bad[] = {"12x",  "-1", "x", "1.5", "18446744073709551616",
                                      "0x10", "12 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(s_load(fx, "--batch-max", bad[i], NULL), 0);
        v = 7;
        int rc = kp_config_uint(fx->items, "batch-max", &v);
        if (rc != KP_ECONFIG)
            fail_msg("accepted '%s' as %llu", bad[i], (unsigned long long)v);
    }
    /* From the environment too. */
    setenv("KP_HEARTBEAT_MS", "-5", 1);
    assert_int_equal(s_load(fx, NULL), 0);
    assert_int_equal(kp_config_uint(fx->items, "heartbeat-ms", &v), KP_ECONFIG);
}

static void
test_range(void **state)
{
    fx_t *fx = *state;
    uint64_t v = 99;
    assert_int_equal(kp_config_range(fx->items, "batch-max", 1, 2048, &v), 0);
    assert_int_equal(v, 2048); /* the default, at the top of the range */
    assert_int_equal(kp_config_range(fx->items, "batch-max", 1, 2047, &v), KP_ECONFIG);
    assert_int_equal(kp_config_range(fx->items, "heartbeat-ms", 0, 10, &v), 0);
    assert_int_equal(v, 0); /* unset counts as 0 ... */
    assert_int_equal(kp_config_range(fx->items, "heartbeat-ms", 1, 10, &v), KP_ECONFIG);
    assert_int_equal(s_load(fx, "--heartbeat-ms", "7", NULL), 0); /* ... and is refused below 1 */
    assert_int_equal(kp_config_range(fx->items, "heartbeat-ms", 7, 7, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(kp_config_range(fx->items, "heartbeat-ms", 8, 10, &v), KP_ECONFIG);
    assert_int_equal(s_load(fx, "--heartbeat-ms", "7x", NULL), 0);
    assert_int_equal(kp_config_range(fx->items, "heartbeat-ms", 0, 10, &v), KP_ECONFIG);
}

/* A peer's public key: a name in keys-dir or a path; anything else is KP_EKEY. */
static int
s_peer(const char *dir, const char *val, char *out)
{
    kp_config_item_t items[] = {{"keys-dir", NULL, "keys", NULL},
                                {"peer-key", NULL, "the peer's key", NULL},
                                {NULL, NULL, NULL, NULL}};
    char *argv[] = {"svc", "--keys-dir", (char *)dir, "--peer-key", (char *)val};
    assert_int_equal(kp_config_load(items, "svc", val ? 5 : 3, argv), 0);
    int rc = kp_boot_peer_key(items, "peer-key", out);
    kp_config_free(items);
    return rc;
}

static void
test_peer_key(void **state)
{
    fx_t *fx = *state;
    kp_keypair_t kp;
    assert_int_equal(kp_keypair_generate(&kp), 0);
    assert_int_equal(kp_keypair_save(&kp, fx->dir, "registry"), 0);
    char out[KP_Z85_KEY_LEN + 1] = "", path[160];
    assert_int_equal(s_peer(fx->dir, "registry", out), 0);
    assert_string_equal(out, kp.pub);
    snprintf(path, sizeof path, "%s/registry.pub", fx->dir);
    memset(out, 0, sizeof out);
    assert_int_equal(s_peer(fx->dir, path, out), 0);
    assert_string_equal(out, kp.pub);
    assert_int_equal(s_peer(fx->dir, "events", out), KP_EKEY);
    assert_int_equal(s_peer(fx->dir, NULL, out), KP_EKEY);
    snprintf(path, sizeof path, "%s/nowhere/registry.pub", fx->dir);
    assert_int_equal(s_peer(fx->dir, path, out), KP_EKEY);
    snprintf(path, sizeof path, "%s/registry.key", fx->dir);
    assert_int_equal(remove(path), 0);
    snprintf(path, sizeof path, "%s/registry.pub", fx->dir);
    assert_int_equal(remove(path), 0);
}

int
main(void)
{
    return KP_TEST_RUN(s_setup, s_teardown, test_defaults, test_precedence, test_flag_forms,
                       test_errors, test_help, test_uint, test_range, test_peer_key);
}
