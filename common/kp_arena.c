/*  kp_arena: bounded bump allocation.
 *
 *  Blocks form a singly linked list, newest first. An allocation that does not fit the
 *  current block gets a new block of max(2 × previous, request) bytes. Reset frees every
 *  block but the oldest, which is the one a steady workload needs. `used` counts bytes handed
 *  out (with alignment padding) and is what the cap limits. */
#include "kp_arena.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KP_ARENA_FIRST (16 * 1024)
#define KP_ARENA_ALIGN 16

typedef struct block {
    struct block *next;
    size_t size, off;
    _Alignas(16) unsigned char data[];
} block_t;

struct kp_arena {
    block_t *head;
    size_t cap, used, refused;
    ProtobufCAllocator pbc;
};

void *
kp_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("kumppani: out of memory\n", stderr);
        abort();
    }
    return p;
}

void *
kp_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fputs("kumppani: out of memory\n", stderr);
        abort();
    }
    return p;
}

void *
kp_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fputs("kumppani: out of memory\n", stderr);
        abort();
    }
    return q;
}

char *
kp_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(kp_xmalloc(n), s, n);
}

static void *
s_pbc_alloc(void *data, size_t n)
{
    return kp_arena_alloc(data, n);
}

static void
s_pbc_free(void *data, void *p)
{
    (void)data;
    (void)p;
}

static block_t *
s_block_new(size_t size)
{
    block_t *b = kp_xmalloc(sizeof *b + size);
    b->next = NULL;
    b->size = size;
    b->off = 0;
    return b;
}

kp_arena_t *
kp_arena_new(size_t cap)
{
    kp_arena_t *self = kp_xcalloc(1, sizeof *self);
    self->cap = cap;
    self->head = s_block_new(KP_ARENA_FIRST);
    self->pbc.alloc = s_pbc_alloc;
    self->pbc.free = s_pbc_free;
    self->pbc.allocator_data = self;
    return self;
}

void
kp_arena_destroy(kp_arena_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    block_t *b = (*self_p)->head;
    while (b) {
        block_t *next = b->next;
        free(b);
        b = next;
    }
    free(*self_p);
    *self_p = NULL;
}

void *
kp_arena_alloc(kp_arena_t *self, size_t n)
{
    size_t need = (n + KP_ARENA_ALIGN - 1) & ~(size_t)(KP_ARENA_ALIGN - 1);
    if (need < n || need > self->cap - self->used) {
        self->refused++;
        return NULL;
    }
    block_t *b = self->head;
    if (b->size - b->off < need) {
        size_t size = b->size * 2;
        if (size < need)
            size = need;
        block_t *nb = s_block_new(size);
        nb->next = b;
        self->head = b = nb;
    }
    void *p = b->data + b->off;
    b->off += need;
    self->used += need;
    return p;
}

void *
kp_arena_memdup(kp_arena_t *self, const void *p, size_t len)
{
    unsigned char *q = kp_arena_alloc(self, len + 1);
    if (!q)
        return NULL;
    if (len)
        memcpy(q, p, len);
    q[len] = 0;
    return q;
}

void
kp_arena_reset(kp_arena_t *self)
{
    block_t *b = self->head;
    while (b->next) {
        block_t *next = b->next;
        free(b);
        b = next;
    }
    b->off = 0;
    self->head = b;
    self->used = 0;
}

size_t
kp_arena_refusals(const kp_arena_t *self)
{
    return self->refused;
}

size_t
kp_arena_used(const kp_arena_t *self)
{
    return self->used;
}

ProtobufCAllocator *
kp_arena_pbc(kp_arena_t *self)
{
    return &self->pbc;
}

/* The one growth rule of arrays and texts in an arena: returns v itself when its room *cap
 * holds need elements of size bytes; otherwise a new array in the arena whose room is *cap
 * (first when 0) doubled until it holds need, holding a copy of v's n elements, and sets *cap to
 * that room. NULL, *cap unchanged, when the arena refuses or the bytes would overflow size_t. */
static void *
s_grow(kp_arena_t *self, void *v, size_t n, size_t need, size_t *cap, size_t size, size_t first)
{
    if (need <= *cap)
        return v;
    size_t nc = *cap ? *cap : first;
    while (nc && nc < need && nc <= SIZE_MAX / 2)
        nc *= 2;
    void *nv = nc >= need && nc <= SIZE_MAX / size ? kp_arena_alloc(self, nc * size) : NULL;
    if (!nv)
        return NULL;
    if (n)
        memcpy(nv, v, n * size);
    *cap = nc;
    return nv;
}

void *
kp_arena_grow(kp_arena_t *self, void *v, size_t n, size_t *cap, size_t size, size_t first)
{
    return s_grow(self, v, n, n + 1, cap, size, first);
}

void
kp_arena_str_put(kp_arena_str_t *self, const char *s, size_t n)
{
    if (self->oom)
        return;
    char *p = s_grow(self->a, self->p, self->len, self->len + n + 1, &self->cap, 1, 256);
    if (!p) {
        self->oom = true;
        return;
    }
    self->p = p;
    memcpy(self->p + self->len, s, n);
    self->len += n;
    self->p[self->len] = 0;
}

void
kp_arena_str_puts(kp_arena_str_t *self, const char *s)
{
    kp_arena_str_put(self, s, strlen(s));
}

char *
kp_arena_str_done(kp_arena_str_t *self)
{
    if (!self->oom && !self->p)
        kp_arena_str_put(self, "", 0);
    return self->oom ? NULL : self->p;
}
