/*  test_ntf_render: the notifier's messages (services/notifier/render.c). Names and titles
 *  carrying CR, LF and "Bcc:" cannot add a header or a recipient; encoded-words decode back;
 *  the Message-ID is stable per key; the iCalendar part has no ORGANIZER, folds at 75 octets
 *  and escapes text; the SMS body is valid JSON text. */
#include "kp_arena.h"
#include "kp_err.h"
#include "kp_time.h"
#include "notifier.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// cmocka.h needs <setjmp.h>, <stdarg.h> and <stddef.h> before it.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on

#include "kp_test_run.h"

#define MK(x) KUMPPANI__V1__MESSAGE_KIND__MESSAGE_KIND_##x
#define CH(x) KUMPPANI__V1__NOTIFICATION_CHANNEL__CHANNEL_##x

static ntf_t s_n;

static ntf_rec_t
s_rec(const char *name, const char *title)
{
    ntf_rec_t r = KUMPPANI__V1__NOTIFICATION__INIT;
    r.key = "events/s1/confirm/email";
    r.kind = MK(SIGNUP_CONFIRMED);
    r.channel = CH(EMAIL);
    r.event_id = 7;
    r.signup_id = 1;
    r.recipient_name = (char *)name;
    r.address = "liisa@example.fi";
    r.language = "fi";
    r.event_title = (char *)title;
    r.event_start_unix = 1796119200; /* 2026-12-01 */
    r.event_end_unix = 1796126400;
    r.event_place = "Seinäjoki, kaupungintalo; sali 2";
    return r;
}

/* The header block: up to the first empty line. */
static char *
s_headers(const char *msg)
{
    const char *end = strstr(msg, "\r\n\r\n");
    assert_non_null(end);
    return strndup(msg, (size_t)(end - msg) + 2);
}

static void
test_no_header_injection(void **state)
{
    (void)state;
    kp_arena_t *a = kp_arena_new(1 << 20);
    const char *evil = "Liisa\r\nBcc: evil@example.com\r\n\r\nX";
    ntf_rec_t r = s_rec(evil, "Title\r\nBcc: evil2@example.com");
    ntf_msg_t m;
    assert_int_equal(ntf_render(&s_n, a, &r, 1795000000000, &m), 0);
    char *h = s_headers(m.message);
    /* Every line break in the headers starts a header we wrote or folds (a space follows). */
    assert_null(strstr(h, "Bcc:"));
    assert_null(strstr(h, "evil"));
    for (char *p = strstr(h, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n"))
        assert_true(p[2] == ' ' || (p[2] >= 'A' && p[2] <= 'Z'));
    assert_non_null(strstr(h, "<liisa@example.fi>\r\n"));
    /* No bare CR or LF anywhere in the message. */
    for (size_t i = 0; i < m.message_len; i++) {
        if (m.message[i] == '\r')
            assert_int_equal(m.message[i + 1], '\n');
        if (m.message[i] == '\n')
            assert_true(i > 0 && m.message[i - 1] == '\r');
    }
    free(h);
    kp_arena_destroy(&a);
}

static void
test_encoded_word_roundtrip(void **state)
{
    (void)state;
    kp_arena_t *a = kp_arena_new(1 << 20);
    /* Long enough to need several words; ä must not be split between two. */
    const char *s = "Ääkkösiä ja pitkä nimi: Matti Meikäläinen-Virtanen-Kallio-Mäkinen-Öhman";
    char *w = ntf_render_encoded_word(a, s);
    assert_non_null(w);
    char out[512] = "";
    size_t outn = 0;
    for (char *p = strstr(w, "=?UTF-8?B?"); p; p = strstr(p, "=?UTF-8?B?")) {
        p += 10;
        char *q = strstr(p, "?=");
        assert_non_null(q);
        assert_true(q - p <= 64);
        size_t bl;
        assert_int_equal(sodium_base642bin((unsigned char *)out + outn, sizeof out - outn, p,
                                           (size_t)(q - p), NULL, &bl, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        /* each word is whole UTF-8 on its own */
        assert_true(bl == 0 || ((unsigned char)out[outn] & 0xC0) != 0x80);
        outn += bl;
        p = q + 2;
    }
    out[outn] = 0;
    assert_string_equal(out, s);
    kp_arena_destroy(&a);
}

static void
test_message_id_stable(void **state)
{
    (void)state;
    kp_arena_t *a = kp_arena_new(1 << 16);
    char *x = ntf_render_message_id(a, "events/s1/confirm/email", "a@kumppani.example");
    char *y = ntf_render_message_id(a, "events/s1/confirm/email", "a@kumppani.example");
    char *z = ntf_render_message_id(a, "events/s2/confirm/email", "a@kumppani.example");
    assert_string_equal(x, y);
    assert_string_not_equal(x, z);
    assert_non_null(strstr(x, "@kumppani.example>"));
    kp_arena_destroy(&a);
}

static void
test_ical(void **state)
{
    (void)state;
    kp_arena_t *a = kp_arena_new(1 << 20);
    char title[400];
    memset(title, 'x', sizeof title - 1);
    title[sizeof title - 1] = 0;
    memcpy(title, "A, b; c\\", 8);
    ntf_rec_t r = s_rec("Liisa", title);
    ntf_msg_t m;
    assert_int_equal(ntf_render(&s_n, a, &r, 1795000000000, &m), 0);
    assert_null(strstr(m.ical, "ORGANIZER"));
    assert_non_null(strstr(m.ical, "SUMMARY:A\\, b\\; c\\\\"));
    assert_non_null(strstr(m.ical, "LOCATION:Seinäjoki\\, kaupungintalo\\; sali 2"));
    assert_non_null(strstr(m.ical, "UID:event-7@kumppani"));
    for (char *p = m.ical; *p;) {
        char *e = strstr(p, "\r\n");
        assert_non_null(e);
        assert_true(e - p <= 75);
        p = e + 2;
    }
    r.kind = MK(EVENT_CANCELLED);
    assert_int_equal(ntf_render(&s_n, a, &r, 1795000000000, &m), 0);
    assert_non_null(strstr(m.ical, "METHOD:CANCEL"));
    assert_non_null(strstr(m.ical, "STATUS:CANCELLED"));
    kp_arena_destroy(&a);
}

static void
test_languages_and_sms(void **state)
{
    (void)state;
    kp_arena_t *a = kp_arena_new(1 << 20);
    ntf_rec_t r = s_rec("Liisa", "Pöytä");
    ntf_msg_t m;
    r.language = "sv";
    assert_int_equal(ntf_render(&s_n, a, &r, 1795000000000, &m), 0);
    assert_non_null(strstr(m.subject, "bekräftad"));
    r.language = "en";
    r.kind = MK(REMINDER);
    assert_int_equal(ntf_render(&s_n, a, &r, 1795000000000, &m), 0);
    assert_non_null(strstr(m.subject, "Reminder"));
    char *body = ntf_render_sms_body(a, "{\"to\":\"{to}\",\"text\":\"{text}\"}", "+358401",
                                     "a \"quoted\"\nline\\");
    assert_string_equal(body, "{\"to\":\"+358401\",\"text\":\"a \\\"quoted\\\"\\u000aline\\\\\"}");
    r.address = "not an address";
    r.language = "fi";
    assert_int_not_equal(ntf_render(&s_n, a, &r, 1795000000000, &m), 0);
    kp_arena_destroy(&a);
}

/* The shipped template files are the built-in texts, every kind and language. */
static void
test_templates_shipped(void **state)
{
    (void)state;
    ntf_texts_t *t = NULL;
    char err[512] = "";
    assert_int_equal(ntf_texts_load(NTF_TEMPLATES, &t, err, sizeof err), 0);
    unsigned want = 0;
    for (int k = 1; k < 64; k++)
        want += ntf_texts_kind_name(k) ? 3 : 0;
    assert_int_equal(ntf_texts_files(t), want);
    /* rendered with the files, a message is the same as with the built-in texts */
    kp_arena_t *a = kp_arena_new(1 << 20);
    ntf_rec_t r = s_rec("Liisa", "Pöytä");
    ntf_msg_t m1, m2;
    assert_int_equal(ntf_render(&s_n, a, &r, 1795000000000, &m1), 0);
    s_n.conf.texts = t;
    assert_int_equal(ntf_render(&s_n, a, &r, 1795000000000, &m2), 0);
    s_n.conf.texts = NULL;
    assert_string_equal(m1.message, m2.message);
    kp_arena_destroy(&a);
    ntf_texts_free(&t);
}

/* An operator's file: used for its kind and language; an unknown placeholder or a file
 * without its subject line refuses the set, naming the file and the fault. */
static void
test_templates_operator(void **state)
{
    (void)state;
    char dir[] = "/tmp/kp-ntf-tmpl-XXXXXX", path[256], err[512] = "";
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/reminder.fi.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("Subject: Oma muistutus {title}\n\nMuista {title} {when}.{place_line}{ei}\n", f);
    fclose(f);
    ntf_texts_t *t = NULL;
    assert_int_equal(ntf_texts_load(dir, &t, err, sizeof err), KP_ECONFIG);
    assert_null(t);
    assert_non_null(strstr(err, "reminder.fi.txt: unknown placeholder {ei}"));
    f = fopen(path, "w");
    fputs("Subject: Oma muistutus {title}\n\nMuista {title} {when}.\n{place_line}{ }\n", f);
    fclose(f);
    assert_int_equal(ntf_texts_load(dir, &t, err, sizeof err), 0);
    assert_int_equal(ntf_texts_files(t), 1);
    kp_arena_t *a = kp_arena_new(1 << 20);
    ntf_rec_t r = s_rec("Liisa", "Pöytä");
    r.kind = MK(REMINDER);
    ntf_msg_t m;
    s_n.conf.texts = t;
    assert_int_equal(ntf_render(&s_n, a, &r, 1795000000000, &m), 0);
    assert_string_equal(m.subject, "Oma muistutus Pöytä");
    assert_non_null(strstr(m.text, "Muista Pöytä 1.12.2026 klo"));
    assert_non_null(strstr(m.text, "Paikka: Seinäjoki"));
    r.language = "sv"; /* no file: the built-in text */
    assert_int_equal(ntf_render(&s_n, a, &r, 1795000000000, &m), 0);
    assert_non_null(strstr(m.subject, "Påminnelse"));
    s_n.conf.texts = NULL;
    ntf_texts_free(&t);
    f = fopen(path, "w");
    fputs("Muista {title}\n", f);
    fclose(f);
    assert_int_equal(ntf_texts_load(dir, &t, err, sizeof err), KP_ECONFIG);
    assert_non_null(strstr(err, "reminder.fi.txt: a first line"));
    unlink(path);
    rmdir(dir);
    kp_arena_destroy(&a);
}

int
main(void)
{
    assert_true(sodium_init() >= 0);
    kp_time_tz_init();
    s_n.conf.smtp_from = "noreply@kumppani.example";
    s_n.conf.smtp_from_name = "Kumppani";
    return KP_TEST_RUN(NULL, NULL, test_no_header_injection, test_encoded_word_roundtrip,
                       test_message_id_stable, test_ical, test_languages_and_sms,
                       test_templates_shipped, test_templates_operator);
}
