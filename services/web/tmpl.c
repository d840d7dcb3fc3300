/*  web/tmpl.c: the template renderer (contract in tmpl.h).
 *
 *  A template compiles once, at start, into a flat array of nodes; a section node knows the
 *  index just past its closing tag, so rendering is a walk over index ranges with a context
 *  stack (bounded depth). Values are a small tree of arena nodes: an object or a list holds a
 *  singly linked list of children; lookups are linear, which is fine for pages of a few
 *  hundred values. */
#include "tmpl.h"

#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TV_STR, TV_OBJ, TV_LIST };

struct web_tv {
    const char *key;
    size_t key_len;
    int type;
    const char *s;
    web_tv_t *first, *last; /* children of an object or a list */
    web_tv_t *next;
    web_tv_t **idx; /* web_tv_index: buckets of the children by key (NULL: none) */
    size_t idx_n;   /* a power of two */
    web_tv_t *hnext;
};

#define MAX_DEPTH 16

/* ---- values ------------------------------------------------------------------------------ */

static web_tv_t *
s_node(kp_arena_t *a, int type, const char *key)
{
    web_tv_t *v = kp_arena_alloc(a, sizeof *v);
    if (!v)
        return NULL;
    memset(v, 0, sizeof *v);
    v->type = type;
    if (key && !(v->key = kp_arena_memdup(a, key, v->key_len = strlen(key))))
        return NULL;
    return v;
}

/* Lists keep their order (append); an object's newest child comes first (prepend), so that a
 * lookup stops at the first match and a key set again wins. */
static void
s_append(web_tv_t *parent, web_tv_t *v)
{
    if (parent->type == TV_OBJ) {
        v->next = parent->first;
        parent->first = v;
        if (!parent->last)
            parent->last = v;
        return;
    }
    if (parent->last)
        parent->last->next = v;
    else
        parent->first = v;
    parent->last = v;
}

static size_t
s_hash(const char *key, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    return h;
}

static web_tv_t *
s_child(const web_tv_t *obj, const char *key, size_t key_len)
{
    if (!obj || obj->type != TV_OBJ)
        return NULL;
    if (obj->idx) {
        for (web_tv_t *c = obj->idx[s_hash(key, key_len) & (obj->idx_n - 1)]; c; c = c->hnext)
            if (c->key_len == key_len && memcmp(c->key, key, key_len) == 0)
                return c;
        return NULL;
    }
    for (web_tv_t *c = obj->first; c; c = c->next)
        if (c->key_len == key_len && memcmp(c->key, key, key_len) == 0)
            return c;
    return NULL;
}

web_tv_t *
web_tv_new(kp_arena_t *a)
{
    return s_node(a, TV_OBJ, NULL);
}

/* Adds key = the len bytes at s (copied into the arena) to obj. */
static void
s_put(kp_arena_t *a, web_tv_t *obj, const char *key, const char *s, size_t len)
{
    if (!obj || !s)
        return;
    web_tv_t *v = s_node(a, TV_STR, key);
    if (!v || !(v->s = kp_arena_memdup(a, s, len)))
        return;
    s_append(obj, v);
}

void
web_tv_str(kp_arena_t *a, web_tv_t *obj, const char *key, const char *s)
{
    s_put(a, obj, key, s, s ? strlen(s) : 0);
}

/* The longest value web_tv_strf keeps, in bytes. Its values are numbers, links and short
 * labels; a link carries a query or a path, which the service bounds at a few kilobytes. */
#define STRF_MAX 16384

/* The largest n <= len such that s[n] does not fall inside a UTF-8 character (s is valid). */
static size_t
s_utf8_cut(const char *s, size_t len)
{
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--;
    return len;
}

/* A value longer than the stack buffer is formatted again into a buffer of its own size (a
 * link with a long search query or a long path once came out cut short, in the middle of a
 * character). Past STRF_MAX it is cut, on a character boundary, so a page never carries
 * invalid UTF-8. */
void
web_tv_strf(kp_arena_t *a, web_tv_t *obj, const char *key, const char *fmt, ...)
{
    if (!obj)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof buf) {
        s_put(a, obj, key, buf, (size_t)n);
        return;
    }
    /* Past the bound, one byte more is formatted: s_utf8_cut reads the byte after the cut. */
    size_t len = (size_t)n > STRF_MAX ? STRF_MAX : (size_t)n;
    char *big = kp_xmalloc(len + 2);
    va_start(ap, fmt);
    vsnprintf(big, len + 2, fmt, ap);
    va_end(ap);
    len = s_utf8_cut(big, len);
    s_put(a, obj, key, big, len);
    free(big);
}

void
web_tv_bool(kp_arena_t *a, web_tv_t *obj, const char *key, bool on)
{
    if (on)
        web_tv_str(a, obj, key, "1");
}

web_tv_t *
web_tv_obj(kp_arena_t *a, web_tv_t *obj, const char *key)
{
    if (!obj)
        return NULL;
    web_tv_t *v = s_node(a, TV_OBJ, key);
    if (v)
        s_append(obj, v);
    return v;
}

web_tv_t *
web_tv_list(kp_arena_t *a, web_tv_t *obj, const char *key)
{
    web_tv_t *l = s_child(obj, key, strlen(key));
    if (l && l->type == TV_LIST)
        return l;
    if (!obj)
        return NULL;
    l = s_node(a, TV_LIST, key);
    if (l)
        s_append(obj, l);
    return l;
}

web_tv_t *
web_tv_item(kp_arena_t *a, web_tv_t *list)
{
    if (!list || list->type != TV_LIST)
        return NULL;
    web_tv_t *v = s_node(a, TV_OBJ, NULL);
    if (v)
        s_append(list, v);
    return v;
}

int
web_tv_index(kp_arena_t *a, web_tv_t *obj)
{
    size_t n = 0, cap = 16;
    for (web_tv_t *c = obj->first; c; c = c->next)
        n++;
    while (cap < 2 * n)
        cap *= 2;
    web_tv_t **idx = kp_arena_alloc(a, cap * sizeof *idx);
    if (!idx)
        return -1;
    memset(idx, 0, cap * sizeof *idx);
    for (web_tv_t *c = obj->first; c; c = c->next) {
        if (!c->key ||
            s_child(&(web_tv_t){.type = TV_OBJ, .idx = idx, .idx_n = cap}, c->key, c->key_len))
            continue; /* the newest of a key is first and stays */
        web_tv_t **b = &idx[s_hash(c->key, c->key_len) & (cap - 1)];
        c->hnext = *b;
        *b = c;
    }
    obj->idx = idx;
    obj->idx_n = cap;
    return 0;
}

void
web_tv_attach(kp_arena_t *a, web_tv_t *obj, const char *key, const web_tv_t *child)
{
    if (!obj || !child)
        return;
    web_tv_t *v = s_node(a, TV_OBJ, key);
    if (!v)
        return;
    v->first = child->first;
    v->last = child->last;
    v->idx = child->idx;
    v->idx_n = child->idx_n;
    s_append(obj, v);
}

/* Resolves a dotted name inside one object. */
static const web_tv_t *
s_path(const web_tv_t *obj, const char *name, size_t len)
{
    const web_tv_t *v = obj;
    while (v && len) {
        const char *dot = memchr(name, '.', len);
        size_t part = dot ? (size_t)(dot - name) : len;
        v = s_child(v, name, part);
        if (!dot)
            break;
        name = dot + 1;
        len -= part + 1;
    }
    return v;
}

const char *
web_tv_get(const web_tv_t *obj, const char *name)
{
    const web_tv_t *v = s_path(obj, name, strlen(name));
    return v && v->type == TV_STR ? v->s : NULL;
}

/* ---- output ------------------------------------------------------------------------------ */

void
web_buf_add(web_buf_t *b, const char *s, size_t n)
{
    if (b->full)
        return;
    size_t max = b->max ? b->max : (8u << 20);
    if (b->n + n + 1 > b->cap) {
        if (b->n + n + 1 > max) {
            b->full = true;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        if (cap > max)
            cap = max;
        b->p = kp_xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void
web_buf_adds(web_buf_t *b, const char *s)
{
    web_buf_add(b, s, strlen(s));
}

void
web_buf_addf(web_buf_t *b, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) {
        b->full = true;
        return;
    }
    web_buf_add(b, buf, (size_t)n);
}

void
web_buf_esc(web_buf_t *b, const char *s)
{
    const char *run = s;
    for (; *s; s++) {
        const char *e = NULL;
        switch (*s) {
        case '&':
            e = "&amp;";
            break;
        case '<':
            e = "&lt;";
            break;
        case '>':
            e = "&gt;";
            break;
        case '"':
            e = "&quot;";
            break;
        case '\'':
            e = "&#39;";
            break;
        default:
            continue;
        }
        web_buf_add(b, run, (size_t)(s - run));
        web_buf_adds(b, e);
        run = s + 1;
    }
    web_buf_add(b, run, (size_t)(s - run));
}

void
web_buf_free(web_buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- templates --------------------------------------------------------------------------- */

enum { N_TEXT, N_VAR, N_RAW, N_SECTION, N_INVERTED, N_PARTIAL };

typedef struct {
    int type;
    const char *s; /* text, or the name */
    size_t len;
    size_t end;         /* sections: index past the closing tag */
    size_t arg, args_n; /* partials: the first argument in the template's args, how many */
} node_t;

/* A partial's argument: key=name (the value the name has where the partial is called),
 * key="text" (the text, NUL-terminated in the template's copy of its source) or key (a flag). */
enum { ARG_NAME, ARG_TEXT, ARG_FLAG };

#define MAX_ARGS 16

typedef struct {
    int kind;
    const char *key, *val;
    size_t key_len, val_len;
} arg_t;

typedef struct {
    char *name;
    char *src;
    node_t *nodes;
    size_t n;
    arg_t *args;
} tmpl_t;

struct web_tmpl_set {
    tmpl_t *v;
    size_t n;
};

web_tmpl_set_t *
web_tmpl_set_new(void)
{
    return kp_xcalloc(1, sizeof(web_tmpl_set_t));
}

void
web_tmpl_set_destroy(web_tmpl_set_t **self_p)
{
    web_tmpl_set_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n; i++) {
        free(self->v[i].name);
        free(self->v[i].src);
        free(self->v[i].nodes);
        free(self->v[i].args);
    }
    free(self->v);
    free(self);
    *self_p = NULL;
}

static const tmpl_t *
s_find(const web_tmpl_set_t *self, const char *name, size_t len)
{
    for (size_t i = 0; i < self->n; i++)
        if (strlen(self->v[i].name) == len && memcmp(self->v[i].name, name, len) == 0)
            return &self->v[i];
    return NULL;
}

bool
web_tmpl_has(const web_tmpl_set_t *self, const char *name)
{
    return s_find(self, name, strlen(name)) != NULL;
}

static unsigned
s_line(const char *src, const char *at)
{
    unsigned line = 1;
    for (const char *p = src; p < at; p++)
        line += *p == '\n';
    return line;
}

static void
s_trim(const char **s, size_t *len)
{
    while (*len && (**s == ' ' || **s == '\t'))
        (*s)++, (*len)--;
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

static bool
s_word_char(char c, bool dots)
{
    return isalnum((unsigned char)c) || c == '_' || (dots && c == '.');
}

/* Splits a partial's tag "name key=value ..." (len bytes at s, in the template's own copy of
 * its source) into the name, left in *len, and its arguments, appended to *args (*args_n of
 * them, *cap allocated) and counted in *n. Returns 0, or -1 when an argument is not key=name,
 * key="text" or key, or there are more than MAX_ARGS. */
static int
s_args(char *s, size_t *len, arg_t **args, size_t *args_n, size_t *cap, size_t *n)
{
    char *p = s, *end = s + *len;
    while (p < end && !isspace((unsigned char)*p))
        p++;
    *len = (size_t)(p - s);
    size_t first = *args_n;
    while (p < end) {
        if (isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        arg_t a = {.kind = ARG_FLAG, .key = p};
        while (p < end && s_word_char(*p, false))
            p++;
        a.key_len = (size_t)(p - a.key);
        if (!a.key_len || *args_n - first == MAX_ARGS)
            return -1;
        if (p < end && *p == '=') {
            a.val = ++p;
            if (p < end && *p == '"') {
                a.kind = ARG_TEXT;
                a.val = ++p;
                while (p < end && *p != '"')
                    p++;
                if (p == end)
                    return -1;
                *p++ = 0;
            } else {
                a.kind = ARG_NAME;
                while (p < end && s_word_char(*p, true))
                    p++;
            }
            a.val_len = (size_t)(p - a.val);
            if (!a.val_len && a.kind == ARG_NAME)
                return -1;
        }
        if (p < end && !isspace((unsigned char)*p))
            return -1;
        if (*args_n == *cap)
            *args = kp_xrealloc(*args, (*cap = *cap ? 2 * *cap : 16) * sizeof **args);
        (*args)[(*args_n)++] = a;
    }
    *n = *args_n - first;
    return 0;
}

int
web_tmpl_add(web_tmpl_set_t *self, const char *name, const char *src_in, size_t src_len, char *why,
             size_t why_len)
{
    char *src = kp_xmalloc(src_len + 1);
    memcpy(src, src_in, src_len);
    src[src_len] = 0;
    size_t cap = 64, n = 0, args_n = 0, args_cap = 0;
    node_t *nodes = kp_xmalloc(cap * sizeof *nodes);
    arg_t *args = NULL;
    size_t open[MAX_DEPTH];
    unsigned depth = 0;
    const char *p = src, *end = src + src_len;
    while (p < end) {
        if (n + 2 > cap)
            nodes = kp_xrealloc(nodes, (cap *= 2) * sizeof *nodes);
        const char *tag = strstr(p, "{{");
        if (!tag)
            tag = end;
        if (tag > p)
            nodes[n++] = (node_t){.type = N_TEXT, .s = p, .len = (size_t)(tag - p)};
        if (tag == end)
            break;
        bool triple = tag[2] == '{';
        const char *body = tag + (triple ? 3 : 2);
        const char *close = strstr(body, triple ? "}}}" : "}}");
        if (!close) {
            snprintf(why, why_len, "line %u: a tag is not closed", s_line(src, tag));
            goto fail;
        }
        p = close + (triple ? 3 : 2);
        int type = triple ? N_RAW : N_VAR;
        if (!triple && strchr("#^/>!", *body)) {
            char c = *body++;
            type = c == '#'   ? N_SECTION
                   : c == '^' ? N_INVERTED
                   : c == '>' ? N_PARTIAL
                   : c == '!' ? -1
                              : -2;
        }
        if (type == -1)
            continue; /* a comment */
        const char *nm = body;
        size_t nl = (size_t)(close - body);
        s_trim(&nm, &nl);
        if (!nl) {
            snprintf(why, why_len, "line %u: a tag without a name", s_line(src, tag));
            goto fail;
        }
        if (type == -2) {
            if (!depth || nodes[open[depth - 1]].len != nl ||
                memcmp(nodes[open[depth - 1]].s, nm, nl) != 0) {
                snprintf(why, why_len, "line %u: {{/%.*s}} closes no open section",
                         s_line(src, tag), (int)nl, nm);
                goto fail;
            }
            nodes[open[--depth]].end = n;
            continue;
        }
        if (type == N_SECTION || type == N_INVERTED) {
            if (depth == MAX_DEPTH) {
                snprintf(why, why_len, "line %u: sections nested too deep", s_line(src, tag));
                goto fail;
            }
            open[depth++] = n;
        }
        node_t nd = {.type = type, .s = nm, .len = nl, .arg = args_n};
        if (type == N_PARTIAL) {
            if (s_args(src + (nm - src), &nd.len, &args, &args_n, &args_cap, &nd.args_n) != 0) {
                snprintf(why, why_len,
                         "line %u: a partial's arguments are key=name, key=\"text\" or key "
                         "(at most %d)",
                         s_line(src, tag), MAX_ARGS);
                goto fail;
            }
        }
        nodes[n++] = nd;
    }
    if (depth) {
        snprintf(why, why_len, "section {{#%.*s}} is not closed", (int)nodes[open[depth - 1]].len,
                 nodes[open[depth - 1]].s);
        goto fail;
    }
    self->v = kp_xrealloc(self->v, (self->n + 1) * sizeof *self->v);
    self->v[self->n++] = (tmpl_t){kp_xstrdup(name), src, nodes, n, args};
    return 0;
fail:
    free(args);
    free(nodes);
    free(src);
    return -1;
}

int
web_tmpl_load_dir(web_tmpl_set_t *self, const char *dir, char *why, size_t why_len)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(why, why_len, "%s: cannot open the directory", dir);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (nl <= 5 || strcmp(e->d_name + nl - 5, ".html") != 0 || e->d_name[0] == '.')
            continue;
        char path[4096], name[256], err[200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(name, sizeof name, "%.*s", (int)(nl - 5), e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) {
            snprintf(why, why_len, "%s: cannot read", path);
            rc = -1;
            break;
        }
        web_buf_t b = {.max = 1u << 20};
        char chunk[8192];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
            web_buf_add(&b, chunk, got);
        fclose(f);
        if (b.full) {
            snprintf(why, why_len, "%s: larger than 1 MiB", path);
            rc = -1;
        } else if (web_tmpl_add(self, name, b.p ? b.p : "", b.n, err, sizeof err) != 0) {
            snprintf(why, why_len, "%s: %s", path, err);
            rc = -1;
        }
        web_buf_free(&b);
    }
    closedir(d);
    return rc;
}

typedef struct {
    const web_tmpl_set_t *set;
    const web_tv_t *stack[MAX_DEPTH * 2];
    unsigned depth;
    unsigned partials;
    web_buf_t *out;
} render_t;

static const web_tv_t *
s_lookup(const render_t *r, const char *name, size_t len)
{
    if (len == 1 && *name == '.')
        return r->stack[r->depth - 1];
    const char *dot = memchr(name, '.', len);
    size_t first = dot ? (size_t)(dot - name) : len;
    for (unsigned i = r->depth; i-- > 0;) {
        const web_tv_t *v = s_child(r->stack[i], name, first);
        if (v)
            return dot ? s_path(v, dot + 1, len - first - 1) : v;
    }
    return NULL;
}

static bool
s_truthy(const web_tv_t *v)
{
    if (!v)
        return false;
    if (v->type == TV_STR)
        return v->s[0] != 0;
    if (v->type == TV_LIST)
        return v->first != NULL;
    return true;
}

static int s_run(render_t *r, const tmpl_t *t, size_t from, size_t to);

static int
s_push(render_t *r, const web_tv_t *ctx, const tmpl_t *t, size_t from, size_t to)
{
    if (r->depth == MAX_DEPTH * 2)
        return -1;
    r->stack[r->depth++] = ctx;
    int rc = s_run(r, t, from, to);
    r->depth--;
    return rc;
}

/* Renders partial p, called by node nd of t with arguments, in a context of its own over the
 * caller's: each argument a copy of the value its name has here (a name with no value gives
 * "", so that it hides a value of that key further out), its text, or "1" for a flag. The
 * context lives on the stack while p renders. */
static int
s_call(render_t *r, const tmpl_t *t, const node_t *nd, const tmpl_t *p)
{
    web_tv_t ctx = {.type = TV_OBJ}, vals[MAX_ARGS];
    for (size_t i = 0; i < nd->args_n; i++) {
        const arg_t *a = &t->args[nd->arg + i];
        const web_tv_t *v = a->kind == ARG_NAME ? s_lookup(r, a->val, a->val_len) : NULL;
        vals[i] = v ? *v : (web_tv_t){.type = TV_STR};
        if (!v)
            vals[i].s = a->kind == ARG_TEXT ? a->val : a->kind == ARG_FLAG ? "1" : "";
        vals[i].key = a->key;
        vals[i].key_len = a->key_len;
        vals[i].next = vals[i].hnext = NULL;
        s_append(&ctx, &vals[i]);
    }
    return s_push(r, &ctx, p, 0, p->n);
}

static int
s_run(render_t *r, const tmpl_t *t, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        const node_t *nd = &t->nodes[i];
        const web_tv_t *v;
        switch (nd->type) {
        case N_TEXT:
            web_buf_add(r->out, nd->s, nd->len);
            break;
        case N_VAR:
        case N_RAW:
            v = s_lookup(r, nd->s, nd->len);
            if (v && v->type == TV_STR) {
                if (nd->type == N_VAR)
                    web_buf_esc(r->out, v->s);
                else
                    web_buf_adds(r->out, v->s);
            }
            break;
        case N_SECTION:
            v = s_lookup(r, nd->s, nd->len);
            if (v && v->type == TV_LIST) {
                for (const web_tv_t *it = v->first; it; it = it->next)
                    if (s_push(r, it, t, i + 1, nd->end))
                        return -1;
            } else if (s_truthy(v)) {
                if (s_push(r, v->type == TV_OBJ ? v : r->stack[r->depth - 1], t, i + 1, nd->end))
                    return -1;
            }
            i = nd->end - 1;
            break;
        case N_INVERTED:
            v = s_lookup(r, nd->s, nd->len);
            if (!s_truthy(v) && s_run(r, t, i + 1, nd->end))
                return -1;
            i = nd->end - 1;
            break;
        case N_PARTIAL: {
            const tmpl_t *p = s_find(r->set, nd->s, nd->len);
            if (!p || r->partials >= MAX_DEPTH)
                return -1;
            r->partials++;
            int rc = nd->args_n ? s_call(r, t, nd, p) : s_run(r, p, 0, p->n);
            r->partials--;
            if (rc)
                return rc;
            break;
        }
        }
    }
    return r->out->full ? -1 : 0;
}

int
web_tmpl_render(const web_tmpl_set_t *self, const char *name, const web_tv_t *root, web_buf_t *out)
{
    const tmpl_t *t = s_find(self, name, strlen(name));
    if (!t || !root)
        return -1;
    render_t r = {.set = self, .depth = 1, .out = out};
    r.stack[0] = root;
    return s_run(&r, t, 0, t->n);
}
