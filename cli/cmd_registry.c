/*  cmd_registry.c: the `kumppani registry ...` commands (see cli_cmd.h).
 *
 *  Every command is one or a few calls of the registry's methods (registry.proto). Table
 *  output is a few columns per row; --json prints the reply messages as JSON, converted
 *  field by field from their protobuf descriptors (enum values by name), so the JSON always
 *  has every field the service sent. Creating commands (register, person-add, assign) send an
 *  idempotency key: --key K, or a random one that is printed when the service cannot be
 *  reached, so a retry with --key K cannot create a duplicate.
 *
 *  CSV import reads the file, drops CRs, and sends it in chunks of whole rows under 60 KiB:
 *  first every chunk as a dry run (so a bad row anywhere writes nothing, unless
 *  --skip-invalid), then for real. Export pages through the service and writes the CSV to
 *  stdout or --out FILE. */
#include "cli_cmd.h"
#include "kumppani/v1/registry.pb-c.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (60 * 1024)

/* ---- JSON from any message --------------------------------------------------------------- */

static json_t *s_msg_json(const ProtobufCMessage *m);

static json_t *
s_value_json(const ProtobufCFieldDescriptor *fd, const void *p)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_integer((json_int_t) * (const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_integer((json_int_t) * (const uint64_t *)p);
    case PROTOBUF_C_TYPE_STRING:
        return cli_json_str(*(char *const *)p);
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        return json_stringn((const char *)b->data, b->len);
    }
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value(fd->descriptor, *(const int *)p);
        return ev ? json_string(ev->name) : json_integer(*(const int *)p);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        return sub ? s_msg_json(sub) : json_null();
    }
    default:
        return json_null();
    }
}

static size_t
s_type_size(const ProtobufCFieldDescriptor *fd)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
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
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        const char *base = (const char *)m + fd->offset;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + fd->quantifier_offset);
            const char *arr = *(char *const *)base;
            json_t *a = json_array();
            for (size_t k = 0; k < n; k++)
                json_array_append_new(a, s_value_json(fd, arr + k * s_type_size(fd)));
            json_object_set_new(o, fd->name, a);
        } else {
            json_object_set_new(o, fd->name, s_value_json(fd, base));
        }
    }
    return o;
}

/* ---- helpers ----------------------------------------------------------------------------- */

static void
s_key(cli_ctx_t *c, char *out, size_t cap)
{
    const char *k = cli_arg(c->a, "key");
    if (k) {
        snprintf(out, cap, "%s", k);
        return;
    }
    uint8_t r[12];
    randombytes_buf(r, sizeof r);
    size_t w = (size_t)snprintf(out, cap, "cli-");
    for (size_t i = 0; i < sizeof r && w + 3 < cap; i++)
        w += (size_t)snprintf(out + w, cap - w, "%02x", r[i]);
}

/* Calls and prints: JSON of the reply, or print(reply) for a table. */
static int
s_do(cli_ctx_t *c, const char *method, const char *idem, const ProtobufCMessage *req,
     const ProtobufCMessageDescriptor *out_d, void (*print)(const ProtobufCMessage *))
{
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, "registry", method, idem, req, out_d, &out);
    if (ex == EXIT_UNREACHABLE && idem)
        cli_err("retry with --key %s to avoid a duplicate", idem);
    if (ex)
        return ex;
    if (c->json)
        ex = cli_json_print(s_msg_json(out));
    else
        print(out);
    protobuf_c_message_free_unpacked(out, NULL);
    return ex;
}

static const char *
s_status(int st)
{
    return st == KUMPPANI__V1__ORG_STATUS__ORG_STATUS_ACTIVE      ? "active"
           : st == KUMPPANI__V1__ORG_STATUS__ORG_STATUS_DISSOLVED ? "dissolved"
           : st == KUMPPANI__V1__ORG_STATUS__ORG_STATUS_REMOVED   ? "removed"
                                                                  : "-";
}

static const char *const s_field_names[] = {NULL,
                                            "mental-health",
                                            "substance-use",
                                            "disability",
                                            "older-people",
                                            "children-families",
                                            "youth",
                                            "patients",
                                            "multicultural",
                                            "sport-culture",
                                            "village",
                                            "social-welfare",
                                            "employment",
                                            "housing",
                                            "veterans",
                                            "other"};

static int
s_field_parse(const char *s)
{
    for (int i = 1; i < (int)(sizeof s_field_names / sizeof s_field_names[0]); i++)
        if (strcmp(s, s_field_names[i]) == 0)
            return i;
    return 0;
}

static void
s_org_row(const Kumppani__V1__Organisation *o)
{
    printf("%-6llu %-9s %-4s %s\n", (unsigned long long)o->id, s_status(o->status),
           o->fields ? o->fields->home_municipality : "", o->fields ? o->fields->name_fi : "");
}

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
    for (size_t i = 0; i < f->n_fields; i++)
        printf(" %s", f->fields[i] > 0 && f->fields[i] < 16 ? s_field_names[f->fields[i]] : "?");
    printf("\nnetworks     ");
    for (size_t i = 0; i < f->n_networks; i++)
        printf(" %s", f->networks[i]);
    printf("\ne-mail        %s\nphone         %s\nweb           %s\nmembers       %u\n", f->email,
           f->phone, f->web, f->member_count);
}

/* Allocations of the option parsing, freed when the command ends (s_kept_free). */
static void *s_kept[16];
static size_t s_kept_n;

static void *
s_keep(void *p)
{
    if (s_kept_n < sizeof s_kept / sizeof s_kept[0])
        s_kept[s_kept_n++] = p;
    return p;
}

static void
s_kept_free(void)
{
    while (s_kept_n)
        free(s_kept[--s_kept_n]);
}

/* Splits a comma list into an array (kept; strings borrowed from a kept copy). */
static char **
s_list(const char *v, size_t *n, char **copy)
{
    *n = 0;
    *copy = NULL;
    if (!v || !*v)
        return NULL;
    *copy = s_keep(strdup(v));
    size_t cap = 1;
    for (const char *p = v; *p; p++)
        cap += *p == ',';
    char **out = s_keep(calloc(cap, sizeof *out));
    for (char *s = *copy, *e; s; s = e) {
        e = strchr(s, ',');
        if (e)
            *e++ = 0;
        if (*s)
            out[(*n)++] = s;
    }
    return out;
}

/* Fills f from the options (replacing what they name; the arrays are kept, see s_keep, and
 * f's earlier ones are left alone). Returns 0 or -1 (reported). */
static int
s_fields_opts(cli_ctx_t *c, Kumppani__V1__OrganisationFields *f)
{
    char *copy;
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
        f->municipalities = s_list(v, &f->n_municipalities, &copy);
    if ((v = cli_arg(c->a, "networks")))
        f->networks = s_list(v, &f->n_networks, &copy);
    if ((v = cli_arg(c->a, "fields"))) {
        size_t n;
        char **names = s_list(v, &n, &copy);
        f->fields = s_keep(calloc(n + 1, sizeof *f->fields));
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
s_register(cli_ctx_t *c)
{
    Kumppani__V1__OrganisationFields f = KUMPPANI__V1__ORGANISATION_FIELDS__INIT;
    Kumppani__V1__RegisterOrganisationRequest rq =
        KUMPPANI__V1__REGISTER_ORGANISATION_REQUEST__INIT;
    if (cli_no_pos(c) || s_fields_opts(c, &f)) {
        s_kept_free();
        return EXIT_USAGE;
    }
    rq.fields = &f;
    char key[64];
    s_key(c, key, sizeof key);
    int ex = s_do(c, "registry.org.register", key, &rq.base,
                  &kumppani__v1__organisation_reply__descriptor, s_print_org);
    s_kept_free();
    return ex;
}

static int
s_update(cli_ctx_t *c)
{
    uint64_t id;
    if (cli_pos_id(c, &id))
        return EXIT_USAGE;
    /* Read, change what the options name, write back with optimistic concurrency. */
    Kumppani__V1__OrganisationRef ref = KUMPPANI__V1__ORGANISATION_REF__INIT;
    ref.id = id;
    ProtobufCMessage *out = NULL;
    int ex = cli_call(c, "registry", "registry.org.get", NULL, &ref.base,
                      &kumppani__v1__organisation_reply__descriptor, &out);
    if (ex)
        return ex;
    Kumppani__V1__Organisation *o = ((Kumppani__V1__OrganisationReply *)out)->organisation;
    if (!o || !o->fields) {
        protobuf_c_message_free_unpacked(out, NULL);
        return EXIT_OTHER;
    }
    /* A shallow copy: the options replace its members, the reply keeps its own. */
    Kumppani__V1__OrganisationFields f = *o->fields;
    if (s_fields_opts(c, &f)) {
        s_kept_free();
        protobuf_c_message_free_unpacked(out, NULL);
        return EXIT_USAGE;
    }
    Kumppani__V1__UpdateOrganisationRequest rq = KUMPPANI__V1__UPDATE_ORGANISATION_REQUEST__INIT;
    rq.id = id;
    rq.fields = &f;
    rq.expected_updated_ms = o->updated_ms;
    ex = s_do(c, "registry.org.update", NULL, &rq.base,
              &kumppani__v1__organisation_reply__descriptor, s_print_org);
    s_kept_free();
    protobuf_c_message_free_unpacked(out, NULL);
    return ex;
}

static int
s_dissolve(cli_ctx_t *c)
{
    Kumppani__V1__DissolveOrganisationRequest rq =
        KUMPPANI__V1__DISSOLVE_ORGANISATION_REQUEST__INIT;
    if (cli_pos_id(c, &rq.id))
        return EXIT_USAGE;
    if (cli_arg(c->a, "on"))
        rq.dissolved_on = (char *)cli_arg(c->a, "on");
    return s_do(c, "registry.org.dissolve", NULL, &rq.base,
                &kumppani__v1__organisation_reply__descriptor, s_print_org);
}

static int
s_remove(cli_ctx_t *c)
{
    Kumppani__V1__OrganisationRef rq = KUMPPANI__V1__ORGANISATION_REF__INIT;
    if (cli_pos_id(c, &rq.id))
        return EXIT_USAGE;
    return s_do(c, "registry.org.remove", NULL, &rq.base,
                &kumppani__v1__organisation_reply__descriptor, s_print_org);
}

static int
s_show(cli_ctx_t *c)
{
    Kumppani__V1__OrganisationRef rq = KUMPPANI__V1__ORGANISATION_REF__INIT;
    if (cli_pos_id(c, &rq.id))
        return EXIT_USAGE;
    return s_do(c, "registry.org.get", NULL, &rq.base,
                &kumppani__v1__organisation_reply__descriptor, s_print_org);
}

static int
s_search(cli_ctx_t *c)
{
    Kumppani__V1__SearchRequest rq = KUMPPANI__V1__SEARCH_REQUEST__INIT;
    uint64_t limit = 0;
    const char *v;
    if (cli_num(c, "limit", false, 1, 100000, &limit))
        return EXIT_USAGE;
    if (c->a->pos_n > 0)
        rq.query = (char *)c->a->pos[0];
    if (c->a->pos_n > 1) {
        cli_err("search takes one query (quote several words)");
        return EXIT_USAGE;
    }
    if ((v = cli_arg(c->a, "municipality")))
        rq.municipality = (char *)v;
    if ((v = cli_arg(c->a, "network")))
        rq.network = (char *)v;
    if ((v = cli_arg(c->a, "field")) && !(rq.field = s_field_parse(v))) {
        cli_err("--field: not a field of activity (see registry register --help)");
        return EXIT_USAGE;
    }
    if ((v = cli_arg(c->a, "status"))) {
        if (strcmp(v, "active") == 0)
            rq.status = KUMPPANI__V1__ORG_STATUS__ORG_STATUS_ACTIVE;
        else if (strcmp(v, "dissolved") == 0)
            rq.status = KUMPPANI__V1__ORG_STATUS__ORG_STATUS_DISSOLVED;
        else {
            cli_err("--status: active or dissolved");
            return EXIT_USAGE;
        }
    }
    if ((v = cli_arg(c->a, "cursor")))
        rq.cursor = (char *)v;
    uint64_t left = limit ? limit : UINT64_MAX;
    json_t *arr = c->json ? json_array() : NULL;
    int ex = EXIT_OK_;
    char *cursor = NULL;
    if (!c->json)
        printf("%-6s %-9s %-4s %s\n", "ID", "STATUS", "HOME", "NAME");
    while (left > 0) {
        rq.limit = left < 200 ? (uint32_t)left : 200;
        ProtobufCMessage *out = NULL;
        ex = cli_call(c, "registry", "registry.org.search", NULL, &rq.base,
                      &kumppani__v1__search_reply__descriptor, &out);
        if (ex)
            break;
        Kumppani__V1__SearchReply *r = (Kumppani__V1__SearchReply *)out;
        for (size_t i = 0; i < r->n_organisations && left > 0; i++, left--) {
            if (arr)
                json_array_append_new(arr, s_msg_json(&r->organisations[i]->base));
            else
                s_org_row(r->organisations[i]);
        }
        free(cursor);
        cursor = strdup(r->next_cursor);
        protobuf_c_message_free_unpacked(out, NULL);
        if (!cursor[0])
            break;
        rq.cursor = cursor;
    }
    if (limit && cursor && cursor[0] && !c->json)
        fprintf(stderr, "more: --cursor %s\n", cursor);
    free(cursor);
    if (arr)
        ex = ex ? (json_decref(arr), ex) : cli_json_print(arr);
    return ex;
}

/* ---- municipalities, people, roles, coverage --------------------------------------------- */

static void
s_print_munis(const ProtobufCMessage *m)
{
    const Kumppani__V1__ListMunicipalitiesReply *r = (const void *)m;
    printf("%-5s %-20s %-20s %s\n", "CODE", "NAME", "NAME (SV)", "REGION");
    for (size_t i = 0; i < r->n_municipalities; i++)
        printf("%-5s %-20s %-20s %s\n", r->municipalities[i]->code, r->municipalities[i]->name_fi,
               r->municipalities[i]->name_sv, r->municipalities[i]->region_name);
}

static int
s_munis(cli_ctx_t *c)
{
    Kumppani__V1__ListMunicipalitiesRequest rq = KUMPPANI__V1__LIST_MUNICIPALITIES_REQUEST__INIT;
    if (cli_no_pos(c))
        return EXIT_USAGE;
    if (cli_arg(c->a, "region"))
        rq.region_code = (char *)cli_arg(c->a, "region");
    return s_do(c, "registry.municipality.list", NULL, &rq.base,
                &kumppani__v1__list_municipalities_reply__descriptor, s_print_munis);
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
        printf("role %llu kind %d %s%s %s..%s\n", (unsigned long long)x->id, x->kind,
               x->municipality_code, x->organisation_id ? " organisation" : "", x->start_date,
               x->end_date);
    }
}

static int
s_person_add(cli_ctx_t *c)
{
    Kumppani__V1__AddPersonRequest rq = KUMPPANI__V1__ADD_PERSON_REQUEST__INIT;
    if (cli_no_pos(c))
        return EXIT_USAGE;
    if (!cli_arg(c->a, "name")) {
        cli_err("--name is required");
        return EXIT_USAGE;
    }
    rq.name = (char *)cli_arg(c->a, "name");
    if (cli_arg(c->a, "email"))
        rq.email = (char *)cli_arg(c->a, "email");
    if (cli_arg(c->a, "phone"))
        rq.phone = (char *)cli_arg(c->a, "phone");
    char key[64];
    s_key(c, key, sizeof key);
    return s_do(c, "registry.person.add", key, &rq.base, &kumppani__v1__person_reply__descriptor,
                s_print_person);
}

static int
s_person(cli_ctx_t *c)
{
    Kumppani__V1__PersonRef rq = KUMPPANI__V1__PERSON_REF__INIT;
    if (cli_pos_id(c, &rq.person_id))
        return EXIT_USAGE;
    return s_do(c, "registry.person.get", NULL, &rq.base, &kumppani__v1__person_reply__descriptor,
                s_print_person);
}

static void
s_print_erased(const ProtobufCMessage *m)
{
    const Kumppani__V1__PersonErased *r = (const void *)m;
    printf("person %llu erased; %zu role(s) ended\n", (unsigned long long)r->person_id,
           r->n_ended_role_ids);
}

static int
s_erase(cli_ctx_t *c)
{
    Kumppani__V1__PersonRef rq = KUMPPANI__V1__PERSON_REF__INIT;
    if (cli_pos_id(c, &rq.person_id))
        return EXIT_USAGE;
    return s_do(c, "registry.person.erase", NULL, &rq.base,
                &kumppani__v1__person_erased__descriptor, s_print_erased);
}

static int
s_kind_parse(const char *v)
{
    if (!v || strcmp(v, "contact-person") == 0)
        return KUMPPANI__V1__ROLE_KIND__ROLE_KIND_CONTACT_PERSON;
    if (strcmp(v, "representative") == 0)
        return KUMPPANI__V1__ROLE_KIND__ROLE_KIND_REPRESENTATIVE;
    if (strcmp(v, "official") == 0)
        return KUMPPANI__V1__ROLE_KIND__ROLE_KIND_OFFICIAL;
    if (strcmp(v, "chair") == 0)
        return KUMPPANI__V1__ROLE_KIND__ROLE_KIND_CHAIR;
    return 0;
}

static void
s_print_role(const ProtobufCMessage *m)
{
    const Kumppani__V1__Role *x = ((const Kumppani__V1__RoleReply *)m)->role;
    if (x)
        printf("role %llu: person %llu, kind %d, %s%s, %s..%s\n", (unsigned long long)x->id,
               (unsigned long long)x->person_id, x->kind, x->municipality_code,
               x->organisation_id ? "organisation" : "", x->start_date, x->end_date);
}

static int
s_assign(cli_ctx_t *c)
{
    Kumppani__V1__AssignRoleRequest rq = KUMPPANI__V1__ASSIGN_ROLE_REQUEST__INIT;
    if (cli_no_pos(c) || cli_num(c, "person", true, 1, UINT64_MAX, &rq.person_id) ||
        cli_num(c, "organisation", false, 1, UINT64_MAX, &rq.organisation_id))
        return EXIT_USAGE;
    if (!(rq.kind = s_kind_parse(cli_arg(c->a, "kind")))) {
        cli_err("--kind: contact-person, official, representative or chair");
        return EXIT_USAGE;
    }
    const char *v;
    if ((v = cli_arg(c->a, "municipality")))
        rq.municipality_code = (char *)v;
    if ((v = cli_arg(c->a, "title")))
        rq.title = (char *)v;
    if ((v = cli_arg(c->a, "from")))
        rq.start_date = (char *)v;
    if ((v = cli_arg(c->a, "until")))
        rq.end_date = (char *)v;
    char key[64];
    s_key(c, key, sizeof key);
    return s_do(c, "registry.role.assign", key, &rq.base, &kumppani__v1__role_reply__descriptor,
                s_print_role);
}

static int
s_end_role(cli_ctx_t *c)
{
    Kumppani__V1__EndRoleRequest rq = KUMPPANI__V1__END_ROLE_REQUEST__INIT;
    if (cli_pos_id(c, &rq.role_id))
        return EXIT_USAGE;
    if (cli_arg(c->a, "on"))
        rq.end_date = (char *)cli_arg(c->a, "on");
    return s_do(c, "registry.role.end", NULL, &rq.base, &kumppani__v1__role_reply__descriptor,
                s_print_role);
}

static void
s_print_roles(const ProtobufCMessage *m)
{
    const Kumppani__V1__ListRolesReply *r = (const void *)m;
    printf("%-6s %-7s %-5s %-12s %-10s %-10s %s\n", "ROLE", "PERSON", "KIND", "WHERE", "FROM",
           "UNTIL", "NAME");
    for (size_t i = 0; i < r->n_roles; i++) {
        const Kumppani__V1__Role *x = r->roles[i];
        const char *name = "";
        for (size_t j = 0; j < r->n_people; j++)
            if (r->people[j]->id == x->person_id)
                name = r->people[j]->name;
        char where[32];
        if (x->organisation_id)
            snprintf(where, sizeof where, "org %llu", (unsigned long long)x->organisation_id);
        else
            snprintf(where, sizeof where, "%s", x->municipality_code);
        printf("%-6llu %-7llu %-5d %-12s %-10s %-10s %s\n", (unsigned long long)x->id,
               (unsigned long long)x->person_id, x->kind, where, x->start_date, x->end_date, name);
    }
}

static int
s_roles(cli_ctx_t *c)
{
    Kumppani__V1__ListRolesRequest rq = KUMPPANI__V1__LIST_ROLES_REQUEST__INIT;
    if (cli_no_pos(c) || cli_num(c, "organisation", false, 1, UINT64_MAX, &rq.organisation_id))
        return EXIT_USAGE;
    if (cli_arg(c->a, "municipality"))
        rq.municipality_code = (char *)cli_arg(c->a, "municipality");
    if (cli_arg(c->a, "kind") && !(rq.kind = s_kind_parse(cli_arg(c->a, "kind")))) {
        cli_err("--kind: contact-person, official, representative or chair");
        return EXIT_USAGE;
    }
    rq.include_ended = cli_flag(c->a, "all");
    return s_do(c, "registry.role.list", NULL, &rq.base,
                &kumppani__v1__list_roles_reply__descriptor, s_print_roles);
}

static void
s_print_gaps(const ProtobufCMessage *m)
{
    const Kumppani__V1__CoverageGapsReply *r = (const void *)m;
    printf("%zu municipalities without a current NGO contact person\n", r->n_municipalities);
    for (size_t i = 0; i < r->n_municipalities; i++)
        printf("%-5s %s\n", r->municipalities[i]->code, r->municipalities[i]->name_fi);
}

static int
s_gaps(cli_ctx_t *c)
{
    Kumppani__V1__CoverageGapsRequest rq = KUMPPANI__V1__COVERAGE_GAPS_REQUEST__INIT;
    if (cli_no_pos(c))
        return EXIT_USAGE;
    if (cli_arg(c->a, "region"))
        rq.region_code = (char *)cli_arg(c->a, "region");
    if (cli_arg(c->a, "on"))
        rq.on_date = (char *)cli_arg(c->a, "on");
    return s_do(c, "registry.coverage.gaps", NULL, &rq.base,
                &kumppani__v1__coverage_gaps_reply__descriptor, s_print_gaps);
}

static void
s_print_idle(const ProtobufCMessage *m)
{
    const Kumppani__V1__CoverageIdleReply *r = (const void *)m;
    printf("%zu contact person(s) without a contact-person meeting (events log read to seq "
           "%llu)\n",
           r->n_contact_persons, (unsigned long long)r->events_applied_seq);
    for (size_t i = 0; i < r->n_contact_persons; i++) {
        const Kumppani__V1__IdleContactPerson *x = r->contact_persons[i];
        char last[CLI_TIME_MAX] = "never";
        if (x->last_meeting_unix)
            cli_time_iso(x->last_meeting_unix, last, sizeof last);
        printf("%-5s person %-6llu %-30s last meeting %s\n", x->role->municipality_code,
               (unsigned long long)x->role->person_id, x->person ? x->person->name : "", last);
    }
}

static int
s_idle(cli_ctx_t *c)
{
    Kumppani__V1__CoverageIdleRequest rq = KUMPPANI__V1__COVERAGE_IDLE_REQUEST__INIT;
    uint64_t months = 6;
    if (cli_no_pos(c) || cli_num(c, "months", false, 1, 60, &months))
        return EXIT_USAGE;
    rq.months = (uint32_t)months;
    if (cli_arg(c->a, "region"))
        rq.region_code = (char *)cli_arg(c->a, "region");
    return s_do(c, "registry.coverage.idle", NULL, &rq.base,
                &kumppani__v1__coverage_idle_reply__descriptor, s_print_idle);
}

/* ---- CSV --------------------------------------------------------------------------------- */

static int
s_kind_csv(cli_ctx_t *c)
{
    const char *v = cli_arg(c->a, "kind");
    if (!v || strcmp(v, "organisations") == 0)
        return KUMPPANI__V1__CSV_KIND__CSV_KIND_ORGANISATIONS;
    if (strcmp(v, "municipalities") == 0)
        return KUMPPANI__V1__CSV_KIND__CSV_KIND_MUNICIPALITIES;
    cli_err("--kind: organisations or municipalities");
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
                json_array_append_new(errs, s_msg_json(&r->errors[i]->base));
            else
                fprintf(stderr, "line %u: %s\n", r->errors[i]->line, r->errors[i]->reason);
        }
        sum->n_errors += r->n_errors;
        protobuf_c_message_free_unpacked(out, NULL);
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
        cli_err("cannot open the file");
        return EXIT_OTHER;
    }
    size_t cap = 1 << 20, len = 0;
    char *text = malloc(cap);
    for (int ch; (ch = fgetc(f)) != EOF;) {
        if (ch == '\r')
            continue; /* CRLF -> LF */
        if (len + 2 > cap)
            text = realloc(text, cap *= 2);
        text[len++] = (char)ch;
    }
    text[len] = 0;
    if (f != stdin)
        fclose(f);
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
            printf("%u rows: %u created, %u updated, %u unchanged, %zu invalid%s\n", check.rows,
                   show->created, show->updated, show->unchanged, check.n_errors,
                   write ? ""
                   : dry ? " (dry run: nothing written)"
                         : " (nothing written; fix them or use --skip-invalid)");
        }
        if (check.n_errors && !skip && !dry)
            ex = EXIT_SERVICE;
    }
    json_decref(errs);
    free(text);
    return ex;
}

static int
s_export(cli_ctx_t *c)
{
    int kind = s_kind_csv(c);
    if (!kind || cli_no_pos(c))
        return EXIT_USAGE;
    Kumppani__V1__ExportRequest rq = KUMPPANI__V1__EXPORT_REQUEST__INIT;
    rq.kind = kind;
    const char *v;
    if ((v = cli_arg(c->a, "municipality")))
        rq.municipality = (char *)v;
    if ((v = cli_arg(c->a, "network")))
        rq.network = (char *)v;
    if ((v = cli_arg(c->a, "field")) && !(rq.field = s_field_parse(v))) {
        cli_err("--field: not a field of activity");
        return EXIT_USAGE;
    }
    FILE *out = stdout;
    if ((v = cli_arg(c->a, "out")) && !(out = fopen(v, "wb"))) {
        cli_err("cannot write the --out file");
        return EXIT_OTHER;
    }
    int ex;
    do {
        ProtobufCMessage *m = NULL;
        ex = cli_call(c, "registry", "registry.csv.export", NULL, &rq.base,
                      &kumppani__v1__export_reply__descriptor, &m);
        if (ex)
            break;
        Kumppani__V1__ExportReply *r = (Kumppani__V1__ExportReply *)m;
        fwrite(r->csv.data, 1, r->csv.len, out);
        rq.after_id = r->next_after_id;
        protobuf_c_message_free_unpacked(m, NULL);
    } while (rq.after_id);
    if (out != stdout)
        fclose(out);
    return ex;
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
static const cli_optspec_t s_none[] = {{NULL, false}};
static const cli_optspec_t s_on_opts[] = {{"on", true}, {NULL, false}};
static const cli_optspec_t s_search_opts[] = {
    {"municipality", true}, {"field", true},  {"network", true}, {"status", true},
    {"limit", true},        {"cursor", true}, {NULL, false}};
static const cli_optspec_t s_region_opts[] = {{"region", true}, {"on", true}, {NULL, false}};
static const cli_optspec_t s_person_opts[] = {
    {"name", true}, {"email", true}, {"phone", true}, {"key", true}, {NULL, false}};
static const cli_optspec_t s_assign_opts[] = {
    {"person", true},       {"kind", true},  {"municipality", true},
    {"organisation", true}, {"title", true}, {"from", true},
    {"until", true},        {"key", true},   {NULL, false}};
static const cli_optspec_t s_roles_opts[] = {
    {"municipality", true}, {"organisation", true}, {"kind", true}, {"all", false}, {NULL, false}};
static const cli_optspec_t s_idle_opts[] = {{"months", true}, {"region", true}, {NULL, false}};
static const cli_optspec_t s_import_opts[] = {
    {"kind", true}, {"skip-invalid", false}, {"dry-run", false}, {NULL, false}};
static const cli_optspec_t s_export_opts[] = {{"kind", true},  {"municipality", true},
                                              {"field", true}, {"network", true},
                                              {"out", true},   {NULL, false}};

#define FIELDS_HELP                                                                                \
    "Fields of activity: mental-health, substance-use, disability, older-people,\n"                \
    "children-families, youth, patients, multicultural, sport-culture, village, social-welfare,\n" \
    "employment, housing, veterans, other. Lists (--acts-in, --fields, --networks) are\n"          \
    "comma-separated; municipalities by official code (743 = Seinäjoki).\n"

const cli_cmd_t cli_cmds_registry[] = {
    {"registry register", s_reg_opts,
     "Usage: kumppani registry register --name NAME --home CODE --fields F[,F...]\n"
     "         [--name-sv NAME] [--business-id NNNNNNN-C] [--association NO] [--acts-in CODES]\n"
     "         [--networks IDS] [--email E] [--phone P] [--web URL] [--members N] [--key K]\n"
     "Registers an organisation. The same --key again returns the first answer.\n" FIELDS_HELP,
     s_register},
    {"registry update", s_upd_opts,
     "Usage: kumppani registry update ID [the options of register]\n"
     "Changes the named fields of an organisation (lists are replaced as a whole).\n",
     s_update},
    {"registry dissolve", s_on_opts,
     "Usage: kumppani registry dissolve ID [--on YYYY-MM-DD]\n"
     "Marks an organisation dissolved (default today) and ends its people's roles.\n",
     s_dissolve},
    {"registry remove", s_none,
     "Usage: kumppani registry remove ID\nDeletes a mistaken entry (use dissolve for an "
     "organisation that ended).\n",
     s_remove},
    {"registry show", s_none, "Usage: kumppani registry show ID\nShows one organisation.\n",
     s_show},
    {"registry search", s_search_opts,
     "Usage: kumppani registry search [WORDS] [--municipality CODE] [--field F]\n"
     "         [--network ID] [--status active|dissolved] [--limit N] [--cursor C]\n"
     "Finds organisations whose name has words starting with WORDS, in Finnish order.\n"
     "Without --limit, every page; with it, the next page's --cursor goes to stderr.\n",
     s_search},
    {"registry municipalities", s_region_opts,
     "Usage: kumppani registry municipalities [--region CODE]\nLists municipalities.\n", s_munis},
    {"registry person-add", s_person_opts,
     "Usage: kumppani registry person-add --name NAME [--email E] [--phone P] [--key K]\n"
     "Adds a person (a contact person, representative or official).\n",
     s_person_add},
    {"registry person", s_none,
     "Usage: kumppani registry person ID\nShows a person and their roles.\n", s_person},
    {"registry erase", s_none,
     "Usage: kumppani registry erase PERSON_ID\n"
     "Erases a person's data and ends their roles; other services hear PersonErased.\n",
     s_erase},
    {"registry assign", s_assign_opts,
     "Usage: kumppani registry assign --person ID [--kind contact-person|official|\n"
     "         representative|chair] (--municipality CODE | --organisation ID) [--title T]\n"
     "         [--from YYYY-MM-DD] [--until YYYY-MM-DD] [--key K]\n"
     "Gives a person a role (default: NGO contact person of a municipality, from today).\n",
     s_assign},
    {"registry end-role", s_on_opts,
     "Usage: kumppani registry end-role ROLE_ID [--on YYYY-MM-DD]\nEnds a role (default "
     "today).\n",
     s_end_role},
    {"registry roles", s_roles_opts,
     "Usage: kumppani registry roles (--municipality CODE | --organisation ID) [--kind K] "
     "[--all]\nLists current roles (--all: ended ones too) with the people.\n",
     s_roles},
    {"registry gaps", s_region_opts,
     "Usage: kumppani registry gaps [--region CODE] [--on YYYY-MM-DD]\n"
     "Municipalities with no current NGO contact person.\n",
     s_gaps},
    {"registry idle", s_idle_opts,
     "Usage: kumppani registry idle [--months N] [--region CODE]\n"
     "Contact persons with no contact-person meeting in the last N months (default 6),\n"
     "as learned from the events service.\n",
     s_idle},
    {"registry import", s_import_opts,
     "Usage: kumppani registry import FILE|- [--kind organisations|municipalities]\n"
     "         [--skip-invalid] [--dry-run]\n"
     "Imports CSV (',' or ';'). Every row is checked first; any bad row (reported with its\n"
     "line number) means nothing is written unless --skip-invalid. Importing the same file\n"
     "again changes nothing. Organisation columns: id, name_fi, name_sv, association_number,\n"
     "business_id, home_municipality, municipalities, fields, networks, email, phone, web,\n"
     "member_count, status (lists joined with '|'). Municipality columns: code, name_fi,\n"
     "name_sv, region_code, region_name.\n",
     s_import},
    {"registry export", s_export_opts,
     "Usage: kumppani registry export [--kind organisations|municipalities] [--municipality "
     "CODE]\n         [--field F] [--network ID] [--out FILE]\n"
     "Writes CSV; cells a spreadsheet would run as formulas get a leading '.\n",
     s_export},
    {NULL, NULL, NULL, NULL},
};
