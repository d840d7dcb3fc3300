/*  kp_err: error codes shared by every module.
 *
 *  Functions return int: 0 on success, a negative code on failure. Operating-system
 *  failures pass through as -errno (libuv's convention); Kumppani's own codes live below
 *  KP_ERR_BASE so that the two never collide. */
#ifndef KP_ERR_H
#define KP_ERR_H

#define KP_ERR_BASE (-10000)

enum {
    KP_EINVAL = KP_ERR_BASE - 1,    /* bad argument or input */
    KP_ENOMEM = KP_ERR_BASE - 2,    /* a bounded allocator ran out */
    KP_ESTORE = KP_ERR_BASE - 3,    /* LMDB failed (see the log for the MDB code) */
    KP_EFULL = KP_ERR_BASE - 4,     /* the LMDB map is full */
    KP_EZMQ = KP_ERR_BASE - 5,      /* ZeroMQ failed (see the log for errno) */
    KP_ETOOBIG = KP_ERR_BASE - 6,   /* input exceeds a size limit */
    KP_EDECODE = KP_ERR_BASE - 7,   /* undecodable protobuf */
    KP_ECONFIG = KP_ERR_BASE - 8,   /* bad configuration */
    KP_EKEY = KP_ERR_BASE - 9,      /* missing or malformed key */
    KP_ETIMEOUT = KP_ERR_BASE - 10, /* no answer in time */
    KP_EVERSION = KP_ERR_BASE - 11, /* store schema newer than this program */
    KP_ECORRUPT = KP_ERR_BASE - 12, /* stored data does not decode */
};

/* Returns a static description of an error code (KP or -errno). Never NULL. */
const char *kp_strerror(int code);

/* Translates an LMDB return code into a KP code: MDB_MAP_FULL -> KP_EFULL, other MDB
 * codes -> KP_ESTORE, errno values -> -errno, 0 -> 0. */
int kp_err_from_mdb(int rc);

#endif
