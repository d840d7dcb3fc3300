/*  expert-broker/api.c: the broker's method table and its field rules.
 *
 *  Validate, then write: every handler (one file per resource: expert, request, offer,
 *  assignment, export, erase, stats) checks every field and the store through the turn's
 *  transaction first, with the rules below and common/kp_check.h; an error names the field and
 *  the rule and never echoes a value. Only then does it write (kp_tx_wtxn) together with the
 *  events that describe the change. Roles: W (admin, service) for the work of the broker,
 *  KP_ROLES_READ (also readers) for reading, admin alone for the expert register, erasure,
 *  extension, payments, the audit and the personal-data requests (broker.privacy.*, privacy.c);
 *  selfservice (the web's personal links) for answering one offer by id and the two views.
 *
 *  The service's own settings (no-repeat-weeks, retention-days) and its start (timer, registry) are
 * read and wired here too, as kp_boot_main's hooks. */
#include "broker.h"
#include "kp_boot.h"
#include "kp_check.h"
#include "kp_err.h"
#include "kp_log.h"

#include <string.h>

#define C(x) KUMPPANI__V1__CODE__CODE_##x

/* The documented vocabulary of expertise areas (broker.proto, README). */
static const char *const s_vocab[] = {
    "mental-health", "substance-use",   "disability",      "chronic-illness",   "neurodiversity",
    "child-welfare", "family-services", "youth",           "elderly-care",      "caregiving",
    "homelessness",  "unemployment",    "immigration",     "domestic-violence", "cancer",
    "rare-diseases", "social-services", "health-services",
};

/* ---- field rules ---------------------------------------------------------------------------- */

static bool
s_lang_ok(const char *v)
{
    return strlen(v) == 2 && v[0] >= 'a' && v[0] <= 'z' && v[1] >= 'a' && v[1] <= 'z';
}

/* A list field of lo..hi items (lo 0: at most hi), each passing ok (the rule named in the
 * answer otherwise). Answers the call and returns false when it breaks either. */
static bool
s_list_ok(kp_call_t *call, const char *field, char **v, size_t n, size_t lo, size_t hi,
          bool (*ok)(const char *), const char *rule)
{
    if (lo && (n < lo || n > hi))
        return kp_check_fail(call, "field '%s': %zu..%zu required", field, lo, hi);
    if (n > hi)
        return kp_check_fail(call, "field '%s': at most %zu", field, hi);
    for (size_t i = 0; i < n; i++)
        if (!ok(v[i]))
            return kp_check_fail(call, "field '%s[%zu]': %s", field, i, rule);
    return true;
}

static bool
s_expertise(kp_call_t *call, char **v, size_t n)
{
    if (n == 0)
        return kp_check_fail(call, "field 'expertise': at least one area required");
    if (n > 20)
        return kp_check_fail(call, "field 'expertise': at most 20 areas");
    for (size_t i = 0; i < n; i++) {
        bool ok = false;
        for (size_t j = 0; j < sizeof s_vocab / sizeof s_vocab[0] && !ok; j++)
            ok = strcmp(v[i], s_vocab[j]) == 0;
        if (!ok)
            return kp_check_fail(
                call,
                "field 'expertise[%zu]': not an expertise area (the names: broker.proto, "
                "kumppani broker expert-register --help)",
                i);
    }
    return true;
}

bool
brk_check_expert_input(kp_call_t *call, kp_tx_t *tx, const Kumppani__V1__ExpertInput *p)
{
    if (!p)
        return kp_check_fail(call, "field 'expert': required");
    if (p->kind != KUMPPANI__V1__EXPERT_KIND__EXPERT_KIND_EXPERT &&
        p->kind != KUMPPANI__V1__EXPERT_KIND__EXPERT_KIND_ACTOR)
        return kp_check_fail(call,
                             "field 'kind': required, EXPERT_KIND_EXPERT or EXPERT_KIND_ACTOR");
    if (!kp_check_text(call, "name", p->name, 1, 200) ||
        !kp_check_contact(call, "email", p->email, "phone", p->phone))
        return false;
    if (!p->consent)
        return kp_check_fail(call,
                             "field 'consent': the expert's consent to be brokered is required");
    if (p->home_org_id == 0)
        return kp_check_fail(call, "field 'home_org_id': required");
    if (brk_svc(tx)->registry_model) {
        const char *name;
        bool found;
        int rc = brk_text_get(tx, BRK_DB_ORGS, p->home_org_id, &name, &found);
        if (rc) {
            kp_call_fail_err(call, rc);
            return false;
        }
        if (!found) {
            kp_call_fail(call, C(NOT_FOUND),
                         "field 'home_org_id': no such organisation in the registry");
            return false;
        }
    }
    if (p->n_trainings > 50)
        return kp_check_fail(call, "field 'trainings': at most 50");
    for (size_t i = 0; i < p->n_trainings; i++) {
        const Kumppani__V1__ExpertTraining *t = p->trainings[i];
        if (!kp_check_text(call, "trainings.course", t->course, 1, 200) ||
            !kp_check_text(call, "trainings.organiser", t->organiser, 0, 200))
            return false;
        if (!kp_is_date(t->completed_date))
            return kp_check_fail(call, "field 'trainings[%zu].completed_date': YYYY-MM-DD required",
                                 i);
    }
    if (!s_expertise(call, p->expertise, p->n_expertise) ||
        !s_list_ok(call, "languages", p->languages, p->n_languages, 1, 10, s_lang_ok,
                   "two lower-case letters (ISO 639-1)") ||
        !s_list_ok(call, "municipalities", p->municipalities, p->n_municipalities, 0, 400,
                   kp_is_muni_code, "three digits (e.g. 743)"))
        return false;
    if (p->n_municipalities == 0 && !p->remote_ok)
        return kp_check_fail(call, "field 'municipalities': at least one, unless remote_ok");
    if (p->n_availability > 50)
        return kp_check_fail(call, "field 'availability': at most 50 windows");
    for (size_t i = 0; i < p->n_availability; i++) {
        const Kumppani__V1__WeeklySlot *s = p->availability[i];
        if (s->weekday < 1 || s->weekday > 7 || s->from_minute > 1439 || s->to_minute > 1440 ||
            s->to_minute <= s->from_minute)
            return kp_check_fail(
                call, "field 'availability[%zu]': weekday 1..7, from_minute < to_minute <= 1440",
                i);
    }
    if (!s_list_ok(call, "blocked_dates", p->blocked_dates, p->n_blocked_dates, 0, 400, kp_is_date,
                   "YYYY-MM-DD required"))
        return false;
    if (p->monthly_cap > 100)
        return kp_check_fail(call, "field 'monthly_cap': at most 100 (0: no cap)");
    if (!kp_check_text(call, "sensitive_detail_text", p->sensitive_detail_text, 0, 4000))
        return false;
    if (p->sensitive_detail_text[0] && !p->sensitive_consent)
        return kp_check_fail(call,
                             "field 'sensitive_detail_text': stored only with sensitive_consent");
    return true;
}

bool
brk_window(kp_call_t *call, int64_t from_unix, int64_t to_unix, int64_t *from_ms, int64_t *to_ms)
{
    if (from_unix < 0 || (to_unix && to_unix <= from_unix))
        return kp_check_fail(call, "field 'to_unix': after from_unix (0: no end)");
    *from_ms = from_unix * 1000;
    *to_ms = to_unix ? to_unix * 1000 : INT64_MAX;
    return true;
}

bool
brk_check_request_input(kp_call_t *call, kp_tx_t *tx, const Kumppani__V1__BrokerRequestInput *in)
{
    if (!in)
        return kp_check_fail(call, "field 'request': required");
    int64_t now_s = tx->now_ms / 1000;
    if (in->requester_kind < KUMPPANI__V1__REQUESTER_KIND__REQUESTER_PERSON ||
        in->requester_kind > KUMPPANI__V1__REQUESTER_KIND__REQUESTER_MUNICIPALITY)
        return kp_check_fail(
            call, "field 'requester_kind': required, person, organisation or municipality");
    if (!kp_check_text(call, "requester_name", in->requester_name, 1, 200) ||
        !kp_check_text(call, "contact_name", in->contact_name, 0, 200) ||
        !kp_check_contact(call, "contact_email", in->contact_email, "contact_phone",
                          in->contact_phone))
        return false;
    if (in->purpose < KUMPPANI__V1__PURPOSE__PURPOSE_WORKING_GROUP ||
        in->purpose > KUMPPANI__V1__PURPOSE__PURPOSE_TRAINING)
        return kp_check_fail(call, "field 'purpose': required, one of the Purpose values");
    if (!kp_check_text(call, "title", in->title, 1, 200) ||
        !kp_check_text(call, "description_text", in->description_text, 0, 4000) ||
        !s_expertise(call, in->expertise, in->n_expertise))
        return false;
    if (in->start_unix <= now_s)
        return kp_check_fail(call, "field 'start_unix': must be in the future");
    if (in->start_unix > now_s + 3LL * 366 * 86400)
        return kp_check_fail(call, "field 'start_unix': within three years");
    if (in->duration_min < 15 || in->duration_min > 24 * 60)
        return kp_check_fail(call, "field 'duration_min': 15..1440 minutes");
    if (in->municipality[0] && !kp_check_muni_code(call, "municipality", in->municipality))
        return false;
    if (!in->municipality[0] && !in->remote)
        return kp_check_fail(call, "field 'municipality': required unless remote");
    if (!kp_check_text(call, "place", in->place, 0, 300))
        return false;
    if (!s_lang_ok(in->language))
        return kp_check_fail(call, "field 'language': two lower-case letters (ISO 639-1)");
    if (in->experts_needed < 1 || in->experts_needed > 20)
        return kp_check_fail(call, "field 'experts_needed': 1..20");
    if (in->fee_cents > 10000000 || in->travel_cents > 10000000)
        return kp_check_fail(call, "field 'fee_cents': at most 100000 euro (also travel_cents)");
    if (in->answer_deadline_unix <= now_s)
        return kp_check_fail(call, "field 'answer_deadline_unix': must be in the future");
    if (in->answer_deadline_unix > in->start_unix)
        return kp_check_fail(call, "field 'answer_deadline_unix': not after start_unix");
    if (in->offer_hours > 720)
        return kp_check_fail(call, "field 'offer_hours': at most 720 (0: 48)");
    if (in->wave_size && (in->wave_size < in->experts_needed || in->wave_size > 50))
        return kp_check_fail(call, "field 'wave_size': experts_needed..50 (0: experts_needed)");
    return true;
}

bool
brk_page(kp_call_t *call, kp_tx_t *tx, unsigned db, uint64_t after, uint32_t limit, uint32_t max,
         int state, void ***v, size_t *n)
{
    uint32_t lim = kp_check_limit(call, limit, 100, max);
    if (!lim)
        return false;
    int rc = brk_list(tx, db, after, lim, state, v, n);
    if (rc) {
        kp_call_fail_err(call, rc);
        return false;
    }
    return true;
}

/* ---- the method table ----------------------------------------------------------------------- */

#define W (KP_ROLE_ADMIN | KP_ROLE_SERVICE)
#define SELF KP_ROLE_SELFSERVICE
#define M KP_METHOD /* the rows below */

const kp_method_t brk_methods[] = {
    M("broker.expert.register", KP_ROLE_ADMIN, register_expert_request, brk_expert_register),
    M("broker.expert.update", KP_ROLE_ADMIN, update_expert_request, brk_expert_update),
    M("broker.expert.pause", W, pause_expert_request, brk_expert_pause),
    M("broker.expert.get", KP_ROLES_READ, expert_ref, brk_expert_get),
    M("broker.expert.erase", KP_ROLE_ADMIN, expert_ref, brk_expert_erase),
    M("broker.expert.list", KP_ROLES_READ, list_experts_request, brk_expert_list),
    M("broker.request.file", W, file_request_request, brk_request_file),
    M("broker.request.get", KP_ROLES_READ, broker_request_ref, brk_request_get),
    M("broker.request.list", KP_ROLES_READ, list_broker_requests_request, brk_request_list),
    M("broker.request.cancel", W, cancel_broker_request_request, brk_request_cancel),
    M("broker.request.explain", KP_ROLES_READ, broker_request_ref, brk_request_explain),
    M("broker.request.extend", KP_ROLE_ADMIN, extend_broker_request_request, brk_request_extend),
    /* The web's personal links (selfservice): answer one offer, see one offer or request. */
    M("broker.offer.accept", W | SELF, offer_ref, brk_offer_accept),
    M("broker.offer.decline", W | SELF, decline_offer_request, brk_offer_decline),
    M("broker.offer.view", KP_ROLE_ADMIN | SELF, offer_ref, brk_offer_view),
    M("broker.request.view", KP_ROLE_ADMIN | SELF, broker_request_ref, brk_request_view),
    M("broker.assignment.cancel", W, cancel_assignment_request, brk_asg_cancel),
    M("broker.assignment.complete", W, complete_assignment_request, brk_asg_complete),
    M("broker.assignment.feedback", W, assignment_feedback_request, brk_asg_feedback),
    M("broker.assignment.list", KP_ROLES_READ, list_assignments_request, brk_asg_list),
    M("broker.assignment.export", KP_ROLE_ADMIN, assignment_export_request, brk_asg_export),
    M("broker.assignment.paid", KP_ROLE_ADMIN, mark_paid_request, brk_asg_paid),
    M("broker.sensitive.read", W, sensitive_read_request, brk_sensitive_read),
    M("broker.audit.list", KP_ROLE_ADMIN, list_broker_audit_request, brk_audit_list),
    M("broker.stats", KP_ROLES_READ, broker_stats_request, brk_stats),
    M("broker.privacy.erase", KP_ROLE_ADMIN, data_subject, brk_privacy_erase),
    M("broker.privacy.export", KP_ROLE_ADMIN, data_subject, brk_privacy_export),
};
const unsigned brk_methods_n = sizeof brk_methods / sizeof brk_methods[0];

/* ---- the service's own settings and start (hooks of kp_boot_main, see main.c) --------------- */

int
brk_configure(void *arg, const kp_config_item_t *items)
{
    brk_svc_t *svc = arg;
    uint64_t weeks, days;
    if (kp_config_range(items, "no-repeat-weeks", 0, 520, &weeks) ||
        kp_config_range(items, "retention-days", 0, 36500, &days))
        return KP_ECONFIG;
    svc->no_repeat_weeks = (unsigned)weeks;
    svc->retention_days = (unsigned)days;
    svc->arena = kp_arena_new(8u << 20);
    return 0;
}

int
brk_start(void *arg, kp_server_t *srv, const kp_boot_t *boot, const kp_config_item_t *items)
{
    brk_svc_t *svc = arg;
    int rc = brk_timer_start(svc, srv);
    if (rc == 0)
        rc = brk_consume_start(svc, srv, boot, items);
    if (rc == 0)
        kp_log_notice("broker.start", "registry_model=%d no_repeat_weeks=%u retention_days=%u",
                      svc->registry_model, svc->no_repeat_weeks, svc->retention_days);
    return rc;
}

void
brk_fini(void *arg)
{
    brk_svc_t *svc = arg;
    kp_arena_destroy(&svc->arena);
}
