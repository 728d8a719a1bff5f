/* cmd_cancel.c -- `fleetqctl cancel ID...`: cancels tasks that have not
 * started.
 *
 * Each id goes through cancel.lua (the same script the coordinator runs for
 * `XADD fleetq:submit * cancel <id>`): a queued, delayed or retrying task
 * ends `cancelled` with the reason "cancelled by operator", gets its row in
 * SQLite and its fleetq:done:<id> like any ended task. A running task is
 * refused (it ends when its call does), as is an ended or unknown one.
 * Cancelled ids are printed on stdout; each refusal gets one line on stderr
 * and makes the exit status 1.
 */
#include <getopt.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"
#include "task.h"

#define REASON "cancelled by operator"

static int run(fq_ctl *ctl, int argc, char **argv);

const fq_ctl_command fq_ctl_cmd_cancel = {
    .name = "cancel",
    .args = "ID...",
    .summary = "cancel tasks that have not started (queued, delayed, retrying)",
    .run = run,
};

static void help(void)
{
    fq_ctl_print_usage(&fq_ctl_cmd_cancel, stdout);
    fputs("\n"
          "Cancels tasks that are queued, delayed or waiting to retry: they end\n"
          "`cancelled` (\"" REASON "\"), in Redis and in SQLite, and never\n"
          "reach the API. A running task cannot be cancelled: its call is under way\n"
          "and it ends when the call does. Tasks that have ended are left alone.\n"
          "\n"
          "Prints \"cancelled ID (was STATUS)\" for each task cancelled; each task that\n"
          "was not gets one line on stderr saying why, and the exit status is 1.\n"
          "The same from redis-cli: XADD fleetq:submit '*' cancel ID\n"
          "\n"
          "Options:\n"
          "  -h, --help   show this help\n",
          stdout);
}

/* Cancels one id. Returns -1 when Redis failed (reported), else 0. */
static int cancel_one(fq_ctl *ctl, const char *id)
{
    fq_argv a;
    fq_argv_init(&a);
    fq_cancel_args(&a, id, strlen(id), REASON, "");  /* not from the submit stream */
    redisReply *reply = fq_ctl_script(ctl, "cancel", FQ_CANCEL_NKEYS, &a);
    fq_argv_free(&a);
    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[2]->type != REDIS_REPLY_STRING) {
        fq_ctl_errorf("cancel %s: cancel.lua answered with something unexpected", id);
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
    } else if (strcmp(reply->element[0]->str, "cancelled") == 0) {
        printf("cancelled %s (was %s)\n", id, reply->element[2]->str);
    } else {
        const char *why = strcmp(reply->element[0]->str, "not found") == 0
                              ? "not found"
                              : reply->element[2]->str;
        fq_ctl_errorf("cancel %s: %s", id, why);
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
    }
    freeReplyObject(reply);
    return 0;
}

static int run(fq_ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': help(); return FQ_CTL_OK;
        default: return fq_ctl_bad_option(&fq_ctl_cmd_cancel, c, argv);
        }
    }
    if (optind >= argc)
        return fq_ctl_usage_error(&fq_ctl_cmd_cancel, "no task id given");

    int connected = 0;
    for (int i = optind; i < argc; i++) {
        const char *id = argv[i];
        if (!fq_id_valid(id, strlen(id))) {
            fq_ctl_errorf("cancel \"%.40s\": not a task id (1-128 of A-Za-z0-9._:-)", id);
            fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
            continue;
        }
        if (!connected) {
            if (fq_ctl_connect(ctl) != 0)
                return fq_ctl_exit(ctl);
            connected = 1;
        }
        if (cancel_one(ctl, id) != 0 && fq_ctl_exit(ctl) == FQ_CTL_UNREACHABLE)
            break;
    }
    return fq_ctl_exit(ctl);
}
