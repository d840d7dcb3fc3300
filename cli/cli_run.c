/*  cli_run.c: the one runner of the kumppani client's rows (cli_cmd.h), and what every command
 *  shares: connecting, calling, option helpers and JSON output.
 *
 *  Design. A row is data; cli_run_row executes it in one fixed order, so that every command
 *  checks, connects, calls, prints and frees the same way:
 *
 *      positional arguments -> fill -> idempotency key -> connect -> call -> decode -> print
 *
 *  A call never hangs: libkumppani gives up after --attempts attempts of --timeout ms each,
 *  and resends carry the same request id and idempotency key, so its retries are safe. A row
 *  with CLI_IDEM_KEY sends --idempotency-key (or --key) K, or a random key that is printed when
 *  the service could not be reached, so that the user can retry without a duplicate.
 *
 *  Invariants. Everything a command allocates lives in c->arena (requests' lists, decoded
 *  replies) and is freed here when the command ends; the connection too. Errors are one line
 *  on stderr naming the problem; the exit code says which kind (cli_cmd.h). */
#include "cli_cmd.h"
#include "kp_pbjson.h"
#include "kp_time.h"
#include "kp_zsock.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The arena of one command: the CLI reads replies of at most KP_WIRE_HARD_MAX bytes, but an
 * export may page through many, so the cap is only a guard. */
#define CLI_ARENA_CAP ((size_t)1 << 36)

/* ---- output ------------------------------------------------------------------------------ */

void
cli_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kumppani: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void
cli_header(const cli_col_t *cols)
{
    for (const cli_col_t *k = cols; k->title; k++)
        printf("%s%-*s", k == cols ? "" : " ", k->width, k->title);
    putchar('\n');
}

int
cli_json_print(json_t *root)
{
    int rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(root);
    return rc == 0 ? EXIT_OK_ : EXIT_OTHER;
}

json_t *
cli_json_time(int64_t t)
{
    char buf[CLI_TIME_MAX];
    if (t == 0)
        return json_null();
    kp_time_iso(t, buf, sizeof buf);
    return json_string(buf);
}

/* protobuf-c gives "" (never NULL) for an unset string; NULL is a message built by hand. */
json_t *
cli_json_str(const char *s)
{
    return json_string(s ? s : "");
}

/* A message inside another, through the view of its field (kp_pbjson_sub_fn). */
static json_t *
s_sub_json(const ProtobufCMessage *m, const void *sub_view)
{
    return cli_json_view(m, sub_view);
}

/* One value of field fd at p, shown as view entry v says (NULL: plain). */
static json_t *
s_value_json(const ProtobufCFieldDescriptor *fd, const void *p, const cli_jview_t *v)
{
    char buf[CLI_TIME_MAX + CLI_NAME_MAX];
    switch (v ? v->how & CLI_J_HOW : CLI_J_PLAIN) {
    case CLI_J_TIME_S:
        assert(kp_pbjson_elem_size(fd) == 8);
        return cli_json_time(*(const int64_t *)p);
    case CLI_J_TIME_MS:
        assert(kp_pbjson_elem_size(fd) == 8);
        return cli_json_time(*(const int64_t *)p / 1000);
    case CLI_J_ISO_MS:
        assert(kp_pbjson_elem_size(fd) == 8);
        kp_time_iso(*(const int64_t *)p / 1000, buf, sizeof buf);
        return json_string(buf);
    case CLI_J_NAME:
        assert(fd->type == PROTOBUF_C_TYPE_ENUM);
        if (*(const int *)p == 0 && (v->how & CLI_J_ZERO_EMPTY))
            return json_string("");
        return json_string(cli_enum_name(fd->descriptor, v->prefix, *(const int *)p, buf));
    case CLI_J_SHORT:
        assert(fd->type == PROTOBUF_C_TYPE_ENUM);
        return json_string(cli_enum_short(fd->descriptor, v->prefix, *(const int *)p));
    case CLI_J_LEN:
        assert(fd->type == PROTOBUF_C_TYPE_BYTES);
        return json_integer((json_int_t)((const ProtobufCBinaryData *)p)->len);
    default:
        break;
    }
    return kp_pbjson_value(fd, p, s_sub_json, v ? v->sub : NULL);
}

/* True for 0, "", no bytes and an unset message. */
static bool
s_is_zero(const ProtobufCFieldDescriptor *fd, const void *p)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(void *const *)p == NULL;
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    default:
        for (size_t i = 0; i < kp_pbjson_elem_size(fd); i++)
            if (((const unsigned char *)p)[i])
                return false;
        return true;
    }
}

/* Field fd of m (an array for a repeated field), or NULL when v leaves it out. */
static json_t *
s_field_json(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd, const cli_jview_t *v)
{
    const char *p = (const char *)m + fd->offset;
    if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(const size_t *)((const char *)m + fd->quantifier_offset);
        const char *arr = *(char *const *)p;
        json_t *a = json_array();
        for (size_t k = 0; k < n; k++)
            json_array_append_new(a, s_value_json(fd, arr + k * kp_pbjson_elem_size(fd), v));
        return a;
    }
    if (v && (v->how & CLI_J_OMIT_ZERO) && s_is_zero(fd, p))
        return NULL;
    return s_value_json(fd, p, v);
}

const cli_jview_t cli_jview_times[] = {{.key = "*"}, {0}};

static bool
s_ends_with(const char *s, const char *end)
{
    size_t n = strlen(s), e = strlen(end);
    return n >= e && strcmp(s + n - e, end) == 0;
}

/* The entry of cli_jview_times for field fd: a time by its name, or the same view below. */
static cli_jview_t
s_times_entry(const ProtobufCFieldDescriptor *fd)
{
    cli_jview_t v = {.key = fd->name};
    bool i64 = fd->type == PROTOBUF_C_TYPE_INT64 || fd->type == PROTOBUF_C_TYPE_SINT64 ||
               fd->type == PROTOBUF_C_TYPE_SFIXED64;
    if (i64 && s_ends_with(fd->name, "_ms"))
        v.how = CLI_J_TIME_MS;
    else if (i64 && s_ends_with(fd->name, "_unix"))
        v.how = CLI_J_TIME_S;
    else if (fd->type == PROTOBUF_C_TYPE_MESSAGE)
        v.sub = cli_jview_times;
    return v;
}

json_t *
cli_json_view(const ProtobufCMessage *m, const cli_jview_t *view)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    json_t *o = json_object();
    if (!view || view == cli_jview_times) {
        for (unsigned i = 0; i < d->n_fields; i++) {
            const ProtobufCFieldDescriptor *fd = &d->fields[i];
            cli_jview_t v = s_times_entry(fd);
            json_object_set_new(o, fd->name, s_field_json(m, fd, view ? &v : NULL));
        }
        return o;
    }
    for (const cli_jview_t *v = view; v->key; v++) {
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field_by_name(d, v->field ? v->field : v->key);
        assert(fd); /* a view names fields of its message */
        json_t *j = s_field_json(m, fd, v);
        if (j)
            json_object_set_new(o, v->key, j);
    }
    return o;
}

/* ---- paged rows ---------------------------------------------------------------------------- */

int
cli_page_limit(cli_ctx_t *c, uint64_t max, uint32_t page_max, uint32_t *first)
{
    uint64_t limit = 0;
    if (cli_num(c, "limit", false, 1, max, &limit))
        return -1;
    c->left = limit ? limit : UINT64_MAX; /* no --limit: every page */
    *first = cli_page_size(c, page_max);
    return 0;
}

uint32_t
cli_page_size(const cli_ctx_t *c, uint32_t page_max)
{
    return c->left < page_max ? (uint32_t)c->left : page_max;
}

/* The elements of message field `field` of m: the array and its length (a single field: the
 * one message, or none when unset), or m itself for field NULL. */
static const ProtobufCMessage *const *
s_elems(const ProtobufCMessage *const *m, const char *field, size_t *n)
{
    *n = 1;
    if (!field)
        return m;
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field_by_name((*m)->descriptor, field);
    assert(fd && fd->type == PROTOBUF_C_TYPE_MESSAGE); /* a row names its reply's fields */
    const char *p = (const char *)*m + fd->offset;
    if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
        *n = *(const size_t *)((const char *)*m + fd->quantifier_offset);
        return *(const ProtobufCMessage *const *const *)p;
    }
    const ProtobufCMessage *const *one = (const ProtobufCMessage *const *)p;
    *n = *one != NULL;
    return one;
}

const ProtobufCMessage *
cli_page_rows(cli_ctx_t *c, const ProtobufCMessage *reply)
{
    size_t n;
    const ProtobufCMessage *const *e = s_elems(&reply, c->cmd->rows, &n), *last = NULL;
    for (size_t i = 0; i < n && c->left > 0; i++, c->left--) {
        if (c->out)
            json_array_append_new(c->out, cli_json_view(e[i], c->cmd->view));
        else
            c->cmd->line(e[i]);
        last = e[i];
    }
    return last;
}

/* ---- options ----------------------------------------------------------------------------- */

void *
cli_alloc(cli_ctx_t *c, size_t n)
{
    void *p = kp_arena_alloc(c->arena, n ? n : 1);
    if (!p) {
        fputs("kumppani: out of memory\n", stderr);
        abort();
    }
    memset(p, 0, n ? n : 1);
    return p;
}

int
cli_field_mask(cli_ctx_t *c, const cli_mask_t *map, char ***fields, size_t *n, const char *none)
{
    size_t cap = 0;
    while (map[cap].opt)
        cap++;
    *fields = cli_alloc(c, cap * sizeof **fields);
    *n = 0;
    for (const cli_mask_t *m = map; m->opt; m++) {
        bool dup = false;
        for (size_t j = 0; j < *n; j++)
            dup = dup || strcmp((*fields)[j], m->field) == 0;
        if (cli_arg(c->a, m->opt) && !dup)
            (*fields)[(*n)++] = (char *)m->field;
    }
    if (*n == 0 && none) {
        cli_err("%s", none);
        return -1;
    }
    return 0;
}

int
cli_num(cli_ctx_t *c, const char *name, bool required, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *v = cli_arg(c->a, name);
    if (!v) {
        if (!required)
            return 0;
        cli_err("--%s is required", name);
        return -1;
    }
    if (cli_parse_u64(v, min, max, out) != 0) {
        cli_err("--%s must be a whole number from %llu to %llu", name, (unsigned long long)min,
                (unsigned long long)max);
        return -1;
    }
    return 0;
}

int
cli_num32(cli_ctx_t *c, const char *name, bool required, uint32_t min, uint32_t max, uint32_t *out)
{
    uint64_t n = *out;
    if (cli_num(c, name, required, min, max, &n) != 0)
        return -1;
    *out = (uint32_t)n;
    return 0;
}

int
cli_time_opt(cli_ctx_t *c, const char *name, bool required, int64_t *out)
{
    const char *v = cli_arg(c->a, name);
    char why[128];
    if (!v) {
        if (required)
            cli_err("--%s is required", name);
        return required ? -1 : 0;
    }
    if (kp_time_parse_local(v, out, why, sizeof why) != 0) {
        cli_err("--%s: %s", name, why);
        return -1;
    }
    return 0;
}

char *
cli_str(cli_ctx_t *c, const char *name, const char *def)
{
    const char *v = cli_arg(c->a, name);
    return (char *)(v ? v : def);
}

char **
cli_split(cli_ctx_t *c, const char *v, char sep, size_t *n)
{
    *n = 0;
    if (!v || !*v)
        return NULL;
    size_t len = strlen(v), cap = 1;
    for (const char *p = v; *p; p++)
        cap += *p == sep;
    char *copy = cli_alloc(c, len + 1);
    memcpy(copy, v, len + 1);
    char **out = cli_alloc(c, cap * sizeof *out);
    for (char *s = copy, *e; s; s = e) {
        e = strchr(s, sep);
        if (e)
            *e++ = 0;
        if (*s)
            out[(*n)++] = s;
    }
    return out;
}

/* ---- connection and outcomes ------------------------------------------------------------- */

int
cli_connect(cli_ctx_t *c, const char *service, kpc_t **out)
{
    const cli_service_t *svc = cli_service_find(service);
    if (!svc) {
        cli_err("unknown service '%s' (one of: %s)", service, cli_service_list());
        return EXIT_USAGE;
    }
    c->service = svc->name;
    c->endpoint = cli_service_endpoint(svc, cli_arg(c->a, "endpoint"));

    char dir[2048], path[4096], server_pub[KP_Z85_KEY_LEN + 1];
    kp_keypair_t kp;
    bool curve = false;
    if (cli_keys_dir(cli_arg(c->a, "keys"), dir, sizeof dir) != 0) {
        cli_err("keys directory path too long");
        return EXIT_USAGE;
    }
    /* --key-name picks another pair of the keys directory (a container's health check uses
     * the service's own); --service-key names the service's public key file. */
    const char *key_name = cli_arg(c->a, "key-name") ? cli_arg(c->a, "key-name") : "cli";
    if (cli_arg(c->a, "service-key"))
        snprintf(path, sizeof path, "%s", cli_arg(c->a, "service-key"));
    else
        snprintf(path, sizeof path, "%s/%s.pub", dir, svc->name);
    /* "none" asks for plain TCP explicitly (development set-ups and tests). */
    int rc = strcmp(dir, "none") == 0 ? -ENOENT : kp_keypair_load(&kp, dir, key_name);
    bool plain_asked = strcmp(dir, "none") == 0;
    if (rc == 0) {
        rc = kp_pubkey_load(server_pub, path);
        if (rc == 0)
            curve = true;
        else if (rc != -ENOENT) {
            cli_err("cannot read the service key %s: %s", path, kp_strerror(rc));
            return EXIT_OTHER;
        }
    } else if (rc != -ENOENT && rc != -ENOTDIR) {
        cli_err("cannot read the client key %s/%s.key: %s", dir, key_name, kp_strerror(rc));
        return EXIT_OTHER;
    } else if (!plain_asked && (cli_arg(c->a, "keys") || cli_arg(c->a, "key-name") ||
                                (getenv("KUMPPANI_KEYS") && *getenv("KUMPPANI_KEYS")))) {
        /* Keys were asked for (--keys, --key-name or KUMPPANI_KEYS) but are not there: say so
         * now rather than fall back to plain TCP and wait for a service that refuses it. */
        cli_err("no client key %s/%s.key (from %s); use none for plain TCP", dir, key_name,
                cli_arg(c->a, "keys")       ? "--keys"
                : cli_arg(c->a, "key-name") ? "--key-name"
                                            : "KUMPPANI_KEYS");
        return EXIT_USAGE;
    }
    /* Without both keys the connection is plain TCP (development set-ups). A service that uses
     * keys never answers it: a timeout then says where the keys were looked for. */
    c->plain = !curve && !plain_asked;
    kpc_opts_t o = {.endpoint = c->endpoint,
                    .server_pub = curve ? server_pub : NULL,
                    .client_pub = curve ? kp.pub : NULL,
                    .client_sec = curve ? kp.sec : NULL,
                    .timeout_ms = c->timeout_ms,
                    .attempts = c->attempts};
    rc = kpc_new(out, &o);
    sodium_memzero(&kp, sizeof kp);
    if (rc) {
        cli_err("cannot connect to %s at %s: %s", svc->name, c->endpoint, kpc_strerror(rc));
        return rc == KP_ECONFIG || rc == KP_EKEY ? EXIT_USAGE : EXIT_OTHER;
    }
    return EXIT_OK_;
}

int
cli_outcome(cli_ctx_t *c, int rc, const kpc_status_t *st)
{
    if (rc == KP_ETIMEOUT) {
        cli_err("the %s service at %s did not answer (%d attempts of %d ms)", c->service,
                c->endpoint, c->attempts, c->timeout_ms);
        if (c->plain) {
            char dir[2048];
            if (cli_keys_dir(cli_arg(c->a, "keys"), dir, sizeof dir) == 0)
                cli_err("this client sent without CURVE keys (none found in %s), which a "
                        "service with keys never answers: give --keys DIR or set KUMPPANI_KEYS "
                        "(scripts/suite env prints it)",
                        dir);
        }
        return EXIT_UNREACHABLE;
    }
    if (rc == KP_EKEY) {
        cli_err("the %s service refused this client's key (is cli.pub on its allow-list?)",
                c->service);
        return EXIT_OTHER;
    }
    if (rc) {
        cli_err("call to the %s service failed: %s", c->service, kpc_strerror(rc));
        return EXIT_OTHER;
    }
    if (st->code) {
        cli_err("the %s service answered %s: %s", c->service, kpc_code_name(st->code),
                st->message[0] ? st->message : "(no message)");
        return EXIT_SERVICE;
    }
    return EXIT_OK_;
}

/* One call on an open connection; the reply is decoded into c->arena. With none_ok, a
 * NOT_FOUND answer is EXIT_OK_ with *out left as it is (not reported). */
static int
s_call(cli_ctx_t *c, kpc_t *kc, const char *method, const char *idem, const ProtobufCMessage *req,
       const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **out, bool none_ok)
{
    uint8_t *body = NULL;
    size_t len = 0;
    if (req) {
        len = protobuf_c_message_get_packed_size(req);
        body = kp_xmalloc(len ? len : 1);
        protobuf_c_message_pack(req, body);
    }
    kpc_reply_t reply;
    int rc = kpc_call(kc, method, idem, body, len, &reply);
    free(body);
    if (none_ok && rc == 0 && reply.status.code == KUMPPANI__V1__CODE__CODE_NOT_FOUND) {
        kpc_reply_fini(&reply);
        return EXIT_OK_;
    }
    int ex = cli_outcome(c, rc, rc == 0 ? &reply.status : NULL);
    if (ex == EXIT_OK_) {
        *out =
            protobuf_c_message_unpack(out_desc, kp_arena_pbc(c->arena), reply.body_len, reply.body);
        if (!*out) {
            cli_err("the %s service sent a reply this client cannot decode", c->service);
            ex = EXIT_OTHER;
        }
    }
    kpc_reply_fini(&reply);
    return ex;
}

/* cli_call and cli_call_or_none: connect, one call, close. */
static int
s_call_once(cli_ctx_t *c, const char *service, const char *method, const char *idem,
            const ProtobufCMessage *req, const ProtobufCMessageDescriptor *out_desc,
            ProtobufCMessage **out, bool none_ok)
{
    kpc_t *kc;
    int ex = cli_connect(c, service, &kc);
    if (ex == EXIT_OK_)
        ex = s_call(c, kc, method, idem, req, out_desc, out, none_ok);
    kpc_destroy(&kc);
    return ex;
}

int
cli_call(cli_ctx_t *c, const char *service, const char *method, const char *idem,
         const ProtobufCMessage *req, const ProtobufCMessageDescriptor *out_desc,
         ProtobufCMessage **out)
{
    return s_call_once(c, service, method, idem, req, out_desc, out, false);
}

int
cli_call_or_none(cli_ctx_t *c, const char *service, const char *method, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **out)
{
    *out = NULL;
    return s_call_once(c, service, method, NULL, req, out_desc, out, true);
}

int
cli_no_pos(cli_ctx_t *c)
{
    if (c->a->pos_n) {
        cli_err("unexpected argument '%s'", c->a->pos[0]);
        return -1;
    }
    return 0;
}

/* ---- the runner -------------------------------------------------------------------------- */

void
cli_set_specs(const cli_cmd_t *cmd, cli_optspec_t *out)
{
    size_t n = 0;
    for (const cli_optfield_t *o = cmd->set; o && o->opt; o++) {
        assert(n < CLI_OPTS_MAX);
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field_by_name(cmd->in, o->field ? o->field : o->opt);
        assert(fd); /* a row names its request's fields */
        out[n++] = (cli_optspec_t){o->opt, fd->type != PROTOBUF_C_TYPE_BOOL};
    }
    out[n] = (cli_optspec_t){NULL, false};
}

/* A number option's default, def (decimal text: a row's bug otherwise). */
static uint64_t
s_num_def(const char *def)
{
    uint64_t v;
    int rc = cli_parse_u64(def, 0, UINT64_MAX, &v);
    assert(rc == 0);
    return rc == 0 ? v : 0;
}

int
cli_set_fields(cli_ctx_t *c, ProtobufCMessage *req, const cli_optfield_t *set)
{
    for (const cli_optfield_t *o = set; o->opt; o++) {
        const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field_by_name(
            req->descriptor, o->field ? o->field : o->opt);
        assert(fd && fd->label == PROTOBUF_C_LABEL_NONE); /* a row names its request's fields */
        void *p = (char *)req + fd->offset;
        int rc = 0;
        switch (fd->type) {
        case PROTOBUF_C_TYPE_STRING:
            if (o->required && !cli_arg(c->a, o->opt)) {
                cli_err("--%s is required", o->opt);
                return -1;
            }
            *(char **)p = cli_str(c, o->opt, o->def ? o->def : "");
            break;
        case PROTOBUF_C_TYPE_UINT32:
            assert(o->max && o->max <= UINT32_MAX);
            if (o->def)
                *(uint32_t *)p = (uint32_t)s_num_def(o->def);
            rc = cli_num32(c, o->opt, o->required, (uint32_t)o->min, (uint32_t)o->max, p);
            break;
        case PROTOBUF_C_TYPE_UINT64:
            assert(o->max);
            if (o->def)
                *(uint64_t *)p = s_num_def(o->def);
            rc = cli_num(c, o->opt, o->required, o->min, o->max, p);
            break;
        case PROTOBUF_C_TYPE_INT64:
            rc = cli_time_opt(c, o->opt, o->required, p);
            break;
        case PROTOBUF_C_TYPE_BOOL:
            *(protobuf_c_boolean *)p = cli_flag(c->a, o->opt);
            break;
        default:
            assert(!"an option for a field of this type");
        }
        if (rc)
            return -1;
    }
    return 0;
}

/* The key of a CLI_IDEM_KEY row: --idempotency-key or --key (whichever the row has), else a
 * random one into buf (33 bytes). NULL for an empty key (reported). */
static const char *
s_idem_key(cli_ctx_t *c, char *buf, const char **opt)
{
    *opt = "idempotency-key";
    for (const cli_optspec_t *o = c->cmd->opts; o && o->name; o++)
        if (strcmp(o->name, "key") == 0)
            *opt = "key";
    const char *key = cli_arg(c->a, *opt);
    if (key && !*key) {
        cli_err("--%s must not be empty", *opt);
        return NULL;
    }
    if (key)
        return key;
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(buf, 33, raw, sizeof raw);
    return buf;
}

/* The elements of repeated message field `field` of m, each through view, as a JSON array. */
static json_t *
s_items_json(const ProtobufCMessage *m, const char *field, const cli_jview_t *view)
{
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, field);
    assert(fd && fd->label == PROTOBUF_C_LABEL_REPEATED && fd->type == PROTOBUF_C_TYPE_MESSAGE);
    cli_jview_t v = {.key = field, .sub = view};
    return s_field_json(m, fd, &v);
}

/* Prints a single reply: the row's unwrapped field or the whole reply, as text or --json. */
static int
s_output(cli_ctx_t *c, const ProtobufCMessage *reply)
{
    const cli_cmd_t *cmd = c->cmd;
    const ProtobufCMessage *shown = reply;
    if (cmd->unwrap) {
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field_by_name(reply->descriptor, cmd->unwrap);
        assert(fd && fd->type == PROTOBUF_C_TYPE_MESSAGE);
        memcpy(&shown, (const char *)reply + fd->offset, sizeof shown);
        if (!shown) {
            cli_err("the %s service answered without %s", c->service, cmd->noun);
            return EXIT_OTHER;
        }
    }
    if (!c->json && cmd->line) {
        if (cmd->caption)
            cmd->caption(shown);
        if (cmd->header)
            cli_header(cmd->header);
        size_t n;
        const ProtobufCMessage *const *e = s_elems(&shown, cmd->rows, &n);
        for (size_t i = 0; i < n; i++)
            cmd->line(e[i]);
        return EXIT_OK_;
    }
    if (!c->json)
        return cmd->print(c, shown);
    json_t *j = cmd->json    ? cmd->json(c, shown)
                : cmd->items ? s_items_json(shown, cmd->items, cmd->view)
                             : cli_json_view(shown, cmd->view);
    return j ? cli_json_print(j) : EXIT_OTHER;
}

/* The request's field id_field (a uint64, not repeated: asserted, as a row's bug). */
static const ProtobufCFieldDescriptor *
s_id_fd(const cli_cmd_t *cmd)
{
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field_by_name(cmd->in, cmd->id_field);
    assert(fd && fd->type == PROTOBUF_C_TYPE_UINT64 && fd->label != PROTOBUF_C_LABEL_REPEATED);
    return fd;
}

const char *
cli_id_name(const cli_cmd_t *cmd, char *buf, size_t len)
{
    const ProtobufCFieldDescriptor *fd = s_id_fd(cmd);
    const char *noun = cmd->id_noun;
    size_t n = noun ? strlen(noun) : strlen(fd->name);
    if (!noun) {
        assert(strcmp(fd->name, "id") != 0); /* "id" alone says nothing: the row names it */
        noun = fd->name;
        if (n > 3 && strcmp(noun + n - 3, "_id") == 0)
            n -= 3;
    }
    snprintf(buf, len, "%.*s ID", (int)n, noun);
    for (char *p = buf; *p; p++)
        if (*p == '_')
            *p = ' ';
    return buf;
}

static int
s_row(cli_ctx_t *c)
{
    const cli_cmd_t *cmd = c->cmd;
    ProtobufCMessage *req = cli_alloc(c, cmd->in->sizeof_message);
    protobuf_c_message_init(cmd->in, req);

    if (cmd->id_field) {
        uint64_t id;
        if (c->a->pos_n != 1 || cli_parse_u64(c->a->pos[0], 1, UINT64_MAX, &id) != 0) {
            char name[64];
            cli_err("expected one %s (a positive number)", cli_id_name(cmd, name, sizeof name));
            return EXIT_USAGE;
        }
        memcpy((char *)req + s_id_fd(cmd)->offset, &id, sizeof id);
    }
    c->left = UINT64_MAX;
    if (cmd->set && cli_set_fields(c, req, cmd->set))
        return EXIT_USAGE;
    int rc = cmd->fill ? cmd->fill(c, req) : 0;
    if (rc)
        return rc < 0 ? EXIT_USAGE : rc;

    char buf[33];
    const char *key = NULL, *key_opt = NULL;
    if ((cmd->flags & CLI_IDEM_KEY) && !(key = s_idem_key(c, buf, &key_opt)))
        return EXIT_USAGE;

    const char *service = cmd->service;
    if (cmd->flags & CLI_SERVICE_OPT)
        service = cli_arg(c->a, "service") ? cli_arg(c->a, "service") : "events";
    int ex = cli_connect(c, service, &c->kc);
    if (ex)
        return ex;

    if (!(cmd->flags & CLI_PAGED)) {
        ProtobufCMessage *reply = NULL;
        ex = s_call(c, c->kc, cmd->method, key, req, cmd->out, &reply, false);
        if (ex == EXIT_UNREACHABLE && key)
            fprintf(stderr, "kumppani: to retry without creating a duplicate, add --%s %s\n",
                    key_opt, key);
        return ex ? ex : s_output(c, reply);
    }
    if (cmd->rows && c->json)
        c->out = json_array();
    for (c->first = true;; c->first = false) {
        ProtobufCMessage *reply = NULL;
        ex = s_call(c, c->kc, cmd->method, key, req, cmd->out, &reply, false);
        /* The header only once the first page came: a failure leaves stdout empty, so that a
         * script never reads a table's header as an answer. */
        if (!ex && c->first && cmd->header && !c->json)
            cli_header(cmd->header);
        if (ex || !cmd->page(c, req, reply))
            break;
    }
    if (c->out) {
        if (ex == EXIT_OK_)
            ex = cli_json_print(c->out);
        else
            json_decref(c->out);
        c->out = NULL;
    }
    return ex;
}

int
cli_run_row(cli_ctx_t *c)
{
    c->arena = kp_arena_new(CLI_ARENA_CAP);
    const cli_cmd_t *cmd = c->cmd;
    int ex;
    /* A row that takes no ID and does not read the positional arguments itself refuses them. */
    if (!cmd->id_field && !(cmd->flags & CLI_POSITIONAL_ANY) && cli_no_pos(c))
        ex = EXIT_USAGE;
    else
        ex = cmd->run ? cmd->run(c) : s_row(c);
    if (c->file && c->file != stdout)
        fclose(c->file);
    kpc_destroy(&c->kc);
    kp_arena_destroy(&c->arena);
    return ex;
}
