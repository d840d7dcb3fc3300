/*  cmd_broker.c: the `kumppani broker ...` commands (see cli_cmd.h).
 *
 *  Each command builds one request of the expert-broker service (broker.proto), prints the
 *  reply as a short table, or with --json the whole reply (field names as in broker.proto,
 *  converted generically from the protobuf-c descriptors). */
#include "cli_cmd.h"
#include "kumppani/v1/broker.pb-c.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SVC "expert-broker"

/* ---- generic JSON of a protobuf-c message ------------------------------------------------ */

static json_t *s_msg_json(const ProtobufCMessage *m);

static json_t *
s_val_json(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_UINT32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
        return ev ? json_string(ev->name) : json_integer(*(const int *)p);
    }
    case PROTOBUF_C_TYPE_UINT64:
        return json_integer((json_int_t) * (const uint64_t *)p);
    case PROTOBUF_C_TYPE_INT64:
        return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_real(*(const double *)p);
    case PROTOBUF_C_TYPE_STRING:
        return cli_json_str(*(char *const *)p);
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)p ? s_msg_json(*(ProtobufCMessage *const *)p)
                                             : json_null();
    default:
        return json_null();
    }
}

static size_t
s_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    default:
        return 4;
    }
}

static json_t *
s_msg_json(const ProtobufCMessage *m)
{
    json_t *o = json_object();
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(char *const *)(base + f->offset);
            json_t *a = json_array();
            for (size_t k = 0; k < n; k++)
                json_array_append_new(a, s_val_json(f, arr + k * s_size(f)));
            json_object_set_new(o, f->name, a);
        } else
            json_object_set_new(o, f->name, s_val_json(f, base + f->offset));
    }
    return o;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static int
s_call(cli_ctx_t *c, const char *method, const char *idem, const ProtobufCMessage *req,
       const ProtobufCMessageDescriptor *out_d, ProtobufCMessage **out)
{
    return cli_call(c, SVC, method, idem, req, out_d, out);
}

static int
s_done(cli_ctx_t *c, ProtobufCMessage *r, void (*print)(const ProtobufCMessage *))
{
    int ex = EXIT_OK_;
    if (c->json)
        ex = cli_json_print(s_msg_json(r));
    else
        print(r);
    protobuf_c_message_free_unpacked(r, NULL);
    return ex;
}

/* Splits a comma list into a NULL-terminated array (malloc'd; strings point into a copy). */
static char **
s_list(const char *v, size_t *n)
{
    *n = 0;
    if (!v || !*v)
        return NULL;
    char *copy = strdup(v);
    size_t cap = 1;
    for (const char *p = v; *p; p++)
        cap += *p == ',';
    char **out = calloc(cap + 2, sizeof *out);
    out[cap + 1] = copy; /* for s_list_free */
    char *tok = copy;
    for (char *p = copy;; p++) {
        if (*p == ',' || *p == 0) {
            bool end = *p == 0;
            *p = 0;
            if (*tok)
                out[(*n)++] = tok;
            tok = p + 1;
            if (end)
                break;
        }
    }
    return out;
}

static void
s_list_free(char **v)
{
    if (v) {
        size_t i = 0;
        while (v[i])
            i++;
        /* the tokens are followed by NULLs up to slot cap, then the copy */
        while (!v[i])
            i++;
        free(v[i]);
        free(v);
    }
}

static void
s_key(char buf[33], const char *given)
{
    if (given) {
        snprintf(buf, 33, "%s", given);
        return;
    }
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(buf, 33, raw, sizeof raw);
}

static const char *
s_enum(const ProtobufCEnumDescriptor *d, int v)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
    return ev ? ev->name : "?";
}

/* ---- printers ----------------------------------------------------------------------------- */

static void
s_print_expert(const Kumppani__V1__Expert *e)
{
    printf("%-6llu %-28s %-8s %-6s org=%llu expertise=%zu cap=%u\n", (unsigned long long)e->id,
           e->profile ? e->profile->name : "", e->paused ? "paused" : "active",
           e->profile && e->profile->kind == KUMPPANI__V1__EXPERT_KIND__EXPERT_KIND_ACTOR
               ? "actor"
               : "expert",
           e->profile ? (unsigned long long)e->profile->home_org_id : 0ULL,
           e->profile ? e->profile->n_expertise : 0, e->profile ? e->profile->monthly_cap : 0);
}

static void
p_expert(const ProtobufCMessage *m)
{
    s_print_expert(((const Kumppani__V1__ExpertReply *)m)->expert);
}

static void
p_experts(const ProtobufCMessage *m)
{
    const Kumppani__V1__ListExpertsReply *r = (const void *)m;
    printf("%-6s %-28s %-8s %-6s\n", "ID", "NAME", "STATE", "KIND");
    for (size_t i = 0; i < r->n_experts; i++)
        s_print_expert(r->experts[i]);
}

static void
s_print_offer(const Kumppani__V1__Offer *o)
{
    char t[CLI_TIME_MAX];
    cli_time_format(o->deadline_ms / 1000, t, sizeof t);
    printf("  offer %-6llu expert %-6llu wave %u rank %u %-22s deadline %s\n",
           (unsigned long long)o->id, (unsigned long long)o->expert_id, o->wave, o->rank,
           s_enum(&kumppani__v1__offer_state__descriptor, o->state), t);
}

static void
p_request(const ProtobufCMessage *m)
{
    const Kumppani__V1__BrokerRequestReply *r = (const void *)m;
    const Kumppani__V1__BrokerRequest *q = r->request;
    char t[CLI_TIME_MAX];
    cli_time_format(q->input->start_unix, t, sizeof t);
    printf("request %llu  %s  %s  start %s  accepted %u/%u  wave %u\n", (unsigned long long)q->id,
           s_enum(&kumppani__v1__request_state__descriptor, q->state), q->input->title, t,
           q->accepted_n, q->input->experts_needed, q->wave);
    for (size_t i = 0; i < r->n_offers; i++)
        s_print_offer(r->offers[i]);
    for (size_t i = 0; i < r->n_assignments; i++)
        printf("  assignment %-6llu expert %-6llu %s\n", (unsigned long long)r->assignments[i]->id,
               (unsigned long long)r->assignments[i]->expert_id,
               s_enum(&kumppani__v1__assignment_state__descriptor, r->assignments[i]->state));
    if (r->requester_token[0])
        printf("requester token (keep it; shown once): %s\n", r->requester_token);
}

static void
p_requests(const ProtobufCMessage *m)
{
    const Kumppani__V1__ListBrokerRequestsReply *r = (const void *)m;
    printf("%-6s %-24s %-8s %s\n", "ID", "STATE", "ACCEPTED", "TITLE");
    for (size_t i = 0; i < r->n_requests; i++) {
        const Kumppani__V1__BrokerRequest *q = r->requests[i];
        printf("%-6llu %-24s %u/%-6u %s\n", (unsigned long long)q->id,
               s_enum(&kumppani__v1__request_state__descriptor, q->state), q->accepted_n,
               q->input->experts_needed, q->input->title);
    }
}

static void
p_explain(const ProtobufCMessage *m)
{
    const Kumppani__V1__ExplainRequestReply *r = (const void *)m;
    printf("%-6s %-5s %-22s %-10s %s\n", "EXPERT", "RANK", "LAST ASSIGNED", "90D/REPEAT",
           "WHY NOT");
    for (size_t i = 0; i < r->n_candidates; i++) {
        const Kumppani__V1__ExpertCandidate *cd = r->candidates[i];
        char t[CLI_TIME_MAX] = "never", why[256] = "";
        if (cd->last_assigned_ms)
            cli_time_format(cd->last_assigned_ms / 1000, t, sizeof t);
        for (size_t k = 0; k < cd->n_reasons; k++)
            snprintf(why + strlen(why), sizeof why - strlen(why), "%s%s", k ? "," : "",
                     cd->reasons[k]);
        printf("%-6llu %-5u %-22s %u/%-8s %s\n", (unsigned long long)cd->expert_id, cd->rank, t,
               cd->assignments_90d, cd->recent_same_requester ? "yes" : "no", why);
    }
    printf("rule: %s\n", r->rule);
}

static void
p_offer(const ProtobufCMessage *m)
{
    const Kumppani__V1__OfferReply *r = (const void *)m;
    s_print_offer(r->offer);
    if (r->assignment)
        printf("  assignment %llu confirmed\n", (unsigned long long)r->assignment->id);
}

static void
s_print_asg(const Kumppani__V1__Assignment *a)
{
    printf("%-6llu request %-6llu expert %-6llu %-28s min %u fee %u.%02u\n",
           (unsigned long long)a->id, (unsigned long long)a->request_id,
           (unsigned long long)a->expert_id,
           s_enum(&kumppani__v1__assignment_state__descriptor, a->state), a->minutes,
           a->fee_cents / 100, a->fee_cents % 100);
}

static void
p_asg(const ProtobufCMessage *m)
{
    s_print_asg(((const Kumppani__V1__AssignmentReply *)m)->assignment);
}

static void
p_asgs(const ProtobufCMessage *m)
{
    const Kumppani__V1__ListAssignmentsReply *r = (const void *)m;
    for (size_t i = 0; i < r->n_assignments; i++)
        s_print_asg(r->assignments[i]);
}

static void
p_export(const ProtobufCMessage *m)
{
    const Kumppani__V1__AssignmentExportReply *r = (const void *)m;
    fputs(r->csv_text, stdout);
    if (r->next_after_id)
        fprintf(stderr, "more rows: kumppani broker export --after %llu (same range)\n",
                (unsigned long long)r->next_after_id);
}

static void
p_paid(const ProtobufCMessage *m)
{
    const Kumppani__V1__MarkPaidReply *r = (const void *)m;
    printf("marked paid %u, already paid %u\n", r->marked, r->already_paid);
}

static void
p_stats(const ProtobufCMessage *m)
{
    const Kumppani__V1__BrokerStatsReply *r = (const void *)m;
    printf("requests filed %u, filled %u, unfilled %u, open %u, cancelled %u\n", r->requests_filed,
           r->requests_filled, r->requests_unfilled, r->requests_open, r->requests_cancelled);
    printf("time to fill: mean %.1f h, median %.1f h\n", r->fill_ms_mean / 3.6e6,
           r->fill_ms_median / 3.6e6);
    printf("assignments per expert: min %u, max %u, Gini %.2f (0 = even)\n", r->assignments_min,
           r->assignments_max, r->gini);
    printf("working groups %u, with an expert %u\n", r->working_groups,
           r->working_groups_with_expert);
    for (size_t i = 0; i < r->n_per_expert; i++)
        printf("  expert %-6llu %u\n", (unsigned long long)r->per_expert[i]->expert_id,
               r->per_expert[i]->assignments);
}

static void
p_audit(const ProtobufCMessage *m)
{
    const Kumppani__V1__ListBrokerAuditReply *r = (const void *)m;
    for (size_t i = 0; i < r->n_entries; i++) {
        char t[CLI_TIME_MAX];
        cli_time_format(r->entries[i]->time_ms / 1000, t, sizeof t);
        printf("%-6llu %s expert %llu assignment %llu %s\n", (unsigned long long)r->entries[i]->id,
               t, (unsigned long long)r->entries[i]->expert_id,
               (unsigned long long)r->entries[i]->assignment_id, r->entries[i]->what);
    }
}

static void
p_sensitive(const ProtobufCMessage *m)
{
    const Kumppani__V1__SensitiveReadReply *r = (const void *)m;
    printf("expert %llu (read audited as %llu):\n%s\n", (unsigned long long)r->expert_id,
           (unsigned long long)r->audit_id, r->sensitive_detail_text);
}

/* ---- commands ----------------------------------------------------------------------------- */

#define RUN(method, idem, req, outtype, printer)                                                   \
    do {                                                                                           \
        ProtobufCMessage *out = NULL;                                                              \
        int ex_ =                                                                                  \
            s_call(c, method, idem, &(req).base, &kumppani__v1__##outtype##__descriptor, &out);    \
        return ex_ ? ex_ : s_done(c, out, printer);                                                \
    } while (0)

#define MAX_SLOTS 50
#define MAX_TRAININGS 50

/* An expert profile from the options, shared by expert-register and expert-update. */
typedef struct {
    Kumppani__V1__ExpertInput in;
    char **lists[5]; /* expertise, languages, municipalities, availability, blocked */
    Kumppani__V1__WeeklySlot slot[MAX_SLOTS], *slotp[MAX_SLOTS];
    Kumppani__V1__ExpertTraining tr[MAX_TRAININGS], *trp[MAX_TRAININGS];
    char *trcopy;
} expert_opts_t;

static void
s_expert_opts_free(expert_opts_t *o)
{
    for (int i = 0; i < 5; i++)
        s_list_free(o->lists[i]);
    free(o->trcopy);
}

/* --availability 1:09:00-12:00,3:13:00-16:00 (weekday 1 = Monday; Helsinki time). */
static int
s_slots(expert_opts_t *o, const char *v)
{
    size_t n = 0;
    char **items = s_list(v, &n);
    o->lists[3] = items;
    if (n > MAX_SLOTS) {
        cli_err("--availability: at most %d windows", MAX_SLOTS);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned d, h1, m1, h2, m2;
        char tail;
        if (sscanf(items[i], "%u:%u:%u-%u:%u%c", &d, &h1, &m1, &h2, &m2, &tail) != 5 || d < 1 ||
            d > 7 || h1 > 23 || m1 > 59 || h2 > 24 || m2 > 59 || h2 * 60 + m2 > 1440) {
            cli_err("--availability: windows look like 1:09:00-12:00 (weekday 1..7)");
            return -1;
        }
        kumppani__v1__weekly_slot__init(&o->slot[i]);
        o->slot[i].weekday = d;
        o->slot[i].from_minute = h1 * 60 + m1;
        o->slot[i].to_minute = h2 * 60 + m2;
        o->slotp[i] = &o->slot[i];
    }
    o->in.availability = o->slotp;
    o->in.n_availability = n;
    return 0;
}

/* --trainings "COURSE|ORGANISER|YYYY-MM-DD;..." */
static int
s_trainings(expert_opts_t *o, const char *v)
{
    if (!v || !*v)
        return 0;
    o->trcopy = strdup(v);
    char *save = NULL;
    size_t n = 0;
    for (char *t = strtok_r(o->trcopy, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
        char *a = strchr(t, '|'), *b = a ? strchr(a + 1, '|') : NULL;
        if (!a || !b || n >= MAX_TRAININGS) {
            cli_err("--trainings: COURSE|ORGANISER|YYYY-MM-DD, separated by ';' (at most %d)",
                    MAX_TRAININGS);
            return -1;
        }
        *a = *b = 0;
        kumppani__v1__expert_training__init(&o->tr[n]);
        o->tr[n].course = t;
        o->tr[n].organiser = a + 1;
        o->tr[n].completed_date = b + 1;
        o->trp[n] = &o->tr[n];
        n++;
    }
    o->in.trainings = o->trp;
    o->in.n_trainings = n;
    return 0;
}

static int
s_expert_opts(cli_ctx_t *c, expert_opts_t *o)
{
    Kumppani__V1__ExpertInput *in = &o->in;
    kumppani__v1__expert_input__init(in);
    uint64_t org = 0, cap = 0, person = 0;
    if (cli_num(c, "org", true, 1, UINT64_MAX, &org) || cli_num(c, "cap", false, 0, 100, &cap) ||
        cli_num(c, "person", false, 1, UINT64_MAX, &person))
        return -1;
    const char *kind = cli_arg(c->a, "kind");
    in->kind = kind && strcmp(kind, "actor") == 0 ? KUMPPANI__V1__EXPERT_KIND__EXPERT_KIND_ACTOR
                                                  : KUMPPANI__V1__EXPERT_KIND__EXPERT_KIND_EXPERT;
    in->name = (char *)cli_arg(c->a, "name");
    if (!in->name) {
        cli_err("--name is required");
        return -1;
    }
    in->email = (char *)(cli_arg(c->a, "email") ? cli_arg(c->a, "email") : "");
    in->phone = (char *)(cli_arg(c->a, "phone") ? cli_arg(c->a, "phone") : "");
    in->home_org_id = org;
    in->registry_person_id = person;
    in->monthly_cap = (uint32_t)cap;
    in->remote_ok = cli_flag(c->a, "remote");
    in->consent = cli_flag(c->a, "consent");
    in->sensitive_consent = cli_flag(c->a, "sensitive-consent");
    in->sensitive_detail_text =
        (char *)(cli_arg(c->a, "sensitive") ? cli_arg(c->a, "sensitive") : "");
    in->expertise = o->lists[0] = s_list(cli_arg(c->a, "expertise"), &in->n_expertise);
    in->languages = o->lists[1] =
        s_list(cli_arg(c->a, "languages") ? cli_arg(c->a, "languages") : "fi", &in->n_languages);
    in->municipalities = o->lists[2] =
        s_list(cli_arg(c->a, "municipalities"), &in->n_municipalities);
    in->blocked_dates = o->lists[4] = s_list(cli_arg(c->a, "blocked"), &in->n_blocked_dates);
    return s_slots(o, cli_arg(c->a, "availability")) || s_trainings(o, cli_arg(c->a, "trainings"))
               ? -1
               : 0;
}

static int
s_expert_register(cli_ctx_t *c)
{
    expert_opts_t o = {0};
    if (cli_no_pos(c) || s_expert_opts(c, &o)) {
        s_expert_opts_free(&o);
        return EXIT_USAGE;
    }
    char key[33];
    s_key(key, cli_arg(c->a, "idempotency-key"));
    Kumppani__V1__RegisterExpertRequest req = KUMPPANI__V1__REGISTER_EXPERT_REQUEST__INIT;
    req.expert = &o.in;
    ProtobufCMessage *out = NULL;
    int rc = s_call(c, "broker.expert.register", key, &req.base,
                    &kumppani__v1__expert_reply__descriptor, &out);
    s_expert_opts_free(&o);
    return rc ? rc : s_done(c, out, p_expert);
}

static int
s_expert_update(cli_ctx_t *c)
{
    expert_opts_t o = {0};
    Kumppani__V1__UpdateExpertRequest req = KUMPPANI__V1__UPDATE_EXPERT_REQUEST__INIT;
    if (cli_pos_id(c, &req.expert_id) || s_expert_opts(c, &o)) {
        s_expert_opts_free(&o);
        return EXIT_USAGE;
    }
    req.expert = &o.in;
    ProtobufCMessage *out = NULL;
    int rc = s_call(c, "broker.expert.update", NULL, &req.base,
                    &kumppani__v1__expert_reply__descriptor, &out);
    s_expert_opts_free(&o);
    return rc ? rc : s_done(c, out, p_expert);
}

static int
s_expert_get(cli_ctx_t *c)
{
    Kumppani__V1__ExpertRef req = KUMPPANI__V1__EXPERT_REF__INIT;
    if (cli_pos_id(c, &req.expert_id))
        return EXIT_USAGE;
    RUN("broker.expert.get", NULL, req, expert_reply, p_expert);
}

static int
s_expert_pause_(cli_ctx_t *c, bool paused)
{
    Kumppani__V1__PauseExpertRequest req = KUMPPANI__V1__PAUSE_EXPERT_REQUEST__INIT;
    if (cli_pos_id(c, &req.expert_id))
        return EXIT_USAGE;
    req.paused = paused;
    RUN("broker.expert.pause", NULL, req, expert_reply, p_expert);
}

static int
s_expert_pause(cli_ctx_t *c)
{
    return s_expert_pause_(c, true);
}

static int
s_expert_resume(cli_ctx_t *c)
{
    return s_expert_pause_(c, false);
}

static int
s_experts(cli_ctx_t *c)
{
    Kumppani__V1__ListExpertsRequest req = KUMPPANI__V1__LIST_EXPERTS_REQUEST__INIT;
    uint64_t after = 0, limit = 0;
    if (cli_no_pos(c) || cli_num(c, "after", false, 0, UINT64_MAX, &after) ||
        cli_num(c, "limit", false, 1, 500, &limit))
        return EXIT_USAGE;
    req.after_id = after;
    req.limit = (uint32_t)limit;
    RUN("broker.expert.list", NULL, req, list_experts_reply, p_experts);
}

static int
s_opt_time(cli_ctx_t *c, const char *name, bool required, int64_t *out)
{
    const char *v = cli_arg(c->a, name);
    char why[128];
    if (!v) {
        if (required)
            cli_err("--%s is required", name);
        return required ? -1 : 0;
    }
    if (cli_time_parse(v, out, why, sizeof why) != 0) {
        cli_err("--%s: %s", name, why);
        return -1;
    }
    return 0;
}

static int
s_request_file(cli_ctx_t *c)
{
    static const char *const purposes[] = {
        "", "working-group", "lecture", "panel", "client-panel", "development", "training"};
    Kumppani__V1__BrokerRequestInput in = KUMPPANI__V1__BROKER_REQUEST_INPUT__INIT;
    uint64_t dur = 60, need = 1, fee = 0, travel = 0, org = 0, hours = 0, wave = 0;
    if (cli_no_pos(c) || s_opt_time(c, "start", true, &in.start_unix) ||
        s_opt_time(c, "deadline", true, &in.answer_deadline_unix) ||
        cli_num(c, "minutes", false, 15, 1440, &dur) ||
        cli_num(c, "experts", false, 1, 20, &need) ||
        cli_num(c, "fee-cents", false, 0, 10000000, &fee) ||
        cli_num(c, "travel-cents", false, 0, 10000000, &travel) ||
        cli_num(c, "org", false, 0, UINT64_MAX, &org) ||
        cli_num(c, "offer-hours", false, 0, 720, &hours) || cli_num(c, "wave", false, 0, 50, &wave))
        return EXIT_USAGE;
    const char *pur = cli_arg(c->a, "purpose");
    for (int i = 1; pur && i < 7; i++)
        if (strcmp(pur, purposes[i]) == 0)
            in.purpose = (Kumppani__V1__Purpose)i;
    if (!in.purpose) {
        cli_err("--purpose is required: working-group, lecture, panel, client-panel, "
                "development, training");
        return EXIT_USAGE;
    }
    const char *rk = cli_arg(c->a, "requester-kind");
    in.requester_kind = !rk || strcmp(rk, "organisation") == 0
                            ? KUMPPANI__V1__REQUESTER_KIND__REQUESTER_ORGANISATION
                        : strcmp(rk, "person") == 0 ? KUMPPANI__V1__REQUESTER_KIND__REQUESTER_PERSON
                        : strcmp(rk, "municipality") == 0
                            ? KUMPPANI__V1__REQUESTER_KIND__REQUESTER_MUNICIPALITY
                            : KUMPPANI__V1__REQUESTER_KIND__REQUESTER_UNSPECIFIED;
#define OPT(field, name) in.field = (char *)(cli_arg(c->a, name) ? cli_arg(c->a, name) : "")
    OPT(requester_name, "requester");
    OPT(contact_name, "contact");
    OPT(contact_email, "email");
    OPT(contact_phone, "phone");
    OPT(title, "title");
    OPT(municipality, "municipality");
    OPT(place, "place");
    in.language = (char *)(cli_arg(c->a, "language") ? cli_arg(c->a, "language") : "fi");
    in.description_text = "";
#undef OPT
    in.requester_org_id = org;
    in.duration_min = (uint32_t)dur;
    in.experts_needed = (uint32_t)need;
    in.fee_cents = (uint32_t)fee;
    in.travel_cents = (uint32_t)travel;
    in.offer_hours = (uint32_t)hours;
    in.wave_size = (uint32_t)wave;
    in.remote = cli_flag(c->a, "remote");
    in.ongoing = cli_flag(c->a, "ongoing");
    char **ex = s_list(cli_arg(c->a, "expertise"), &in.n_expertise);
    in.expertise = ex;
    char key[33];
    s_key(key, cli_arg(c->a, "idempotency-key"));
    Kumppani__V1__FileRequestRequest req = KUMPPANI__V1__FILE_REQUEST_REQUEST__INIT;
    req.request = &in;
    ProtobufCMessage *out = NULL;
    int rc = s_call(c, "broker.request.file", key, &req.base,
                    &kumppani__v1__broker_request_reply__descriptor, &out);
    s_list_free(ex);
    return rc ? rc : s_done(c, out, p_request);
}

static int
s_request_get(cli_ctx_t *c)
{
    Kumppani__V1__BrokerRequestRef req = KUMPPANI__V1__BROKER_REQUEST_REF__INIT;
    if (cli_pos_id(c, &req.request_id))
        return EXIT_USAGE;
    RUN("broker.request.get", NULL, req, broker_request_reply, p_request);
}

static int
s_request_explain(cli_ctx_t *c)
{
    Kumppani__V1__BrokerRequestRef req = KUMPPANI__V1__BROKER_REQUEST_REF__INIT;
    if (cli_pos_id(c, &req.request_id))
        return EXIT_USAGE;
    RUN("broker.request.explain", NULL, req, explain_request_reply, p_explain);
}

static int
s_request_cancel(cli_ctx_t *c)
{
    Kumppani__V1__CancelBrokerRequestRequest req =
        KUMPPANI__V1__CANCEL_BROKER_REQUEST_REQUEST__INIT;
    if (cli_pos_id(c, &req.request_id))
        return EXIT_USAGE;
    req.reason = (char *)(cli_arg(c->a, "reason") ? cli_arg(c->a, "reason") : "");
    RUN("broker.request.cancel", NULL, req, broker_request_reply, p_request);
}

static int
s_request_extend(cli_ctx_t *c)
{
    Kumppani__V1__ExtendBrokerRequestRequest req =
        KUMPPANI__V1__EXTEND_BROKER_REQUEST_REQUEST__INIT;
    if (cli_pos_id(c, &req.request_id) ||
        s_opt_time(c, "deadline", true, &req.answer_deadline_unix))
        return EXIT_USAGE;
    RUN("broker.request.extend", NULL, req, broker_request_reply, p_request);
}

static int
s_requests(cli_ctx_t *c)
{
    Kumppani__V1__ListBrokerRequestsRequest req = KUMPPANI__V1__LIST_BROKER_REQUESTS_REQUEST__INIT;
    uint64_t after = 0, limit = 0;
    if (cli_no_pos(c) || cli_num(c, "after", false, 0, UINT64_MAX, &after) ||
        cli_num(c, "limit", false, 1, 500, &limit))
        return EXIT_USAGE;
    req.after_id = after;
    req.limit = (uint32_t)limit;
    RUN("broker.request.list", NULL, req, list_broker_requests_reply, p_requests);
}

static int
s_offer_accept(cli_ctx_t *c)
{
    Kumppani__V1__OfferRef req = KUMPPANI__V1__OFFER_REF__INIT;
    if (cli_pos_id(c, &req.offer_id))
        return EXIT_USAGE;
    RUN("broker.offer.accept", NULL, req, offer_reply, p_offer);
}

static int
s_offer_decline(cli_ctx_t *c)
{
    Kumppani__V1__DeclineOfferRequest req = KUMPPANI__V1__DECLINE_OFFER_REQUEST__INIT;
    if (cli_pos_id(c, &req.offer_id))
        return EXIT_USAGE;
    req.reason = (char *)(cli_arg(c->a, "reason") ? cli_arg(c->a, "reason") : "");
    RUN("broker.offer.decline", NULL, req, offer_reply, p_offer);
}

static int
s_asg_cancel(cli_ctx_t *c)
{
    Kumppani__V1__CancelAssignmentRequest req = KUMPPANI__V1__CANCEL_ASSIGNMENT_REQUEST__INIT;
    if (cli_pos_id(c, &req.assignment_id))
        return EXIT_USAGE;
    req.by = (char *)(cli_arg(c->a, "by") ? cli_arg(c->a, "by") : "coordinator");
    req.reason = (char *)(cli_arg(c->a, "reason") ? cli_arg(c->a, "reason") : "");
    RUN("broker.assignment.cancel", NULL, req, assignment_reply, p_asg);
}

static int
s_asg_complete(cli_ctx_t *c)
{
    Kumppani__V1__CompleteAssignmentRequest req = KUMPPANI__V1__COMPLETE_ASSIGNMENT_REQUEST__INIT;
    uint64_t min = 0, fee = 0, travel = 0;
    if (cli_pos_id(c, &req.assignment_id) || cli_num(c, "minutes", true, 1, 10080, &min) ||
        cli_num(c, "fee-cents", false, 0, 10000000, &fee) ||
        cli_num(c, "travel-cents", false, 0, 10000000, &travel))
        return EXIT_USAGE;
    req.minutes = (uint32_t)min;
    req.fee_cents = (uint32_t)fee;
    req.travel_cents = (uint32_t)travel;
    RUN("broker.assignment.complete", NULL, req, assignment_reply, p_asg);
}

static int
s_asg_feedback(cli_ctx_t *c)
{
    Kumppani__V1__AssignmentFeedbackRequest req = KUMPPANI__V1__ASSIGNMENT_FEEDBACK_REQUEST__INIT;
    uint64_t rating = 0;
    if (cli_pos_id(c, &req.assignment_id) || cli_num(c, "rating", true, 1, 5, &rating))
        return EXIT_USAGE;
    req.rating = (uint32_t)rating;
    req.side = (char *)(cli_arg(c->a, "side") ? cli_arg(c->a, "side") : "");
    req.comment_text = (char *)(cli_arg(c->a, "comment") ? cli_arg(c->a, "comment") : "");
    RUN("broker.assignment.feedback", NULL, req, assignment_reply, p_asg);
}

static int
s_asgs(cli_ctx_t *c)
{
    Kumppani__V1__ListAssignmentsRequest req = KUMPPANI__V1__LIST_ASSIGNMENTS_REQUEST__INIT;
    uint64_t expert = 0, after = 0;
    if (cli_no_pos(c) || cli_num(c, "expert", false, 1, UINT64_MAX, &expert) ||
        cli_num(c, "after", false, 0, UINT64_MAX, &after))
        return EXIT_USAGE;
    req.expert_id = expert;
    req.after_id = after;
    RUN("broker.assignment.list", NULL, req, list_assignments_reply, p_asgs);
}

static int
s_export(cli_ctx_t *c)
{
    Kumppani__V1__AssignmentExportRequest req = KUMPPANI__V1__ASSIGNMENT_EXPORT_REQUEST__INIT;
    if (cli_no_pos(c) || s_opt_time(c, "from", false, &req.from_unix) ||
        s_opt_time(c, "to", false, &req.to_unix) ||
        cli_num(c, "after", false, 0, UINT64_MAX, &req.after_id))
        return EXIT_USAGE;
    req.unpaid_only = cli_arg(c->a, "unpaid") != NULL;
    RUN("broker.assignment.export", NULL, req, assignment_export_reply, p_export);
}

static int
s_paid(cli_ctx_t *c)
{
    Kumppani__V1__MarkPaidRequest req = KUMPPANI__V1__MARK_PAID_REQUEST__INIT;
    uint64_t ids[CLI_POS_MAX];
    if (c->a->pos_n < 1) {
        cli_err("expected one or more assignment IDs");
        return EXIT_USAGE;
    }
    for (int i = 0; i < c->a->pos_n; i++)
        if (cli_parse_u64(c->a->pos[i], 1, UINT64_MAX, &ids[i]) != 0) {
            cli_err("assignment IDs are positive numbers");
            return EXIT_USAGE;
        }
    req.assignment_ids = ids;
    req.n_assignment_ids = (size_t)c->a->pos_n;
    req.payment_ref = (char *)(cli_arg(c->a, "ref") ? cli_arg(c->a, "ref") : "");
    RUN("broker.assignment.paid", NULL, req, mark_paid_reply, p_paid);
}

static int
s_expert_erase(cli_ctx_t *c)
{
    Kumppani__V1__ExpertRef req = KUMPPANI__V1__EXPERT_REF__INIT;
    if (cli_pos_id(c, &req.expert_id))
        return EXIT_USAGE;
    RUN("broker.expert.erase", NULL, req, expert_reply, p_expert);
}

static int
s_stats(cli_ctx_t *c)
{
    Kumppani__V1__BrokerStatsRequest req = KUMPPANI__V1__BROKER_STATS_REQUEST__INIT;
    if (cli_no_pos(c) || s_opt_time(c, "from", false, &req.from_unix) ||
        s_opt_time(c, "to", false, &req.to_unix))
        return EXIT_USAGE;
    RUN("broker.stats", NULL, req, broker_stats_reply, p_stats);
}

static int
s_audit(cli_ctx_t *c)
{
    Kumppani__V1__ListBrokerAuditRequest req = KUMPPANI__V1__LIST_BROKER_AUDIT_REQUEST__INIT;
    uint64_t after = 0;
    if (cli_no_pos(c) || cli_num(c, "after", false, 0, UINT64_MAX, &after))
        return EXIT_USAGE;
    req.after_id = after;
    RUN("broker.audit.list", NULL, req, list_broker_audit_reply, p_audit);
}

static int
s_sensitive(cli_ctx_t *c)
{
    Kumppani__V1__SensitiveReadRequest req = KUMPPANI__V1__SENSITIVE_READ_REQUEST__INIT;
    if (cli_pos_id(c, &req.assignment_id))
        return EXIT_USAGE;
    req.requester_token = (char *)(cli_arg(c->a, "token") ? cli_arg(c->a, "token") : "");
    RUN("broker.sensitive.read", NULL, req, sensitive_read_reply, p_sensitive);
}

static const cli_optspec_t o_none[] = {{NULL, false}};
static const cli_optspec_t o_page[] = {{"after", true}, {"limit", true}, {NULL, false}};
static const cli_optspec_t o_reason[] = {{"reason", true}, {NULL, false}};
static const cli_optspec_t o_range[] = {{"from", true}, {"to", true}, {NULL, false}};
static const cli_optspec_t o_export[] = {
    {"from", true}, {"to", true}, {"after", true}, {"unpaid", false}, {NULL, false}};
static const cli_optspec_t o_ref[] = {{"ref", true}, {NULL, false}};
static const cli_optspec_t o_deadline[] = {{"deadline", true}, {NULL, false}};
static const cli_optspec_t o_expert[] = {
    {"kind", true},         {"name", true},
    {"email", true},        {"phone", true},
    {"org", true},          {"expertise", true},
    {"languages", true},    {"municipalities", true},
    {"remote", false},      {"cap", true},
    {"blocked", true},      {"consent", false},
    {"sensitive", true},    {"sensitive-consent", false},
    {"availability", true}, {"trainings", true},
    {"person", true},       {"idempotency-key", true},
    {NULL, false},
};
static const cli_optspec_t o_request[] = {
    {"purpose", true},      {"requester-kind", true}, {"requester", true},       {"org", true},
    {"contact", true},      {"email", true},          {"phone", true},           {"title", true},
    {"expertise", true},    {"start", true},          {"minutes", true},         {"ongoing", false},
    {"municipality", true}, {"place", true},          {"remote", false},         {"language", true},
    {"experts", true},      {"fee-cents", true},      {"travel-cents", true},    {"deadline", true},
    {"offer-hours", true},  {"wave", true},           {"idempotency-key", true}, {NULL, false},
};
static const cli_optspec_t o_cancel_asg[] = {{"by", true}, {"reason", true}, {NULL, false}};
static const cli_optspec_t o_complete[] = {
    {"minutes", true}, {"fee-cents", true}, {"travel-cents", true}, {NULL, false}};
static const cli_optspec_t o_feedback[] = {
    {"side", true}, {"rating", true}, {"comment", true}, {NULL, false}};
static const cli_optspec_t o_asgs[] = {{"expert", true}, {"after", true}, {NULL, false}};
static const cli_optspec_t o_token[] = {{"token", true}, {NULL, false}};

const cli_cmd_t cli_cmds_broker[] = {
    {"broker expert-register", o_expert,
     "Usage: kumppani broker expert-register --name N (--email E | --phone P) --org ORG_ID\n"
     "         --expertise A,B [--languages fi,sv] [--municipalities 743,...] [--remote]\n"
     "         [--kind expert|actor] [--cap N] [--blocked YYYY-MM-DD,...] --consent\n"
     "         [--sensitive-consent --sensitive TEXT] [--idempotency-key K]\n"
     "         [--availability 1:09:00-12:00,3:13:00-16:00] [--person REGISTRY_PERSON_ID]\n"
     "         [--trainings \"COURSE|ORGANISER|YYYY-MM-DD;...\"]\n"
     "Registers an experience expert. Expertise areas come from the vocabulary in\n"
     "broker.proto (mental-health, substance-use, disability, ...). Availability: weekly\n"
     "windows, weekday 1 = Monday, Helsinki time (none: any time).\n",
     s_expert_register},
    {"broker expert-update", o_expert,
     "Usage: kumppani broker expert-update ID (the options of expert-register)\n"
     "Replaces the expert's whole profile with the one given.\n",
     s_expert_update},
    {"broker expert", o_none, "Usage: kumppani broker expert ID\n", s_expert_get},
    {"broker expert-pause", o_none,
     "Usage: kumppani broker expert-pause ID\nPaused experts get no offers.\n", s_expert_pause},
    {"broker expert-resume", o_none, "Usage: kumppani broker expert-resume ID\n", s_expert_resume},
    {"broker experts", o_page, "Usage: kumppani broker experts [--after ID] [--limit N]\n",
     s_experts},
    {"broker request-file", o_request,
     "Usage: kumppani broker request-file --purpose P --requester NAME (--email E | --phone P)\n"
     "         --title T --expertise A,B --start \"YYYY-MM-DD HH:MM\" --deadline \"YYYY-MM-DD "
     "HH:MM\"\n"
     "         [--minutes 60] [--municipality 743] [--remote] [--ongoing] [--language fi]\n"
     "         [--experts 1] [--fee-cents N] [--travel-cents N] [--offer-hours 48] [--wave N]\n"
     "         [--requester-kind person|organisation|municipality] [--org ID] [--contact NAME]\n"
     "Files a request through the one window; offers go out at once to the best candidates.\n"
     "Prints the requester token once: keep it to read accepted experts' sensitive details.\n",
     s_request_file},
    {"broker request", o_none, "Usage: kumppani broker request ID\n", s_request_get},
    {"broker explain", o_none,
     "Usage: kumppani broker explain ID\n"
     "Every expert: eligible or why not, and the ranking keys.\n",
     s_request_explain},
    {"broker request-cancel", o_reason, "Usage: kumppani broker request-cancel ID --reason TEXT\n",
     s_request_cancel},
    {"broker requests", o_page, "Usage: kumppani broker requests [--after ID] [--limit N]\n",
     s_requests},
    {"broker offer-accept", o_none, "Usage: kumppani broker offer-accept OFFER_ID\n",
     s_offer_accept},
    {"broker offer-decline", o_reason,
     "Usage: kumppani broker offer-decline OFFER_ID [--reason TEXT]\n", s_offer_decline},
    {"broker assignment-cancel", o_cancel_asg,
     "Usage: kumppani broker assignment-cancel ID --by expert|requester|coordinator --reason T\n",
     s_asg_cancel},
    {"broker assignment-complete", o_complete,
     "Usage: kumppani broker assignment-complete ID --minutes N [--fee-cents N] "
     "[--travel-cents N]\n",
     s_asg_complete},
    {"broker feedback", o_feedback,
     "Usage: kumppani broker feedback ID --side expert|requester --rating 1..5 "
     "[--comment T]\n",
     s_asg_feedback},
    {"broker assignments", o_asgs,
     "Usage: kumppani broker assignments [--expert ID] [--after ID]\n", s_asgs},
    {"broker export", o_export,
     "Usage: kumppani broker export [--from \"YYYY-MM-DD HH:MM\"] [--to ...] [--after ID] "
     "[--unpaid]\n"
     "Completed assignments as CSV, for payment, 1000 rows a page (the next page's --after is\n"
     "printed on stderr). --unpaid leaves out those marked paid.\n",
     s_export},
    {"broker request-extend", o_deadline,
     "Usage: kumppani broker request-extend ID --deadline \"YYYY-MM-DD HH:MM\"\n"
     "A new answer deadline; an unfilled request opens again and offers go to whoever has\n"
     "become eligible since (those already asked are not asked again).\n",
     s_request_extend},
    {"broker paid", o_ref,
     "Usage: kumppani broker paid ASSIGNMENT_ID... --ref PAYMENT_BATCH\n"
     "Marks completed assignments paid (shown in the export's paid_date and payment_ref).\n",
     s_paid},
    {"broker expert-erase", o_none,
     "Usage: kumppani broker expert-erase ID\n"
     "Erases the expert's personal data and sensitive detail; open offers are withdrawn,\n"
     "confirmed assignments cancelled; assignments stay under the id only.\n",
     s_expert_erase},
    {"broker stats", o_range, "Usage: kumppani broker stats [--from ...] [--to ...]\n", s_stats},
    {"broker audit", o_page, "Usage: kumppani broker audit [--after ID]\n", s_audit},
    {"broker sensitive", o_token,
     "Usage: kumppani broker sensitive ASSIGNMENT_ID --token REQUESTER_TOKEN\n"
     "Shows an accepted expert's sensitive detail to the requester; every read is audited.\n",
     s_sensitive},
    {NULL, NULL, NULL, NULL},
};
