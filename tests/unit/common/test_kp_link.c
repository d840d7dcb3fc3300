/*  test_kp_link: personal link tokens — a token made under a key checks under that key only,
 *  carries its purpose, ids and expiry, is refused when one character is changed, when it has
 *  expired, or when it is not a token at all; the secret file is made 0600 and read back. */
#include "kp_err.h"
#include "kp_link.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first. */
// clang-format off
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

#include <sodium.h>

static void
test_roundtrip(void **state)
{
    (void)state;
    unsigned char key[32], other[32];
    randombytes_buf(key, sizeof key);
    randombytes_buf(other, sizeof other);
    kp_link_t l = {KP_LINK_EXPERT_OFFER, 4242, 77, 2000000000}, got;
    char t[KP_LINK_TOKEN_MAX];
    kp_link_make(key, &l, t);
    assert_int_equal(kp_link_check(key, t, 1999999999, &got), 0);
    assert_int_equal(got.purpose, KP_LINK_EXPERT_OFFER);
    assert_int_equal(got.id, 4242);
    assert_int_equal(got.ref, 77);
    assert_int_equal(got.expires_unix, 2000000000);
    /* expired: at and after the expiry, with the fields still filled */
    memset(&got, 0, sizeof got);
    assert_int_equal(kp_link_check(key, t, 2000000000, &got), -2);
    assert_int_equal(got.id, 4242);
    /* another key, one changed character, a truncated token, not base64 */
    assert_int_equal(kp_link_check(other, t, 0, &got), -1);
    char f[KP_LINK_TOKEN_MAX];
    for (size_t i = 0; i < strlen(t); i++) {
        memcpy(f, t, sizeof f);
        f[i] = f[i] == 'A' ? 'B' : 'A';
        assert_int_equal(kp_link_check(key, f, 0, &got), -1);
    }
    memcpy(f, t, sizeof f);
    f[strlen(f) - 2] = 0;
    assert_int_equal(kp_link_check(key, f, 0, &got), -1);
    assert_int_equal(kp_link_check(key, "../../etc/passwd", 0, &got), -1);
    assert_int_equal(kp_link_check(key, "", 0, &got), -1);
    sodium_memzero(key, sizeof key);
}

static void
test_url(void **state)
{
    (void)state;
    unsigned char key[32] = {1};
    kp_link_t l = {KP_LINK_SIGNUP, 9, 3, 2000000000}, got;
    char url[256];
    assert_int_equal(kp_link_url(key, &l, "https://kumppani.example/", url, sizeof url), 0);
    assert_memory_equal(url, "https://kumppani.example/s/", 27);
    assert_int_equal(kp_link_check(key, url + 27, 0, &got), 0);
    assert_int_equal(got.purpose, KP_LINK_SIGNUP);
    l.purpose = KP_LINK_REQUEST;
    assert_int_equal(kp_link_url(key, &l, "http://h", url, sizeof url), 0);
    assert_memory_equal(url, "http://h/r/", 11);
    assert_int_equal(kp_link_url(key, &l, "http://h", url, 20), -1);
    l.purpose = 99;
    assert_int_equal(kp_link_url(key, &l, "http://h", url, sizeof url), -1);
    assert_null(kp_link_path(99));
}

static void
test_key_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/kp-link-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/web-link.secret", dir);
    unsigned char a[32], b[32];
    assert_int_equal(kp_link_key_file(path, false, a), -2); /* -ENOENT: not made unless asked */
    assert_int_equal(kp_link_key_file(path, true, a), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(kp_link_key_file(path, false, b), 0);
    assert_memory_equal(a, b, 32);
    FILE *f = fopen(path, "w");
    fputs("not hex at all", f);
    fclose(f);
    assert_int_equal(kp_link_key_file(path, false, b), KP_EKEY);
    unlink(path);
    rmdir(dir);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    return KP_TEST_RUN(NULL, NULL, test_roundtrip, test_url, test_key_file);
}
