/* config.h -- configuration from the environment, the same names for every
 * program (the README's configuration table), validated once at start-up.
 *
 * fq_config_load() reads every variable of the table of settings
 * (settings.h, settings.def) in its order, applies defaults, reads *_FILE
 * secrets, and checks each value. A bad value is reported as one line naming
 * the variable and what is wrong ("fleetq-worker: GROK_RATE_LIMIT_RPM: must
 * be a non-negative integer, got \"-5\""); programs print it and exit 2.
 * The key itself never appears in a message.
 */
#ifndef FQ_CONFIG_H
#define FQ_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "fleet_limits.h"
#include "task.h"

#define FQ_EXIT_CONFIG 2
#define FQ_KEY_NONE "none"       /* XAI_API_KEY for a server that needs no key */
#define FQ_ACCESS_TOKEN_MIN 16   /* characters of FLEETQ_DASHBOARD_TOKEN, FLEETQ_METRICS_TOKEN */

typedef enum fq_on_budget { FQ_ON_BUDGET_WAIT = 0, FQ_ON_BUDGET_FAIL } fq_on_budget;

typedef struct fq_role_profile {
    char model[64];          /* FLEETQ_ROLE_<ROLE>_MODEL */
    char *system;            /* FLEETQ_ROLE_<ROLE>_SYSTEM (owned) */
    int priority;            /* FLEETQ_ROLE_<ROLE>_PRIORITY, name or 0-9 */
    double share;            /* FLEETQ_ROLE_<ROLE>_SHARE, 0..1, minimum quota share */
    double reserve;          /* FLEETQ_ROLE_<ROLE>_RESERVE, 0..1 of the burst headroom kept
                                for higher classes */
    char *fallback;          /* FLEETQ_ROLE_<ROLE>_FALLBACK: models to try next,
                                comma-separated, "" = none (owned) */
} fq_role_profile;

/* FLEETQ_CACHE: whether answers are kept and reused (cache.h). */
typedef enum fq_cache_mode { FQ_CACHE_OFF = 0, FQ_CACHE_AUTO, FQ_CACHE_ON } fq_cache_mode;

typedef struct fq_config {
    /* REDIS_URL, parsed */
    char redis_host[256];
    int redis_port;
    int redis_db;
    char redis_user[128];         /* "" when none */
    char redis_password[256];     /* "" when none; or from REDIS_PASSWORD_FILE */
    int redis_tls;                /* rediss:// */
    int redis_tls_verify;         /* FLEETQ_REDIS_TLS_VERIFY, default 1 */
    char redis_ca_file[512];      /* FLEETQ_REDIS_CA_FILE, "" = the system's CA store */
    char redis_cert_file[512];    /* FLEETQ_REDIS_CERT_FILE, "" = no client certificate */
    char redis_key_file[512];     /* FLEETQ_REDIS_KEY_FILE, with the certificate */

    char *api_key;                /* XAI_API_KEY / GROK_API_KEY / *_FILE; NULL when unset
                                     or keyless */
    int api_keyless;              /* the key is "none": a server that needs no key (Ollama,
                                     llama.cpp, vLLM), called without Authorization */
    char api_key_file[512];       /* the file it came from, "" when from the env */
    char base_url[512];           /* XAI_BASE_URL, no trailing slash */
    char db_path[512];            /* FLEETQ_DB */
    char key_prefix[72];          /* FLEETQ_KEY_PREFIX, default fleetq (keys.h) */
    int result_ttl_s;             /* FLEETQ_RESULT_TTL: an ended task's hash and done
                                     marker live this long once stored, default 86400 */
    int store_stall_s;            /* FLEETQ_STORE_STALL_SECONDS: results waiting longer than
                                     this for SQLite make /health degraded, default 10 */
    int retain_days;              /* FLEETQ_RETAIN_DAYS: SQLite rows of tasks that ended
                                     longer ago are deleted; 0 (default) keeps them all */
    int http_port;                /* PORT or FLEETQ_HTTP_PORT */
    char dashboard_token[257];    /* FLEETQ_DASHBOARD_TOKEN; "" = the dashboard is off */
    char metrics_token[257];      /* FLEETQ_METRICS_TOKEN; "" = /metrics and /health open */

    int64_t rate_limit_rpm;       /* GROK_RATE_LIMIT_RPM */
    int64_t rate_limit_rph;       /* GROK_RATE_LIMIT_RPH, 0 = off */
    int64_t rate_limit_tpm;       /* GROK_RATE_LIMIT_TPM, 0 = off */
    int64_t max_inflight;         /* FLEETQ_MAX_INFLIGHT, 0 = off */
    int rate_limiting;            /* ENABLE_RATE_LIMITING */
    int rate_burst;               /* FLEETQ_RATE_BURST, default 1: calls allowed back to back */
    int64_t daily_budget_ticks;   /* DAILY_BUDGET_USD in ticks, 0 = no cap */
    fq_limit_scope limit_scope;   /* FLEETQ_LIMIT_SCOPE, default model */
    fq_model_limit model_limits[FQ_MODEL_LIMITS_MAX];   /* FLEETQ_MODEL_LIMITS */
    size_t n_model_limits;
    int max_tokens_default;       /* MAX_TOKENS_DEFAULT */
    int request_timeout_s;        /* REQUEST_TIMEOUT */
    int max_retries;              /* GROK_MAX_RETRIES */
    int lease_s;                  /* FLEETQ_LEASE_SECONDS */
    int plan_max;                 /* FLEETQ_PLAN_MAX: subtasks in a plan */
    int plan_depth;               /* FLEETQ_PLAN_DEPTH: plans within plans */
    int recall_k;                 /* FLEETQ_RECALL_K: earlier results a recall attaches */
    int grace_s;                  /* FLEETQ_GRACE_SECONDS */
    fq_on_budget on_budget;       /* FLEETQ_ON_BUDGET */
    int log_level;                /* FLEETQ_LOG_LEVEL as fq_log_level */
    size_t max_submission_bytes;  /* FLEETQ_MAX_SUBMISSION_BYTES, default 1 MiB */
    int64_t reasoning_reserve;    /* FLEETQ_REASONING_RESERVE tokens, default 2048 */
    int backoff_base_ms;          /* FLEETQ_BACKOFF_BASE_MS, default 1000 */
    int backoff_max_ms;           /* FLEETQ_BACKOFF_MAX_MS, default 60000 */
    int adaptive;                 /* FLEETQ_ADAPTIVE, default true */
    int rate_window_ms;           /* FLEETQ_RATE_WINDOW_MS, default 1000 */
    int freeze_ms;                /* FLEETQ_FREEZE_MS, default 250 */
    int breaker_threshold;        /* FLEETQ_BREAKER_THRESHOLD, default 5 */
    int breaker_cooldown_ms;      /* FLEETQ_BREAKER_COOLDOWN_MS, default 5000 */
    int pause_probe_s;            /* FLEETQ_PAUSE_PROBE_SECONDS, default 300 */
    int stream;                   /* FLEETQ_STREAM, default false: ask for streamed answers */
    int standby;                  /* FLEETQ_STANDBY, default false: a second coordinator waits */
    int new_database;             /* FLEETQ_NEW_DATABASE, default false: a new store may
                                     replace the one holding the fleet's results */
    int stream_maxlen;            /* FLEETQ_STREAM_MAXLEN: entries a task's stream keeps */
    fq_cache_mode cache;          /* FLEETQ_CACHE, default auto (temperature 0 only) */
    int cache_ttl_s;              /* FLEETQ_CACHE_TTL, default 86400 */
    int64_t cache_max_bytes;      /* FLEETQ_CACHE_MAX_MB in bytes, default 64 MiB */

    fq_role_profile roles[FQ_ROLE_COUNT];
} fq_config;

/* What a program needs beyond the common variables. */
enum {
    FQ_NEED_KEY = 1 << 0,         /* workers: the API key must be set */
    FQ_NO_KEY = 1 << 1,           /* never read the key (coordinator, fleetqctl) */
};

/* Loads and validates. Returns 0, or -1 with one line in err that names
 * the variable (without the program prefix). */
int fq_config_load(fq_config *cfg, unsigned needs, char *err, size_t errlen);

/* Frees owned strings (wiping the key first). */
void fq_config_free(fq_config *cfg);

/* The fleet's limits and budget as this process' environment gives them,
 * as field/value pairs of fleetq:limits (fleet_limits.h), for publishing. */
int fq_config_limits_argv(const fq_config *cfg, fq_argv *out);

/* Compares the fleet-wide fields of fleetq:limits (hash, as read from
 * Redis) with this environment: writes "GROK_RATE_LIMIT_RPM: this process
 * 600, the fleet 480; ..." into buf for each that differs and returns how
 * many do. Fields absent from hash are not compared. */
size_t fq_config_limits_diff(const fq_config *cfg, const fq_field *hash, size_t n, char *buf,
                             size_t len);

/* Re-reads the key from api_key_file (SIGHUP). Returns 1 when it changed,
 * 0 when unchanged, -1 with a reason in err on failure (old key kept). */
int fq_config_reload_key(fq_config *cfg, char *err, size_t errlen);

/* Parses "redis://[user:password@]host:port[/db]" into cfg's redis fields.
 * Returns 0, or -1 with a reason in err. */
int fq_config_parse_redis_url(fq_config *cfg, const char *url, char *err, size_t errlen);

/* A redacted form of the key for logs: "xai-…b14o" (first 4, last 4) or
 * "…" for short keys. */
void fq_config_redact_key(const char *key, char *buf, size_t len);

/* For the files of the common library that check configuration values
 * (redis_url.c): s quoted for an error line as fq_text_show() does (text.h),
 * but while fq_config_load() runs the key and the raw key variables are first
 * replaced by their redacted form, so no part of a key can be shown. */
struct fq_text_shown;
const char *fq_config_show(struct fq_text_shown *b, const char *s);
/* The same for a URL, with its user:password part replaced by "***". */
const char *fq_config_show_url(struct fq_text_shown *b, const char *url);

#endif
