/*  kumppani-expert-broker: arguments, wiring, the deadline timer and the registry read model.
 *  The work is in api.c (handlers), match.c (eligibility, ranking, offers) and store.c.
 *
 *  The deadline timer: offer reminders, offer lapses and request answer deadlines are rows of
 *  the `due` table keyed by time. After every committed turn, and at start, the timer is armed
 *  for the first row, so nothing is lost across a restart or a kill -9: the rows are in the
 *  store, and a deadline that passed while the service was down runs at once on start. When
 *  it fires it runs every due row in the server's turn (kp_server_txn), emits the events and
 *  lets the turn commit like any other.
 *
 *  When the test clock moves (--test-clock on, sys.clock.set), the server calls clock_moved
 *  and the timer is armed again for the new time. */
#include "broker.h"
#include "kp_boot.h"
#include "kp_consumer.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_time.h"
#include "kumppani/v1/registry.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_arm(brk_svc_t *svc, kp_tx_t *tx);

static void
s_on_timer(uv_timer_t *h)
{
    brk_svc_t *svc = h->data;
    kp_arena_reset(svc->timer_arena);
    kp_tx_t tx;
    int rc = kp_tx_begin(&tx, svc->srv, NULL, svc->timer_arena, svc);
    if (rc) {
        uv_timer_start(&svc->timer, s_on_timer, 1000, 0);
        return;
    }
    /* The clock as the timer fires, not the turn's time: timers run before the turn of the
     * previous loop pass has committed, and that turn's time may be older than the moment
     * the timer was armed for (after sys.clock.set, always): nothing would run, and the timer
     * re-armed for "now" would fire again at once, for ever. */
    tx.now_ms = kp_now_ms();
    unsigned ran = 0;
    rc = brk_run_due(&tx, 200, &ran);
    if (rc) {
        kp_server_abort_turn(svc->srv, rc);
        uv_timer_start(&svc->timer, s_on_timer, 1000, 0);
        return;
    }
    if (ran)
        kp_log_debug("due.ran", "n=%u", ran);
    s_arm(svc, &tx);
}

/* Arms the timer for the first row of the schedule as tx sees it (NULL: a fresh read). */
static void
s_arm(brk_svc_t *svc, kp_tx_t *tx)
{
    int64_t due = 0;
    int kind;
    uint64_t id;
    bool found = false;
    int rc =
        tx ? brk_due_first(tx, &due, &kind, &id, &found) : brk_due_next(svc->srv, &due, &found);
    int64_t delay = 60000;
    if (rc == 0 && found) {
        delay = due - kp_now_ms();
        if (delay < 0)
            delay = 0;
    }
    if (delay > 60000)
        delay = 60000; /* look again now and then: wall clocks jump */
    uv_timer_start(&svc->timer, s_on_timer, (uint64_t)delay, 0);
}

static void
s_turn_done(void *arg, int rc)
{
    (void)rc;
    s_arm(arg, NULL);
}

/* The test clock moved: the first deadline may be due now (or later than armed). */
static void
s_clock_moved(void *arg)
{
    s_arm(arg, NULL);
}

static void
s_on_close(uv_handle_t *h)
{
    (void)h;
}

static void
s_stop(void *arg)
{
    brk_svc_t *svc = arg;
    uv_timer_stop(&svc->timer);
    uv_close((uv_handle_t *)&svc->timer, s_on_close);
}

typedef struct {
    kp_tx_t *tx;
    uint64_t person_id;
    uint64_t ids[64];
    size_t n;
} person_t;

static int
s_person_expert(void *arg, uint64_t id, MDB_val *val)
{
    person_t *x = arg;
    Kumppani__V1__Expert *e = kumppani__v1__expert__unpack(NULL, val->mv_size, val->mv_data);
    if (e && !e->erased && e->profile && e->profile->registry_person_id == x->person_id &&
        x->n < 64)
        x->ids[x->n++] = id;
    if (e)
        kumppani__v1__expert__free_unpacked(e, NULL);
    return 0;
}

/* The registry's PersonErased: experts linked to that person (registry_person_id) are erased
 * here too. */
static int
s_person_erased(brk_svc_t *svc, kp_server_t *srv, MDB_txn *txn, const Kumppani__V1__Event *ev)
{
    Kumppani__V1__PersonErased *pe =
        kumppani__v1__person_erased__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!pe)
        return 0;
    kp_arena_reset(svc->timer_arena);
    kp_tx_t tx;
    int rc = kp_tx_begin(&tx, srv, txn, svc->timer_arena, svc);
    if (rc) {
        kumppani__v1__person_erased__free_unpacked(pe, NULL);
        return rc;
    }
    person_t x = {&tx, pe->person_id, {0}, 0};
    kumppani__v1__person_erased__free_unpacked(pe, NULL);
    rc = x.person_id ? brk_each(&tx, BRK_DB_EXPERTS, 0, s_person_expert, &x) : 0;
    for (size_t i = 0; !rc && i < x.n; i++) {
        brk_expert_t *e = brk_get(&tx, BRK_DB_EXPERTS, x.ids[i], &rc);
        if (!rc && e)
            rc = brk_expert_erase(&tx, e);
    }
    kp_log_info("registry.person_erased", "experts=%zu rc=%d", x.n, rc);
    return rc;
}

/* The registry read model: organisation id -> name of active organisations. */
static int
s_apply_registry(void *arg, kp_server_t *srv, MDB_txn *txn, const Kumppani__V1__Event *ev)
{
    brk_svc_t *svc = arg;
    if (strcmp(ev->type, "PersonErased") == 0)
        return s_person_erased(svc, srv, txn, ev);
    bool put = strcmp(ev->type, "OrganisationRegistered") == 0 ||
               strcmp(ev->type, "OrganisationUpdated") == 0;
    bool del = strcmp(ev->type, "OrganisationDissolved") == 0 ||
               strcmp(ev->type, "OrganisationRemoved") == 0;
    if (!put && !del)
        return 0;
    Kumppani__V1__OrganisationReply *r =
        kumppani__v1__organisation_reply__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!r)
        return 0; /* not ours to judge; skip it rather than stall the log */
    int rc = 0;
    if (r->organisation) {
        kp_tx_t tx;
        rc = kp_tx_begin(&tx, srv, txn, svc->timer_arena, svc);
        const Kumppani__V1__Organisation *o = r->organisation;
        if (rc)
            ;
        else if (put && o->status == KUMPPANI__V1__ORG_STATUS__ORG_STATUS_ACTIVE && o->fields)
            rc = brk_org_put(&tx, o->id, o->fields->name_fi);
        else
            rc = brk_org_del(&tx, o->id);
        kp_log_debug("registry.org", "org=%llu type=%s", (unsigned long long)o->id, ev->type);
    }
    kumppani__v1__organisation_reply__free_unpacked(r, NULL);
    return rc;
}

int
main(int argc, char **argv)
{
    kp_config_item_t items[] = {
        KP_BOOT_ITEMS("tcp://127.0.0.1:7301", "tcp://127.0.0.1:7302", "./data/expert-broker",
                      "expert-broker"),
        {"no-repeat-weeks", "8",
         "weeks in which an expert is not offered the same requester "
         "again while others are eligible",
         NULL},
        {"registry-api", NULL,
         "the registry's ROUTER; with registry-pub: organisations must be "
         "known to the registry",
         NULL},
        {"registry-pub", NULL, "the registry's PUB (event log)", NULL},
        {"registry-key", "registry",
         "the registry's public key: a path, or a name <keys-dir>/<name>.pub", NULL},
        {0},
    };
    int rc = kp_config_load(items, "kumppani-expert-broker", argc, argv);
    if (rc) {
        kp_config_free(items);
        return rc == 1 ? 0 : 2;
    }
    kp_time_tz_init();
    kp_boot_t boot;
    kp_server_opts_t so = {0};
    uint64_t weeks;
    if (kp_boot_load(&boot, "expert-broker", items, &so) != 0 ||
        kp_config_uint(items, "no-repeat-weeks", &weeks) != 0 || weeks > 520) {
        kp_boot_fini(&boot);
        kp_config_free(items);
        return 1;
    }
    brk_svc_t svc = {0};
    svc.no_repeat_weeks = (unsigned)weeks;
    const char *rapi = kp_config_get(items, "registry-api");
    const char *rpub = kp_config_get(items, "registry-pub");
    svc.registry_model = rapi && *rapi && rpub && *rpub;
    svc.timer_arena = kp_arena_new(8u << 20);
    so.dbs = brk_db_names;
    so.dbs_n = BRK_DB_N;
    so.schema_version = BRK_SCHEMA_VERSION;
    so.methods = brk_methods;
    so.methods_n = brk_methods_n;
    so.svc = &svc;

    uv_loop_t loop;
    uv_loop_init(&loop);
    kp_server_t *server = NULL;
    rc = kp_server_new(&server, &loop, &so);
    char regpub[128] = {0};
    if (rc == 0) {
        svc.srv = server;
        uv_timer_init(&loop, &svc.timer);
        svc.timer.data = &svc;
        kp_server_part_t part = {
            .turn_done = s_turn_done, .stop = s_stop, .clock_moved = s_clock_moved, .arg = &svc};
        rc = kp_server_add_part(server, &part);
        if (rc == 0 && svc.registry_model) {
            kp_consumer_opts_t co = {0};
            co.source = "registry";
            co.api_endpoint = rapi;
            co.pub_endpoint = rpub;
            co.apply = s_apply_registry;
            co.arg = &svc;
            if (boot.have_keys) {
                rc = kp_boot_peer_key(items, "registry-key", regpub);
                co.keys = &boot.keys;
                co.server_pub = regpub;
            }
            if (rc == 0)
                rc = kp_consumer_start(server, &co);
        }
        if (rc == 0) {
            s_arm(&svc, NULL);
            kp_log_notice("broker.start", "registry_model=%d no_repeat_weeks=%u",
                          svc.registry_model, svc.no_repeat_weeks);
            rc = kp_server_run(server);
        }
        kp_server_destroy(&server);
    }
    int lrc = uv_loop_close(&loop);
    if (lrc)
        kp_log_err("loop.close", "err=%d", lrc);
    kp_arena_destroy(&svc.timer_arena);
    kp_boot_fini(&boot);
    kp_config_free(items);
    return rc || lrc ? 1 : 0;
}
