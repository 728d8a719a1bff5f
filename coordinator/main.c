/* main.c -- fleetq-coordinator: command line, configuration, the loop. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "coordinator.h"
#include "http.h"
#include "log.h"
#include "settings.h"

#define PROG "fleetq-coordinator"

static void usage(FILE *out)
{
    fputs("Usage: " PROG " [--help] [--version]\n"
          "\n"
          "Takes submissions from the Redis stream fleetq:submit, validates them and\n"
          "routes them to the role queues; promotes delayed tasks and retries; returns\n"
          "tasks whose worker died; writes every result and attempt to SQLite;\n"
          "serves GET /health and GET /metrics on 0.0.0.0:PORT.\n"
          "\n"
          "Configuration comes from the environment: REDIS_URL (default\n"
          "redis://127.0.0.1:6379/0), FLEETQ_DB (default ./fleetq.db), PORT or\n"
          "FLEETQ_HTTP_PORT (default 8080), GROK_MAX_RETRIES,\n"
          "FLEETQ_MAX_SUBMISSION_BYTES, FLEETQ_LOG_LEVEL, ... (see README, or\n"
          "`fleetqctl settings` for them all); a misspelled one is named in a warning.\n"
          "SIGTERM/SIGINT stop it after the current batch is written.\n",
          out);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'V': printf(PROG " %s\n", FQ_VERSION); return 0;
        default: usage(stderr); return FQ_EXIT_CONFIG;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROG ": unexpected argument \"%s\"; see --help\n", argv[optind]);
        return FQ_EXIT_CONFIG;
    }
    /* a peer that went away is an error on the write, not a signal */
    signal(SIGPIPE, SIG_IGN);
    fq_config cfg;
    char err[512];
    if (fq_config_load(&cfg, FQ_NO_KEY, err, sizeof(err)) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return FQ_EXIT_CONFIG;
    }
    fq_log_init(PROG, (fq_log_level)cfg.log_level);
    fq_log_add_secret(cfg.api_key);
    fq_settings_log_unknown();   /* a misspelled variable changes nothing: say so */

    fq_health *health = fq_health_new();
    if (health == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        fq_config_free(&cfg);
        return 1;
    }
    /* First, so that a port in use stops us before anything else starts. */
    struct fq_http *http = fq_http_start(&cfg, health, err, sizeof(err));
    if (http == NULL) {
        fprintf(stderr, PROG ": %s\n", err);
        fq_health_free(health);
        fq_config_free(&cfg);
        return FQ_EXIT_CONFIG;
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    fq_coordinator coord;
    int rc = 1;
    if (fq_coordinator_start(&coord, &loop, &cfg, http, health) == 0) {
        uv_run(&loop, UV_RUN_DEFAULT);
        rc = coord.exit_code;
    }
    fq_coordinator_free(&coord);
    uv_loop_close(&loop);
    fq_health_free(health);
    fq_config_free(&cfg);
    return rc;
}
