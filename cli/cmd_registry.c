/*  cmd_registry.c: the `kumppani registry ...` commands (see cli_cmd.h). */
#include "cli_cmd.h"

const cli_cmd_t cli_cmds_registry[] = {
    {NULL, NULL, NULL, NULL},
};
