/*  cmd_broker.c: the `kumppani broker ...` commands (see cli_cmd.h). */
#include "cli_cmd.h"

const cli_cmd_t cli_cmds_broker[] = {
    {NULL, NULL, NULL, NULL},
};
