/* task.h -- the task model: roles, priorities, parsing and validating a
 * submission, and the task hash that carries a task between processes.
 *
 * A submission is the flat field list of one `fleetq:submit` stream entry
 * (the README's field table), either as separate fields or as one `json`
 * field holding an object with the same names. fq_task_parse_submission() checks
 * every rule (roles, ranges, id charset, UTF-8, sizes, message shape) and
 * either fills an fq_task or writes one human-readable reason.
 * fq_task_to_hash()/fq_task_from_hash() convert a validated task to and from
 * the field list stored in `fleetq:task:<id>`.
 */
#ifndef FQ_TASK_H
#define FQ_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "fields.h"
#include "fq_shared.h"

typedef enum fq_role {
    FQ_ROLE_CEO = 0,
    FQ_ROLE_CODE,
    FQ_ROLE_QUALITY,
    FQ_ROLE_MEMORY,
    FQ_ROLE_COUNT
} fq_role;

/* The role names as error lines list them. */
#define FQ_ROLE_LIST "ceo, code, quality, memory"

#define FQ_ID_MAX 128             /* client ids: 1..128 of [A-Za-z0-9._:-] */
#define FQ_PRIORITY_MAX 9         /* 0 most urgent */
#define FQ_MAX_TOKENS_LIMIT 131072
#define FQ_TEMPERATURE_MAX 2.0
#define FQ_MAX_ATTEMPTS_LIMIT ((int)FQ_MAX_ATTEMPTS)   /* shared.def */
#define FQ_TIMEOUT_LIMIT 3600     /* seconds */
#define FQ_DELAY_LIMIT (30 * 86400)
#define FQ_TTL_LIMIT (30 * 86400)
#define FQ_PLAN_DEPTH_LIMIT 10    /* the deepest FLEETQ_PLAN_DEPTH */
#define FQ_RECALL_QUERY_MAX 1000  /* bytes of a recall query */

/* "ceo", "code", "quality", "memory"; NULL for an out-of-range role. */
const char *fq_role_name(fq_role role);
/* Returns the role for an exact name, or -1. */
int fq_role_parse(const char *s, size_t len);

/* Names map to numbers: critical 0, high 2, normal 4, low 6, bulk 8; digits
 * "0".."9" map to themselves. Returns -1 for anything else. */
int fq_priority_parse(const char *s, size_t len);

/* Limits that come from configuration rather than from the contract. */
typedef struct fq_task_limits {
    size_t max_submission_bytes;  /* whole entry, names + values; default 1 MiB */
} fq_task_limits;

typedef struct fq_task {
    char id[FQ_ID_MAX + 1];  /* "" when the submission gave none */
    fq_role role;
    int priority;            /* 0..9, or -1 = role default */
    char *model;             /* NULL = role default */
    char *system;            /* NULL = role default */
    char *prompt;            /* exactly one of prompt / messages is set */
    char *messages;          /* compact JSON array of {role, content} */
    int max_tokens;          /* 0 = MAX_TOKENS_DEFAULT */
    int has_temperature;
    double temperature;      /* 0..2 */
    int max_attempts;        /* 0 = GROK_MAX_RETRIES + 1 */
    int timeout_s;           /* 0 = REQUEST_TIMEOUT */
    int delay_s;             /* 0 = none */
    int ttl_s;               /* 0 = never expires */
    char *parents;           /* `after`: JSON array of the ids it waits for; NULL = none */
    int review_by;           /* the role of its review task (fq_task_review), or -1 */
    char *recall;            /* what to search the memory for; NULL = none (memory: prompt) */
    int recall_off;          /* `recall off`: no context, even for memory tasks */
    char *context;           /* the earlier results attached by the coordinator */
    char *recalled;          /* their ids, a JSON array */
    int plan;                /* 0, or its plan depth: its answer is a plan (plan.h); 1 = a
                                user's plan, n + 1 = planned by a plan of depth n */
    int cache;               /* `cache`: 1 true, -1 false, 0 = FLEETQ_CACHE decides */
    int stream;              /* `stream`: 1 true, -1 false, 0 = FLEETQ_STREAM decides */
    char *fallback;          /* `fallback`: the models to try next, comma-separated; NULL =
                                the role's (FLEETQ_ROLE_<R>_FALLBACK), "" = none */
    char *params;            /* the model parameters given (FQ_MODEL_PARAMS: reasoning_effort,
                                top_p, ...) as one compact JSON object; NULL = none */
} fq_task;

/* The most models a fallback list may name. */
#define FQ_FALLBACK_MAX 4
/* Model names: 1 to 63 of [A-Za-z0-9._:-]. */
#define FQ_MODEL_NAME_MAX 63

/* A task with review_by brings a review task, id <id>.review. */
#define FQ_REVIEW_SUFFIX ".review"

void fq_task_init(fq_task *t);
void fq_task_free(fq_task *t);   /* frees the strings, leaves t re-initialised */

/* 1 when name is one of a submission's fields (role, prompt, ..., json). */
int fq_task_field_known(const char *name, size_t len);

/* Every field a submission may have, as "role, prompt, ..., json". */
extern const char fq_task_fields[];

/* Validates a submission. On success returns 0 and fills *out (which the
 * caller frees with fq_task_free). On failure returns -1 and writes one
 * line into err (e.g. "max_tokens: must be an integer from 1 to 131072,
 * got \"abc\""). Even on failure, out->id is set when the submission carried
 * a valid id and out->role when it carried a valid role (else -1 in
 * *role_or_minus1), so the rejection can be recorded under them. */
int fq_task_parse_submission(const fq_field *fields, size_t n,
                             const fq_task_limits *limits, fq_task *out,
                             int *role_or_minus1, char *err, size_t errlen);

/* Appends the task's fields as name/value pairs for HSET into the task hash:
 * role, priority, model, system, prompt or messages, max_tokens, temperature,
 * max_attempts, timeout, delay, ttl, parents, plan, context and recalled,
 * cache and stream ("1" or "0"), fallback (even ""), params (only the ones
 * that are set, except role and priority which are always written). */
int fq_task_to_hash(const fq_task *t, fq_argv *out);

/* Reads a task back from HGETALL's field list (unknown fields are ignored,
 * so the hash may also hold status, attempts, timestamps...). Returns 0, or
 * -1 with a reason in err when role/prompt are missing. */
int fq_task_from_hash(const fq_field *fields, size_t n, fq_task *out,
                      char *err, size_t errlen);

/* What a task's limit of attempts (its hash's max_attempts) is made of:
 * the number it was submitted with, plus the attempts it had made when it
 * was last requeued (requeue.lua gives a fresh allowance on top of them),
 * plus what fallbacks after a 404 added since (the fallback's call may go
 * beyond the limit). */
typedef struct fq_attempt_limit {
    long long max;              /* max_attempts */
    long long asked;            /* what it was submitted with */
    long long requeues;         /* times requeued */
    long long at_requeue;       /* attempts made when last requeued */
    long long by_fallback;      /* added by fallbacks since then */
} fq_attempt_limit;

/* From the hash's max_attempts, allowance (the number asked, kept from
 * the first requeue on), requeues, attempts_at_requeue and
 * fallback_attempts, each -1 when absent. */
void fq_attempt_limit_read(long long max_attempts, long long allowance, long long requeues,
                           long long at_requeue, long long fallbacks, fq_attempt_limit *out);
/* Why the limit is not simply the number asked, such as "4 asked, +1 made
 * before the requeue"; "" when it is (or max is unknown). */
void fq_attempt_limit_note(const fq_attempt_limit *l, char *buf, size_t len);

/* `after` (task_after.c): parses ids separated by commas (s, len) or a
 * JSON array of them (j, from `json`) into a compact JSON array in
 * *parents (malloc'd). own_id (may be NULL) may not be among them. Returns
 * 0, or -1 with a reason in err. */
struct cJSON;
int fq_after_parse(const char *s, size_t len, const struct cJSON *j, const char *own_id,
                   char **parents, char *err, size_t errlen);
/* Checks that every {{ID}} placeholder of text (what names the field in
 * the error line) names one of parents (a JSON array). 0, or -1. */
int fq_after_check_placeholders(const char *parents, const char *what, const char *text,
                                char *err, size_t errlen);
/* Builds the review task of t (whose id is id; t->review_by >= 0) into
 * out: role review_by, id <id>.review, waiting for t and t's parents, with
 * a prompt that carries t's prompt (or messages) and, as {{id}}, its
 * output. Returns 0, or -1 when out of memory. */
int fq_task_review(const fq_task *t, const char *id, fq_task *out);

/* `fallback` and FLEETQ_ROLE_<R>_FALLBACK: parses model names separated
 * by commas (s, len; blanks around them ignored) or a JSON array of them
 * (j, from `json`) into *out (malloc'd, "a,b"; "" for an empty list). At
 * most FQ_FALLBACK_MAX names, each a valid model name, none twice. Returns
 * 0, or -1 with a reason in err (which names the field as `what`). */
int fq_fallback_parse(const char *what, const char *s, size_t len, const struct cJSON *j,
                      char **out, char *err, size_t errlen);

/* The length of the id of the placeholder "{{" id "}}" that starts s, or 0
 * when s does not start with one. */
size_t fq_placeholder_at(const char *s, size_t len);

/* 1 when buf[0..len) is valid UTF-8 (no overlongs, no surrogates). */
int fq_utf8_valid(const char *buf, size_t len);

/* 1 when s is 1..128 of [A-Za-z0-9._:-]. */
int fq_id_valid(const char *s, size_t len);

#endif
