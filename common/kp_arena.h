/*  kp_arena: a bounded bump allocator for one turn, or one request.
 *
 *  Everything allocated lives until kp_arena_reset() or kp_arena_destroy(); there is no
 *  per-allocation free. The arena refuses (returns NULL) once `cap` bytes are handed out, which
 *  is how decoding memory is bounded: protobuf-c unpacks through kp_arena_pbc() and fails
 *  cleanly instead of growing without limit on hostile input. */
#ifndef KP_ARENA_H
#define KP_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct kp_arena kp_arena_t;

/* Returns a new arena that hands out at most cap bytes between resets. Caller owns the
 * result; free with kp_arena_destroy. Aborts when out of memory. */
kp_arena_t *kp_arena_new(size_t cap);

/* Frees the arena and everything allocated from it; accepts NULL; sets *self_p to NULL. */
void kp_arena_destroy(kp_arena_t **self_p);

/* Returns n bytes aligned to 16, or NULL if the cap would be exceeded. Valid until reset. */
void *kp_arena_alloc(kp_arena_t *self, size_t n);

/* Copies len bytes (plus a NUL terminator); NULL if the cap would be exceeded. */
void *kp_arena_memdup(kp_arena_t *self, const void *p, size_t len);

/* Makes every earlier allocation invalid and the whole cap available again. Keeps the first
 * block so that a steady workload stops calling malloc. */
void kp_arena_reset(kp_arena_t *self);

/* How many allocations the arena has refused since it was made (never reset): a caller that
 * sees this grow across a call knows the call failed for want of memory. */
size_t kp_arena_refusals(const kp_arena_t *self);

/* Bytes handed out since the last reset. */
size_t kp_arena_used(const kp_arena_t *self);

/* A protobuf-c allocator backed by this arena (free is a no-op). Borrowed; valid as long as
 * the arena. */
ProtobufCAllocator *kp_arena_pbc(kp_arena_t *self);

/* malloc/realloc that abort on failure (Redis, h2o): running out of memory is not an input
 * error a service can answer. */
void *kp_xmalloc(size_t n);
void *kp_xcalloc(size_t n, size_t size);
void *kp_xrealloc(void *p, size_t n);
char *kp_xstrdup(const char *s);

/* Room for one more element in an array kept in the arena: returns v itself when n < *cap,
 * otherwise a new array in the arena with room for twice *cap elements of size bytes (first
 * when *cap is 0), holding a copy of v's n elements, and sets *cap to that room (v stays in
 * the arena until it is reset). NULL when the arena refuses (*cap unchanged). */
void *kp_arena_grow(kp_arena_t *self, void *v, size_t n, size_t *cap, size_t size, size_t first);

/* ---- text built in the arena ------------------------------------------------------------- */

/* A NUL-terminated text that grows in an arena, embedded by value: start it as
 * (kp_arena_str_t){.a = arena}. The room doubles as needed (256 bytes first); the old room
 * stays in the arena until it is reset. When the arena refuses room, oom is set and every
 * later put does nothing. p is NULL until the first put. */
typedef struct {
    kp_arena_t *a;
    char *p;
    size_t len, cap;
    bool oom;
} kp_arena_str_t;

/* Appends the n bytes at s. */
void kp_arena_str_put(kp_arena_str_t *self, const char *s, size_t n);

/* Appends the string s. */
void kp_arena_str_puts(kp_arena_str_t *self, const char *s);

/* The text ("" when nothing was put), valid as long as the arena; NULL when the arena refused
 * room. */
char *kp_arena_str_done(kp_arena_str_t *self);

#endif
