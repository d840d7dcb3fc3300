/*  kp_err: error codes and their text.
 *
 *  One table, so that a code always reads the same in logs, replies and the CLI. */
#include "kp_err.h"

#include <lmdb.h>
#include <string.h>

const char *
kp_strerror(int code)
{
    switch (code) {
    case 0:
        return "ok";
    case KP_EINVAL:
        return "invalid argument";
    case KP_ENOMEM:
        return "out of memory (bounded allocator)";
    case KP_ESTORE:
        return "store failure";
    case KP_EFULL:
        return "store full";
    case KP_EZMQ:
        return "zeromq failure";
    case KP_ETOOBIG:
        return "too large";
    case KP_EDECODE:
        return "undecodable message";
    case KP_ECONFIG:
        return "bad configuration";
    case KP_EKEY:
        return "missing or malformed key";
    case KP_ETIMEOUT:
        return "timed out";
    case KP_EVERSION:
        return "store is newer than this program";
    case KP_ECORRUPT:
        return "stored data is corrupt";
    default:
        if (code < 0 && code > KP_ERR_BASE)
            return strerror(-code);
        return "unknown error";
    }
}

int
kp_err_from_mdb(int rc)
{
    if (rc == 0)
        return 0;
    if (rc == MDB_MAP_FULL)
        return KP_EFULL;
    if (rc > 0)
        return -rc; /* LMDB passes errno values through */
    return KP_ESTORE;
}
