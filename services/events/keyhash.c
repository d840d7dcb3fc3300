/*  events/keyhash.c: a hash table of (tag, signup_id) pairs in a file mapped shared, for the
 *  key index's two random lookups (index.c): the publisher's id and the e-mail per event.
 *
 *  Why not a B-tree. Each random key put into the LMDB index copied and dirtied a page of its
 *  own, most of them pages the process had not written since the kernel last wrote them back,
 *  so each first write faulted; with 1,000,000 stored the index's puts and lookups took about
 *  half of the service's time per sign-up (README "Benchmark"). Here a put writes 16 bytes in
 *  place, into a table whose pages stay the same ones: at 10,000,000 sign-ups 256 MiB.
 *
 *  Layout: one 4 KiB header (magic, slot count, used and live counts), then `cap` slots of
 *  { uint64 tag, uint64 id } in host order (the file is this machine's cache, rebuilt when it
 *  cannot be read). cap is a power of two; linear probing from tag & (cap - 1). A slot is
 *  empty when its tag is 0 (a tag is never 0), deleted when its id is 0. Tags are not keys:
 *  several slots may hold one tag (another key with the same 64-bit hash, or a stale entry),
 *  so a caller checks each candidate against the synced record, which is the truth. The
 *  table grows to twice its size, into a new file renamed over the old, before it is 70 %
 *  used: the turn that grows it waits (measured: 55 ms for 524,288 slots; a table of
 *  2^25 slots, at 23 million sign-ups, takes seconds). Nothing is synced here except at
 *  evt_kh_sync (a clean stop). */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "events.h"
#include "kp_err.h"
#include "kp_log.h"
#include "kp_time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define KH_MAGIC "KPKHASH1"
#define KH_HEAD 4096
#define KH_MIN_CAP ((uint64_t)1 << 20) /* 16 MiB: grows first at 734,003 pairs */
#define KH_CHUNK 65536

typedef struct {
    uint64_t tag, id;
} kh_slot_t;

typedef struct {
    char magic[8];
    uint64_t cap, used, live;
} kh_head_t;

struct evt_khash {
    int fd;
    uint8_t *map;
    size_t map_len;
    kh_head_t *head;
    kh_slot_t *slot;
    uint64_t mask;
    char path[4200];
};

static int
s_errno(const evt_khash_t *h, const char *op)
{
    int e = errno;
    kp_log_err("events.keyhash", "op=%s errno=%d file=%s", op, e, strrchr(h->path, '/') + 1);
    return -e;
}

typedef enum { KH_OPEN, KH_CREATE, KH_MEMORY } kh_mode_t;

static void
s_unmap(evt_khash_t *h)
{
    if (h->map)
        munmap(h->map, h->map_len);
    if (h->fd >= 0)
        close(h->fd);
    h->map = NULL;
    h->fd = -1;
}

/* Maps the table of path (KH_OPEN), a new one of cap slots there (KH_CREATE), or a new one in
 * memory (KH_MEMORY, for evt_kh_save to write out). */
static int
s_map(evt_khash_t *h, const char *path, uint64_t cap, kh_mode_t mode)
{
    bool create = mode != KH_OPEN;
    struct stat st = {.st_size = (off_t)(KH_HEAD + cap * sizeof(kh_slot_t))};
    if (mode != KH_MEMORY) {
        h->fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0), 0600);
        if (h->fd < 0)
            return s_errno(h, "open");
        if (create ? ftruncate(h->fd, st.st_size) != 0 : fstat(h->fd, &st) != 0)
            return s_errno(h, "size");
    }
    if (st.st_size < KH_HEAD)
        return KP_ECORRUPT;
    h->map_len = (size_t)st.st_size;
    h->map =
        mode == KH_MEMORY
            ? mmap(NULL, h->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            : mmap(NULL, h->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, h->fd, 0);
    if (h->map == MAP_FAILED) {
        h->map = NULL;
        return s_errno(h, "mmap");
    }
    h->head = (kh_head_t *)h->map;
    h->slot = (kh_slot_t *)(h->map + KH_HEAD);
    if (create) {
        memcpy(h->head->magic, KH_MAGIC, 8);
        h->head->cap = cap;
        h->head->used = h->head->live = 0;
    }
    cap = h->head->cap;
    /* Any power of two is read (the first size may change); a full table would never end a
     * probe, and a grown one is never above 70 %. */
    if (memcmp(h->head->magic, KH_MAGIC, 8) != 0 || cap < 2 || (cap & (cap - 1)) ||
        h->map_len != KH_HEAD + cap * sizeof(kh_slot_t) || h->head->used >= cap)
        return KP_ECORRUPT;
    h->mask = cap - 1;
    return 0;
}

static int
s_open(evt_khash_t **out, const char *path, uint64_t entries, kh_mode_t mode)
{
    if (mode == KH_OPEN && access(path, F_OK) != 0)
        return -ENOENT;
    evt_khash_t *h = kp_xcalloc(1, sizeof *h);
    h->fd = -1;
    snprintf(h->path, sizeof h->path, "%s", path);
    uint64_t cap = KH_MIN_CAP;
    while (cap / 2 < entries)
        cap *= 2;
    int rc = s_map(h, path, cap, mode);
    if (rc) {
        s_unmap(h);
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}

int
evt_kh_open(evt_khash_t **out, const char *path, uint64_t entries, bool fresh)
{
    return s_open(out, path, entries, fresh ? KH_CREATE : KH_OPEN);
}

int
evt_kh_open_mem(evt_khash_t **out, const char *path, uint64_t entries)
{
    return s_open(out, path, entries, KH_MEMORY);
}

/* Writes a table made in memory to its file (beside, then renamed over) and maps that. */
int
evt_kh_save(evt_khash_t *h)
{
    if (h->fd >= 0)
        return 0;
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.new", h->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), rc = 0;
    if (fd < 0)
        return s_errno(h, "open");
    if (ftruncate(fd, (off_t)h->map_len) != 0)
        rc = s_errno(h, "size");
    /* Chunks of zeros stay holes: a young table is mostly empty. */
    static const uint8_t zero[KH_CHUNK];
    for (size_t off = 0; off < h->map_len && rc == 0;) {
        size_t len = h->map_len - off < KH_CHUNK ? h->map_len - off : KH_CHUNK;
        ssize_t n = len;
        if (memcmp(h->map + off, zero, len) != 0)
            n = pwrite(fd, h->map + off, len, (off_t)off);
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno != EINTR)
            rc = s_errno(h, "write");
    }
    if (close(fd) != 0 && rc == 0)
        rc = s_errno(h, "close");
    if (rc == 0 && rename(tmp, h->path) != 0)
        rc = s_errno(h, "rename");
    if (rc) {
        unlink(tmp);
        return rc;
    }
    s_unmap(h);
    return s_map(h, h->path, 0, KH_OPEN);
}

void
evt_kh_close(evt_khash_t *h)
{
    if (!h)
        return;
    s_unmap(h);
    free(h);
}

int
evt_kh_sync(evt_khash_t *h)
{
    if (!h || h->fd < 0)
        return -EINVAL; /* none, or one in memory that was never saved: nothing to vouch for */
    return msync(h->map, h->map_len, MS_SYNC) == 0 ? 0 : s_errno(h, "msync");
}

uint64_t
evt_kh_live(const evt_khash_t *h)
{
    return h->head->live;
}

/* Puts into a table known to hold no deleted slot and room enough (a grow's copy). */
static void
s_put_new(evt_khash_t *h, uint64_t tag, uint64_t id)
{
    uint64_t i = tag & h->mask;
    while (h->slot[i].tag)
        i = (i + 1) & h->mask;
    h->slot[i] = (kh_slot_t){tag, id};
    h->head->used++;
    h->head->live++;
}

/* Moves the pairs into a table of twice the slots, made in memory and then (for a file's
 * table) written beside the file in one sequential write and renamed over it: random first
 * writes into a new file's pages would fault one by one. */
static int
s_grow(evt_khash_t *h)
{
    evt_khash_t n = {.fd = -1};
    snprintf(n.path, sizeof n.path, "%s", h->path);
    int64_t t0 = kp_mono_us();
    int rc = s_map(&n, NULL, h->head->cap * 2, KH_MEMORY);
    if (rc == 0) {
        for (uint64_t i = 0; i <= h->mask; i++)
            if (h->slot[i].tag && h->slot[i].id)
                s_put_new(&n, h->slot[i].tag, h->slot[i].id);
        if (h->fd >= 0)
            rc = evt_kh_save(&n);
    }
    if (rc) {
        s_unmap(&n);
        return rc;
    }
    kp_log_info("events.keyhash", "grown=%llu live=%llu ms=%lld file=%s",
                (unsigned long long)n.head->cap, (unsigned long long)n.head->live,
                (long long)((kp_mono_us() - t0) / 1000), strrchr(h->path, '/') + 1);
    s_unmap(h);
    h->fd = n.fd;
    h->map = n.map;
    h->map_len = n.map_len;
    h->head = n.head;
    h->slot = n.slot;
    h->mask = n.mask;
    return 0;
}

int
evt_kh_put(evt_khash_t *h, uint64_t tag, uint64_t id)
{
    tag |= 1; /* never 0, the empty slot's mark */
    if ((h->head->used + 1) * 10 > h->head->cap * 7) {
        int rc = s_grow(h);
        if (rc)
            return rc;
    }
    uint64_t i = tag & h->mask, reuse = UINT64_MAX;
    for (; h->slot[i].tag; i = (i + 1) & h->mask) {
        if (h->slot[i].tag == tag && h->slot[i].id == id)
            return 0; /* there already (a catch-up applies a sign-up again) */
        if (!h->slot[i].id && reuse == UINT64_MAX)
            reuse = i;
    }
    if (reuse != UINT64_MAX) {
        i = reuse;
    } else {
        h->head->used++;
    }
    h->slot[i] = (kh_slot_t){tag, id};
    h->head->live++;
    return 0;
}

void
evt_kh_del(evt_khash_t *h, uint64_t tag, uint64_t id)
{
    tag |= 1;
    for (uint64_t i = tag & h->mask; h->slot[i].tag; i = (i + 1) & h->mask)
        if (h->slot[i].tag == tag && h->slot[i].id == id) {
            h->slot[i].id = 0;
            h->head->live--;
            return;
        }
}

int
evt_kh_each(const evt_khash_t *h, uint64_t tag, int (*fn)(void *, uint64_t), void *arg)
{
    tag |= 1;
    for (uint64_t i = tag & h->mask; h->slot[i].tag; i = (i + 1) & h->mask)
        if (h->slot[i].tag == tag && h->slot[i].id) {
            int rc = fn(arg, h->slot[i].id);
            if (rc)
                return rc;
        }
    return 0;
}
