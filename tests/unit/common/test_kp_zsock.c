/*  test_kp_zsock: roles, Z85 keys, key files, the allow-list and reading replies.
 *
 *  Files go to a fresh mkdtemp directory per test, removed afterwards. The allow-list tests
 *  look keys up the way the ZAP handler does: by the 32 decoded bytes, not the text. */
#include "kp_err.h"
#include "kp_test_server.h"
#include "kp_zsock.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first. */
// clang-format off
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

/* The fixture is a fresh directory: *state is its path. */
#define ROOT_MAX 64

static int
s_setup(void **state)
{
    char *root = malloc(ROOT_MAX);
    if (!root || !kp_test_tmpdir(root, ROOT_MAX, "kp_zsock")) {
        free(root);
        return -1;
    }
    *state = root;
    return 0;
}

/* Removes the files the tests make (the directory holds no sub-directories but "keys"). */
static int
s_teardown(void **state)
{
    char *root = *state;
    static const char *const names[] = {"keys/svc.key", "keys/svc.pub", "svc.key", "svc.pub",
                                        "allow",        "bad.key",      "keys"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", root, names[i]);
        (void)remove(path);
    }
    int rc = rmdir(root);
    free(root);
    return rc;
}

static void
s_write(const char *dir, const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A fresh key pair whose public key has no '#': see test_kp_known_bugs.c (allow-list comments
 * cut keys that contain '#', a Z85 character), which this file does not test for. */
static void
s_keypair(kp_keypair_t *kp)
{
    do
        assert_int_equal(kp_keypair_generate(kp), 0);
    while (strchr(kp->pub, '#'));
}

static void
test_roles(void **state)
{
    (void)state;
    assert_int_equal(kp_role_parse("admin"), KP_ROLE_ADMIN);
    assert_int_equal(kp_role_parse("publisher"), KP_ROLE_PUBLISHER);
    assert_int_equal(kp_role_parse("reader"), KP_ROLE_READER);
    assert_int_equal(kp_role_parse("service"), KP_ROLE_SERVICE);
    assert_int_equal(kp_role_parse("selfservice"), KP_ROLE_SELFSERVICE);
    assert_int_equal(kp_role_parse("Admin"), 0);
    assert_int_equal(kp_role_parse("admin "), 0);
    assert_int_equal(kp_role_parse(""), 0);
    assert_int_equal(kp_role_parse("root"), 0);
    assert_string_equal(kp_role_name(KP_ROLE_ADMIN), "admin");
    assert_string_equal(kp_role_name(KP_ROLE_PUBLISHER), "publisher");
    assert_string_equal(kp_role_name(KP_ROLE_READER), "reader");
    assert_string_equal(kp_role_name(KP_ROLE_SERVICE), "service");
    assert_string_equal(kp_role_name(KP_ROLE_SELFSERVICE), "selfservice");
    assert_string_equal(kp_role_name(0), "none");
    assert_string_equal(kp_role_name(KP_ROLE_ADMIN | KP_ROLE_READER), "none");
    /* Round trip over every bit. */
    for (unsigned r = 1; r <= KP_ROLE_SELFSERVICE; r <<= 1)
        assert_int_equal(kp_role_parse(kp_role_name(r)), r);
}

static void
test_z85(void **state)
{
    (void)state;
    kp_keypair_t kp;
    assert_int_equal(kp_keypair_generate(&kp), 0);
    assert_int_equal(strlen(kp.pub), KP_Z85_KEY_LEN);
    assert_int_equal(strlen(kp.sec), KP_Z85_KEY_LEN);
    assert_true(kp_z85_key_valid(kp.pub));
    assert_true(kp_z85_key_valid(kp.sec));
    assert_string_not_equal(kp.pub, kp.sec);
    /* The Z85 test vector of RFC 32 style keys: 40 characters of the alphabet. */
    assert_true(kp_z85_key_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"));
    char buf[64];
    memcpy(buf, kp.pub, 41);
    buf[39] = 0; /* 39 characters */
    assert_false(kp_z85_key_valid(buf));
    snprintf(buf, sizeof buf, "%sA", kp.pub); /* 41 characters */
    assert_false(kp_z85_key_valid(buf));
    memcpy(buf, kp.pub, 41);
    buf[10] = '~'; /* not in the Z85 alphabet */
    assert_false(kp_z85_key_valid(buf));
    memcpy(buf, kp.pub, 41);
    buf[0] = ' ';
    assert_false(kp_z85_key_valid(buf));
    assert_false(kp_z85_key_valid(""));
    assert_false(kp_z85_key_valid(NULL));
}

static void
test_keypair_files(void **state)
{
    const char *root = *state;
    char dir[96], path[160];
    snprintf(dir, sizeof dir, "%s/keys", root); /* created by save */
    kp_keypair_t kp, back;
    assert_int_equal(kp_keypair_generate(&kp), 0);
    assert_int_equal(kp_keypair_save(&kp, dir, "svc"), 0);

    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/svc.key", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/svc.pub", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0622, 0600); /* the owner writes, nobody else */

    memset(&back, 0, sizeof back);
    assert_int_equal(kp_keypair_load(&back, dir, "svc"), 0);
    assert_string_equal(back.sec, kp.sec);
    assert_string_equal(back.pub, kp.pub); /* derived from the secret key */

    char pub[KP_Z85_KEY_LEN + 1];
    assert_int_equal(kp_pubkey_load(pub, path), 0);
    assert_string_equal(pub, kp.pub);

    /* Never overwrites a key: the first one stays. */
    kp_keypair_t other;
    assert_int_equal(kp_keypair_generate(&other), 0);
    assert_int_equal(kp_keypair_save(&other, dir, "svc"), -EEXIST);
    assert_int_equal(kp_keypair_load(&back, dir, "svc"), 0);
    assert_string_equal(back.sec, kp.sec);
}

static void
test_keypair_load_errors(void **state)
{
    const char *root = *state;
    kp_keypair_t kp;
    assert_int_equal(kp_keypair_load(&kp, root, "missing"), -ENOENT);
    s_write(root, "bad.key", "not a key\n");
    assert_int_equal(kp_keypair_load(&kp, root, "bad"), KP_EKEY);
    char pub[KP_Z85_KEY_LEN + 1], path[128];
    snprintf(path, sizeof path, "%s/bad.key", root);
    assert_int_equal(kp_pubkey_load(pub, path), KP_EKEY);
    snprintf(path, sizeof path, "%s/nope.pub", root);
    assert_int_equal(kp_pubkey_load(pub, path), -ENOENT);
}

static void
test_allow_load(void **state)
{
    const char *root = *state;
    kp_keypair_t k1, k2, k3;
    s_keypair(&k1);
    s_keypair(&k2);
    s_keypair(&k3);
    char text[512];
    snprintf(text, sizeof text,
             "# Kumppani allow-list\n"
             "\n"
             "%s admin   # the coordinator's laptop\n"
             "   \t\n"
             "  %s\tpublisher\n"
             "# %s reader (commented out)\n",
             k1.pub, k2.pub, k3.pub);
    s_write(root, "allow", text);
    char path[128];
    snprintf(path, sizeof path, "%s/allow", root);
    kp_allow_t *allow = NULL;
    assert_int_equal(kp_allow_load(&allow, path), 0);
    assert_non_null(allow);
    assert_int_equal(kp_allow_size(allow), 2);

    uint8_t raw[32];
    assert_non_null(zmq_z85_decode(raw, k1.pub));
    assert_int_equal(kp_allow_role(allow, raw), KP_ROLE_ADMIN);
    assert_non_null(zmq_z85_decode(raw, k2.pub));
    assert_int_equal(kp_allow_role(allow, raw), KP_ROLE_PUBLISHER);
    assert_non_null(zmq_z85_decode(raw, k3.pub));
    assert_int_equal(kp_allow_role(allow, raw), 0); /* commented out */
    memset(raw, 0, sizeof raw);
    assert_int_equal(kp_allow_role(allow, raw), 0);

    /* In memory: add, and re-adding a key changes its role. */
    assert_int_equal(kp_allow_add(allow, k3.pub, KP_ROLE_READER), 0);
    assert_int_equal(kp_allow_add(allow, k1.pub, KP_ROLE_SERVICE), 0);
    assert_int_equal(kp_allow_size(allow), 3);
    assert_non_null(zmq_z85_decode(raw, k1.pub));
    assert_int_equal(kp_allow_role(allow, raw), KP_ROLE_SERVICE);
    assert_non_null(zmq_z85_decode(raw, k3.pub));
    assert_int_equal(kp_allow_role(allow, raw), KP_ROLE_READER);
    assert_int_equal(kp_allow_add(allow, "short", KP_ROLE_READER), KP_EINVAL);
    assert_int_equal(kp_allow_add(allow, k2.pub, 0), KP_EINVAL);
    kp_allow_destroy(&allow);
    assert_null(allow);
    kp_allow_destroy(&allow);

    /* An empty list admits nobody. */
    allow = kp_allow_new();
    assert_int_equal(kp_allow_size(allow), 0);
    assert_int_equal(kp_allow_role(allow, raw), 0);
    kp_allow_destroy(&allow);
}

static void
test_allow_malformed(void **state)
{
    const char *root = *state;
    kp_keypair_t k;
    s_keypair(&k);
    char path[128], text[256];
    snprintf(path, sizeof path, "%s/allow", root);
    char key39[KP_Z85_KEY_LEN];
    memcpy(key39, k.pub, 39);
    key39[39] = 0;
    const struct {
        const char *before, *key, *after;
    } lines[] = {
        {"", k.pub, "\n"},                                     /* no role */
        {"", k.pub, " root\n"},                                /* unknown role */
        {"", k.pub, " admin extra\n"},                         /* a third word */
        {"", key39, " admin\n"},                               /* a 39-character key */
        {"# ok\n", k.pub, " admin\nnot-a-key admin\n"},        /* a bad line after a good one */
        {"", k.pub, " publisher sources=\n"},                  /* an empty binding */
        {"", k.pub, " publisher sources=Web Form\n"},          /* a name with a capital and space */
        {"", k.pub, " publisher sources=a,,b\n"},              /* an empty name */
        {"", k.pub, " publisher source=web\n"},                /* not sources= */
        {"", k.pub, " publisher sources=a,b,c,d,e,f,g,h,i\n"}, /* nine names */
        {"", k.pub, " publisher sources=a extra\n"},           /* a fourth word */
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        snprintf(text, sizeof text, "%s%s%s", lines[i].before, lines[i].key, lines[i].after);
        s_write(root, "allow", text);
        kp_allow_t *allow = NULL;
        int rc = kp_allow_load(&allow, path);
        if (rc != KP_ECONFIG)
            fail_msg("case %zu: rc %d", i, rc);
        assert_null(allow); /* nothing half-loaded */
    }
    kp_allow_t *allow = NULL;
    snprintf(path, sizeof path, "%s/no-such-file", root);
    assert_int_equal(kp_allow_load(&allow, path), -ENOENT);
}

/* A publisher key bound to its source names (issue: a publisher could submit under any
 * source name and cancel another system's sign-ups). */
static void
test_allow_sources(void **state)
{
    const char *root = *state;
    kp_keypair_t k1, k2, k3;
    s_keypair(&k1);
    s_keypair(&k2);
    s_keypair(&k3);
    char text[512], path[128];
    snprintf(text, sizeof text,
             "%s publisher sources=web-form,county-portal # two systems of one vendor\n"
             "%s publisher\n"
             "%s admin\n",
             k1.pub, k2.pub, k3.pub);
    s_write(root, "allow", text);
    snprintf(path, sizeof path, "%s/allow", root);
    kp_allow_t *allow = NULL;
    assert_int_equal(kp_allow_load(&allow, path), 0);
    uint8_t raw[32];
    assert_non_null(zmq_z85_decode(raw, k1.pub));
    assert_int_equal(kp_allow_role(allow, raw), KP_ROLE_PUBLISHER);
    assert_string_equal(kp_allow_sources(allow, raw), "web-form,county-portal");
    assert_non_null(zmq_z85_decode(raw, k2.pub));
    assert_string_equal(kp_allow_sources(allow, raw), "");
    assert_true(kp_sources_contain("web-form,county-portal", "web-form"));
    assert_true(kp_sources_contain("web-form,county-portal", "county-portal"));
    assert_false(kp_sources_contain("web-form,county-portal", "web"));
    assert_false(kp_sources_contain("web-form,county-portal", "county-portal2"));
    assert_false(kp_sources_contain("", "web-form"));
    assert_false(kp_sources_contain(NULL, "web-form"));
    /* In memory. */
    assert_int_equal(kp_allow_bind(allow, k2.pub, "kyselylomake"), 0);
    assert_string_equal(kp_allow_sources(allow, raw), "kyselylomake");
    assert_int_equal(kp_allow_bind(allow, k2.pub, "Bad"), KP_EINVAL);
    kp_keypair_t unlisted;
    s_keypair(&unlisted);
    assert_int_equal(kp_allow_bind(allow, unlisted.pub, "web"), KP_EINVAL);
    kp_allow_destroy(&allow);
}

/* ---- kp_zsock_each_reply ---------------------------------------------------------------- */

typedef struct {
    uint64_t ids[8];
    unsigned n, stop_at;
} seen_t;

static int
s_seen(void *arg, const Kumppani__V1__Reply *r)
{
    seen_t *s = arg;
    s->ids[s->n++] = r->request_id;
    return s->n == s->stop_at;
}

static void
s_send_reply(void *sock, uint64_t id)
{
    Kumppani__V1__Reply r = KUMPPANI__V1__REPLY__INIT;
    r.request_id = id;
    uint8_t buf[32];
    size_t len = kumppani__v1__reply__pack(&r, buf);
    assert_int_equal(zmq_send(sock, buf, len, 0), (int)len);
}

/* Each waiting reply in order, up to the budget; a frame that is no Reply is dropped; fn's
 * non-zero stops; nothing waiting returns at once. */
static void
test_each_reply(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new(), *rx = zmq_socket(ctx, ZMQ_PAIR), *tx = zmq_socket(ctx, ZMQ_PAIR);
    assert_int_equal(zmq_bind(rx, "inproc://each-reply"), 0);
    assert_int_equal(zmq_connect(tx, "inproc://each-reply"), 0);
    seen_t s = {{0}, 0, 0};
    kp_zsock_each_reply(rx, 8, s_seen, &s);
    assert_int_equal(s.n, 0);

    s_send_reply(tx, 1);
    assert_int_equal(zmq_send(tx, "\xff\xff", 2, 0), 2); /* not a Reply */
    for (uint64_t id = 2; id <= 5; id++)
        s_send_reply(tx, id);
    kp_zsock_each_reply(rx, 3, s_seen, &s); /* the budget counts frames, the bad one too */
    assert_int_equal(s.n, 2);
    assert_int_equal(s.ids[0], 1);
    assert_int_equal(s.ids[1], 2);
    s.stop_at = 3;
    kp_zsock_each_reply(rx, 8, s_seen, &s); /* stops after the third */
    assert_int_equal(s.n, 3);
    assert_int_equal(s.ids[2], 3);
    s.stop_at = 0;
    kp_zsock_each_reply(rx, 8, s_seen, &s);
    assert_int_equal(s.n, 5);
    assert_int_equal(s.ids[4], 5);
    zmq_close(rx);
    zmq_close(tx);
    zmq_ctx_term(ctx);
}

int
main(void)
{
    return KP_TEST_RUN(s_setup, s_teardown, test_roles, test_z85, test_keypair_files,
                       test_keypair_load_errors, test_allow_load, test_allow_malformed,
                       test_allow_sources, test_each_reply);
}
