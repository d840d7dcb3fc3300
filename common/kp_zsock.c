/*  kp_zsock: CURVE keys, the allow-list and the ZAP handler.
 *
 *  The ZAP handler (RFC 27) is an inproc REP socket bound at inproc://zeromq.zap.01 in the
 *  service's own context, driven by the service loop through kp_zwatch like every other
 *  socket: no thread. It admits a connection only if the mechanism is CURVE, the domain is
 *  ours, and the client's key is on the allow-list; the reply's user id is the key's role,
 *  which the service reads back from each message with zmq_msg_gets(msg, "User-Id").
 *
 *  The allow-list is a small sorted array searched with bsearch: lists are tens of keys. */
#include "kp_zsock.h"

#include "kp_arena.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_wire.h"
#include "kp_zwatch.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93 /* a draft option in libzmq 4.3; value from zmq.h */
#endif

static const char *const s_role_names[] = {"admin", "publisher", "reader", "service",
                                           "selfservice"};
#define ROLES_N (sizeof s_role_names / sizeof s_role_names[0])

unsigned
kp_role_parse(const char *name)
{
    for (unsigned i = 0; i < ROLES_N; i++)
        if (strcmp(name, s_role_names[i]) == 0)
            return 1u << i;
    return 0;
}

const char *
kp_role_name(unsigned role)
{
    for (unsigned i = 0; i < ROLES_N; i++)
        if (role == 1u << i)
            return s_role_names[i];
    return "none";
}

bool
kp_z85_key_valid(const char *s)
{
    uint8_t raw[32];
    if (!s || strlen(s) != KP_Z85_KEY_LEN)
        return false;
    return zmq_z85_decode(raw, s) != NULL;
}

int
kp_keypair_generate(kp_keypair_t *kp)
{
    if (zmq_curve_keypair(kp->pub, kp->sec) != 0)
        return KP_EZMQ;
    return 0;
}

static int
s_write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    int rc = (w == (ssize_t)len) ? 0 : -EIO;
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

int
kp_keypair_save(const kp_keypair_t *kp, const char *dir, const char *name)
{
    char path[4096], line[KP_Z85_KEY_LEN + 2];
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -errno;
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    if (access(path, F_OK) == 0)
        return -EEXIST;
    snprintf(path, sizeof path, "%s/%s.pub", dir, name);
    if (access(path, F_OK) == 0)
        return -EEXIST;
    snprintf(line, sizeof line, "%s\n", kp->sec);
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    int rc = s_write_file(path, line, 0600);
    if (rc)
        return rc;
    snprintf(line, sizeof line, "%s\n", kp->pub);
    snprintf(path, sizeof path, "%s/%s.pub", dir, name);
    return s_write_file(path, line, 0644);
}

/* Reads the first line of a key file into out (41 bytes). */
static int
s_read_key(char *out, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    char line[128];
    int rc = KP_EKEY;
    if (fgets(line, sizeof line, f)) {
        line[strcspn(line, " \t\r\n")] = 0;
        if (kp_z85_key_valid(line)) {
            memcpy(out, line, KP_Z85_KEY_LEN + 1);
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

int
kp_pubkey_load(char *out, const char *path)
{
    return s_read_key(out, path);
}

int
kp_keypair_load(kp_keypair_t *kp, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    int rc = s_read_key(kp->sec, path);
    if (rc)
        return rc;
    if (zmq_curve_public(kp->pub, kp->sec) != 0)
        return KP_EKEY;
    return 0;
}

/* ---- allow-list ------------------------------------------------------------------------ */

#define KP_SOURCES_MAX 600 /* 8 names of 64 and their commas, with room */

typedef struct {
    uint8_t key[32];
    unsigned role;
    char sources[KP_SOURCES_MAX]; /* "" or "a,b": what a publisher may submit under */
} allow_entry_t;

struct kp_allow {
    allow_entry_t *v;
    size_t n, cap;
};

static int
s_entry_cmp(const void *a, const void *b)
{
    return memcmp(((const allow_entry_t *)a)->key, ((const allow_entry_t *)b)->key, 32);
}

kp_allow_t *
kp_allow_new(void)
{
    return kp_xcalloc(1, sizeof(kp_allow_t));
}

void
kp_allow_destroy(kp_allow_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->v);
    free(*self_p);
    *self_p = NULL;
}

int
kp_allow_add(kp_allow_t *self, const char *z85_pub, unsigned role)
{
    allow_entry_t e = {.role = role};
    if (!kp_z85_key_valid(z85_pub) || !zmq_z85_decode(e.key, z85_pub) || role == 0)
        return KP_EINVAL;
    allow_entry_t *old = self->n ? bsearch(&e, self->v, self->n, sizeof e, s_entry_cmp) : NULL;
    if (old) {
        old->role = role;
        return 0;
    }
    if (self->n == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 16;
        self->v = kp_xrealloc(self->v, self->cap * sizeof e);
    }
    self->v[self->n++] = e;
    qsort(self->v, self->n, sizeof e, s_entry_cmp);
    return 0;
}

/* A valid source list: 1..8 names of 1..64 of [a-z0-9._-], separated by single commas. */
static bool
s_sources_valid(const char *v)
{
    size_t len = 0, names = 1;
    if (!*v || strlen(v) >= KP_SOURCES_MAX)
        return false;
    for (const char *p = v;; p++) {
        char c = *p;
        if (c == ',' || c == 0) {
            if (len == 0 || len > 64)
                return false;
            if (c == 0)
                return names <= 8;
            names++;
            len = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
        len++;
    }
}

bool
kp_sources_contain(const char *list, const char *source)
{
    size_t n = strlen(source);
    if (!list || n == 0)
        return false;
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && memcmp(p, source, n) == 0)
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

static allow_entry_t *
s_find_entry(const kp_allow_t *self, const uint8_t key[32])
{
    allow_entry_t e;
    memcpy(e.key, key, 32);
    return self->n ? bsearch(&e, self->v, self->n, sizeof e, s_entry_cmp) : NULL;
}

int
kp_allow_bind(kp_allow_t *self, const char *z85_pub, const char *sources)
{
    uint8_t key[32];
    if (!kp_z85_key_valid(z85_pub) || !zmq_z85_decode(key, z85_pub) || !s_sources_valid(sources))
        return KP_EINVAL;
    allow_entry_t *e = s_find_entry(self, key);
    if (!e)
        return KP_EINVAL;
    snprintf(e->sources, sizeof e->sources, "%s", sources);
    return 0;
}

const char *
kp_allow_sources(const kp_allow_t *self, const uint8_t key[32])
{
    const allow_entry_t *e = s_find_entry(self, key);
    return e ? e->sources : "";
}

int
kp_allow_load(kp_allow_t **out, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    kp_allow_t *self = kp_allow_new();
    char line[1024];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        /* A comment is a "#" standing alone as a word: "#" is also a Z85 digit, so a key may
         * start with or contain it. */
        for (char *p = line; *p; p++)
            if (*p == '#' && (p == line || isspace((unsigned char)p[-1])) &&
                (p[1] == 0 || isspace((unsigned char)p[1]))) {
                *p = 0;
                break;
            }
        char key[64], role[32], bind[KP_SOURCES_MAX + 16], extra[8];
        int n = sscanf(line, "%63s %31s %615s %7s", key, role, bind, extra);
        if (n <= 0)
            continue;
        if (n < 2 || n > 3 || kp_allow_add(self, key, kp_role_parse(role)) != 0 ||
            (n == 3 &&
             (strncmp(bind, "sources=", 8) != 0 || kp_allow_bind(self, key, bind + 8) != 0))) {
            kp_log_err("allow.parse", "line=%d what=\"<key> <role> [sources=a,b]\"", lineno);
            rc = KP_ECONFIG;
            break;
        }
        if (n == 2 && kp_role_parse(role) == KP_ROLE_PUBLISHER)
            kp_log_warn("allow.unbound",
                        "line=%d what=\"a publisher bound to no source may "
                        "submit nothing: add sources=<name>\"",
                        lineno);
    }
    fclose(f);
    if (rc) {
        kp_allow_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

unsigned
kp_allow_role(const kp_allow_t *self, const uint8_t key[32])
{
    const allow_entry_t *hit = s_find_entry(self, key);
    return hit ? hit->role : 0;
}

size_t
kp_allow_size(const kp_allow_t *self)
{
    return self->n;
}

/* ---- socket options -------------------------------------------------------------------- */

int
kp_zsock_defaults(void *sock)
{
    int zero = 0, hwm = 200000, one = 1, idle = 30, hb_ivl = 2000, hb_ttl = 6000, hb_timeout = 6000;
    int64_t max = KP_WIRE_HARD_MAX;
    if (zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0 ||
        zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(sock, ZMQ_TCP_KEEPALIVE, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_TCP_KEEPALIVE_IDLE, &idle, sizeof idle) != 0 ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl) != 0 ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_TTL, &hb_ttl, sizeof hb_ttl) != 0 ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout) != 0)
        return KP_EZMQ;
    return 0;
}

int
kp_zsock_server(void *sock, const kp_keypair_t *kp)
{
    int rc = kp_zsock_defaults(sock);
    if (rc || !kp)
        return rc;
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kp->sec, KP_Z85_KEY_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, KP_ZAP_DOMAIN, strlen(KP_ZAP_DOMAIN)) != 0)
        return KP_EZMQ;
    /* Draft option: when libzmq is built without drafts it answers EINVAL, and the handler's
     * own domain check (s_zap_handle) still refuses every other domain. */
    (void)zmq_setsockopt(sock, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one);
    return 0;
}

int
kp_zsock_client(void *sock, const kp_keypair_t *kp, const char *server_pub)
{
    int rc = kp_zsock_defaults(sock);
    if (rc || !kp)
        return rc;
    if (!kp_z85_key_valid(server_pub))
        return KP_EKEY;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_pub, KP_Z85_KEY_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, kp->pub, KP_Z85_KEY_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kp->sec, KP_Z85_KEY_LEN) != 0)
        return KP_EZMQ;
    return 0;
}

/* ---- ZAP ------------------------------------------------------------------------------- */

struct kp_zap {
    void *sock;
    kp_zwatch_t *watch;
    const kp_allow_t *allow;
    uint64_t admitted, denied;
};

static void
s_zap_reply(void *sock, const zmq_msg_t *req_id, const char *code, const char *text,
            const char *user)
{
    zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(sock, zmq_msg_data((zmq_msg_t *)req_id), zmq_msg_size((zmq_msg_t *)req_id),
             ZMQ_SNDMORE);
    zmq_send(sock, code, strlen(code), ZMQ_SNDMORE);
    zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(sock, "", 0, 0);
}

/* Handles one ZAP request. Frames: version, request id, domain, address, routing id,
 * mechanism, credentials... */
static void
s_zap_handle(kp_zap_t *self)
{
    zmq_msg_t f[8];
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        if (!kp_zsock_try_recv(self->sock, &m))
            break;
        more = zmq_msg_more(&m);
        if (n < 8)
            f[n++] = m;
        else
            zmq_msg_close(&m);
    }
    if (n < 6) {
        /* Not a ZAP request: a REP socket must still answer something. */
        zmq_msg_t empty;
        zmq_msg_init(&empty);
        s_zap_reply(self->sock, &empty, "500", "malformed", "");
        zmq_msg_close(&empty);
        goto done;
    }
    const char *why = NULL;
    unsigned role = 0;
    if (zmq_msg_size(&f[0]) != 3 || memcmp(zmq_msg_data(&f[0]), "1.0", 3) != 0)
        why = "version";
    else if (zmq_msg_size(&f[2]) != strlen(KP_ZAP_DOMAIN) ||
             memcmp(zmq_msg_data(&f[2]), KP_ZAP_DOMAIN, strlen(KP_ZAP_DOMAIN)) != 0)
        why = "domain";
    else if (zmq_msg_size(&f[5]) != 5 || memcmp(zmq_msg_data(&f[5]), "CURVE", 5) != 0)
        why = "mechanism";
    else if (n < 7 || zmq_msg_size(&f[6]) != 32)
        why = "credentials";
    else if ((role = kp_allow_role(self->allow, zmq_msg_data(&f[6]))) == 0)
        why = "key not allowed";
    if (why) {
        self->denied++;
        kp_log_notice("zap.deny", "reason=\"%s\"", why);
        s_zap_reply(self->sock, &f[1], "400", "denied", "");
    } else {
        self->admitted++;
        kp_log_debug("zap.admit", "role=%s", kp_role_name(role));
        const char *sources = kp_allow_sources(self->allow, zmq_msg_data(&f[6]));
        char user[KP_SOURCES_MAX + 32];
        snprintf(user, sizeof user, "%s%s%s", kp_role_name(role), *sources ? " " : "", sources);
        s_zap_reply(self->sock, &f[1], "200", "OK", user);
    }
done:
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

static void
s_zap_ready(kp_zwatch_t *zw, void *sock, void *arg)
{
    (void)zw;
    (void)sock;
    kp_zap_t *self = arg;
    for (int i = 0; i < 256 && kp_zwatch_readable(self->watch); i++)
        s_zap_handle(self);
}

int
kp_zap_start(kp_zap_t **out, uv_loop_t *loop, void *ctx, const kp_allow_t *allow)
{
    kp_zap_t *self = kp_xcalloc(1, sizeof *self);
    self->allow = allow;
    self->sock = zmq_socket(ctx, ZMQ_REP);
    int zero = 0;
    if (!self->sock || zmq_setsockopt(self->sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_bind(self->sock, "inproc://zeromq.zap.01") != 0)
        goto fail;
    if (kp_zwatch_start(&self->watch, loop, self->sock, s_zap_ready, self) != 0)
        goto fail;
    *out = self;
    return 0;
fail:
    kp_log_err("zap.start", "errno=%d", zmq_errno());
    if (self->sock)
        zmq_close(self->sock);
    free(self);
    return KP_EZMQ;
}

void
kp_zap_close(kp_zap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    kp_zap_t *self = *self_p;
    kp_zwatch_close(&self->watch);
    zmq_close(self->sock);
    free(self);
    *self_p = NULL;
}

uint64_t
kp_zap_admitted(const kp_zap_t *self)
{
    return self->admitted;
}

uint64_t
kp_zap_denied(const kp_zap_t *self)
{
    return self->denied;
}

void
kp_zsock_each_reply(void *sock, unsigned budget,
                    int (*fn)(void *arg, const Kumppani__V1__Reply *reply), void *arg)
{
    int stop = 0;
    for (unsigned i = 0; i < budget && !stop; i++) {
        zmq_msg_t m;
        if (!kp_zsock_try_recv(sock, &m))
            return;
        Kumppani__V1__Reply *r =
            kumppani__v1__reply__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (!r)
            continue;
        stop = fn(arg, r);
        kumppani__v1__reply__free_unpacked(r, NULL);
    }
}
