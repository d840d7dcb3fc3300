/*  registry/search.c: "registry.org.search", organisations by name words and facets, paged in
 *  Finnish alphabetical order.
 *
 *  This file holds the request's rules and the reply; the walk over the indexes (streams,
 *  leapfrog, the summary check, the cursor) is reg_search in store.c, next to the key layouts
 *  it reads. Every query word matches as a prefix of a word of name_fi or name_sv, folded
 *  (collate.c), so "mielen" finds "Mielenterveysseura" and "seinajoen" does not find
 *  "Seinäjoen". The cursor is opaque to callers; one this service did not give is INVALID. */
#include "kp_check.h"
#include "kp_err.h"
#include "kp_time.h"
#include "registry.h"

void
reg_org_search(kp_call_t *call, void *svc)
{
    kp_tx_t tx;
    kp_tx_of_call(&tx, call, svc);
    const Kumppani__V1__SearchRequest *rq = kp_call_body(call);
    if (rq->limit > 200) {
        kp_call_fail(call, REG_C(INVALID), "field 'limit': at most 200");
        return;
    }
    if (!kp_check_text(call, "query", rq->query, 0, 200))
        return;
    if (rq->municipality[0] && !kp_is_muni_code(rq->municipality)) {
        kp_call_fail(call, REG_C(INVALID), "field 'municipality': a three-digit municipality code");
        return;
    }
    if (rq->network[0] && !reg_network_ok(rq->network)) {
        kp_call_fail(call, REG_C(INVALID), "field 'network': 1..64 of a-z, 0-9, '-', ':'");
        return;
    }
    if (rq->field && !reg_field_name(rq->field)) {
        kp_call_fail(call, REG_C(INVALID), "field 'field': not a Field value");
        return;
    }
    if (rq->status < 0 || rq->status > REG_DISSOLVED) {
        kp_call_fail(call, REG_C(INVALID), "field 'status': UNSPECIFIED, ACTIVE or DISSOLVED");
        return;
    }
    Kumppani__V1__SearchReply r = KUMPPANI__V1__SEARCH_REPLY__INIT;
    int64_t t0 = kp_mono_us();
    int rc = reg_search(&tx, rq, &r);
    r.server_us = (uint32_t)(kp_mono_us() - t0);
    if (rc == KP_EINVAL) {
        kp_call_fail(call, REG_C(INVALID), "field 'cursor': not a cursor this service gave");
        return;
    }
    if (rc) {
        kp_call_fail_err(call, rc);
        return;
    }
    kp_call_ok(call, &r.base);
}
