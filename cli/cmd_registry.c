/*  cmd_registry.c: the `kumppani registry ...` commands (see cli_cmd.h).
 *
 *  Every command is a row (cli_cmd.h): one method of the registry (registry.proto), a fill
 *  function from the options and a table printer. --json prints the reply through the one
 *  descriptor walker (cli_json_view), so the JSON always has every field the service sent.
 *  Creating commands (register, person-add, assign) send an idempotency key: --key K, or a
 *  random one that is printed when the service cannot be reached, so a retry with --key K
 *  cannot create a duplicate. Update reads the organisation first and writes back what the
 *  options change, with optimistic concurrency.
 *
 *  CSV import reads the file, drops CRs, and sends it in chunks of whole rows under 60 KiB:
 *  first every chunk as a dry run (so a bad row anywhere writes nothing, unless
 *  --skip-invalid), then for real. Export pages through the service and writes the CSV to
 *  stdout or --out FILE. */
#include "cli_cmd.h"
#include "kp_time.h"
#include "kumppani/v1/registry.pb-c.h"
#include "registry.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (60 * 1024)
#define CP_CHUNK_ROWS 400 /* contact-person rows per request (registry.proto) */

/* ---- helpers ----------------------------------------------------------------------------- */

static const char *
s_status(int st)
{
    return st == KUMPPANI__V1__ORG_STATUS__ORG_STATUS_ACTIVE      ? "active"
           : st == KUMPPANI__V1__ORG_STATUS__ORG_STATUS_DISSOLVED ? "dissolved"
           : st == KUMPPANI__V1__ORG_STATUS__ORG_STATUS_REMOVED   ? "removed"
                                                                  : "-";
}

/* The fields of activity by name: the registry's own vocabulary (reg_field_name). */
static int
s_field_parse(const char *s)
{
    return reg_field_parse(s, strlen(s));
}

static void
s_org_row(const ProtobufCMessage *m)
{
    const Kumppani__V1__Organisation *o = (const Kumppani__V1__Organisation *)m;
    printf("%-6llu %-9s %-4s %s\n", (unsigned long long)o->id, s_status(o->status),
           o->fields ? o->fields->home_municipality : "", o->fields ? o->fields->name_fi : "");
}

static const cli_col_t s_org_cols[] = {{"ID", 6}, {"STATUS", 9}, {"HOME", 4}, {"NAME", 0}, {0}};

static void
s_print_org(const ProtobufCMessage *m)
{
    const Kumppani__V1__Organisation *o =
        ((const Kumppani__V1__OrganisationReply *)m)->organisation;
    if (!o || !o->fields)
        return;
    const Kumppani__V1__OrganisationFields *f = o->fields;
    printf("id            %llu\nname          %s\n", (unsigned long long)o->id, f->name_fi);
    if (f->name_sv[0])
        printf("name (sv)     %s\n", f->name_sv);
    printf("status        %s%s%s\n", s_status(o->status), o->dissolved_on[0] ? " on " : "",
           o->dissolved_on);
    printf("business id   %s\nassociation   %s\nhome          %s\nacts in      ", f->business_id,
           f->association_number, f->home_municipality);
    for (size_t i = 0; i < f->n_municipalities; i++)
        printf(" %s", f->municipalities[i]);
    printf("\nfields       ");
    for (size_t i = 0; i < f->n_fields; i++) {
        const char *name = reg_field_name(f->fields[i]);
        printf(" %s", name ? name : "?");
    }
    printf("\nnetworks     ");
    for (size_t i = 0; i < f->n_networks; i++)
        printf(" %s", f->networks[i]);
    printf("\ne-mail        %s\nphone         %s\nweb           %s\nmembers       %u\n", f->email,
           f->phone, f->web, f->member_count);
}

/* Fills f from the options, replacing what they name (the lists are in c->arena; f's earlier
 * ones are left alone). Returns 0 or -1 (reported). */
static int
s_fields_opts(cli_ctx_t *c, Kumppani__V1__OrganisationFields *f)
{
    const char *v;
#define STR(opt, field)                                                                            \
    if ((v = cli_arg(c->a, opt)))                                                                  \
    f->field = (char *)v
    STR("name", name_fi);
    STR("name-sv", name_sv);
    STR("association", association_number);
    STR("business-id", business_id);
    STR("home", home_municipality);
    STR("email", email);
    STR("phone", phone);
    STR("web", web);
#undef STR
    if ((v = cli_arg(c->a, "acts-in")))
        f->municipalities = cli_split(c, v, ',', &f->n_municipalities);
    if ((v = cli_arg(c->a, "networks")))
        f->networks = cli_split(c, v, ',', &f->n_networks);
    if ((v = cli_arg(c->a, "fields"))) {
        size_t n;
        char **names = cli_split(c, v, ',', &n);
        f->fields = cli_alloc(c, (n + 1) * sizeof *f->fields);
        f->n_fields = 0;
        for (size_t i = 0; i < n; i++) {
            int k = s_field_parse(names[i]);
            if (!k) {
                cli_err("--fields: unknown field (one of mental-health, substance-use, "
                        "disability, older-people, children-families, youth, patients, "
                        "multicultural, sport-culture, village, social-welfare, employment, "
                        "housing, veterans, other)");
                return -1;
            }
            f->fields[f->n_fields++] = k;
        }
    }
    uint64_t members;
    if (cli_arg(c->a, "members")) {
        if (cli_num(c, "members", false, 0, 10000000, &members))
            return -1;
        f->member_count = (uint32_t)members;
    }
    return 0;
}

/* ---- organisations ----------------------------------------------------------------------- */

static int
s_register(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__RegisterOrganisationRequest *rq = (Kumppani__V1__RegisterOrganisationRequest *)m;
    rq->fields = cli_alloc(c, sizeof *rq->fields);
    kumppani__v1__organisation_fields__init(rq->fields);
    return s_fields_opts(c, rq->fields);
}

/* Reads the organisation, then changes what the options name; written back with optimistic
 * concurrency (expected_updated_ms). */
static int
s_update(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__UpdateOrganisationRequest *rq = (Kumppani__V1__UpdateOrganisationRequest *)m;
    Kumppani__V1__OrganisationRef ref = KUMPPANI__V1__ORGANISATION_REF__INIT;
    ref.id = rq->id;
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, "registry", "registry.org.get", NULL, &ref.base,
                      &kumppani__v1__organisation_reply__descriptor, &out);
    if (ex)
        return ex;
    Kumppani__V1__Organisation *o = ((Kumppani__V1__OrganisationReply *)out)->organisation;
    if (!o || !o->fields)
        return EXIT_OTHER;
    /* A shallow copy: the options replace its members, the reply keeps its own. */
    rq->fields = cli_alloc(c, sizeof *rq->fields);
    *rq->fields = *o->fields;
    rq->expected_updated_ms = o->updated_ms;
    return s_fields_opts(c, rq->fields);
}

static int
s_search(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__SearchRequest *rq = (Kumppani__V1__SearchRequest *)m;
    const char *v;
    if (cli_page_limit(c, 100000, 200, &rq->limit))
        return -1;
    if (c->a->pos_n > 0)
        rq->query = (char *)c->a->pos[0];
    if (c->a->pos_n > 1) {
        cli_err("search takes one query (quote several words)");
        return -1;
    }
    if ((v = cli_arg(c->a, "field")) && !(rq->field = s_field_parse(v))) {
        cli_err("--field: not a field of activity (see registry register --help)");
        return -1;
    }
    if ((v = cli_arg(c->a, "status"))) {
        if (strcmp(v, "active") == 0)
            rq->status = KUMPPANI__V1__ORG_STATUS__ORG_STATUS_ACTIVE;
        else if (strcmp(v, "dissolved") == 0)
            rq->status = KUMPPANI__V1__ORG_STATUS__ORG_STATUS_DISSOLVED;
        else {
            cli_err("--status: active or dissolved");
            return -1;
        }
    }
    return 0;
}

static int
s_search_page(cli_ctx_t *c, ProtobufCMessage *m, const ProtobufCMessage *reply)
{
    Kumppani__V1__SearchRequest *rq = (Kumppani__V1__SearchRequest *)m;
    const Kumppani__V1__SearchReply *r = (const Kumppani__V1__SearchReply *)reply;
    cli_page_rows(c, reply);
    if (!r->next_cursor[0])
        return 0;
    rq->cursor = r->next_cursor; /* the reply lives in c->arena until the command ends */
    rq->limit = cli_page_size(c, 200);
    if (c->left == 0) /* --limit reached: say where the next page starts (--json too) */
        fprintf(stderr, "more: --cursor %s\n", r->next_cursor);
    return c->left > 0;
}

/* ---- municipalities, people, roles, coverage --------------------------------------------- */

static const cli_col_t s_muni_cols[] = {
    {"CODE", 5}, {"NAME", 20}, {"NAME (SV)", 20}, {"REGION", 0}, {0}};

static void
s_muni_row(const ProtobufCMessage *m)
{
    const Kumppani__V1__Municipality *x = (const Kumppani__V1__Municipality *)m;
    printf("%-5s %-*s %-*s %s\n", x->code, cli_col(x->name_fi, 20), x->name_fi,
           cli_col(x->name_sv, 20), x->name_sv, x->region_name);
}

/* A role's readable kind ("contact-person") into buf (CLI_NAME_MAX bytes). */
static const char *
s_kind_name(int kind, char *buf)
{
    return cli_enum_name(&kumppani__v1__role_kind__descriptor, "ROLE_KIND_", kind, buf);
}

/* Where a role is held: a municipality's code or "org ID". */
static void
s_role_where(const Kumppani__V1__Role *x, char *where, size_t len)
{
    if (x->organisation_id)
        snprintf(where, len, "org %llu", (unsigned long long)x->organisation_id);
    else
        snprintf(where, len, "%s", x->municipality_code);
}

static void
s_print_person(const ProtobufCMessage *m)
{
    const Kumppani__V1__PersonReply *r = (const void *)m;
    if (r->person)
        printf("id      %llu\nname    %s\ne-mail  %s\nphone   %s\n",
               (unsigned long long)r->person->id, r->person->name, r->person->email,
               r->person->phone);
    for (size_t i = 0; i < r->n_roles; i++) {
        const Kumppani__V1__Role *x = r->roles[i];
        char kind[CLI_NAME_MAX], where[32];
        s_role_where(x, where, sizeof where);
        printf("role %llu %s %s %s..%s\n", (unsigned long long)x->id, s_kind_name(x->kind, kind),
               where, x->start_date, x->end_date);
    }
}

static void
s_print_erased(const ProtobufCMessage *m)
{
    const Kumppani__V1__PersonErased *r = (const void *)m;
    printf("person %llu erased; %zu role(s) ended\n", (unsigned long long)r->person_id,
           r->n_ended_role_ids);
}

/* The RoleKind named v (contact person for NULL), or 0 for an unknown name. */
static int
s_kind_parse(const char *v)
{
    int k = KUMPPANI__V1__ROLE_KIND__ROLE_KIND_CONTACT_PERSON;
    return v && cli_enum_parse(&kumppani__v1__role_kind__descriptor, "ROLE_KIND_", v, &k) ? 0 : k;
}

static void
s_role_line(const ProtobufCMessage *m)
{
    const Kumppani__V1__Role *x = (const Kumppani__V1__Role *)m;
    char kind[CLI_NAME_MAX], where[32];
    s_role_where(x, where, sizeof where);
    printf("role %llu: person %llu, %s, %s, %s..%s\n", (unsigned long long)x->id,
           (unsigned long long)x->person_id, s_kind_name(x->kind, kind), where, x->start_date,
           x->end_date);
}

static int
s_assign(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__AssignRoleRequest *rq = (Kumppani__V1__AssignRoleRequest *)m;
    if (!(rq->kind = s_kind_parse(cli_arg(c->a, "kind")))) {
        cli_err("--kind: contact-person, official, representative or chair");
        return -1;
    }
    return 0;
}

static const cli_col_t s_role_cols[] = {{"ROLE", 6},  {"PERSON", 7}, {"KIND", 14}, {"WHERE", 12},
                                        {"FROM", 10}, {"UNTIL", 10}, {"NAME", 0},  {0}};

static void
s_print_roles(const ProtobufCMessage *m)
{
    const Kumppani__V1__ListRolesReply *r = (const void *)m;
    cli_header(s_role_cols);
    for (size_t i = 0; i < r->n_roles; i++) {
        const Kumppani__V1__Role *x = r->roles[i];
        const char *name = "";
        for (size_t j = 0; j < r->n_people; j++)
            if (r->people[j]->id == x->person_id)
                name = r->people[j]->name;
        char where[32], kind[CLI_NAME_MAX];
        s_role_where(x, where, sizeof where);
        printf("%-6llu %-7llu %-14s %-12s %-10s %-10s %s\n", (unsigned long long)x->id,
               (unsigned long long)x->person_id, s_kind_name(x->kind, kind), where, x->start_date,
               x->end_date, name);
    }
}

static int
s_roles(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__ListRolesRequest *rq = (Kumppani__V1__ListRolesRequest *)m;
    if (!cli_arg(c->a, "municipality") == !cli_arg(c->a, "organisation")) {
        cli_err("registry roles: give --municipality CODE or --organisation ID (one of them)");
        return -1;
    }
    if (cli_arg(c->a, "kind") && !(rq->kind = s_kind_parse(cli_arg(c->a, "kind")))) {
        cli_err("--kind: contact-person, official, representative or chair");
        return -1;
    }
    return 0;
}

static void
s_print_gaps(const ProtobufCMessage *m)
{
    const Kumppani__V1__CoverageGapsReply *r = (const void *)m;
    printf("%zu municipalities without a current NGO contact person\n", r->n_municipalities);
}

static void
s_gap_row(const ProtobufCMessage *m)
{
    const Kumppani__V1__Municipality *x = (const Kumppani__V1__Municipality *)m;
    printf("%-5s %s\n", x->code, x->name_fi);
}

static void
s_print_idle(const ProtobufCMessage *m)
{
    const Kumppani__V1__CoverageIdleReply *r = (const void *)m;
    printf("%zu contact person(s) without a contact-person meeting (events log read to seq "
           "%llu)\n",
           r->n_contact_persons, (unsigned long long)r->events_applied_seq);
}

static void
s_idle_row(const ProtobufCMessage *m)
{
    const Kumppani__V1__IdleContactPerson *x = (const Kumppani__V1__IdleContactPerson *)m;
    char last[CLI_TIME_MAX] = "never";
    if (x->last_meeting_unix)
        kp_time_iso(x->last_meeting_unix, last, sizeof last);
    const char *name = x->person ? x->person->name : "";
    printf("%-5s person %-6llu %-*s last meeting %s\n", x->role->municipality_code,
           (unsigned long long)x->role->person_id, cli_col(name, 30), name, last);
}

/* ---- CSV --------------------------------------------------------------------------------- */

static int
s_kind_csv(cli_ctx_t *c)
{
    const char *v = cli_arg(c->a, "kind");
    int k = KUMPPANI__V1__CSV_KIND__CSV_KIND_ORGANISATIONS; /* contact-persons: import only */
    if (!v || cli_enum_parse(&kumppani__v1__csv_kind__descriptor, "CSV_KIND_", v, &k) == 0)
        return k;
    cli_err("--kind: organisations, municipalities or contact-persons (import)");
    return 0;
}

/* One pass over the chunks; totals into sum, errors printed. Returns an exit code. */
static int
s_import_pass(cli_ctx_t *c, int kind, char *text, size_t len, bool dry, bool skip,
              Kumppani__V1__ImportReply *sum, json_t *errs)
{
    char *nl = memchr(text, '\n', len);
    size_t hl = nl ? (size_t)(nl - text) : len;
    char *header = strndup(text, hl);
    size_t pos = nl ? hl + 1 : len;
    unsigned line = 2;
    int ex = EXIT_OK_;
    while (pos < len && ex == EXIT_OK_) {
        /* A chunk of whole lines (a quoted cell never spans lines: the service refuses it). */
        size_t end = pos + CHUNK < len ? pos + CHUNK : len;
        if (end < len) {
            while (end > pos && text[end - 1] != '\n')
                end--;
            if (end == pos) {
                cli_err("line %u: longer than %d bytes", line, CHUNK);
                ex = EXIT_USAGE;
                break;
            }
        }
        /* Contact persons: at most CP_CHUNK_ROWS rows per request (the service's limit). */
        for (size_t i = pos, rows = 0;
             kind == KUMPPANI__V1__CSV_KIND__CSV_KIND_CONTACT_PERSONS && i < end; i++)
            if (text[i] == '\n' && ++rows == CP_CHUNK_ROWS) {
                end = i + 1;
                break;
            }
        Kumppani__V1__ImportRequest rq = KUMPPANI__V1__IMPORT_REQUEST__INIT;
        rq.kind = kind;
        rq.csv.data = (uint8_t *)text + pos;
        rq.csv.len = end - pos;
        rq.header = header;
        rq.first_line = line;
        rq.dry_run = dry;
        rq.skip_invalid = skip;
        ProtobufCMessage *out = NULL;
        ex = cli_call(c, "registry", "registry.csv.import", NULL, &rq.base,
                      &kumppani__v1__import_reply__descriptor, &out);
        if (ex)
            break;
        Kumppani__V1__ImportReply *r = (Kumppani__V1__ImportReply *)out;
        sum->rows += r->rows;
        sum->created += r->created;
        sum->updated += r->updated;
        sum->unchanged += r->unchanged;
        sum->skipped += r->skipped;
        for (size_t i = 0; i < r->n_errors; i++) {
            if (errs)
                json_array_append_new(errs, cli_json_view(&r->errors[i]->base, cli_jview_times));
            else
                fprintf(stderr, "line %u: %s\n", r->errors[i]->line, r->errors[i]->reason);
        }
        sum->n_errors += r->n_errors;
        for (size_t i = pos; i < end; i++)
            line += text[i] == '\n';
        pos = end;
    }
    free(header);
    return ex;
}

static int
s_import(cli_ctx_t *c)
{
    int kind = s_kind_csv(c);
    if (!kind)
        return EXIT_USAGE;
    if (c->a->pos_n != 1) {
        cli_err("import takes one FILE");
        return EXIT_USAGE;
    }
    FILE *f = strcmp(c->a->pos[0], "-") == 0 ? stdin : fopen(c->a->pos[0], "rb");
    if (!f) {
        cli_err("cannot open %s: %s", c->a->pos[0], strerror(errno));
        return EXIT_OTHER;
    }
    size_t cap = 1 << 20, len = 0;
    char *text = kp_xmalloc(cap);
    for (int ch; (ch = fgetc(f)) != EOF;) {
        if (ch == '\r')
            continue; /* CRLF -> LF */
        if (len + 2 > cap)
            text = kp_xrealloc(text, cap *= 2);
        text[len++] = (char)ch;
    }
    text[len] = 0;
    if (f != stdin)
        fclose(f);
    /* The first line is the header; a file with nothing after it would "import" 0 rows. */
    const char *nl = memchr(text, '\n', len);
    if (!nl || !nl[strspn(nl, " \t\n")]) {
        cli_err("%s: no rows to import (the first line names the columns, each line after it is "
                "a row; see --help)",
                c->a->pos[0]);
        free(text);
        return EXIT_USAGE;
    }
    bool skip = cli_flag(c->a, "skip-invalid"), dry = cli_flag(c->a, "dry-run");
    Kumppani__V1__ImportReply check = KUMPPANI__V1__IMPORT_REPLY__INIT,
                              done = KUMPPANI__V1__IMPORT_REPLY__INIT;
    json_t *errs = c->json ? json_array() : NULL;
    int ex = s_import_pass(c, kind, text, len, true, skip, &check, errs);
    bool write = ex == EXIT_OK_ && !dry && (check.n_errors == 0 || skip);
    if (write)
        ex = s_import_pass(c, kind, text, len, false, skip, &done, NULL);
    Kumppani__V1__ImportReply *show = write ? &done : &check;
    show->n_errors = check.n_errors;
    if (ex == EXIT_OK_) {
        if (c->json) {
            json_t *o = json_object();
            json_object_set_new(o, "rows", json_integer(check.rows));
            json_object_set_new(o, "created", json_integer(show->created));
            json_object_set_new(o, "updated", json_integer(show->updated));
            json_object_set_new(o, "unchanged", json_integer(show->unchanged));
            json_object_set_new(o, "skipped", json_integer(check.n_errors));
            json_object_set_new(o, "written", json_boolean(write));
            json_object_set_new(o, "errors", errs);
            errs = NULL;
            ex = cli_json_print(o);
        } else {
            if (check.n_errors && !skip) /* the service counts nothing of a file with bad rows */
                printf("%u rows: %zu invalid (%snothing written; fix them or use --skip-invalid)\n",
                       check.rows, check.n_errors, dry ? "dry run: " : "");
            else
                printf("%u rows: %u created, %u updated, %u unchanged, %zu invalid%s\n", check.rows,
                       show->created, show->updated, show->unchanged, check.n_errors,
                       write ? "" : " (dry run: nothing written)");
        }
        if (check.n_errors && !skip) /* a dry run with bad rows fails too (issue: it exited 0) */
            ex = EXIT_SERVICE;
    }
    json_decref(errs);
    free(text);
    return ex;
}

static int
s_export(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__ExportRequest *rq = (Kumppani__V1__ExportRequest *)m;
    const char *v;
    if (!(rq->kind = s_kind_csv(c)))
        return -1;
    if ((v = cli_arg(c->a, "field")) && !(rq->field = s_field_parse(v))) {
        cli_err("--field: not a field of activity");
        return -1;
    }
    c->file = stdout;
    if ((v = cli_arg(c->a, "out")) && !(c->file = fopen(v, "wb"))) {
        cli_err("cannot write the --out file");
        return EXIT_OTHER;
    }
    return 0;
}

static int
s_export_page(cli_ctx_t *c, ProtobufCMessage *m, const ProtobufCMessage *reply)
{
    Kumppani__V1__ExportRequest *rq = (Kumppani__V1__ExportRequest *)m;
    const Kumppani__V1__ExportReply *r = (const Kumppani__V1__ExportReply *)reply;
    fwrite(r->csv.data, 1, r->csv.len, c->file);
    rq->after_id = r->next_after_id;
    return rq->after_id != 0;
}

/* ---- the table --------------------------------------------------------------------------- */

#define ORG_OPTS                                                                                   \
    {"name", true}, {"name-sv", true}, {"association", true}, {"business-id", true},               \
        {"home", true}, {"acts-in", true}, {"fields", true}, {"networks", true}, {"email", true},  \
        {"phone", true}, {"web", true},                                                            \
    {                                                                                              \
        "members", true                                                                            \
    }

static const cli_optspec_t s_reg_opts[] = {ORG_OPTS, {"key", true}, {NULL, false}};
static const cli_optspec_t s_upd_opts[] = {ORG_OPTS, {NULL, false}};
static const cli_optspec_t s_search_opts[] = {
    {"field", true}, {"status", true}, {"limit", true}, {NULL, false}};
static const cli_optspec_t s_key_opts[] = {{"key", true}, {NULL, false}};
static const cli_optspec_t s_assign_opts[] = {{"kind", true}, {"key", true}, {NULL, false}};
static const cli_optspec_t s_roles_opts[] = {{"kind", true}, {NULL, false}};
static const cli_optspec_t s_import_opts[] = {
    {"kind", true}, {"skip-invalid", false}, {"dry-run", false}, {NULL, false}};
static const cli_optspec_t s_export_opts[] = {
    {"kind", true}, {"field", true}, {"out", true}, {NULL, false}};

#define FIELDS_HELP                                                                                \
    "Fields of activity: mental-health, substance-use, disability, older-people,\n"                \
    "children-families, youth, patients, multicultural, sport-culture, village, social-welfare,\n" \
    "employment, housing, veterans, other. Lists (--acts-in, --fields, --networks) are\n"          \
    "comma-separated; municipalities by official code (743 = Seinäjoki).\n"

/* ---- meetings entered by hand (issue 16) -------------------------------------------------- */

static int
s_meeting_record(cli_ctx_t *c, ProtobufCMessage *m)
{
    (void)m;
    if (!cli_arg(c->a, "date")) {
        cli_err("--date YYYY-MM-DD is required");
        return -1;
    }
    return 0;
}

static void
s_meeting_line(const ProtobufCMessage *m)
{
    const Kumppani__V1__ContactPersonMeeting *x = (const Kumppani__V1__ContactPersonMeeting *)m;
    char when[CLI_TIME_MAX];
    if (x->held_on && x->held_on[0])
        snprintf(when, sizeof when, "%s", x->held_on);
    else
        kp_time_iso(x->start_unix, when, sizeof when);
    char src[40];
    if (x->recorded_id)
        snprintf(src, sizeof src, "recorded %llu", (unsigned long long)x->recorded_id);
    else
        snprintf(src, sizeof src, "event %llu", (unsigned long long)x->event_id);
    printf("%-25s %-5s person %-6llu %-16s%s%s\n", when, x->municipality_code,
           (unsigned long long)x->organiser_person_id, src, x->draft ? " draft" : "",
           x->cancelled ? " cancelled" : "");
}

static void
s_print_meetings(const ProtobufCMessage *m)
{
    const Kumppani__V1__ListMeetingsReply *r = (const void *)m;
    printf("%zu meeting(s)\n", r->n_meetings);
}

static const cli_optspec_t s_meeting_record_opts[] = {
    {"idempotency-key", true}, {"key", true}, {NULL, false}};

const cli_cmd_t cli_cmds_registry[] = {
    {.words = "registry register",
     .opts = s_reg_opts,
     .help =
         "Usage: kumppani registry register --name NAME --home CODE --fields F[,F...]\n"
         "         [--name-sv NAME] [--business-id NNNNNNN-C] [--association NO] [--acts-in "
         "CODES]\n"
         "         [--networks IDS] [--email E] [--phone P] [--web URL] [--members N] [--key K]\n"
         "Registers an organisation. The same --key again returns the first answer.\n" FIELDS_HELP,
     .flags = CLI_IDEM_KEY,
     CLI_CALL("registry", "registry.org.register", register_organisation_request,
              organisation_reply),
     .fill = s_register,
     .view = cli_jview_times,
     .line = s_print_org},
    {.words = "registry update",
     .opts = s_upd_opts,
     .help = "Usage: kumppani registry update ID [the options of register]\n"
             "Changes the named fields of an organisation (lists are replaced as a whole).\n",
     CLI_CALL("registry", "registry.org.update", update_organisation_request, organisation_reply),
     .id_field = "id",
     .id_noun = "organisation",
     .fill = s_update,
     .view = cli_jview_times,
     .line = s_print_org},
    {.words = "registry dissolve",
     .help = "Usage: kumppani registry dissolve ID [--on YYYY-MM-DD]\n"
             "Marks an organisation dissolved (default today) and ends its people's roles.\n",
     CLI_CALL("registry", "registry.org.dissolve", dissolve_organisation_request,
              organisation_reply),
     .id_field = "id",
     .id_noun = "organisation",
     .set = (const cli_optfield_t[]){{"on", .field = "dissolved_on"}, {0}},
     .view = cli_jview_times,
     .line = s_print_org},
    {.words = "registry remove",
     .help = "Usage: kumppani registry remove ID\nDeletes a mistaken entry (use dissolve for an "
             "organisation that ended).\n",
     CLI_CALL("registry", "registry.org.remove", organisation_ref, organisation_reply),
     .id_field = "id",
     .id_noun = "organisation",
     .view = cli_jview_times,
     .line = s_print_org},
    {.words = "registry show",
     .help = "Usage: kumppani registry show ID\nShows one organisation.\n",
     CLI_CALL("registry", "registry.org.get", organisation_ref, organisation_reply),
     .id_field = "id",
     .id_noun = "organisation",
     .view = cli_jview_times,
     .line = s_print_org},
    {.words = "registry search",
     .opts = s_search_opts,
     .help = "Usage: kumppani registry search [WORDS] [--municipality CODE] [--field F]\n"
             "         [--network ID] [--status active|dissolved] [--limit N] [--cursor C]\n"
             "Finds organisations whose name has words starting with WORDS, in Finnish order.\n"
             "Without --limit, every page; with it, the next page's --cursor goes to stderr\n"
             "(\"more: --cursor C\", with --json too, so that a script can page).\n",
     .flags = CLI_POSITIONAL_ANY | CLI_PAGED,
     CLI_CALL("registry", "registry.org.search", search_request, search_reply),
     .set =
         (const cli_optfield_t[]){
             {.opt = "municipality"}, {.opt = "network"}, {.opt = "cursor"}, {0}},
     .fill = s_search,
     CLI_LINES("organisations", s_org_cols, s_org_row),
     .view = cli_jview_times,
     .page = s_search_page},
    {.words = "registry municipalities",
     .help = "Usage: kumppani registry municipalities [--region CODE]\nLists municipalities.\n",
     CLI_CALL("registry", "registry.municipality.list", list_municipalities_request,
              list_municipalities_reply),
     .set = (const cli_optfield_t[]){{"region", .field = "region_code"}, {0}},
     .view = cli_jview_times,
     CLI_LINES("municipalities", s_muni_cols, s_muni_row)},
    {.words = "registry person-add",
     .opts = s_key_opts,
     .help = "Usage: kumppani registry person-add --name NAME [--email E] [--phone P] [--key K]\n"
             "Adds a person (a contact person, representative or official).\n",
     .flags = CLI_IDEM_KEY,
     CLI_CALL("registry", "registry.person.add", add_person_request, person_reply),
     .set =
         (const cli_optfield_t[]){
             {"name", .required = true}, {.opt = "email"}, {.opt = "phone"}, {0}},
     .view = cli_jview_times,
     .line = s_print_person},
    {.words = "registry person",
     .help = "Usage: kumppani registry person ID\nShows a person and their roles.\n",
     CLI_CALL("registry", "registry.person.get", person_ref, person_reply),
     .id_field = "person_id",
     .view = cli_jview_times,
     .line = s_print_person},
    {.words = "registry erase",
     .help = "Usage: kumppani registry erase PERSON_ID\n"
             "Erases a person's data and ends their roles; other services hear PersonErased.\n",
     CLI_CALL("registry", "registry.person.erase", person_ref, person_erased),
     .id_field = "person_id",
     .view = cli_jview_times,
     .line = s_print_erased},
    {.words = "registry assign",
     .opts = s_assign_opts,
     .help =
         "Usage: kumppani registry assign --person ID [--kind contact-person|official|\n"
         "         representative|chair] (--municipality CODE | --organisation ID) [--title T]\n"
         "         [--from YYYY-MM-DD] [--until YYYY-MM-DD] [--key K]\n"
         "Gives a person a role (default: NGO contact person of a municipality, from today).\n",
     .flags = CLI_IDEM_KEY,
     CLI_CALL("registry", "registry.role.assign", assign_role_request, role_reply),
     .set =
         (const cli_optfield_t[]){
             {"person", .field = "person_id", .required = true, .min = 1, .max = UINT64_MAX},
             {"organisation", .field = "organisation_id", .min = 1, .max = UINT64_MAX},
             {"municipality", .field = "municipality_code"},
             {.opt = "title"},
             {"from", .field = "start_date"},
             {"until", .field = "end_date"},
             {0}},
     .fill = s_assign,
     .view = cli_jview_times,
     CLI_LINES("role", NULL, s_role_line)},
    {.words = "registry end-role",
     .help = "Usage: kumppani registry end-role ROLE_ID [--on YYYY-MM-DD]\nEnds a role (default "
             "today).\n",
     CLI_CALL("registry", "registry.role.end", end_role_request, role_reply),
     .id_field = "role_id",
     .set = (const cli_optfield_t[]){{"on", .field = "end_date"}, {0}},
     .view = cli_jview_times,
     CLI_LINES("role", NULL, s_role_line)},
    {.words = "registry roles",
     .opts = s_roles_opts,
     .help = "Usage: kumppani registry roles (--municipality CODE | --organisation ID) [--kind K] "
             "[--all]\nLists current roles (--all: ended ones too) with the people.\n",
     CLI_CALL("registry", "registry.role.list", list_roles_request, list_roles_reply),
     .set = (const cli_optfield_t[]){{"organisation", .field = "organisation_id", .min = 1,
                                      .max = UINT64_MAX},
                                     {"municipality", .field = "municipality_code"},
                                     {"all", .field = "include_ended"},
                                     {0}},
     .fill = s_roles,
     .view = cli_jview_times,
     .line = s_print_roles},
    {.words = "registry gaps",
     .help = "Usage: kumppani registry gaps [--region CODE] [--on YYYY-MM-DD]\n"
             "Municipalities with no current NGO contact person.\n",
     CLI_CALL("registry", "registry.coverage.gaps", coverage_gaps_request, coverage_gaps_reply),
     .set = (const cli_optfield_t[]){{"region", .field = "region_code"},
                                     {"on", .field = "on_date"},
                                     {0}},
     .view = cli_jview_times,
     .caption = s_print_gaps,
     CLI_LINES("municipalities", NULL, s_gap_row)},
    {.words = "registry idle",
     .help = "Usage: kumppani registry idle [--months N] [--region CODE]\n"
             "Contact persons with no contact-person meeting in the last N months (default 6),\n"
             "as learned from the events service.\n",
     CLI_CALL("registry", "registry.coverage.idle", coverage_idle_request, coverage_idle_reply),
     .set = (const cli_optfield_t[]){{"months", .min = 1, .max = 60, .def = "6"},
                                     {"region", .field = "region_code"},
                                     {0}},
     .view = cli_jview_times,
     .caption = s_print_idle,
     CLI_LINES("contact_persons", NULL, s_idle_row)},
    {.words = "registry import",
     .opts = s_import_opts,
     .help =
         "Usage: kumppani registry import FILE|- [--kind "
         "organisations|municipalities|contact-persons]\n"
         "         [--skip-invalid] [--dry-run]\n"
         "Imports CSV (',' or ';'). Every row is checked first; any bad row (reported with its\n"
         "line number) means nothing is written unless --skip-invalid. Importing the same file\n"
         "again changes nothing. Organisation columns: id, name_fi, name_sv, association_number,\n"
         "business_id, home_municipality, municipalities, fields, networks, email, phone, web,\n"
         "member_count, status (lists joined with '|'). Municipality columns: code, name_fi,\n"
         "name_sv, region_code, region_name. Contact-person columns: name, email, phone,\n"
         "municipality, title, start_date: a row finds the person by e-mail or phone (or adds\n"
         "them) and makes them contact person of the municipality unless they already are.\n",
     .flags = CLI_POSITIONAL_ANY,
     .run = s_import},
    {.words = "registry export",
     .opts = s_export_opts,
     .help =
         "Usage: kumppani registry export [--kind organisations|municipalities] [--municipality "
         "CODE]\n         [--field F] [--network ID] [--out FILE]\n"
         "Writes CSV; cells a spreadsheet would run as formulas get a leading '.\n",
     .flags = CLI_PAGED,
     CLI_CALL("registry", "registry.csv.export", export_request, export_reply),
     .set = (const cli_optfield_t[]){{.opt = "municipality"}, {.opt = "network"}, {0}},
     .fill = s_export,
     .page = s_export_page},
    {.words = "registry meeting-record",
     .opts = s_meeting_record_opts,
     .help = "Usage: kumppani registry meeting-record --person ID --date YYYY-MM-DD\n"
             "         [--municipality CODE] [--key K]\n"
             "Enters a contact-person meeting that was held (one before go-live, or one held\n"
             "without the events service), convened by the contact person ID; it counts for\n"
             "'registry idle'. The municipality defaults to the person's as contact person.\n",
     .flags = CLI_IDEM_KEY,
     CLI_CALL("registry", "registry.meeting.record", record_meeting_request, meeting_reply),
     .set = (const cli_optfield_t[]){{"person", .field = "person_id", .required = true, .min = 1,
                                      .max = UINT64_MAX},
                                     {"date", .field = "held_on"},
                                     {"municipality", .field = "municipality_code"},
                                     {0}},
     .fill = s_meeting_record,
     CLI_LINES("meeting", NULL, s_meeting_line)},
    {.words = "registry meetings",
     .help = "Usage: kumppani registry meetings PERSON_ID\n"
             "The meetings the person convened (named by the events service, or recorded),\n"
             "latest first.\n",
     CLI_CALL("registry", "registry.meeting.list", list_meetings_request, list_meetings_reply),
     .id_field = "person_id",
     .caption = s_print_meetings,
     CLI_LINES("meetings", NULL, s_meeting_line)},
    {0},
};
