/* main.c -- fleetq-worker: command line, configuration, and the loop. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_models.h"
#include "config.h"
#include "log.h"
#include "settings.h"
#include "model_chain.h"
#include "worker.h"

#define PROG "fleetq-worker"
#define DEFAULT_CONCURRENCY 4
#define MAX_CONCURRENCY 256
#define MODELS_CHECK_MS 5000    /* the look at the provider's models at start */

static void usage(FILE *out)
{
    fprintf(out,
        "Usage: " PROG " --role ROLE [--concurrency N]\n"
        "\n"
        "Claims tasks of one role from Redis and runs them against the chat API\n"
        "with the fleet's shared key, under the fleet-wide rate limit and budget.\n"
        "\n"
        "Options:\n"
        "  -r, --role ROLE        ceo, code, quality or memory (or FLEETQ_ROLE)\n"
        "  -c, --concurrency N    API calls in flight at once, 1-%d (default %d,\n"
        "                         or FLEETQ_CONCURRENCY)\n"
        "  -h, --help             show this help\n"
        "  -V, --version          show the version\n"
        "\n"
        "Configuration comes from the environment: REDIS_URL, XAI_API_KEY or\n"
        "XAI_API_KEY_FILE, XAI_BASE_URL, GROK_RATE_LIMIT_RPM, DAILY_BUDGET_USD,\n"
        "MAX_TOKENS_DEFAULT, REQUEST_TIMEOUT, GROK_MAX_RETRIES, ... (see README, or\n"
        "`fleetqctl settings` for them all); a misspelled one is named in a warning.\n"
        "Signals: SIGTERM/SIGINT finish in-flight calls within FLEETQ_GRACE_SECONDS\n"
        "and hand back the rest; SIGHUP re-reads XAI_API_KEY_FILE.\n",
        MAX_CONCURRENCY, DEFAULT_CONCURRENCY);
}

static int parse_concurrency(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > MAX_CONCURRENCY) {
        fprintf(stderr, PROG ": %s: must be an integer from 1 to %d, got \"%s\"\n", what,
                MAX_CONCURRENCY, s);
        exit(FQ_EXIT_CONFIG);
    }
    return (int)v;
}

/* Names, in one warning each, the role's model and fallbacks that the
 * provider does not list (GET /models); a provider without that endpoint
 * gets no warning. */
static void check_models(const fq_config *cfg, fq_role role)
{
    fq_api_models listed;
    if (fq_api_models_fetch(cfg->base_url, cfg->api_key, MODELS_CHECK_MS, &listed) != 0) {
        fq_log(FQ_LOG_DEBUG, "models.unlisted", FQ_LS, "api", cfg->base_url, FQ_LS, "msg",
               "the provider gave no list of models; not checked", FQ_LEND);
        return;
    }
    const fq_role_profile *p = &cfg->roles[role];
    fq_model_chain chain;
    if (fq_model_chain_init(&chain, p->model, p->fallback) == 0) {
        for (int i = 0; i < chain.n; i++)
            if (!fq_api_models_has(&listed, chain.names[i]))
                fq_log(FQ_LOG_WARN, "model.not_listed", FQ_LS, "model", chain.names[i],
                       FQ_LS, "as", i == 0 ? "the role's model" : "a fallback", FQ_LS, "api",
                       cfg->base_url, FQ_LI, "listed", (int64_t)listed.n, FQ_LS, "msg",
                       "the provider does not list this model: tasks on it will fail with "
                       "model_not_found unless a fallback serves them", FQ_LEND);
        fq_model_chain_free(&chain);
    }
    fq_api_models_free(&listed);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"role", required_argument, NULL, 'r'},
        {"concurrency", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *role_arg = getenv("FLEETQ_ROLE");
    const char *conc_env = getenv("FLEETQ_CONCURRENCY");
    int concurrency = conc_env && *conc_env ? parse_concurrency(conc_env, "FLEETQ_CONCURRENCY")
                                            : DEFAULT_CONCURRENCY;
    int c;
    while ((c = getopt_long(argc, argv, "r:c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'r': role_arg = optarg; break;
        case 'c': concurrency = parse_concurrency(optarg, "--concurrency"); break;
        case 'h': usage(stdout); return 0;
        case 'V': printf(PROG " %s\n", FQ_VERSION); return 0;
        default: usage(stderr); return FQ_EXIT_CONFIG;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROG ": unexpected argument \"%s\"; see --help\n", argv[optind]);
        return FQ_EXIT_CONFIG;
    }
    if (role_arg == NULL || *role_arg == '\0') {
        fprintf(stderr, PROG ": --role: missing; use --role ceo|code|quality|memory "
                        "(or set FLEETQ_ROLE)\n");
        return FQ_EXIT_CONFIG;
    }
    int role = fq_role_parse(role_arg, strlen(role_arg));
    if (role < 0) {
        fprintf(stderr, PROG ": --role: unknown role \"%.40s\"; use ceo, code, quality or "
                        "memory\n", role_arg);
        return FQ_EXIT_CONFIG;
    }

    /* a peer that went away is an error on the write, not a signal */
    signal(SIGPIPE, SIG_IGN);
    fq_config cfg;
    char err[512];
    if (fq_config_load(&cfg, FQ_NEED_KEY, err, sizeof(err)) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return FQ_EXIT_CONFIG;
    }
    fq_log_init(PROG, (fq_log_level)cfg.log_level);
    fq_log_add_secret(cfg.api_key);
    fq_settings_log_unknown();   /* a misspelled variable changes nothing: say so */

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, PROG ": libcurl failed to initialise\n");
        return 1;
    }
    check_models(&cfg, (fq_role)role);
    uv_loop_t loop;
    uv_loop_init(&loop);
    fq_worker *w = fq_worker_new(&loop, &cfg, (fq_role)role, concurrency);
    int rc = 1;
    if (w != NULL && fq_worker_start(w) == 0) {
        uv_run(&loop, UV_RUN_DEFAULT);
        rc = 0;
    }
    fq_worker_free(w);
    if (uv_loop_close(&loop) != 0)
        fq_log(FQ_LOG_WARN, "worker.loop_not_empty", FQ_LEND);
    curl_global_cleanup();
    fq_config_free(&cfg);
    return rc;
}
