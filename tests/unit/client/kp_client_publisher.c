/*  kp-client-publisher: a publishing system's use of libkumppani against the real events
 *  service, started on loopback by tests/integration/test_client_publisher.py, which passes
 *  the service's API endpoint (plain TCP) and a fresh store.
 *
 *  It does what the engineer of a county portal would do, only through kumppani.h: create and
 *  publish events, page through them (kpc_event_list), submit sign-ups, page through an
 *  event's sign-ups (kpc_signup_list), cancel sign-ups by the portal's own id and by the
 *  service's id (kpc_signup_cancel), and follow the service's log page by page
 *  (kpc_log_replay), checking each answer. Every check that fails prints where and why and
 *  ends the program with exit 1; on success it prints the number of checks and exits 0.
 *
 *  The sign-ups carry the personal data the harness plants (kp_harness.PII), so the test's
 *  log check can fail; the log pages are checked here to carry ids, never that name. */
#include "kumppani.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int s_checks;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            exit(1);                                                                               \
        }                                                                                          \
        s_checks++;                                                                                \
    } while (0)

/* The call answered CODE_OK with a message. */
#define CHECK_OK(rc, st, out, what)                                                                \
    CHECK((rc) == 0 && (st).code == 0 && (out), "%s: rc %d (%s), code %s: %s", what, rc,           \
          kpc_strerror(rc), kpc_code_name((st).code), (st).message)

#define EVENTS_N 5
#define SIGNUPS_N 5
#define CAPACITY 3
#define SOURCE "county-portal"
#define PLANTED_NAME "Matti Meikäläinen" /* kp_harness.PII[0] */

#define C_OK KUMPPANI__V1__CODE__CODE_OK
#define C_INVALID KUMPPANI__V1__CODE__CODE_INVALID
#define C_NOT_FOUND KUMPPANI__V1__CODE__CODE_NOT_FOUND
#define S_CONFIRMED KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_CONFIRMED
#define S_WAITLISTED KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_WAITLISTED
#define S_CANCELLED KUMPPANI__V1__SIGNUP_STATE__SIGNUP_STATE_CANCELLED

/* Creates event i (capacity CAPACITY) and, if publish, publishes it. Returns its id. */
static uint64_t
s_event(kpc_t *c, int i, bool publish)
{
    char key[32], title[64];
    snprintf(key, sizeof key, "portal-ev-%d", i);
    snprintf(title, sizeof title, "Kumppanuuspöytä %d", i);
    Kumppani__V1__CreateEventRequest rq = KUMPPANI__V1__CREATE_EVENT_REQUEST__INIT;
    rq.kind = KUMPPANI__V1__EVENT_KIND__KIND_PARTNERSHIP_TABLE;
    rq.title = title;
    rq.municipality_code = "743";
    rq.start_unix = (int64_t)time(NULL) + 7 * 86400 + i * 3600;
    rq.end_unix = rq.start_unix + 1800;
    rq.capacity = CAPACITY;
    rq.place = "Seinäjoen kaupungintalo";
    rq.language = "fi";
    Kumppani__V1__EventReply *r = NULL;
    kpc_status_t st;
    int rc = kpc_event_create(c, key, &rq, &r, &st);
    CHECK_OK(rc, st, r, "kpc_event_create");
    CHECK(r->event && r->event->id > 0, "event %d has an id", i);
    uint64_t id = r->event->id;
    kpc_msg_destroy(&r);
    /* The same key again: the first event, not a second one. */
    rc = kpc_event_create(c, key, &rq, &r, &st);
    CHECK_OK(rc, st, r, "kpc_event_create again");
    CHECK(r->event->id == id, "the same key gives event %" PRIu64 ", not %" PRIu64, id,
          r->event->id);
    kpc_msg_destroy(&r);
    if (publish) {
        rc = kpc_event_publish(c, id, &r, &st);
        CHECK_OK(rc, st, r, "kpc_event_publish");
        CHECK(r->event->state == KUMPPANI__V1__EVENT_STATE__EVENT_STATE_PUBLISHED,
              "event %" PRIu64 " published (state %d)", id, r->event->state);
        kpc_msg_destroy(&r);
    }
    return id;
}

/* An event or a sign-up as a listing shows it. */
typedef struct {
    uint64_t id;
    int state;
} item_t;

/* Pages through the events (event_id 0: kpc_event_list) or the event's sign-ups
 * (kpc_signup_list), page_n at a time (0: one page of the service's default size), into v (cap
 * items); checks each page's size and order, and for sign-ups the page's event and its counts
 * (want_n: confirmed, waitlisted). Returns how many there were. */
static size_t
s_list(kpc_t *c, uint64_t event_id, uint32_t page_n, item_t *v, size_t cap, const uint32_t *want_n)
{
    size_t n = 0;
    uint64_t after = 0;
    for (int pages = 0;; pages++) {
        CHECK(pages <= 20, "the listing ends");
        kpc_status_t st;
        size_t got;
        if (!event_id) {
            Kumppani__V1__ListEventsReply *r = NULL;
            int rc = kpc_event_list(c, after, page_n, &r, &st);
            CHECK_OK(rc, st, r, "kpc_event_list");
            got = r->n_events;
            for (size_t i = 0; i < got && n + i < cap; i++)
                v[n + i] = (item_t){r->events[i]->id, (int)r->events[i]->state};
            kpc_msg_destroy(&r);
        } else {
            Kumppani__V1__ListSignupsReply *r = NULL;
            int rc = kpc_signup_list(c, event_id, after, page_n, &r, &st);
            CHECK_OK(rc, st, r, "kpc_signup_list");
            CHECK(r->event && r->event->id == event_id, "the page names its event");
            CHECK(r->event->confirmed_n == want_n[0] && r->event->waitlisted_n == want_n[1],
                  "event counts %u confirmed, %u waitlisted (want %u, %u)", r->event->confirmed_n,
                  r->event->waitlisted_n, want_n[0], want_n[1]);
            got = r->n_signups;
            for (size_t i = 0; i < got && n + i < cap; i++) {
                const Kumppani__V1__Signup *s = r->signups[i];
                CHECK(s->event_id == event_id && strcmp(s->source, SOURCE) == 0,
                      "a sign-up of the event, from the portal");
                v[n + i] = (item_t){s->id, (int)s->state};
            }
            kpc_msg_destroy(&r);
        }
        CHECK(got <= (page_n ? page_n : 100), "a page holds at most %u, not %zu", page_n, got);
        CHECK(n + got <= cap, "no more than were made (%zu)", cap);
        for (size_t i = 0; i < got; i++) {
            CHECK(v[n + i].id > after, "ascending after %" PRIu64, after);
            after = v[n + i].id;
        }
        n += got;
        if (got == 0 || page_n == 0)
            return n;
    }
}

/* Submits sign-up i (external id "cp-000i") on event_id; the first carries the planted name. */
static Kumppani__V1__SignupReply *
s_submit(kpc_t *c, uint64_t event_id, int i)
{
    char ext[16], email[32];
    snprintf(ext, sizeof ext, "cp-%04d", i);
    snprintf(email, sizeof email, "%s@example.fi", ext); /* one person, one e-mail */
    Kumppani__V1__SubmitSignupRequest rq = KUMPPANI__V1__SUBMIT_SIGNUP_REQUEST__INIT;
    rq.event_id = event_id;
    rq.source = SOURCE;
    rq.external_id = ext;
    if (i == 1)
        rq.name = PLANTED_NAME; /* so that the harness's log check can fail */
    else
        rq.name = "Osallistuja";
    rq.email = email;
    rq.role = KUMPPANI__V1__PARTICIPANT_ROLE__ROLE_RESIDENT;
    rq.language = "fi";
    Kumppani__V1__SignupReply *r = NULL;
    kpc_status_t st;
    int rc = kpc_signup_submit(c, &rq, &r, &st);
    CHECK_OK(rc, st, r, "kpc_signup_submit");
    CHECK(r->signup && r->signup->id > 0 && strcmp(r->signup->external_id, ext) == 0,
          "sign-up %d stored under the portal's id", i);
    return r;
}

/* Cancels through kpc_signup_cancel, by the portal's id (ext) or the service's (id). */
static int
s_cancel(kpc_t *c, const char *ext, uint64_t id, Kumppani__V1__SignupReply **out, kpc_status_t *st)
{
    Kumppani__V1__CancelSignupRequest rq = KUMPPANI__V1__CANCEL_SIGNUP_REQUEST__INIT;
    rq.source = ext ? SOURCE : "";
    rq.external_id = ext ? (char *)ext : "";
    rq.signup_id = id;
    return kpc_signup_cancel(c, &rq, out, st);
}

static bool
s_has(const uint8_t *p, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, needle, k) == 0)
            return true;
    return false;
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: kp-client-publisher ENDPOINT\n");
        return 2;
    }
    kpc_opts_t o = {.endpoint = argv[1], .timeout_ms = 5000, .attempts = 2};
    kpc_t *c = NULL;
    int rc = kpc_new(&c, &o);
    CHECK(rc == 0, "kpc_new: %s", kpc_strerror(rc));
    kpc_status_t st;

    /* ---- events: create, publish all but the last, and page through them -------------- */
    uint64_t made[EVENTS_N];
    for (int i = 0; i < EVENTS_N; i++)
        made[i] = s_event(c, i + 1, i < EVENTS_N - 1);
    item_t v[EVENTS_N + SIGNUPS_N];
    for (uint32_t page_n = 1; page_n <= 3; page_n++) {
        size_t n = s_list(c, 0, page_n, v, EVENTS_N, NULL);
        CHECK(n == EVENTS_N, "pages of %u list the %d events, not %zu", page_n, EVENTS_N, n);
        for (size_t i = 0; i < n; i++) {
            CHECK(v[i].id == made[i], "event %zu is %" PRIu64, i, made[i]);
            CHECK(v[i].state == (i < EVENTS_N - 1 ? KUMPPANI__V1__EVENT_STATE__EVENT_STATE_PUBLISHED
                                                  : KUMPPANI__V1__EVENT_STATE__EVENT_STATE_DRAFT),
                  "event %zu in state %d", i, v[i].state);
        }
    }
    /* A page after the second event starts with the third. */
    Kumppani__V1__ListEventsReply *le = NULL;
    rc = kpc_event_list(c, made[1], 0, &le, &st);
    CHECK_OK(rc, st, le, "kpc_event_list with the default page");
    CHECK(le->n_events == EVENTS_N - 2 && le->events[0]->id == made[2],
          "after event 2: %d events from event 3", EVENTS_N - 2);
    kpc_msg_destroy(&le);
    /* A page larger than the service gives: refused, naming the field; nothing returned. */
    rc = kpc_event_list(c, 0, 501, &le, &st);
    CHECK(rc == 0 && st.code == C_INVALID && strstr(st.message, "limit") && !le,
          "limit 501 refused: %s %s", kpc_code_name(st.code), st.message);

    /* ---- sign-ups: CAPACITY confirmed, the rest waitlisted; resending is safe ----------- */
    uint64_t ev = made[0];
    uint64_t su[SIGNUPS_N];
    for (int i = 0; i < SIGNUPS_N; i++) {
        Kumppani__V1__SignupReply *r = s_submit(c, ev, i + 1);
        su[i] = r->signup->id;
        CHECK(r->signup->state == (i < CAPACITY ? S_CONFIRMED : S_WAITLISTED),
              "sign-up %d in state %d", i + 1, r->signup->state);
        kpc_msg_destroy(&r);
    }
    Kumppani__V1__SignupReply *again = s_submit(c, ev, 1);
    CHECK(again->signup->id == su[0], "the same sign-up resent: the first, not a second");
    kpc_msg_destroy(&again);

    for (uint32_t page_n = 1; page_n <= 2; page_n++) {
        size_t n =
            s_list(c, ev, page_n, v, SIGNUPS_N, (const uint32_t[]){CAPACITY, SIGNUPS_N - CAPACITY});
        CHECK(n == SIGNUPS_N, "pages of %u list the %d sign-ups, not %zu", page_n, SIGNUPS_N, n);
        for (size_t i = 0; i < n; i++)
            CHECK(v[i].id == su[i] && v[i].state == (i < CAPACITY ? S_CONFIRMED : S_WAITLISTED),
                  "sign-up %zu listed in order with its state", i + 1);
    }
    Kumppani__V1__ListSignupsReply *ls = NULL;
    rc = kpc_signup_list(c, made[1], 0, 0, &ls, &st);
    CHECK_OK(rc, st, ls, "kpc_signup_list of an event without sign-ups");
    CHECK(ls->n_signups == 0 && ls->event->id == made[1], "no sign-ups there");
    kpc_msg_destroy(&ls);
    rc = kpc_signup_list(c, made[EVENTS_N - 1] + 1000, 0, 0, &ls, &st);
    CHECK(rc == 0 && st.code == C_NOT_FOUND && !ls, "sign-ups of an unknown event: NOT_FOUND (%s)",
          kpc_code_name(st.code));

    /* ---- cancel: by the portal's id, by the service's id, twice, and unknown ------------ */
    Kumppani__V1__SignupReply *cr = NULL;
    rc = s_cancel(c, "cp-0002", 0, &cr, &st);
    CHECK_OK(rc, st, cr, "kpc_signup_cancel by external id");
    CHECK(cr->signup->id == su[1] && cr->signup->state == S_CANCELLED, "sign-up 2 cancelled");
    kpc_msg_destroy(&cr);
    rc = s_cancel(c, NULL, su[0], &cr, &st);
    CHECK_OK(rc, st, cr, "kpc_signup_cancel by signup id");
    CHECK(cr->signup->id == su[0] && cr->signup->state == S_CANCELLED &&
              strcmp(cr->signup->external_id, "cp-0001") == 0,
          "sign-up 1 cancelled");
    kpc_msg_destroy(&cr);
    rc = s_cancel(c, "cp-0002", 0, &cr, &st);
    CHECK_OK(rc, st, cr, "kpc_signup_cancel resent");
    CHECK(cr->signup->id == su[1] && cr->signup->state == S_CANCELLED, "cancelling again: as is");
    kpc_msg_destroy(&cr);
    rc = s_cancel(c, "cp-9999", 0, &cr, &st);
    CHECK(rc == 0 && st.code == C_NOT_FOUND && !cr, "cancel of an unknown id: NOT_FOUND (%s)",
          kpc_code_name(st.code));
    rc = kpc_signup_cancel(c, NULL, &cr, &st);
    CHECK(rc == KP_EINVAL && !cr, "cancel without a request: KP_EINVAL");
    /* The two freed places went to the waitlist, in order. */
    size_t n = s_list(c, ev, 0, v, SIGNUPS_N, (const uint32_t[]){CAPACITY, 0});
    CHECK(n == SIGNUPS_N, "the default page lists all %d", SIGNUPS_N);
    for (size_t i = 0; i < n; i++)
        CHECK(v[i].state == (i < 2 ? S_CANCELLED : S_CONFIRMED), "sign-up %zu now in state %d",
              i + 1, v[i].state);

    /* ---- the log: page by page up to the head, every seq once, in order ---------------- */
    Kumppani__V1__HealthReply *h = NULL;
    rc = kpc_health(c, &h, &st);
    CHECK_OK(rc, st, h, "kpc_health");
    uint64_t head = h->head_seq;
    kpc_msg_destroy(&h);
    struct {
        const char *type;
        int want, seen;
    } types[] = {
        {"EventCreated", EVENTS_N, 0},    {"EventPublished", EVENTS_N - 1, 0},
        {"SignupConfirmed", CAPACITY, 0}, {"SignupWaitlisted", SIGNUPS_N - CAPACITY, 0},
        {"SignupCancelled", 2, 0},        {"SignupPromoted", 2, 0},
    };
    const size_t types_n = sizeof types / sizeof *types;
    uint64_t next = 1;
    uint64_t cancelled_seen[2] = {0, 0};
    int pages = 0;
    while (next <= head) {
        CHECK(++pages <= 100, "the log ends");
        Kumppani__V1__ReplayPage *p = NULL;
        rc = kpc_log_replay(c, next, 4, &p, &st);
        CHECK_OK(rc, st, p, "kpc_log_replay");
        CHECK(p->head_seq == head, "the page names the head %" PRIu64 " (%" PRIu64 ")", head,
              p->head_seq);
        CHECK(p->n_events >= 1 && p->n_events <= 4, "a page of 1..4 events, not %zu", p->n_events);
        for (size_t i = 0; i < p->n_events; i++) {
            const Kumppani__V1__Event *e = p->events[i];
            CHECK(e->seq == next, "seq %" PRIu64 " follows, not %" PRIu64, next, e->seq);
            CHECK(strcmp(e->source, "events") == 0 && e->time_ms > 0, "from the events service");
            CHECK(!s_has(e->payload.data, e->payload.len, PLANTED_NAME),
                  "event %" PRIu64 " (%s) carries no name", e->seq, e->type);
            for (size_t k = 0; k < types_n; k++)
                if (strcmp(e->type, types[k].type) == 0)
                    types[k].seen++;
            if (strcmp(e->type, "SignupCancelled") == 0) {
                Kumppani__V1__SignupReply *sr =
                    kumppani__v1__signup_reply__unpack(NULL, e->payload.len, e->payload.data);
                CHECK(sr && sr->signup, "a SignupCancelled payload is a SignupReply");
                for (int k = 0; k < 2; k++)
                    if (sr->signup->id == su[k])
                        cancelled_seen[k]++;
                kumppani__v1__signup_reply__free_unpacked(sr, NULL);
            }
            next++;
        }
        kpc_msg_destroy(&p);
    }
    CHECK(pages >= (int)(head + 3) / 4, "%d pages of at most 4 for %" PRIu64 " events", pages,
          head);
    for (size_t k = 0; k < types_n; k++)
        CHECK(types[k].seen == types[k].want, "%d %s on the log, not %d", types[k].want,
              types[k].type, types[k].seen);
    CHECK(cancelled_seen[0] == 1 && cancelled_seen[1] == 1,
          "each cancelled sign-up once on the log (a resent cancel adds nothing)");
    /* Past the head: an empty page that says where the head is. */
    Kumppani__V1__ReplayPage *p = NULL;
    rc = kpc_log_replay(c, head + 1, 0, &p, &st);
    CHECK_OK(rc, st, p, "kpc_log_replay past the head");
    CHECK(p->n_events == 0 && p->head_seq == head, "nothing past the head");
    kpc_msg_destroy(&p);
    /* The default page (0) from the start: every event at once. */
    rc = kpc_log_replay(c, 1, 0, &p, &st);
    CHECK_OK(rc, st, p, "kpc_log_replay with the default page");
    CHECK(p->n_events == head && p->events[head - 1]->seq == head, "the whole log in one page");
    kpc_msg_destroy(&p);

    kpc_destroy(&c);
    printf("kp-client-publisher: %d checks passed (%" PRIu64 " log events)\n", s_checks, head);
    return 0;
}
