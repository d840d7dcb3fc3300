/*  cmd_web.c: the web's commands: back-office accounts.
 *
 *  "web account-add" makes a coordinator's account (web.account.add, admin key). The password
 *  is read from standard input (one line; on a terminal without echo), never from the command
 *  line, where other users of the machine could see it in the process list. The web hashes it
 *  (Argon2id); nothing prints it. "web account-disable", "-enable" and "-remove" name the
 *  account by --user or --id (web.account.disable, .enable, .remove, admin key). */
#include "cli_cmd.h"
#include "kumppani/v1/web.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const struct {
    const char *name;
    Kumppani__V1__OfficeRole role;
} s_roles[] = {
    {"regional", KUMPPANI__V1__OFFICE_ROLE__OFFICE_ROLE_REGIONAL},
    {"municipal", KUMPPANI__V1__OFFICE_ROLE__OFFICE_ROLE_MUNICIPAL},
    {"expert", KUMPPANI__V1__OFFICE_ROLE__OFFICE_ROLE_EXPERT},
};

/* One line of standard input (without its line break) into buf; on a terminal, asked for on
 * stderr with the echo off. Returns 0 or -1 (reported). */
static int
s_password(char *buf, size_t len)
{
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        fprintf(stderr, "Password: ");
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    } else
        tty = false;
    char *got = fgets(buf, (int)len, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    if (!got) {
        cli_err("give the password on standard input (one line)");
        return -1;
    }
    size_t n = strlen(buf);
    if (n == len - 1 && buf[n - 1] != '\n') {
        cli_err("the password is too long");
        return -1;
    }
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = 0;
    return 0;
}

static int
s_account_add(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__AddOfficeAccountRequest *rq = (Kumppani__V1__AddOfficeAccountRequest *)m;
    const char *user = cli_arg(c->a, "user"), *role = cli_arg(c->a, "role");
    if (!user || !*user || !role) {
        cli_err("--user and --role are required");
        return -1;
    }
    rq->user = (char *)user;
    for (size_t i = 0; i < sizeof s_roles / sizeof s_roles[0]; i++)
        if (strcmp(role, s_roles[i].name) == 0)
            rq->role = s_roles[i].role;
    if (!rq->role) {
        cli_err("--role is regional, municipal or expert");
        return -1;
    }
    rq->municipalities = cli_split(c, cli_arg(c->a, "municipality"), ',', &rq->n_municipalities);
    char *pw = cli_alloc(c, 1100);
    if (s_password(pw, 1100))
        return -1;
    rq->password = pw;
    return 0;
}

static void
s_account_print(const ProtobufCMessage *m)
{
    const Kumppani__V1__OfficeAccountReply *r = (const Kumppani__V1__OfficeAccountReply *)m;
    const char *role = "?";
    for (size_t i = 0; i < sizeof s_roles / sizeof s_roles[0]; i++)
        if (r->role == s_roles[i].role)
            role = s_roles[i].name;
    printf("account %llu: %s, %s", (unsigned long long)r->id, r->user, role);
    for (size_t i = 0; i < r->n_municipalities; i++)
        printf("%s%s", i ? "," : " ", r->municipalities[i]);
    printf("\n");
}

/* account-disable, -enable, -remove: the account by --user NAME or --id N. */
static int
s_account_ref(cli_ctx_t *c, ProtobufCMessage *m)
{
    Kumppani__V1__OfficeAccountRefRequest *rq = (Kumppani__V1__OfficeAccountRefRequest *)m;
    const char *user = cli_arg(c->a, "user"), *id = cli_arg(c->a, "id");
    if ((!user || !*user) == (!id || !*id)) {
        cli_err("give --user NAME or --id N (one of them)");
        return -1;
    }
    if (user && *user) {
        rq->user = (char *)user;
        return 0;
    }
    return cli_num(c, "id", true, 1, UINT64_MAX, &rq->id);
}

static int
s_account_state_print(cli_ctx_t *c, const ProtobufCMessage *m)
{
    const Kumppani__V1__OfficeAccountReply *r = (const Kumppani__V1__OfficeAccountReply *)m;
    const char *what = strcmp(c->cmd->words, "web account-remove") == 0 ? "removed"
                       : r->disabled                                    ? "disabled"
                                                                        : "enabled";
    printf("account %llu: %s\n", (unsigned long long)r->id, what);
    return EXIT_OK_;
}

static const cli_optspec_t s_ref_opts[] = {{"user", true}, {"id", true}, {NULL, false}};

/* A row that names one account by --user or --id and shows its state after METHOD. */
#define ACCOUNT_REF_CALL(METHOD)                                                                   \
    .opts = s_ref_opts, CLI_CALL("web", METHOD, office_account_ref_request, office_account_reply), \
    .fill = s_account_ref, .print = s_account_state_print

static const cli_optspec_t s_add_opts[] = {
    {"user", true}, {"role", true}, {"municipality", true}, {NULL, false}};

const cli_cmd_t cli_cmds_web[] = {
    {.words = "web account-add",
     .opts = s_add_opts,
     .help = "Usage: kumppani web account-add --user NAME --role regional|municipal|expert\n"
             "                                [--municipality 091,049] < password\n"
             "Adds a back-office account. The password (12..256 characters) is read from\n"
             "standard input; a municipal contact person needs --municipality.\n",
     CLI_CALL("web", "web.account.add", add_office_account_request, office_account_reply),
     .fill = s_account_add,
     .line = s_account_print},
    {.words = "web account-disable",
     .help = "Usage: kumppani web account-disable --user NAME | --id N\n"
             "Disables a back-office account: it cannot sign in, and its sessions end at once.\n"
             "The last enabled regional account cannot be disabled.\n",
     ACCOUNT_REF_CALL("web.account.disable")},
    {.words = "web account-enable",
     .help = "Usage: kumppani web account-enable --user NAME | --id N\n"
             "Enables a disabled back-office account again and clears its lockout.\n",
     ACCOUNT_REF_CALL("web.account.enable")},
    {.words = "web account-remove",
     .help = "Usage: kumppani web account-remove --user NAME | --id N\n"
             "Removes a back-office account with its sessions. The last enabled regional\n"
             "account cannot be removed.\n",
     ACCOUNT_REF_CALL("web.account.remove")},
    {0},
};
