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

#ifndef FQ_VERSION
#define FQ_VERSION "unknown"
#endif

static void usage(FILE *out)
{
    fputs(
"Usage: fleetq-mockapi [OPTION]...\n"
"A local stand-in for the xAI chat API (OpenAI-compatible chat completions with\n"
"usage, costs, rate limits and failures), for demos and tests.\n"
"\n"
"Serving:\n"
"  --port N               port to listen on (default 8000; 0 = any free port)\n"
"  --port-file PATH       after binding, write the port number to PATH\n"
"  --bind ADDR            address to listen on (default 127.0.0.1)\n"
"  --key KEY              the valid Bearer key (also MOCK_API_KEY); without one,\n"
"                         any non-empty Bearer token is accepted\n"
"  --latency-ms N         delay before each answer (default 0)\n"
"  --jitter-ms N          uniform extra delay of 0..N ms (default 0)\n"
"  --stream-chunk-ms N    in a streamed answer (\"stream\": true), delay before\n"
"                         each chunk after the first, so the deltas arrive one\n"
"                         by one (default 0: all at once). The content comes in\n"
"                         about 6 chunks (pieces of at least 16 bytes)\n"
"\n"
"Limits (the true ones, which the headers overstate):\n"
"  --rate-limit N         at most N admitted requests in any window for the key,\n"
"                         over all models together (0 = off)\n"
"  --window-ms W          sliding window length (default 60000)\n"
"  --advertised-limit N   x-ratelimit-limit-requests (default 2x the true limit,\n"
"                         or 480 when off)\n"
"  --rate-noise F         the true limit wobbles by +-F (0..0.5), redrawn each window\n"
"  --count-refused        requests answered 429 count towards the window too, as\n"
"                         on providers where retrying at once only prolongs a 429\n"
"  --token-limit N        true prompt+completion+reasoning tokens per window for\n"
"                         the key, over all models together (0 = off)\n"
"  --model-limits SPEC    each listed model's own true limits, on top of the key's:\n"
"                         MODEL:KEY=N[,KEY=N...][;MODEL:...], KEY rate (admitted\n"
"                         requests per window) or tokens (tokens per window), e.g.\n"
"                         'grok-4:rate=4;grok-code-fast-1:rate=20,tokens=50000'.\n"
"                         Each listed model has its own windows and noise; its\n"
"                         200s advertise 2x its own limits\n"
"  --credits-usd X        spending limit in USD; then 403 credits exhausted (0 = none)\n"
"  --credits-status S     status for exhausted credits: 403 (default) or 429\n"
"  --blocked              the key is blocked: answer 403\n"
"  --error-style STYLE    whose words errors take: xai (default), flat\n"
"                         {\"code\", \"error\"} bodies; or openai, nested {\"error\":\n"
"                         {\"message\", \"type\", \"param\", \"code\"}} bodies with\n"
"                         OpenAI's codes (invalid_api_key: a wrong key is a 401;\n"
"                         model_not_found; rate_limit_exceeded of type requests\n"
"                         or tokens; insufficient_quota: spent credits are a 429).\n"
"                         Either way a 429 names the limit and the model\n"
"\n"
"Faults (shares of admitted calls, adding up to at most 1):\n"
"  --fail-rate F          answered 500, 502 or 503\n"
"  --hang-rate F          sleep --hang-ms before answering\n"
"  --hang-ms N            length of a hang (default 600000)\n"
"  --reset-rate F         connection closed without an answer\n"
"  --truncate-rate F      200 with a body cut in half\n"
"\n"
"Answers:\n"
"  --reasoning-tokens N   reasoning tokens for reasoning models (default random)\n"
"  --completion-tokens N  completion tokens, capped by max_tokens (default random)\n"
"  --no-cost-ticks        leave usage.cost_in_usd_ticks out\n"
"  --seed N               seed of the random choices (default from the clock)\n"
"  --request-log PATH     append every accepted chat request to PATH, one\n"
"                         compact JSON object per line\n"
"\n"
"  --verbose              one JSON line per request on stderr\n"
"  --quiet                no request log (default)\n"
"  --help                 show this text\n"
"  --version              show the version\n"
"\n"
"Endpoints: POST /v1/chat/completions, GET /v1/models, GET /mock/stats,\n"
"POST /mock/reset, POST /mock/config (a JSON object of settings such as\n"
"{\"fail_rate\": 0.2, \"key\": \"new-key\"}; the settings are named like the\n"
"options, e.g. \"model_limits\": \"grok-4:rate=4\" or \"error_style\": \"openai\").\n"
"A plan request (fleetq's plan tasks: a system message with \"[fleetq plan]\")\n"
"is answered with what follows \"mock-plan:\" in the user message, as it is\n"
"(good or bad plans for tests), else with a plan of two code subtasks, each\n"
"reviewed by quality.\n"
"GET /mock/stats counts per model under \"by_model\": requests, admitted,\n"
"rate_limited, rate_limited_tokens, tokens and max_in_window.\n", out);
}

enum {
    OPT_PORT = 256, OPT_PORT_FILE, OPT_BIND, OPT_KEY, OPT_LATENCY, OPT_JITTER, OPT_STREAM_CHUNK,
    OPT_RATE, OPT_WINDOW, OPT_ADVERTISED, OPT_NOISE, OPT_TOKENS, OPT_MODEL_LIMITS,
    OPT_ERROR_STYLE, OPT_FAIL, OPT_HANG, OPT_HANG_MS, OPT_RESET, OPT_TRUNCATE, OPT_CREDITS,
    OPT_CREDITS_STATUS, OPT_BLOCKED, OPT_COUNT_REFUSED, OPT_REASONING, OPT_COMPLETION,
    OPT_NO_COST, OPT_SEED, OPT_REQUEST_LOG, OPT_VERBOSE, OPT_QUIET, OPT_HELP, OPT_VERSION
};

static const struct option options[] = {
    { "port", required_argument, NULL, OPT_PORT },
    { "port-file", required_argument, NULL, OPT_PORT_FILE },
    { "request-log", required_argument, NULL, OPT_REQUEST_LOG },
    { "bind", required_argument, NULL, OPT_BIND },
    { "key", required_argument, NULL, OPT_KEY },
    { "latency-ms", required_argument, NULL, OPT_LATENCY },
    { "jitter-ms", required_argument, NULL, OPT_JITTER },
    { "stream-chunk-ms", required_argument, NULL, OPT_STREAM_CHUNK },
    { "rate-limit", required_argument, NULL, OPT_RATE },
    { "window-ms", required_argument, NULL, OPT_WINDOW },
    { "advertised-limit", required_argument, NULL, OPT_ADVERTISED },
    { "rate-noise", required_argument, NULL, OPT_NOISE },
    { "token-limit", required_argument, NULL, OPT_TOKENS },
    { "model-limits", required_argument, NULL, OPT_MODEL_LIMITS },
    { "error-style", required_argument, NULL, OPT_ERROR_STYLE },
    { "fail-rate", required_argument, NULL, OPT_FAIL },
    { "hang-rate", required_argument, NULL, OPT_HANG },
    { "hang-ms", required_argument, NULL, OPT_HANG_MS },
    { "reset-rate", required_argument, NULL, OPT_RESET },
    { "truncate-rate", required_argument, NULL, OPT_TRUNCATE },
    { "credits-usd", required_argument, NULL, OPT_CREDITS },
    { "credits-status", required_argument, NULL, OPT_CREDITS_STATUS },
    { "blocked", no_argument, NULL, OPT_BLOCKED },
    { "count-refused", no_argument, NULL, OPT_COUNT_REFUSED },
    { "reasoning-tokens", required_argument, NULL, OPT_REASONING },
    { "completion-tokens", required_argument, NULL, OPT_COMPLETION },
    { "no-cost-ticks", no_argument, NULL, OPT_NO_COST },
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
        case OPT_ERROR_STYLE:
            if (mock_config_parse_style(optarg, &cfg.error_style) != 0)
                die_config("--error-style", "must be xai or openai");
            break;
        case OPT_FAIL: cfg.fail_rate = arg_double("--fail-rate", optarg, 0, 1); break;
        case OPT_HANG: cfg.hang_rate = arg_double("--hang-rate", optarg, 0, 1); break;
        case OPT_HANG_MS: cfg.hang_ms = arg_long("--hang-ms", optarg, 0, 86400000); break;
        case OPT_RESET: cfg.reset_rate = arg_double("--reset-rate", optarg, 0, 1); break;
        case OPT_TRUNCATE: cfg.truncate_rate = arg_double("--truncate-rate", optarg, 0, 1); break;
        case OPT_CREDITS:
            cfg.credits_ticks = llround(arg_double("--credits-usd", optarg, 0, 1e8) *
                                        (double)MOCK_TICKS_PER_USD);
            break;
        case OPT_CREDITS_STATUS:
            cfg.credits_status = (int)arg_long("--credits-status", optarg, 403, 429);
            if (cfg.credits_status != 403 && cfg.credits_status != 429)
                die_config("--credits-status", "must be 403 or 429");
            break;
        case OPT_BLOCKED: cfg.blocked = 1; break;
        case OPT_COUNT_REFUSED: cfg.count_refused = 1; break;
        case OPT_REASONING:
            cfg.reasoning_tokens = arg_long("--reasoning-tokens", optarg, 0, 100000000);
            break;
        case OPT_COMPLETION:
            cfg.completion_tokens = arg_long("--completion-tokens", optarg, 0, 100000000);
            break;
        case OPT_NO_COST: cfg.cost_ticks = 0; break;
        case OPT_SEED:
            seed = (uint64_t)arg_long("--seed", optarg, 0, 0x7fffffffffffffffL);
            have_seed = 1;
            break;
        case OPT_REQUEST_LOG:
            if (mock_request_log_open(optarg) != 0) die_config("--request-log", strerror(errno));
            break;
        case OPT_VERBOSE: cfg.verbose = 1; break;
        case OPT_QUIET: cfg.verbose = 0; break;
        case OPT_HELP: usage(stdout); return 0;
        case OPT_VERSION: printf("fleetq-mockapi %s\n", FQ_VERSION); return 0;
        default:
            usage(stderr);
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
