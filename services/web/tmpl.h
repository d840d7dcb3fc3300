/*  web/tmpl: the web's template renderer: a small subset of Mustache, HTML-escaped by default.
 *
 *  Debian has no C Mustache library (mustach is not packaged for bookworm), so this is ours,
 *  kept small enough to read in one sitting and tested in tests/unit/web/test_tmpl.c.
 *
 *  Syntax (operators edit the templates; see services/web/templates/README):
 *    {{name}}              the value, HTML-escaped (& < > " ' become entities)
 *    {{{name}}}            the value unescaped: only for HTML the service built itself
 *    {{#name}}..{{/name}}  a list: once per item (the item is the innermost context);
 *                          a value or an object: once if present and not ""
 *    {{^name}}..{{/name}}  once if name is missing, "" or an empty list
 *    {{>name}}             another template of the same set, in the current context
 *    {{>name k=a.b k="text" k}}  the same with arguments: a context of its own over the
 *                          current one holds k = the value a.b has here (a missing one is "",
 *                          which hides any k further out), the text, or "1" (a flag); names
 *                          the call does not give are looked up outwards as usual
 *    {{! comment }}
 *  Names may be dotted (t.title): the first part is looked up from the innermost context
 *  outwards, the rest inside it. A missing name renders as nothing.
 *
 *  Values (web_tv_t) live in a kp_arena (keys and strings are copied into it): a page builds its
 * tree per request and the arena is reset after the response is made. A full arena makes the
 * setters do nothing and the render answers -1 (the caller answers 500), so hostile sizes cannot
 * grow memory without bound. */
#ifndef WEB_TMPL_H
#define WEB_TMPL_H

#include "kp_arena.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- values ------------------------------------------------------------------------------ */

typedef struct web_tv web_tv_t;

/* A new empty object in arena a; NULL when the arena is full. */
web_tv_t *web_tv_new(kp_arena_t *a);

/* Sets key to a copy of s (NULL: nothing). obj may be NULL (then nothing happens).
 * web_tv_strf formats the value; one longer than 16 KiB is cut on a UTF-8 character boundary. */
void web_tv_str(kp_arena_t *a, web_tv_t *obj, const char *key, const char *s);
void web_tv_strf(kp_arena_t *a, web_tv_t *obj, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sets key to "1" when on (a section then renders); nothing when off. */
void web_tv_bool(kp_arena_t *a, web_tv_t *obj, const char *key, bool on);

/* A child object under key; NULL when the arena is full or obj is NULL. */
web_tv_t *web_tv_obj(kp_arena_t *a, web_tv_t *obj, const char *key);

/* A list under key (created empty if missing), and a new object appended to a list. */
web_tv_t *web_tv_list(kp_arena_t *a, web_tv_t *obj, const char *key);
web_tv_t *web_tv_item(kp_arena_t *a, web_tv_t *list);

/* Makes key refer to an existing object (borrowed: it must outlive every render). */
void web_tv_attach(kp_arena_t *a, web_tv_t *obj, const char *key, const web_tv_t *child);

/* Indexes obj's children by key for constant-time lookups (a large, finished object such as a
 * language's texts; keys set later are not indexed). Returns 0, or -1 when the arena is full. */
int web_tv_index(kp_arena_t *a, web_tv_t *obj);

/* The string under a dotted name in obj, or NULL. */
const char *web_tv_get(const web_tv_t *obj, const char *name);

/* ---- output ------------------------------------------------------------------------------ */

typedef struct {
    char *p; /* malloc'd; the caller frees (or hands it to MHD_RESPMEM_MUST_FREE) */
    size_t n, cap;
    size_t max; /* refuse to grow past this (0: 8 MiB) */
    bool full;  /* an append was refused */
} web_buf_t;

void web_buf_add(web_buf_t *b, const char *s, size_t n);
void web_buf_adds(web_buf_t *b, const char *s);
void web_buf_addf(web_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s HTML-escaped. */
void web_buf_esc(web_buf_t *b, const char *s);
void web_buf_free(web_buf_t *b);

/* ---- templates --------------------------------------------------------------------------- */

typedef struct web_tmpl_set web_tmpl_set_t;

web_tmpl_set_t *web_tmpl_set_new(void);
void web_tmpl_set_destroy(web_tmpl_set_t **self_p);

/* Compiles src (copied) under name. Returns 0, or -1 with a reason and line in why (an
 * unclosed tag or section, a section closed by another name, too deep nesting, a partial's
 * argument that is not key=name, key="text" or key, or more than 16 of them). */
int web_tmpl_add(web_tmpl_set_t *self, const char *name, const char *src, size_t len, char *why,
                 size_t why_len);

/* Reads every <dir>/<name>.html into the set. Returns 0, or -1 with the file and the reason
 * in why. */
int web_tmpl_load_dir(web_tmpl_set_t *self, const char *dir, char *why, size_t why_len);

bool web_tmpl_has(const web_tmpl_set_t *self, const char *name);

/* Renders template name with root into out. Returns 0, or -1 (no such template, partials
 * nested too deep, or the output buffer full). */
int web_tmpl_render(const web_tmpl_set_t *self, const char *name, const web_tv_t *root,
                    web_buf_t *out);

#endif
