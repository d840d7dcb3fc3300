/*  events/keyhash.c: a hash table of (tag, signup_id) pairs for the key index's two random
 *  lookups (index.c): the publisher's id and the e-mail per event. The table lives in the
 *  process's own memory while the service runs and is saved to its file, with the log position
 *  it reflects, a part at a time.
 *
 *  Why not a B-tree. Each random key put into an LMDB index copies and dirties a page of its
 *  own (measured: with 1,000,000 stored the index's puts and lookups took about half of the
 *  service's time per sign-up; README "Benchmark"). Here a put writes 16 bytes in place.
 *
 *  Why not a file mapped shared. Each time the kernel writes a page of the mapping back, it
 *  write-protects it, and the next put into that page faults into the file system
 *  (page_mkwrite, a time stamp, the journal). Measured: with 10,000,000 stored, tables of
 *  512 MiB and random puts, nearly every put faulted: 12,000 sign-ups/s instead of 40,000
 *  (README "Benchmark"). In anonymous memory (huge pages where the kernel gives them) a put
 *  never faults, and what reaches the file is written by the service, in 64 KiB parts.
 *
 *  Saving. A part changed since it was last written is marked. evt_kh_flush, called after each
 *  turn (index.c), continues a pass over the table that writes the marked parts, a few at a
 *  time; when a pass ends, every change made before it began is in the file, and the header
 *  then records the log position of the pass's start ("through"). evt_kh_save writes all marked
 *  parts and the header at once (a stop, a rebuild). After a kill the file holds the last
 *  finished pass and parts of the next: the index catches up from the header's through (index.c),
 *  re-putting pairs (a put of a pair already there adds nothing), and the counts are taken again
 *  from the slots when the table is read, so a half-written pass cannot mislead them. A file
 *  is the page cache's until evt_kh_save syncs it; after an operating-system crash the index is
 *  rebuilt (index.c, the boot id).
 *
 *  Layout: one 4 KiB header (magic, slot count, used and live counts, through), then `cap`
 *  slots of { uint64 tag, uint64 id } in host order (the file is this machine's cache, rebuilt
 *  when it cannot be read). cap is a power of two; linear probing from tag & (cap - 1). A slot
 *  is empty when its tag is 0 (a tag is never 0), deleted when its id is 0. Tags are not keys:
 *  several slots may hold one tag (another key with the same 64-bit hash, or a stale entry),
 *  so a caller checks each candidate against the synced record, which is the truth. The
 *  table grows to twice its size before it is 70 % used, and its next save writes a new file
 *  renamed over the old: the turn that grows it waits (measured: 55 ms for 524,288 slots; a
 *  table of 2^25 slots, at 23 million sign-ups, takes seconds). */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MADV_HUGEPAGE */
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

#define KH_MAGIC "KPKHASH2" /* 1: a file mapped shared, with no through */
#define KH_HEAD 4096
#define KH_MIN_CAP ((uint64_t)1 << 20) /* 16 MiB: grows first at 734,003 pairs */
#define KH_CHUNK 65536                 /* a part: what a save writes at a time */

typedef struct {
    uint64_t tag, id;
} kh_slot_t;

typedef struct {
    char magic[8];
    uint64_t cap, used, live, through;
} kh_head_t;

struct evt_khash {
    int fd;       /* the file, -1 while it does not hold this table's layout (new, grown) */
    uint8_t *map; /* header and slots, anonymous memory */
    size_t map_len;
    kh_head_t *head;
    kh_slot_t *slot;
    uint64_t mask;
    uint8_t *dirty; /* a byte a part: changed since last written */
    size_t parts, sweep;
    uint64_t pass_through; /* the log position when the running pass began */
    char path[4200];
};

static int
s_errno(const evt_khash_t *h, const char *op)
{
    int e = errno;
    kp_log_err("events.keyhash", "op=%s errno=%d file=%s", op, e, strrchr(h->path, '/') + 1);
    return e ? -e : -EIO;
}

static void
s_free(evt_khash_t *h)
{
    if (h->map)
        munmap(h->map, h->map_len);
    if (h->fd >= 0)
        close(h->fd);
    free(h->dirty);
    h->map = NULL;
    h->dirty = NULL;
    h->fd = -1;
}

/* Anonymous memory for a table of cap slots (zeroed: every slot empty). */
static int
s_alloc(evt_khash_t *h, uint64_t cap)
{
    h->map_len = KH_HEAD + cap * sizeof(kh_slot_t);
    h->map = mmap(NULL, h->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (h->map == MAP_FAILED) {
        h->map = NULL;
        return s_errno(h, "mmap");
    }
    (void)madvise(h->map, h->map_len, MADV_HUGEPAGE); /* fewer TLB misses; a hint only */
    h->head = (kh_head_t *)h->map;
    h->slot = (kh_slot_t *)(h->map + KH_HEAD);
    h->mask = cap - 1;
    h->parts = (h->map_len + KH_CHUNK - 1) / KH_CHUNK;
    h->dirty = kp_xcalloc(h->parts, 1);
    h->sweep = 0;
    return 0;
}

/* A new, empty table of cap slots, all of it still to be written. */
static int
s_new(evt_khash_t *h, uint64_t cap)
{
    int rc = s_alloc(h, cap);
    if (rc)
        return rc;
    memcpy(h->head->magic, KH_MAGIC, 8);
    h->head->cap = cap;
    memset(h->dirty, 1, h->parts);
    return 0;
}

static int
s_pread_all(evt_khash_t *h, uint8_t *to, size_t len, off_t off)
{
    while (len) {
        ssize_t n = pread(h->fd, to, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? KP_ECORRUPT : s_errno(h, "read");
        to += n, len -= (size_t)n, off += n;
    }
    return 0;
}

/* Reads the table of path into memory and counts its slots again. */
static int
s_load(evt_khash_t *h)
{
    struct stat st;
    kh_head_t head;
    h->fd = open(h->path, O_RDWR | O_CLOEXEC);
    if (h->fd < 0)
        return s_errno(h, "open");
    if (fstat(h->fd, &st) != 0)
        return s_errno(h, "size");
    if (st.st_size < KH_HEAD)
        return KP_ECORRUPT;
    int rc = s_pread_all(h, (uint8_t *)&head, sizeof head, 0);
    if (rc)
        return rc;
    uint64_t cap = head.cap;
    /* Any power of two is read (the first size may change); a full table would never end a
     * probe, and a grown one is never above 70 %. */
    if (memcmp(head.magic, KH_MAGIC, 8) != 0 || cap < 2 || (cap & (cap - 1)) ||
        (uint64_t)st.st_size != KH_HEAD + cap * sizeof(kh_slot_t) || head.used >= cap)
        return KP_ECORRUPT;
    if ((rc = s_alloc(h, cap)) || (rc = s_pread_all(h, h->map, h->map_len, 0)))
        return rc;
    uint64_t used = 0, live = 0;
    for (uint64_t i = 0; i < cap; i++)
        if (h->slot[i].tag) {
            used++;
            live += h->slot[i].id != 0;
        }
    if (used >= cap)
        return KP_ECORRUPT;
    h->head->used = used;
    h->head->live = live;
    return 0;
}

int
evt_kh_open(evt_khash_t **out, const char *path, uint64_t entries, bool fresh)
{
    if (!fresh && access(path, F_OK) != 0)
        return -ENOENT;
    evt_khash_t *h = kp_xcalloc(1, sizeof *h);
    h->fd = -1;
    snprintf(h->path, sizeof h->path, "%s", path);
    uint64_t cap = KH_MIN_CAP;
    while (cap / 2 < entries)
        cap *= 2;
    int rc = fresh ? s_new(h, cap) : s_load(h);
    if (rc) {
        s_free(h);
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}

void
evt_kh_close(evt_khash_t *h)
{
    if (!h)
        return;
    s_free(h);
    free(h);
}

uint64_t
evt_kh_live(const evt_khash_t *h)
{
    return h->head->live;
}

uint64_t
evt_kh_through(const evt_khash_t *h)
{
    return h->head->through;
}

static int
s_pwrite_all(evt_khash_t *h, int fd, const uint8_t *from, size_t len, off_t off)
{
    while (len) {
        ssize_t n = pwrite(fd, from, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return s_errno(h, "write");
        from += n, len -= (size_t)n, off += n;
    }
    return 0;
}

/* Writes part i; it stays marked if the write fails. */
static int
s_write_part(evt_khash_t *h, size_t i)
{
    size_t off = i * KH_CHUNK, len = h->map_len - off < KH_CHUNK ? h->map_len - off : KH_CHUNK;
    int rc = s_pwrite_all(h, h->fd, h->map + off, len, (off_t)off);
    if (rc == 0)
        h->dirty[i] = 0;
    return rc;
}

/* Writes the whole table into a new file beside its own (zero parts left as holes), synced,
 * and renames it over: for a table the file does not hold yet (new, rebuilt, grown). */
static int
s_write_new(evt_khash_t *h)
{
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.new", h->path);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), rc = 0;
    if (fd < 0)
        return s_errno(h, "open");
    if (ftruncate(fd, (off_t)h->map_len) != 0)
        rc = s_errno(h, "size");
    static const uint8_t zero[KH_CHUNK];
    for (size_t i = 0; i < h->parts && rc == 0; i++) {
        size_t off = i * KH_CHUNK, len = h->map_len - off < KH_CHUNK ? h->map_len - off : KH_CHUNK;
        if (memcmp(h->map + off, zero, len) != 0)
            rc = s_pwrite_all(h, fd, h->map + off, len, (off_t)off);
    }
    if (rc == 0 && fdatasync(fd) != 0)
        rc = s_errno(h, "sync");
    if (rc == 0 && rename(tmp, h->path) != 0)
        rc = s_errno(h, "rename");
    if (rc) {
        close(fd);
        unlink(tmp);
        return rc;
    }
    if (h->fd >= 0)
        close(h->fd);
    h->fd = fd;
    memset(h->dirty, 0, h->parts);
    h->sweep = 0;
    return 0;
}

int
evt_kh_save(evt_khash_t *h, uint64_t through, bool sync)
{
    h->head->through = through;
    if (h->fd < 0)
        return s_write_new(h); /* synced always: it replaces a file */
    int rc = 0;
    for (size_t i = 1; i < h->parts && rc == 0; i++)
        if (h->dirty[i])
            rc = s_write_part(h, i);
    if (rc == 0) /* the header last: it vouches for the rest */
        rc = s_write_part(h, 0);
    if (rc == 0 && sync && fdatasync(h->fd) != 0)
        rc = s_errno(h, "sync");
    h->sweep = 0;
    return rc;
}

int
evt_kh_flush(evt_khash_t *h, uint64_t head, size_t parts)
{
    if (h->fd < 0)
        return evt_kh_save(h, head, false); /* grown: a new file, at once */
    if (h->sweep == 0) {
        h->pass_through = head;
        h->sweep = 1; /* the header's part is written at the end of the pass */
    }
    for (; h->sweep < h->parts && parts > 0; h->sweep++)
        if (h->dirty[h->sweep]) {
            int rc = s_write_part(h, h->sweep);
            if (rc)
                return rc; /* the pass resumes here */
            parts--;
        }
    if (h->sweep < h->parts || parts == 0)
        return 0;
    uint64_t was = h->head->through;
    h->head->through = h->pass_through;
    int rc = s_write_part(h, 0);
    if (rc)
        h->head->through = was;
    else
        h->sweep = 0;
    return rc;
}

size_t
evt_kh_parts(const evt_khash_t *h)
{
    return h->parts;
}

static void
s_mark(evt_khash_t *h, uint64_t i)
{
    h->dirty[0] = 1; /* the counts */
    h->dirty[(KH_HEAD + i * sizeof(kh_slot_t)) / KH_CHUNK] = 1;
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

/* Moves the pairs into a table of twice the slots; its file is written anew at the next save. */
static int
s_grow(evt_khash_t *h)
{
    evt_khash_t n = {.fd = -1};
    snprintf(n.path, sizeof n.path, "%s", h->path);
    int64_t t0 = kp_mono_us();
    int rc = s_new(&n, h->head->cap * 2);
    if (rc) {
        s_free(&n);
        return rc;
    }
    n.head->through = h->head->through;
    for (uint64_t i = 0; i <= h->mask; i++)
        if (h->slot[i].tag && h->slot[i].id)
            s_put_new(&n, h->slot[i].tag, h->slot[i].id);
    kp_log_info("events.keyhash", "grown=%llu live=%llu ms=%lld file=%s",
                (unsigned long long)n.head->cap, (unsigned long long)n.head->live,
                (long long)((kp_mono_us() - t0) / 1000), strrchr(h->path, '/') + 1);
    s_free(h); /* the file stays as it was until the next save replaces it */
    *h = n;
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
    s_mark(h, i);
    return 0;
}

/* Many puts at once (a rebuild). Random tags over a table of hundreds of MiB make each put a
 * cache and TLB miss; the slot of the pair KH_AHEAD places on is fetched meanwhile. Measured
 * (README "Benchmark"), 10.3 M pairs into a 512 MiB table: ~5 s one by one, 3-4 s fetching
 * ahead; ordering the pairs by slot first (a counting pass on the slot's top bits) took
 * longer than it saved. */
#define KH_AHEAD 16

int
evt_kh_put_many(evt_khash_t *h, const evt_kh_pair_t *pairs, size_t n)
{
    int rc;
    while ((h->head->used + n) * 10 > h->head->cap * 7)
        if ((rc = s_grow(h)))
            return rc;
    for (size_t i = 0; i < n; i++) {
        if (i + KH_AHEAD < n)
            __builtin_prefetch(&h->slot[(pairs[i + KH_AHEAD].tag | 1) & h->mask], 1);
        (void)evt_kh_put(h, pairs[i].tag, pairs[i].id); /* no growth: room was made above */
    }
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
            s_mark(h, i);
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
