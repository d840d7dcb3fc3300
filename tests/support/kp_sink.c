/*  kp-sink: a minimal consumer service for integration tests.
 *
 *  It is a real service built on kp_server and kp_consumer, following one source's log (the
 *  events service) exactly as the notifier will. Its effect is observable: every applied event
 *  increments counters and records its seq in the "seen" table, all in the same transaction as
 *  the consumer offset. "sink.stats" reports them; a duplicate or out-of-order apply shows up
 *  as dup_n or gap_n above zero.
 *
 *  Settings: the common ones (KP_BOOT_ITEMS) plus source-api, source-pub, source-key (path to
 *  the source's public key file) and fault-drop-live-every (the kp_consumer test hook). */
#include "kp_boot.h"
#include "kp_consumer.h"
#include "kp_err.h"
#include "kp_log.h"
#include "sink.pb-c.h"

#include <stdio.h>
#include <string.h>

enum { DB_SEEN, DB_COUNTERS, DB_N };
static const char *const s_dbs[DB_N] = {"seen", "counters"};

static int
s_counter_get(kp_store_t *st, MDB_txn *txn, const char *name, uint64_t *v)
{
    MDB_val k = {strlen(name), (void *)name}, d;
    int rc = mdb_get(txn, kp_store_dbi(st, DB_COUNTERS), &k, &d);
    *v = (rc == 0 && d.mv_size == 8) ? kp_be64_get(d.mv_data) : 0;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : kp_err_from_mdb(rc);
}

static int
s_counter_put(kp_store_t *st, MDB_txn *txn, const char *name, uint64_t v)
{
    uint8_t b[8];
    kp_be64_put(b, v);
    MDB_val k = {strlen(name), (void *)name}, d = {8, b};
    return kp_err_from_mdb(mdb_put(txn, kp_store_dbi(st, DB_COUNTERS), &k, &d, 0));
}

static int
s_apply(void *arg, kp_server_t *srv, MDB_txn *txn, const Kumppani__V1__Event *ev)
{
    (void)arg;
    kp_store_t *st = kp_server_store(srv);
    uint8_t key[8];
    kp_be64_put(key, ev->seq);
    MDB_val k = {8, key}, v = {1, "1"};
    int mrc = mdb_put(txn, kp_store_dbi(st, DB_SEEN), &k, &v, MDB_NOOVERWRITE);
    uint64_t applied, dup, last, gap;
    int rc;
    if ((rc = s_counter_get(st, txn, "applied", &applied)) ||
        (rc = s_counter_get(st, txn, "dup", &dup)) ||
        (rc = s_counter_get(st, txn, "last", &last)) || (rc = s_counter_get(st, txn, "gap", &gap)))
        return rc;
    if (mrc == MDB_KEYEXIST)
        dup++;
    else if (mrc)
        return kp_err_from_mdb(mrc);
    if (ev->seq != last + 1)
        gap++;
    if ((rc = s_counter_put(st, txn, "applied", applied + 1)) ||
        (rc = s_counter_put(st, txn, "dup", dup)) ||
        (rc = s_counter_put(st, txn, "last", ev->seq)) || (rc = s_counter_put(st, txn, "gap", gap)))
        return rc;
    return 0;
}

static void
s_stats(kp_call_t *call, void *svc)
{
    (void)svc;
    kp_store_t *st = kp_call_store(call);
    MDB_txn *txn = kp_call_txn(call);
    Kumppani__Test__SinkStats r = KUMPPANI__TEST__SINK_STATS__INIT;
    MDB_stat ms;
    int rc;
    if ((rc = s_counter_get(st, txn, "applied", &r.applied_n)) ||
        (rc = s_counter_get(st, txn, "dup", &r.dup_n)) ||
        (rc = s_counter_get(st, txn, "last", &r.last_seq)) ||
        (rc = s_counter_get(st, txn, "gap", &r.gap_n)) ||
        (rc = kp_err_from_mdb(mdb_stat(txn, kp_store_dbi(st, DB_SEEN), &ms)))) {
        kp_call_fail_err(call, rc);
        return;
    }
    r.distinct_n = ms.ms_entries;
    kp_call_ok(call, &r.base);
}

static const kp_method_t s_methods[] = {
    KP_METHOD("sink.stats", KP_ROLE_ALL, health_request, s_stats),
};

int
main(int argc, char **argv)
{
    kp_config_item_t items[] = {
        KP_BOOT_ITEMS("tcp://127.0.0.1:7901", NULL, "./data/sink", "sink"),
        {"source-api", "tcp://127.0.0.1:7201", "the source's ROUTER", NULL},
        {"source-pub", "tcp://127.0.0.1:7202", "the source's PUB", NULL},
        {"source-key", NULL, "the source's public key file (with keys-dir)", NULL},
        {"fault-drop-live-every", "0", "test hook: drop every Nth live event", NULL},
        {0},
    };
    int rc = kp_config_load(items, "kp-sink", argc, argv);
    if (rc) {
        kp_config_free(items);
        return rc == 1 ? 0 : 2;
    }
    kp_boot_t boot;
    kp_server_opts_t so = {0};
    uint64_t drop = 0;
    char source_pub[KP_Z85_KEY_LEN + 1] = "";
    if (kp_boot_load(&boot, "sink", items, &so) != 0 ||
        kp_config_uint(items, "fault-drop-live-every", &drop) != 0) {
        kp_boot_fini(&boot);
        kp_config_free(items);
        return 1;
    }
    if (boot.have_keys) {
        if (kp_boot_peer_key(items, "source-key", source_pub) != 0) {
            fprintf(stderr, "kp-sink: source-key must name the source's public key file\n");
            kp_boot_fini(&boot);
            kp_config_free(items);
            return 1;
        }
    }
    so.dbs = s_dbs;
    so.dbs_n = DB_N;
    so.schema_version = 1;
    so.methods = s_methods;
    so.methods_n = 1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    kp_server_t *server = NULL;
    rc = kp_server_new(&server, &loop, &so);
    if (rc == 0) {
        kp_consumer_opts_t co = {.source = "events",
                                 .api_endpoint = kp_config_get(items, "source-api"),
                                 .pub_endpoint = kp_config_get(items, "source-pub"),
                                 .keys = boot.have_keys ? &boot.keys : NULL,
                                 .server_pub = source_pub,
                                 .apply = s_apply,
                                 .drop_every = (unsigned)drop};
        rc = kp_consumer_start(server, &co);
        if (rc == 0)
            rc = kp_server_run(server);
        kp_server_destroy(&server);
    }
    int lrc = uv_loop_close(&loop);
    if (lrc)
        kp_log_err("loop.close", "err=%d", lrc);
    kp_boot_fini(&boot);
    kp_config_free(items);
    return rc || lrc ? 1 : 0;
}
