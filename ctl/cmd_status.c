/* cmd_status.c -- `fleetqctl status`: one screen on the state of the fleet.
 *
 * The figures are one snapshot (ctl_fleet.c): per role the tasks queued,
 * delayed (and of those, waiting to retry), running (and of those, calling
 * the API or waiting for the quota) and the live workers;
 * the dead letters; the fleet quota (effective rate and ceiling, this
 * minute's calls, calls in flight, freeze, pause, circuit breaker) and
 * today's budget. Text for people, --json for scripts.
 */
#include <getopt.h>

#include "ctl.h"

static int run(fq_ctl *ctl, int argc, char **argv);

const fq_ctl_command fq_ctl_cmd_status = {
    .name = "status",
    .args = "[--json]",
    .summary = "queues, workers, dead letters, quota and budget on one screen",
    .run = run,
};

static void help(void)
{
    fq_ctl_print_usage(&fq_ctl_cmd_status, stdout);
    fputs("\n"
          "Shows the fleet as it is now, on Redis' clock:\n"
          "  - per role: tasks queued; delayed (waiting for their start time or for a\n"
          "    retry), and of those retrying; running (claimed by a worker, under a\n"
          "    lease), and of those CALLING (the API call under way) and waiting for\n"
          "    the QUOTA (held back by the rate, the token or hourly ceiling, the cap\n"
          "    on calls in flight, the budget, a freeze or the breaker); the rest of\n"
          "    running are between the two (a cache lookup, an identical task's answer\n"
          "    or the worker's first call awaited, the report); live workers (a\n"
          "    heartbeat in the last FLEETQ_LEASE_SECONDS, default 30);\n"
          "  - the coordinator that holds the fleet's lease (fleetq:coordinator):\n"
          "    its host, pid, start and database, or that none does;\n"
          "  - dead letters (tasks that ended failed; see " FQ_CTL_PROG " dead);\n"
          "  - the fleet quota from fleetq:quota: effective rate and its ceiling,\n"
          "    calls this minute, calls in flight (and the running tasks waiting for\n"
          "    the quota), a freeze after a 429, a pause (key rejected, no credits)\n"
          "    and its reason, the circuit breaker;\n"
          "  - today's budget (UTC day): spent, cap and what is left;\n"
          "  - the response cache: hits, misses, the USD its hits saved, the answers\n"
          "    it holds and their size.\n"
          "Delayed, retrying and running tasks are counted by role (and running ones\n"
          "by phase) while there are at most 5000 of them; past that only the total\n"
          "is shown (a dash, or null).\n"
          "\n"
          "Options:\n"
          "  --json       print one JSON object: time, now_ms, roles (ceo, code,\n"
          "               quality, memory: queued, delayed, retrying, running,\n"
          "               calling, waiting_quota, workers), all (the same summed),\n"
          "               workers (live, registered, lease_seconds), dead, quota\n"
          "               (rate_limiting, rate_per_s, rpm_ceiling, window_requests,\n"
          "               inflight, frozen, frozen_until_ms, paused, pause_reason,\n"
          "               paused_at_ms, resumed_at_ms, breaker, breaker_failures,\n"
          "               decreases, last_429_ms) and budget (spent_usd,\n"
          "               reserved_usd, cap_usd, left_usd), cache (hits, misses,\n"
          "               saved_usd, entries, bytes), coordinator (host, pid, since,\n"
          "               db, fleet, renewed_ms_ago; null when none holds the\n"
          "               lease); quota and budget are null\n"
          "               until a worker has asked for a call, other unknown\n"
          "               figures are null\n"
          "  -h, --help   show this help\n"
          "\n"
          "Exit status: 0 shown; 1 Redis refused a command; 2 usage or configuration\n"
          "error; 3 Redis could not be reached.\n",
          stdout);
}

static int run(fq_ctl *ctl, int argc, char **argv)
{
    int json;
    int rc = fq_ctl_json_options(&fq_ctl_cmd_status, help, 0, argc, argv, &json);
    if (rc >= 0)
        return rc;
    if (optind < argc)
        return fq_ctl_usage_error(&fq_ctl_cmd_status, "unexpected argument \"%.40s\"",
                                  argv[optind]);
    if (fq_ctl_connect(ctl) != 0)
        return fq_ctl_exit(ctl);

    fq_ctl_fleet f;
    if (fq_ctl_fleet_gather(ctl, &f) == 0) {
        if (json) {
            if (fq_ctl_json_print(fq_ctl_fleet_json(ctl, &f)) != 0)
                fq_ctl_fail(ctl, FQ_CTL_PARTIAL);
        } else {
            fq_ctl_fleet_print(ctl, &f, stdout);
        }
    }
    fq_ctl_fleet_free(&f);
    return fq_ctl_exit(ctl);
}
