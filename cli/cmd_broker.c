/*  cmd_broker.c: the `kumppani broker ...` commands (see cli_cmd.h).
 *
 *  Each command is a row (cli_cmd.h): one method of the expert-broker service (broker.proto),
 *  a fill function from the options, and a short table printer; with --json the whole reply
 *  through the one descriptor walker (cli_json_view: field names as in broker.proto). */
#include "cli_cmd.h"
#include "kp_time.h"
#include "kumppani/v1/broker.pb-c.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SVC "expert-broker"

/* The expertise areas the service accepts (broker.proto's vocabulary), for the help texts. */
#define BRK_AREAS                                                                                  \
    "Expertise areas: mental-health, substance-use, disability, chronic-illness,\n"                \
    "neurodiversity, child-welfare, family-services, youth, elderly-care, caregiving,\n"           \
    "homelessness, unemployment, immigration, domestic-violence, cancer, rare-diseases,\n"         \
    "social-services, health-services.\n"

/* A state's readable name, as the events commands show theirs: REQUEST_STATE_OPEN is "open",
 * ASSIGNMENT_STATE_CONFIRMED "confirmed" (static buffers, four in turn: up to four a line). */
static const char *
s_enum(const ProtobufCEnumDescriptor *d, int v)
{
    static char buf[4][CLI_NAME_MAX];
    static unsigned next;
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
    if (!ev)
        return "?";
    const char *p = strstr(ev->name, "_STATE_");
    char prefix[CLI_NAME_MAX];
    snprintf(prefix, sizeof prefix, "%.*s", p ? (int)(p - ev->name) + 7 : 0, ev->name);
    return cli_enum_name(d, prefix, v, buf[next++ % 4]);
}

/* ---- printers ----------------------------------------------------------------------------- */

static void
s_expert_row(const ProtobufCMessage *m)
{
    const Kumppani__V1__Expert *e = (const Kumppani__V1__Expert *)m;
    const char *name = e->profile ? e->profile->name : "";
    printf("%-6llu %-*s %-8s %-6s org=%llu expertise=%zu cap=%u\n", (unsigned long long)e->id,
           cli_col(name, 28), name, e->paused ? "paused" : "active",
           e->profile && e->profile->kind == KUMPPANI__V1__EXPERT_KIND__EXPERT_KIND_ACTOR
               ? "actor"
               : "expert",
           e->profile ? (unsigned long long)e->profile->home_org_id : 0ULL,
           e->profile ? e->profile->n_expertise : 0, e->profile ? e->profile->monthly_cap : 0);
}

/* A list of strings as "a, b, c" (or none) after a label. */
static void
s_strs_line(const char *label, char *const *v, size_t n, const char *none)
{
    printf("%-15s", label);
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? ", " : "", v[i]);
    printf("%s\n", n ? "" : none);
}

/* One expert, every field a coordinator checks before an offer goes out (broker expert ID). */
static void
s_expert_text(const ProtobufCMessage *m)
{
    static const char *const days[8] = {"?", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    const Kumppani__V1__Expert *e = (const Kumppani__V1__Expert *)m;
    const Kumppani__V1__ExpertInput *p = e->profile;
    char t[CLI_TIME_MAX] = "never";
    if (e->last_assigned_ms)
        kp_time_format(e->last_assigned_ms / 1000, t, sizeof t);
    printf("id             %llu\n", (unsigned long long)e->id);
    printf("state          %s\n", e->erased   ? "erased"
                                  : e->paused ? "paused (no offers)"
                                              : "active");
    if (!p)
        return;
    printf("name           %s\n", p->name);
    printf("kind           %s\n",
           p->kind == KUMPPANI__V1__EXPERT_KIND__EXPERT_KIND_ACTOR ? "actor" : "expert");
    printf("contact        %s%s%s\n", p->email, p->email[0] && p->phone[0] ? ", " : "", p->phone);
    printf("organisation   %llu%s%s\n", (unsigned long long)p->home_org_id,
           e->home_org_name[0] ? " " : "", e->home_org_name);
    s_strs_line("expertise", p->expertise, p->n_expertise, "none");
    s_strs_line("languages", p->languages, p->n_languages, "none");
    s_strs_line("municipalities", p->municipalities, p->n_municipalities, "none (remote only)");
    printf("remote         %s\n", p->remote_ok ? "yes" : "no");
    printf("%-15s", "available");
    for (size_t i = 0; i < p->n_availability; i++) {
        const Kumppani__V1__WeeklySlot *w = p->availability[i];
        printf("%s%s %02u:%02u-%02u:%02u", i ? ", " : "", days[w->weekday <= 7 ? w->weekday : 0],
               w->from_minute / 60, w->from_minute % 60, w->to_minute / 60, w->to_minute % 60);
    }
    printf("%s\n", p->n_availability ? " (Helsinki)" : "any time");
    s_strs_line("blocked", p->blocked_dates, p->n_blocked_dates, "none");
    if (p->monthly_cap)
        printf("monthly cap    %u assignments\n", p->monthly_cap);
    else
        printf("monthly cap    none\n");
    for (size_t i = 0; i < p->n_trainings; i++)
        printf("%-15s%s, %s, %s\n", i ? "" : "trainings", p->trainings[i]->course,
               p->trainings[i]->organiser, p->trainings[i]->completed_date);
    printf("sensitive      %s\n", e->has_sensitive_detail
                                      ? "held (shown to the requester of a confirmed assignment)"
                                      : "none");
    printf("last assigned  %s\n", t);
}

static const cli_col_t s_experts_cols[] = {{"ID", 6}, {"NAME", 28}, {"STATE", 8}, {"KIND", 6}, {0}};

static void
s_print_offer(const Kumppani__V1__Offer *o)
{
    char t[CLI_TIME_MAX];
    kp_time_format(o->deadline_ms / 1000, t, sizeof t);
    printf("  offer %-6llu expert %-6llu wave %u rank %u %-10s deadline %s\n",
           (unsigned long long)o->id, (unsigned long long)o->expert_id, o->wave, o->rank,
           s_enum(&kumppani__v1__offer_state__descriptor, o->state), t);
}

static void
p_request(const ProtobufCMessage *m)
{
    const Kumppani__V1__BrokerRequestReply *r = (const void *)m;
    const Kumppani__V1__BrokerRequest *q = r->request;
    char t[CLI_TIME_MAX];
    kp_time_format(q->input->start_unix, t, sizeof t);
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

static const cli_col_t s_requests_cols[] = {
    {"ID", 6}, {"STATE", 12}, {"ACCEPTED", 8}, {"TITLE", 0}, {0}};

static void
s_request_row(const ProtobufCMessage *m)
{
    const Kumppani__V1__BrokerRequest *q = (const Kumppani__V1__BrokerRequest *)m;
    printf("%-6llu %-12s %u/%-6u %s\n", (unsigned long long)q->id,
           s_enum(&kumppani__v1__request_state__descriptor, q->state), q->accepted_n,
           q->input->experts_needed, q->input->title);
}

static const cli_col_t s_explain_cols[] = {
    {"EXPERT", 6}, {"RANK", 5}, {"LAST ASSIGNED", 22}, {"90D/REPEAT", 10}, {"WHY NOT", 0}, {0}};

static void
p_explain(const ProtobufCMessage *m)
{
    const Kumppani__V1__ExplainRequestReply *r = (const void *)m;
    cli_header(s_explain_cols);
    for (size_t i = 0; i < r->n_candidates; i++) {
        const Kumppani__V1__ExpertCandidate *cd = r->candidates[i];
        char t[CLI_TIME_MAX] = "never", why[256] = "";
        if (cd->last_assigned_ms)
            kp_time_format(cd->last_assigned_ms / 1000, t, sizeof t);
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
s_asg_row(const ProtobufCMessage *m)
{
    const Kumppani__V1__Assignment *a = (const Kumppani__V1__Assignment *)m;
    char t[32];
    kp_time_format(a->start_unix, t, sizeof t);
    printf("%-6llu request %-6llu expert %-6llu %-10s start %s", (unsigned long long)a->id,
           (unsigned long long)a->request_id, (unsigned long long)a->expert_id,
           s_enum(&kumppani__v1__assignment_state__descriptor, a->state), t);
    /* Minutes and fees are what completing recorded: a confirmed one has none yet. */
    if (a->completed_ms)
        printf("  min %u fee %u.%02u travel %u.%02u", a->minutes, a->fee_cents / 100,
               a->fee_cents % 100, a->travel_cents / 100, a->travel_cents % 100);
    printf("\n");
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
}

static void
s_per_expert_row(const ProtobufCMessage *m)
{
    const Kumppani__V1__ExpertCount *x = (const Kumppani__V1__ExpertCount *)m;
    printf("  expert %-6llu %u\n", (unsigned long long)x->expert_id, x->assignments);
}

static void
s_audit_row(const ProtobufCMessage *m)
{
    const Kumppani__V1__BrokerAuditEntry *x = (const Kumppani__V1__BrokerAuditEntry *)m;
    char t[CLI_TIME_MAX];
    kp_time_format(x->time_ms / 1000, t, sizeof t);
    printf("%-6llu %s expert %llu assignment %llu %s\n", (unsigned long long)x->id, t,
           (unsigned long long)x->expert_id, (unsigned long long)x->assignment_id, x->what);
}

static void
p_sensitive(const ProtobufCMessage *m)
{
    const Kumppani__V1__SensitiveReadReply *r = (const void *)m;
    printf("expert %llu (read audited as %llu):\n%s\n", (unsigned long long)r->expert_id,
           (unsigned long long)r->audit_id, r->sensitive_detail_text);
}

/* ---- fill functions ----------------------------------------------------------------------- */

#define MAX_SLOTS 50
#define MAX_TRAININGS 50

/* --availability 1:09:00-12:00,3:13:00-16:00 (weekday 1 = Monday; Helsinki time). */
static int
s_slots(cli_ctx_t *c, Kumppani__V1__ExpertInput *in, const char *v)
{
    size_t n = 0;
    char **items = cli_split(c, v, ',', &n);
    if (n > MAX_SLOTS) {
        cli_err("--availability: at most %d windows", MAX_SLOTS);
        return -1;
    }
    Kumppani__V1__WeeklySlot *slot = cli_alloc(c, n * sizeof *slot);
    in->availability = cli_alloc(c, n * sizeof *in->availability);
    for (size_t i = 0; i < n; i++) {
        unsigned d, h1, m1, h2, m2;
        char tail;
        if (sscanf(items[i], "%u:%u:%u-%u:%u%c", &d, &h1, &m1, &h2, &m2, &tail) != 5 || d < 1 ||
            d > 7 || h1 > 23 || m1 > 59 || h2 > 24 || m2 > 59 || h2 * 60 + m2 > 1440) {
            cli_err("--availability: windows look like 1:09:00-12:00 (weekday 1..7)");
            return -1;
        }
        kumppani__v1__weekly_slot__init(&slot[i]);
        slot[i].weekday = d;
        slot[i].from_minute = h1 * 60 + m1;
        slot[i].to_minute = h2 * 60 + m2;
        in->availability[i] = &slot[i];
    }
    in->n_availability = n;
    return 0;
}

/* --trainings "COURSE|ORGANISER|YYYY-MM-DD;..." */
static int
s_trainings(cli_ctx_t *c, Kumppani__V1__ExpertInput *in, const char *v)
{
    size_t n = 0;
    char **items = cli_split(c, v, ';', &n);
    Kumppani__V1__ExpertTraining *tr = cli_alloc(c, n * sizeof *tr);
    in->trainings = cli_alloc(c, n * sizeof *in->trainings);
    for (size_t i = 0; i < n; i++) {
        char *t = items[i], *a = strchr(t, '|'), *b = a ? strchr(a + 1, '|') : NULL;
        if (!a || !b || i >= MAX_TRAININGS) {
            cli_err("--trainings: COURSE|ORGANISER|YYYY-MM-DD, separated by ';' (at most %d)",
                    MAX_TRAININGS);
            return -1;
        }
        *a = *b = 0;
        kumppani__v1__expert_training__init(&tr[i]);
        tr[i].course = t;
        tr[i].organiser = a + 1;
        tr[i].completed_date = b + 1;
        in->trainings[i] = &tr[i];
    }
    in->n_trainings = n;
    return 0;
}

/* An expert profile from the options, shared by expert-register and expert-update; with
 * partial (expert-update --only) nothing is required, as only the options given are sent.
 * Returns the profile (in c->arena), or NULL (reported). */
static Kumppani__V1__ExpertInput *
s_expert_input(cli_ctx_t *c, bool partial)
{
    /* The options copied as they are, checked after --org and before --name. */
    static const cli_optfield_t copied[] = {
        {"cap", .field = "monthly_cap", .max = 100},
        {"person", .field = "registry_person_id", .min = 1, .max = UINT64_MAX},
        {.opt = "name"},
        {.opt = "email"},
        {.opt = "phone"},
        {"remote", .field = "remote_ok"},
        {.opt = "consent"},
        {"sensitive-consent", .field = "sensitive_consent"},
        {"sensitive", .field = "sensitive_detail_text"},
        {0},
    };
    Kumppani__V1__ExpertInput *in = cli_alloc(c, sizeof *in);
    kumppani__v1__expert_input__init(in);
    if (cli_num(c, "org", !partial, 1, UINT64_MAX, &in->home_org_id) ||
        cli_set_fields(c, &in->base, copied))
        return NULL;
    const char *kind = cli_arg(c->a, "kind");
    in->kind = kind && strcmp(kind, "actor") == 0 ? KUMPPANI__V1__EXPERT_KIND__EXPERT_KIND_ACTOR
                                                  : KUMPPANI__V1__EXPERT_KIND__EXPERT_KIND_EXPERT;
    if (!partial && !cli_arg(c->a, "name")) {
        cli_err("--name is required");
        return NULL;
    }
    in->expertise = cli_split(c, cli_arg(c->a, "expertise"), ',', &in->n_expertise);
    in->languages = cli_split(c, cli_str(c, "languages", "fi"), ',', &in->n_languages);
    in->municipalities = cli_split(c, cli_arg(c->a, "municipalities"), ',', &in->n_municipalities);
    in->blocked_dates = cli_split(c, cli_arg(c->a, "blocked"), ',', &in->n_blocked_dates);
    if (s_slots(c, in, cli_arg(c->a, "availability")) ||
        s_trainings(c, in, cli_arg(c->a, "trainings")))
        return NULL;
    return in;
}

static int
s_expert_register(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__RegisterExpertRequest *req = (Kumppani__V1__RegisterExpertRequest *)m;
    if (cli_flag(c->a, "only")) {
        cli_err("--only is for expert-update");
        return -1;
    }
    return (req->expert = s_expert_input(c, false)) ? 0 : -1;
}

/* Each option of an expert profile and the ExpertInput field it sets (update_mask). */
static const cli_mask_t s_expert_fields[] = {
    {"kind", "kind"},
    {"name", "name"},
    {"email", "email"},
    {"phone", "phone"},
    {"org", "home_org_id"},
    {"expertise", "expertise"},
    {"languages", "languages"},
    {"municipalities", "municipalities"},
    {"remote", "remote_ok"},
    {"cap", "monthly_cap"},
    {"blocked", "blocked_dates"},
    {"consent", "consent"},
    {"sensitive", "sensitive_detail_text"},
    {"sensitive-consent", "sensitive_consent"},
    {"availability", "availability"},
    {"trainings", "trainings"},
    {"person", "registry_person_id"},
    {0},
};

static int
s_expert_update(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__UpdateExpertRequest *req = (Kumppani__V1__UpdateExpertRequest *)m;
    bool only = cli_flag(c->a, "only");
    if (!(req->expert = s_expert_input(c, only)))
        return -1;
    return only ? cli_field_mask(c, s_expert_fields, &req->update_mask, &req->n_update_mask,
                                 "--only: give the options to change (e.g. --phone P)")
                : 0;
}

static int
s_expert_pause(cli_ctx_t *c, ProtobufCMessage *m)
{
    (void)c;
    ((Kumppani__V1__PauseExpertRequest *)m)->paused = true;
    return 0;
}

/* The options of request-file copied into its BrokerRequestInput, in the order they are checked
 * (then --purpose). */
static const cli_optfield_t s_request_input[] = {
    {"start", .field = "start_unix", .required = true},
    {"deadline", .field = "answer_deadline_unix", .required = true},
    {"minutes", .field = "duration_min", .min = 15, .max = 1440, .def = "60"},
    {"experts", .field = "experts_needed", .min = 1, .max = 20, .def = "1"},
    {"fee-cents", .field = "fee_cents", .max = 10000000},
    {"travel-cents", .field = "travel_cents", .max = 10000000},
    {"org", .field = "requester_org_id", .max = UINT64_MAX},
    {"offer-hours", .field = "offer_hours", .max = 720},
    {"wave", .field = "wave_size", .max = 50},
    {"requester", .field = "requester_name"},
    {"contact", .field = "contact_name"},
    {"email", .field = "contact_email"},
    {"phone", .field = "contact_phone"},
    {.opt = "title"},
    {.opt = "municipality"},
    {.opt = "place"},
    {"language", .def = "fi"},
    {.opt = "remote"},
    {.opt = "ongoing"},
    {0},
};

static int
s_request_file(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__FileRequestRequest *req = (Kumppani__V1__FileRequestRequest *)m;
    Kumppani__V1__BrokerRequestInput *in = cli_alloc(c, sizeof *in);
    kumppani__v1__broker_request_input__init(in);
    int purpose = 0, kind = KUMPPANI__V1__REQUESTER_KIND__REQUESTER_ORGANISATION;
    const char *rk = cli_arg(c->a, "requester-kind");
    if (cli_set_fields(c, &in->base, s_request_input))
        return -1;
    if (cli_enum_parse(&kumppani__v1__purpose__descriptor, "PURPOSE_", cli_arg(c->a, "purpose"),
                       &purpose)) {
        cli_err("--purpose is required: working-group, lecture, panel, client-panel, "
                "development, training");
        return -1;
    }
    if (rk && cli_enum_parse(&kumppani__v1__requester_kind__descriptor, "REQUESTER_", rk, &kind))
        kind = KUMPPANI__V1__REQUESTER_KIND__REQUESTER_UNSPECIFIED;
    in->purpose = purpose;
    in->requester_kind = kind;
    in->expertise = cli_split(c, cli_arg(c->a, "expertise"), ',', &in->n_expertise);
    req->request = in;
    return 0;
}

static int
s_paid(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__MarkPaidRequest *req = (Kumppani__V1__MarkPaidRequest *)m;
    if (c->a->pos_n < 1) {
        cli_err("expected one or more assignment IDs");
        return -1;
    }
    uint64_t *ids = cli_alloc(c, (size_t)c->a->pos_n * sizeof *ids);
    for (int i = 0; i < c->a->pos_n; i++)
        if (cli_parse_u64(c->a->pos[i], 1, UINT64_MAX, &ids[i]) != 0) {
            cli_err("assignment IDs are positive numbers");
            return -1;
        }
    req->assignment_ids = ids;
    req->n_assignment_ids = (size_t)c->a->pos_n;
    return 0;
}

/* ---- the table ---------------------------------------------------------------------------- */

/* --after ID [--limit N]: the pages of experts and of requests. */
static const cli_optfield_t o_page_set[] = {
    {"after", .field = "after_id", .max = UINT64_MAX}, {"limit", .min = 1, .max = 500}, {0}};
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
    {"only", false}, /* expert-update only */
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

const cli_cmd_t cli_cmds_broker[] = {
    {.words = "broker expert-register",
     .opts = o_expert,
     .help =
         "Usage: kumppani broker expert-register --name N (--email E | --phone P) --org ORG_ID\n"
         "         --expertise A,B [--languages fi,sv] [--municipalities 743,...] [--remote]\n"
         "         [--kind expert|actor] [--cap N] [--blocked YYYY-MM-DD,...] --consent\n"
         "         [--sensitive-consent --sensitive TEXT] [--idempotency-key K]\n"
         "         [--availability 1:09:00-12:00,3:13:00-16:00] [--person REGISTRY_PERSON_ID]\n"
         "         [--trainings \"COURSE|ORGANISER|YYYY-MM-DD;...\"]\n"
         "Registers an experience expert. Availability: weekly windows, weekday 1 = Monday,\n"
         "Helsinki time (none: any time). " BRK_AREAS,
     .flags = CLI_IDEM_KEY,
     CLI_CALL(SVC, "broker.expert.register", register_expert_request, expert_reply),
     .fill = s_expert_register,
     CLI_LINES("expert", NULL, s_expert_row)},
    {.words = "broker expert-update",
     .opts = o_expert,
     .help = "Usage: kumppani broker expert-update ID [--only] (the options of expert-register)\n"
             "Replaces the expert's whole profile with the one given; with --only, changes just\n"
             "the options given (e.g. --only --phone P) and keeps every other field.\n",
     CLI_CALL(SVC, "broker.expert.update", update_expert_request, expert_reply),
     .id_field = "expert_id",
     .fill = s_expert_update,
     CLI_LINES("expert", NULL, s_expert_row)},
    {.words = "broker expert",
     .help = "Usage: kumppani broker expert ID\nShows an expert: contact, areas, languages, "
             "municipalities, availability, cap, trainings.\n",
     CLI_CALL(SVC, "broker.expert.get", expert_ref, expert_reply),
     .id_field = "expert_id",
     CLI_LINES("expert", NULL, s_expert_text)},
    {.words = "broker expert-pause",
     .help = "Usage: kumppani broker expert-pause ID\nPaused experts get no offers.\n",
     CLI_CALL(SVC, "broker.expert.pause", pause_expert_request, expert_reply),
     .id_field = "expert_id",
     .fill = s_expert_pause,
     CLI_LINES("expert", NULL, s_expert_row)},
    {.words = "broker expert-resume",
     .help = "Usage: kumppani broker expert-resume ID\n",
     CLI_CALL(SVC, "broker.expert.pause", pause_expert_request, expert_reply),
     .id_field = "expert_id",
     CLI_LINES("expert", NULL, s_expert_row)},
    {.words = "broker experts",
     .help = "Usage: kumppani broker experts [--after ID] [--limit N]\n",
     CLI_CALL(SVC, "broker.expert.list", list_experts_request, list_experts_reply),
     .set = o_page_set,
     CLI_LINES("experts", s_experts_cols, s_expert_row)},
    {.words = "broker request-file",
     .opts = o_request,
     .help =
         "Usage: kumppani broker request-file --purpose P --requester NAME (--email E | --phone "
         "P)\n"
         "         --title T --expertise A,B --start \"YYYY-MM-DD HH:MM\" --deadline \"YYYY-MM-DD "
         "HH:MM\"\n"
         "         (--municipality CODE | --remote) [--minutes 60] [--ongoing] [--language fi]\n"
         "         [--experts 1] [--fee-cents N] [--travel-cents N] [--offer-hours 48] [--wave N]\n"
         "         [--requester-kind person|organisation|municipality] [--org ID] [--contact "
         "NAME]\n"
         "Files a request through the one window; offers go out at once to the best candidates.\n"
         "An in-person request names its municipality (official code, 743 = Seinäjoki).\n"
         "Prints the requester token once: keep it to read accepted experts' sensitive "
         "details.\n" BRK_AREAS,
     .flags = CLI_IDEM_KEY,
     CLI_CALL(SVC, "broker.request.file", file_request_request, broker_request_reply),
     .fill = s_request_file,
     .line = p_request},
    {.words = "broker request",
     .help = "Usage: kumppani broker request ID\n",
     CLI_CALL(SVC, "broker.request.get", broker_request_ref, broker_request_reply),
     .id_field = "request_id",
     .line = p_request},
    {.words = "broker explain",
     .help = "Usage: kumppani broker explain ID\n"
             "Every expert: eligible or why not, and the ranking keys.\n",
     CLI_CALL(SVC, "broker.request.explain", broker_request_ref, explain_request_reply),
     .id_field = "request_id",
     .line = p_explain},
    {.words = "broker request-cancel",
     .help = "Usage: kumppani broker request-cancel ID --reason TEXT\n",
     CLI_CALL(SVC, "broker.request.cancel", cancel_broker_request_request, broker_request_reply),
     .id_field = "request_id",
     .set = (const cli_optfield_t[]){{.opt = "reason"}, {0}},
     .line = p_request},
    {.words = "broker requests",
     .help = "Usage: kumppani broker requests [--after ID] [--limit N]\n",
     CLI_CALL(SVC, "broker.request.list", list_broker_requests_request, list_broker_requests_reply),
     .set = o_page_set,
     CLI_LINES("requests", s_requests_cols, s_request_row)},
    {.words = "broker offer-accept",
     .help = "Usage: kumppani broker offer-accept OFFER_ID\n",
     CLI_CALL(SVC, "broker.offer.accept", offer_ref, offer_reply),
     .id_field = "offer_id",
     .line = p_offer},
    {.words = "broker offer-decline",
     .help = "Usage: kumppani broker offer-decline OFFER_ID [--reason TEXT]\n",
     CLI_CALL(SVC, "broker.offer.decline", decline_offer_request, offer_reply),
     .id_field = "offer_id",
     .set = (const cli_optfield_t[]){{.opt = "reason"}, {0}},
     .line = p_offer},
    {.words = "broker assignment-cancel",
     .help = "Usage: kumppani broker assignment-cancel ID --reason T\n"
             "         [--by expert|requester|coordinator]   who cancels (default coordinator)\n",
     CLI_CALL(SVC, "broker.assignment.cancel", cancel_assignment_request, assignment_reply),
     .id_field = "assignment_id",
     .set = (const cli_optfield_t[]){{"by", .def = "coordinator"}, {.opt = "reason"}, {0}},
     CLI_LINES("assignment", NULL, s_asg_row)},
    {.words = "broker assignment-complete",
     .help = "Usage: kumppani broker assignment-complete ID --minutes N [--fee-cents N] "
             "[--travel-cents N]\n",
     CLI_CALL(SVC, "broker.assignment.complete", complete_assignment_request, assignment_reply),
     .id_field = "assignment_id",
     .set = (const cli_optfield_t[]){{"minutes", .required = true, .min = 1, .max = 10080},
                                     {"fee-cents", .field = "fee_cents", .max = 10000000},
                                     {"travel-cents", .field = "travel_cents", .max = 10000000},
                                     {0}},
     CLI_LINES("assignment", NULL, s_asg_row)},
    {.words = "broker feedback",
     .help = "Usage: kumppani broker feedback ID --side expert|requester --rating 1..5 "
             "[--comment T]\n",
     CLI_CALL(SVC, "broker.assignment.feedback", assignment_feedback_request, assignment_reply),
     .id_field = "assignment_id",
     .set = (const cli_optfield_t[]){{"rating", .required = true, .min = 1, .max = 5},
                                     {.opt = "side"},
                                     {"comment", .field = "comment_text"},
                                     {0}},
     CLI_LINES("assignment", NULL, s_asg_row)},
    {.words = "broker assignments",
     .help = "Usage: kumppani broker assignments [--expert ID] [--after ID]\n",
     CLI_CALL(SVC, "broker.assignment.list", list_assignments_request, list_assignments_reply),
     .set = (const cli_optfield_t[]){{"expert", .field = "expert_id", .min = 1, .max = UINT64_MAX},
                                     {"after", .field = "after_id", .max = UINT64_MAX},
                                     {0}},
     CLI_LINES("assignments", NULL, s_asg_row)},
    {.words = "broker export",
     .help =
         "Usage: kumppani broker export [--from \"YYYY-MM-DD HH:MM\"] [--to ...] [--after ID] "
         "[--unpaid]\n"
         "Completed assignments as CSV, for payment, 1000 rows a page (the next page's --after is\n"
         "printed on stderr). --unpaid leaves out those marked paid.\n",
     CLI_CALL(SVC, "broker.assignment.export", assignment_export_request, assignment_export_reply),
     .set = (const cli_optfield_t[]){{"from", .field = "from_unix"},
                                     {"to", .field = "to_unix"},
                                     {"after", .field = "after_id", .max = UINT64_MAX},
                                     {"unpaid", .field = "unpaid_only"},
                                     {0}},
     .line = p_export},
    {.words = "broker request-extend",
     .help = "Usage: kumppani broker request-extend ID --deadline \"YYYY-MM-DD HH:MM\"\n"
             "A new answer deadline; an unfilled request opens again and offers go to whoever has\n"
             "become eligible since (those already asked are not asked again).\n",
     CLI_CALL(SVC, "broker.request.extend", extend_broker_request_request, broker_request_reply),
     .id_field = "request_id",
     .set =
         (const cli_optfield_t[]){{"deadline", .field = "answer_deadline_unix", .required = true},
                                  {0}},
     .line = p_request},
    {.words = "broker paid",
     .help =
         "Usage: kumppani broker paid ASSIGNMENT_ID... --ref PAYMENT_BATCH\n"
         "Marks completed assignments paid (shown in the export's paid_date and payment_ref).\n",
     .flags = CLI_POSITIONAL_ANY,
     CLI_CALL(SVC, "broker.assignment.paid", mark_paid_request, mark_paid_reply),
     .set = (const cli_optfield_t[]){{"ref", .field = "payment_ref"}, {0}},
     .fill = s_paid,
     .line = p_paid},
    {.words = "broker expert-erase",
     .help = "Usage: kumppani broker expert-erase ID\n"
             "Erases the expert's personal data and sensitive detail; open offers are withdrawn,\n"
             "confirmed assignments cancelled; assignments stay under the id only.\n",
     CLI_CALL(SVC, "broker.expert.erase", expert_ref, expert_reply),
     .id_field = "expert_id",
     CLI_LINES("expert", NULL, s_expert_row)},
    {.words = "broker stats",
     .help = "Usage: kumppani broker stats [--from ...] [--to ...]\n",
     CLI_CALL(SVC, "broker.stats", broker_stats_request, broker_stats_reply),
     .set =
         (const cli_optfield_t[]){{"from", .field = "from_unix"}, {"to", .field = "to_unix"}, {0}},
     .caption = p_stats,
     CLI_LINES("per_expert", NULL, s_per_expert_row)},
    {.words = "broker audit",
     .help = "Usage: kumppani broker audit [--after ID] [--limit N]\n"
             "The audit of sensitive-detail reads and refused attempts, oldest first: the\n"
             "entries after ID, at most N of them (1..1000; default 100).\n",
     CLI_CALL(SVC, "broker.audit.list", list_broker_audit_request, list_broker_audit_reply),
     .set = (const cli_optfield_t[]){{"after", .field = "after_id", .max = UINT64_MAX},
                                     {"limit", .min = 1, .max = 1000},
                                     {0}},
     CLI_LINES("entries", NULL, s_audit_row)},
    {.words = "broker sensitive",
     .help =
         "Usage: kumppani broker sensitive ASSIGNMENT_ID --token REQUESTER_TOKEN\n"
         "Shows an accepted expert's sensitive detail to the requester; every read is audited.\n",
     CLI_CALL(SVC, "broker.sensitive.read", sensitive_read_request, sensitive_read_reply),
     .id_field = "assignment_id",
     .set = (const cli_optfield_t[]){{"token", .field = "requester_token"}, {0}},
     .line = p_sensitive},
    {0},
};
