/*  cmd_notifier.c: the `kumppani notifier ...` commands (see cli_cmd.h). */
#include "cli_cmd.h"

const cli_cmd_t cli_cmds_notifier[] = {
    {NULL, NULL, NULL, NULL},
};
