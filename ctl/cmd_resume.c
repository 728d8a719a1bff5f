/* cmd_resume.c -- `fleetqctl resume`: lifts a fleet-wide pause.
 *
 * A rejected key or spent credits pause the whole fleet (fleetq:quota
 * `paused`, `pause_reason`): nobody calls but one probe every
 * FLEETQ_PAUSE_PROBE_SECONDS. Once the cause is fixed, this lifts the pause
 * at once, the way a successful probe does (common/lua/resume.lua, in one
 * step); --breaker closes every open circuit breaker too (each model has
 * its own). What was lifted, and
 * why it had been set, is printed; "not paused" when there was nothing to
 * lift, which is not an error.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"
#include "record.h"

static int run(fq_ctl *ctl, int argc, char **argv);

const fq_ctl_command fq_ctl_cmd_resume = {
    .name = "resume",
    .args = "[--breaker]",
    .summary = "lift a fleet pause (key rejected, no credits) at once",
    .run = run,
};

static void help(void)
{
    fq_ctl_print_usage(&fq_ctl_cmd_resume, stdout);
    fputs("\n"
          "When the provider rejects the key or says the credits are spent, the whole\n"
          "fleet pauses: no calls but one probe every FLEETQ_PAUSE_PROBE_SECONDS\n"
          "(default 300), and tasks wait, delayed. Fix the cause first (a new key in\n"
          "XAI_API_KEY_FILE and SIGHUP to the workers, which also lifts the pause;\n"
          "more credits), then run this to lift the pause now: workers call again\n"
          "within 5 s. If the cause is still there, the next call pauses the fleet\n"
          "again.\n"
          "\n"
          "Prints \"resumed: the fleet was paused (REASON: DETAIL) since TIME\", or\n"
          "\"not paused\".\n"
          "\n"
          "Options:\n"
          "  --breaker    also close the circuit breaker, if open (it opens after\n"
          "               repeated 5xx, timeouts or resets across the fleet, and\n"
          "               otherwise closes after a successful probe); workers that\n"
          "               wait on it call again when their wait ends\n"
          "  -h, --help   show this help\n"
          "\n"
          "Exit status: 0 resumed, or nothing to resume; 1 Redis refused a command;\n"
          "2 usage or configuration error; 3 Redis could not be reached.\n",
          stdout);
}

static const redisReply *item(const redisReply *r, size_t i)
{
    const redisReply *v = r->element[i];
    return v->type == REDIS_REPLY_STRING ? v : NULL;
}

static void report(const redisReply *r, int breaker)
{
    const redisReply *paused = item(r, 0), *reason = item(r, 1), *since = item(r, 2);
    const redisReply *state = item(r, 3), *failures = item(r, 4);
    if (paused != NULL && paused->len > 0) {
        fputs("resumed: the fleet was paused (", stdout);
        fq_ctl_put_field(stdout, paused->str, paused->len);
        if (reason != NULL && reason->len > 0) {
            fputs(": ", stdout);
            fq_ctl_put_field(stdout, reason->str, reason->len);
        }
        putchar(')');
        long long ms = since != NULL ? strtoll(since->str, NULL, 10) : 0;
        char t[40];
        if (ms > 0)
            printf(" since %s", fq_iso8601_ms(ms, t, sizeof(t)));
        putchar('\n');
    } else {
        puts("not paused");
    }
    if (!breaker)
        return;
    if (state != NULL && strcmp(state->str, "closed") != 0) {
        fputs("breaker closed (it was ", stdout);
        fq_ctl_put_field(stdout, state->str, state->len);
        printf(" after %s failures in a row)\n", failures != NULL ? failures->str : "0");
    } else {
        puts("breaker already closed");
    }
}

static int resume(fq_ctl *ctl, int breaker)
{
    redisReply *models = fq_ctl_command_run(ctl, "ZRANGE %s 0 -1", fq_keys()->models);
    if (models == NULL)
        return fq_ctl_exit(ctl);
    fq_argv a;
    fq_argv_init(&a);
    int nkeys = fq_resume_args(&a, models, breaker, ctl->cfg.breaker_cooldown_ms);
    freeReplyObject(models);
    int bad = nkeys < 0;
    redisReply *r = bad ? NULL : fq_ctl_script(ctl, "resume", nkeys, &a);
    fq_argv_free(&a);
    if (bad) {
        fq_ctl_errorf("out of memory");
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
    }
    if (r == NULL)
        return fq_ctl_exit(ctl);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 5) {
        fq_ctl_errorf("resume.lua answered with something unexpected");
        fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
    } else {
        report(r, breaker);
    }
    freeReplyObject(r);
    return fq_ctl_exit(ctl);
}

static int run(fq_ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"breaker", no_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int breaker = 0, c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': breaker = 1; break;
        case 'h': help(); return FQ_CTL_OK;
        default: return fq_ctl_bad_option(&fq_ctl_cmd_resume, c, argv);
        }
    }
    if (optind < argc)
        return fq_ctl_usage_error(&fq_ctl_cmd_resume, "unexpected argument \"%.40s\"",
                                  argv[optind]);
    if (fq_ctl_connect(ctl) != 0)
        return fq_ctl_exit(ctl);
    return resume(ctl, breaker);
}
