/* log.h -- JSON-lines logging on stderr that can never print the key.
 *
 * Every line is one JSON object: {"ts":"2026-11-23T12:00:00.123Z",
 * "level":"info","prog":"fleetq-worker","event":"call.done", ...fields}.
 * Fields are given as a printf-free list of typed pairs so that every value
 * is escaped properly. Secrets registered with fq_log_add_secret() are
 * replaced by their redacted form in the finished line before it is written,
 * whatever field or message they hide in.
 */
#ifndef FQ_LOG_H
#define FQ_LOG_H

#include <stdint.h>

typedef enum fq_log_level {
    FQ_LOG_DEBUG = 0,
    FQ_LOG_INFO,
    FQ_LOG_WARN,
    FQ_LOG_ERROR
} fq_log_level;

/* Returns the level for "debug", "info", "warn"/"warning", "error", or -1. */
int fq_log_level_parse(const char *s);

void fq_log_init(const char *prog, fq_log_level level);
void fq_log_set_level(fq_log_level level);
int fq_log_enabled(fq_log_level level);

/* Registers a secret to scrub from every later line (the key; at most 4
 * secrets; a NULL or short (<8 bytes) secret is ignored). Replacing the key
 * after SIGHUP: call fq_log_clear_secrets() then add the new one (keep the
 * old one too, since it may still appear in late messages). */
void fq_log_add_secret(const char *secret);
void fq_log_clear_secrets(void);

/* Field types for fq_log(): pairs of (name, value) after the type tag. */
#define FQ_LS 1  /* const char *value (NULL prints null) */
#define FQ_LI 2  /* int64_t value */
#define FQ_LD 3  /* double value */
#define FQ_LEND 0

/* fq_log(FQ_LOG_INFO, "call.done", FQ_LS, "task", id, FQ_LI, "latency_ms",
 *        (int64_t)ms, FQ_LEND); */
void fq_log(fq_log_level level, const char *event, ...);

/* Convenience: one "msg" string field formatted printf-style. */
void fq_logf(fq_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
