/* main.c -- fleetq-mockapi: options, start-up, signals and shutdown.
 *
 * The options fill a mock_config (see mock_config.h), which is checked and
 * published before the server starts. SIGTERM and SIGINT are blocked in
 * every thread (MHD's threads inherit the mask) and taken by the main
 * thread with sigwait, which then wakes sleeping requests, stops the daemon
 * and exits 0. With --port-file, the bound port is written to a temporary
 * file beside the target and renamed into place, so a reader never sees a
 * half-written number.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mock_config.h"
#include "mock_faults.h"
#include "mock_limiter.h"
#include "mock_request_log.h"
#include "mock_server.h"
#include "mock_timing.h"
#include "mock_usage.h"

#ifndef FQ_VERSION
#define FQ_VERSION "unknown"
#endif

enum {
    OPT_PORT = 256, OPT_PORT_FILE, OPT_BIND, OPT_KEY, OPT_LATENCY, OPT_JITTER, OPT_STREAM_CHUNK,
    OPT_RATE, OPT_WINDOW, OPT_ADVERTISED, OPT_NOISE, OPT_TOKENS, OPT_MODEL_LIMITS,
    OPT_ERROR_STYLE, OPT_FAIL, OPT_HANG, OPT_HANG_MS, OPT_RESET, OPT_TRUNCATE, OPT_CREDITS,
    OPT_CREDITS_STATUS, OPT_BLOCKED, OPT_COUNT_REFUSED, OPT_REASONING, OPT_COMPLETION,
    OPT_NO_COST, OPT_SEED, OPT_REQUEST_LOG, OPT_VERBOSE, OPT_QUIET, OPT_HELP, OPT_VERSION,
    OPT_NO_AUTH, OPT_MODELS, OPT_NO_MODELS_ENDPOINT, OPT_REQUEST_TOKENS, OPT_QUOTA_EXHAUSTED,
    OPT_RATE_HEADERS, OPT_STREAM_ERROR_RATE, OPT_STREAM_ERROR_STATUS, OPT_NO_USAGE
};

static const struct option options[] = {
    { "port", required_argument, NULL, OPT_PORT },
    { "port-file", required_argument, NULL, OPT_PORT_FILE },
    { "request-log", required_argument, NULL, OPT_REQUEST_LOG },
    { "bind", required_argument, NULL, OPT_BIND },
    { "key", required_argument, NULL, OPT_KEY },
    { "no-auth", no_argument, NULL, OPT_NO_AUTH },
    { "models", required_argument, NULL, OPT_MODELS },
    { "no-models-endpoint", no_argument, NULL, OPT_NO_MODELS_ENDPOINT },
    { "latency-ms", required_argument, NULL, OPT_LATENCY },
    { "jitter-ms", required_argument, NULL, OPT_JITTER },
    { "stream-chunk-ms", required_argument, NULL, OPT_STREAM_CHUNK },
    { "rate-limit", required_argument, NULL, OPT_RATE },
    { "window-ms", required_argument, NULL, OPT_WINDOW },
    { "advertised-limit", required_argument, NULL, OPT_ADVERTISED },
    { "rate-noise", required_argument, NULL, OPT_NOISE },
    { "token-limit", required_argument, NULL, OPT_TOKENS },
    { "model-limits", required_argument, NULL, OPT_MODEL_LIMITS },
    { "request-token-limit", required_argument, NULL, OPT_REQUEST_TOKENS },
    { "error-style", required_argument, NULL, OPT_ERROR_STYLE },
    { "rate-headers", required_argument, NULL, OPT_RATE_HEADERS },
    { "fail-rate", required_argument, NULL, OPT_FAIL },
    { "hang-rate", required_argument, NULL, OPT_HANG },
    { "hang-ms", required_argument, NULL, OPT_HANG_MS },
    { "reset-rate", required_argument, NULL, OPT_RESET },
    { "truncate-rate", required_argument, NULL, OPT_TRUNCATE },
    { "stream-error-rate", required_argument, NULL, OPT_STREAM_ERROR_RATE },
    { "stream-error-status", required_argument, NULL, OPT_STREAM_ERROR_STATUS },
    { "credits-usd", required_argument, NULL, OPT_CREDITS },
    { "credits-status", required_argument, NULL, OPT_CREDITS_STATUS },
    { "quota-exhausted", no_argument, NULL, OPT_QUOTA_EXHAUSTED },
    { "blocked", no_argument, NULL, OPT_BLOCKED },
    { "count-refused", no_argument, NULL, OPT_COUNT_REFUSED },
    { "reasoning-tokens", required_argument, NULL, OPT_REASONING },
    { "completion-tokens", required_argument, NULL, OPT_COMPLETION },
    { "no-cost-ticks", no_argument, NULL, OPT_NO_COST },
    { "no-usage", no_argument, NULL, OPT_NO_USAGE },
    { "seed", required_argument, NULL, OPT_SEED },
    { "verbose", no_argument, NULL, OPT_VERBOSE },
    { "quiet", no_argument, NULL, OPT_QUIET },
    { "help", no_argument, NULL, OPT_HELP },
    { "version", no_argument, NULL, OPT_VERSION },
    { NULL, 0, NULL, 0 },
};

static void die_config(const char *opt, const char *what)
{
    fprintf(stderr, "fleetq-mockapi: %s: %s (see --help)\n", opt, what);
    exit(2);
}

static long arg_long(const char *opt, const char *s, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max) {
        char what[96];
        snprintf(what, sizeof(what), "'%.32s' is not a whole number from %ld to %ld", s, min, max);
        die_config(opt, what);
    }
    return v;
}

static double arg_double(const char *opt, const char *s, double min, double max)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !(v >= min && v <= max)) {
        char what[96];
        snprintf(what, sizeof(what), "'%.32s' is not a number from %g to %g", s, min, max);
        die_config(opt, what);
    }
    return v;
}

static int write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    int ok = fprintf(f, "%u\n", port) > 0;
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    mock_config cfg;
    const char *bind_addr = "127.0.0.1", *port_file = NULL;
    unsigned port = 8000, bound = 0;
    uint64_t seed = 0;
    int have_key = 0, have_seed = 0, opt;
    char err[256];

    mock_config_defaults(&cfg);
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_PORT: port = (unsigned)arg_long("--port", optarg, 0, 65535); break;
        case OPT_PORT_FILE: port_file = optarg; break;
        case OPT_BIND: bind_addr = optarg; break;
        case OPT_KEY:
            if (strlen(optarg) >= MOCK_KEY_MAX) die_config("--key", "the key is too long");
            snprintf(cfg.key, sizeof(cfg.key), "%s", optarg);
            have_key = 1;
            break;
        case OPT_NO_AUTH: cfg.auth = 0; break;
        case OPT_MODELS:
            if (mock_model_list_parse(optarg, &cfg.models, err, sizeof(err)) != 0)
                die_config("--models", err);
            break;
        case OPT_NO_MODELS_ENDPOINT: cfg.models_endpoint = 0; break;
        case OPT_LATENCY: cfg.latency_ms = arg_long("--latency-ms", optarg, 0, 86400000); break;
        case OPT_JITTER: cfg.jitter_ms = arg_long("--jitter-ms", optarg, 0, 86400000); break;
        case OPT_STREAM_CHUNK:
            cfg.stream_chunk_ms = arg_long("--stream-chunk-ms", optarg, 0, 86400000);
            break;
        case OPT_RATE: cfg.rate_limit = arg_long("--rate-limit", optarg, 0, 1000000000); break;
        case OPT_WINDOW: cfg.window_ms = arg_long("--window-ms", optarg, 1, 86400000); break;
        case OPT_ADVERTISED:
            cfg.advertised_limit = arg_long("--advertised-limit", optarg, 0, 1000000000);
            break;
        case OPT_NOISE: cfg.rate_noise = arg_double("--rate-noise", optarg, 0, 0.5); break;
        case OPT_TOKENS: cfg.token_limit = arg_long("--token-limit", optarg, 0, 1000000000000L); break;
        case OPT_MODEL_LIMITS:
            if (mock_model_limits_parse(optarg, &cfg.model_limits, err, sizeof(err)) != 0)
                die_config("--model-limits", err);
            break;
        case OPT_REQUEST_TOKENS:
            cfg.request_token_limit = arg_long("--request-token-limit", optarg, 0,
                                               1000000000000L);
            break;
        case OPT_RATE_HEADERS:
            if (mock_config_parse_header_style(optarg, &cfg.rate_headers) != 0)
                die_config("--rate-headers", "must be auto, xai or openai");
            break;
        case OPT_ERROR_STYLE:
            if (mock_config_parse_style(optarg, &cfg.error_style) != 0)
                die_config("--error-style", "must be xai or openai");
            break;
        case OPT_FAIL: cfg.fail_rate = arg_double("--fail-rate", optarg, 0, 1); break;
        case OPT_HANG: cfg.hang_rate = arg_double("--hang-rate", optarg, 0, 1); break;
        case OPT_HANG_MS: cfg.hang_ms = arg_long("--hang-ms", optarg, 0, 86400000); break;
        case OPT_RESET: cfg.reset_rate = arg_double("--reset-rate", optarg, 0, 1); break;
        case OPT_TRUNCATE: cfg.truncate_rate = arg_double("--truncate-rate", optarg, 0, 1); break;
        case OPT_STREAM_ERROR_RATE:
            cfg.stream_error_rate = arg_double("--stream-error-rate", optarg, 0, 1);
            break;
        case OPT_STREAM_ERROR_STATUS:
            cfg.stream_error_status = (int)arg_long("--stream-error-status", optarg, 100, 599);
            if (!mock_config_stream_status_known(cfg.stream_error_status))
                die_config("--stream-error-status", "must be 429, 500 or 503");
            break;
        case OPT_CREDITS:
            cfg.credits_ticks = llround(arg_double("--credits-usd", optarg, 0, 1e8) *
                                        (double)MOCK_TICKS_PER_USD);
            break;
        case OPT_CREDITS_STATUS:
            cfg.credits_status = (int)arg_long("--credits-status", optarg, 403, 429);
            if (cfg.credits_status != 403 && cfg.credits_status != 429)
                die_config("--credits-status", "must be 403 or 429");
            break;
        case OPT_QUOTA_EXHAUSTED: cfg.quota_exhausted = 1; break;
        case OPT_BLOCKED: cfg.blocked = 1; break;
        case OPT_COUNT_REFUSED: cfg.count_refused = 1; break;
        case OPT_REASONING:
            cfg.reasoning_tokens = arg_long("--reasoning-tokens", optarg, 0, 100000000);
            break;
        case OPT_COMPLETION:
            cfg.completion_tokens = arg_long("--completion-tokens", optarg, 0, 100000000);
            break;
        case OPT_NO_COST: cfg.cost_ticks = 0; break;
        case OPT_NO_USAGE: cfg.usage = 0; break;
        case OPT_SEED:
            seed = (uint64_t)arg_long("--seed", optarg, 0, 0x7fffffffffffffffL);
            have_seed = 1;
            break;
        case OPT_REQUEST_LOG:
            if (mock_request_log_open(optarg) != 0) die_config("--request-log", strerror(errno));
            break;
        case OPT_VERBOSE: cfg.verbose = 1; break;
        case OPT_QUIET: cfg.verbose = 0; break;
        case OPT_HELP: mock_usage_print(stdout); return 0;
        case OPT_VERSION: printf("fleetq-mockapi %s\n", FQ_VERSION); return 0;
        default:
            mock_usage_print(stderr);
            return 2;
        }
    }
    if (optind < argc) die_config(argv[optind], "unexpected argument");
    if (!have_key) {
        const char *env = getenv("MOCK_API_KEY");
        if (env && *env) {
            if (strlen(env) >= MOCK_KEY_MAX) die_config("MOCK_API_KEY", "the key is too long");
            snprintf(cfg.key, sizeof(cfg.key), "%s", env);
        }
    }
    if (mock_config_check(&cfg, err, sizeof(err)) != 0) die_config("options", err);
    if (!have_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^
               ((uint64_t)getpid() << 32);
    }
    mock_rand_seed(seed);
    mock_config_set(&cfg);

    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (mock_timing_init() != 0) {
        fprintf(stderr, "fleetq-mockapi: cannot create the shutdown pipe: %s\n", strerror(errno));
        return 1;
    }
    if (mock_server_start(bind_addr, port, &bound, err, sizeof(err)) != 0) {
        fprintf(stderr, "fleetq-mockapi: %s\n", err);
        mock_timing_cleanup();
        return 1;
    }
    if (port_file && write_port_file(port_file, bound) != 0) {
        fprintf(stderr, "fleetq-mockapi: --port-file %s: cannot write it: %s; give a "
                "writable path\n", port_file, strerror(errno));
        mock_timing_stop();
        mock_server_stop();
        mock_timing_cleanup();
        return 1;
    }
    if (cfg.verbose)
        fprintf(stderr, "{\"msg\":\"fleetq-mockapi listening\",\"bind\":\"%s\",\"port\":%u}\n",
                bind_addr, bound);

    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {
    }
    mock_timing_stop();
    mock_server_stop();
    mock_limiter_cleanup();
    mock_timing_cleanup();
    if (cfg.verbose) fprintf(stderr, "{\"msg\":\"fleetq-mockapi stopped\",\"signal\":%d}\n", sig);
    return 0;
}
