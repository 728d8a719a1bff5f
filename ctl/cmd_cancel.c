/* cmd_cancel.c -- `fleetqctl cancel ID...`: cancels tasks that have not
 * started; with --flow, every task of the flows named that has not.
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
    .args = "[--flow] ID...",
    .summary = "cancel tasks (or whole flows) that have not started",
    .run = run,
};

static void help(void)
{
    fq_ctl_print_usage(&fq_ctl_cmd_cancel, stdout);
    fputs("\n"
          "Cancels tasks that are queued, delayed, waiting for their parents or\n"
          "waiting to retry: they end\n"
          "`cancelled` (\"" REASON "\"), in Redis and in SQLite, and never\n"
          "reach the API. A running task cannot be cancelled: its call is under way\n"
          "and it ends when the call does. Tasks that have ended are left alone.\n"
          "\n"
          "Prints \"cancelled ID (was STATUS)\" for each task cancelled; each task that\n"
          "was not gets one line on stderr saying why, and the exit status is 1.\n"
          "The same from redis-cli: XADD fleetq:submit '*' cancel ID\n"
          "\n"
          "With --flow, each ID names a flow (its root task): every task of it that\n"
          "has not started is cancelled, and the tasks waiting for them are\n"
          "cancelled in turn; running tasks finish. One line then sums it up:\n"
          "\"flow ID: N cancelled, M running, K ended\".\n"
          "\n"
          "Options:\n"
          "      --flow   cancel whole flows\n"
          "  -h, --help   show this help\n",
          stdout);
}

/* Cancels one id. Returns -1 when Redis failed (reported), else 0; with
 * quiet, a refusal is not an error (a flow's running or ended tasks). */
static int cancel_one(fq_ctl *ctl, const char *id, int quiet)
{
    fq_argv a;
    fq_argv_init(&a);
    fq_cancel_args(&a, id, strlen(id), REASON, "", 0);  /* not from the submit stream */
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
    } else if (!quiet) {
        const char *why = strcmp(reply->element[0]->str, "not found") == 0
                              ? "not found"
                              : reply->element[2]->str;
        fq_ctl_errorf("cancel %s: %s", id, why);
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
    }
    freeReplyObject(reply);
    return 0;
}

/* Cancels what has not started in the flow whose root is root. */
static int cancel_flow(fq_ctl *ctl, const char *root)
{
    fq_ctl_flow f;
    if (fq_ctl_flow_gather(ctl, root, &f) != 0) {
        fq_ctl_flow_free(&f);
        return -1;
    }
    if (f.n == 1 && fq_ctl_flow_field(&f.tasks[0], FQ_CTL_FLOW_STATUS) == NULL) {
        fq_ctl_flow_free(&f);
        fq_ctl_errorf("cancel --flow %s: not found", root);
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        return 0;
    }
    int cancelled = 0, running = 0, ended = 0, rc = 0;
    for (int i = 0; i < f.n && rc == 0; i++) {
        const char *status = fq_ctl_flow_field(&f.tasks[i], FQ_CTL_FLOW_STATUS);
        if (status == NULL || fq_ctl_status_final(status)) {
            ended++;
        } else if (strcmp(status, "running") == 0) {
            running++;
        } else {
            rc = cancel_one(ctl, f.tasks[i].id, 1);
            cancelled++;
        }
    }
    if (rc == 0)
        printf("flow %s: %d cancelled, %d running, %d ended\n", root, cancelled, running, ended);
    fq_ctl_flow_free(&f);
    return rc;
}

static int run(fq_ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"flow", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, flow = 0;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': flow = 1; break;
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
        if ((flow ? cancel_flow(ctl, id) : cancel_one(ctl, id, 0)) != 0 &&
            fq_ctl_exit(ctl) == FQ_CTL_UNREACHABLE)
            break;
    }
    return fq_ctl_exit(ctl);
}
