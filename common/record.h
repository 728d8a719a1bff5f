/* record.h -- the records workers and the coordinator put on the results
 * stream (`fleetq:{q}:results`) for the SQLite store.
 *
 * Two kinds of entry, told apart by the field `kind`:
 *  - `attempt`: one API call (task, n, http_status, outcome, error,
 *    latency_ms, started_at, worker, model, ttft_ms, prompt_tokens,
 *    completion_tokens, cost_ticks, usage_estimated), or one answer taken
 *    from the response cache (outcome `cached`);
 *  - `final`: a task's final state (the `tasks` row).
 * Times are milliseconds since the Unix epoch (0 = unknown); money is USD
 * ticks. The store upserts by task id and by (task, n), so an entry read
 * twice after a crash writes nothing twice.
 */
#ifndef FQ_RECORD_H
#define FQ_RECORD_H

#include <stdint.h>

#include "fields.h"
#include "fq_shared.h"

/* The positions in fq_follow_fields (shared.def: the fields of a task's
 * hash a client following it reads, fleetqctl result); a unit test checks
 * each against its name. */
enum {
    FQ_FOLLOW_STATUS, FQ_FOLLOW_ROLE, FQ_FOLLOW_PRIORITY, FQ_FOLLOW_MODEL, FQ_FOLLOW_ATTEMPTS,
    FQ_FOLLOW_MAX_ATTEMPTS, FQ_FOLLOW_ERROR, FQ_FOLLOW_OUTPUT, FQ_FOLLOW_FINISH_REASON,
    FQ_FOLLOW_PROMPT_TOKENS, FQ_FOLLOW_COMPLETION_TOKENS, FQ_FOLLOW_REASONING_TOKENS,
    FQ_FOLLOW_CACHED_TOKENS, FQ_FOLLOW_COST_TICKS, FQ_FOLLOW_LATENCY, FQ_FOLLOW_SUBMITTED,
    FQ_FOLLOW_STARTED, FQ_FOLLOW_FINISHED, FQ_FOLLOW_WORKER, FQ_FOLLOW_FLOW_ID,
    FQ_FOLLOW_PARENTS, FQ_FOLLOW_CACHED_FROM, FQ_FOLLOW_NOTES, FQ_FOLLOW_USAGE_ESTIMATED,
    FQ_FOLLOW_ALLOWANCE, FQ_FOLLOW_REQUEUES, FQ_FOLLOW_AT_REQUEUE, FQ_FOLLOW_FALLBACK_ATTEMPTS,
    FQ_FOLLOW_COUNT
};
_Static_assert(FQ_FOLLOW_COUNT == FQ_FOLLOW_FIELDS_COUNT, "record.h names every follow field");

/* The positions in fq_task_phases (shared.def: a running task's `phase`,
 * which quota.lua marks): its call under way, or waiting for the quota. */
enum { FQ_PHASE_CALLING, FQ_PHASE_QUOTA, FQ_PHASE_COUNT };
_Static_assert(FQ_PHASE_COUNT == FQ_TASK_PHASES_COUNT, "record.h names every task phase");

typedef struct fq_attempt_record {
    char *task_id;
    int64_t n;              /* 1-based attempt number */
    int64_t http_status;    /* 0 when no response */
    char *outcome;          /* fq_outcome_name() */
    char *error;            /* NULL when none */
    int64_t latency_ms;
    int64_t started_at;     /* ms epoch */
    char *worker;
    char *model;            /* the model called (or whose cached answer was used) */
    int64_t ttft_ms;        /* time to the first token; -1 unknown */
    int64_t prompt_tokens;  /* as the provider counted them (0 without an answer) */
    int64_t completion_tokens;
    int64_t cost_ticks;     /* what this call was billed */
    int64_t usage_estimated;   /* 1: the provider sent no usage; the tokens are fleetq's
                                  estimate (fq_cost_estimate_usage()) */
} fq_attempt_record;

typedef struct fq_final_record {
    char *task_id;
    char *role;             /* may be NULL for a rejection without a valid role */
    int64_t priority;       /* -1 when unknown */
    char *status;           /* done, failed, rejected, expired, cancelled */
    char *model;
    char *prompt;           /* the prompt, or the messages JSON */
    char *output;
    char *error;
    int64_t attempts;
    int64_t prompt_tokens;
    int64_t completion_tokens;
    int64_t reasoning_tokens;
    int64_t cached_tokens;
    int64_t cost_ticks;
    int64_t latency_ms;
    int64_t submitted_at;
    int64_t started_at;
    int64_t finished_at;
    char *worker;
    char *flow_id;          /* the flow's root; NULL: the task is its own root */
    char *parents;          /* JSON array of the ids it waited for; NULL: none */
    int64_t plan;           /* its plan depth when it planned, else 0 */
    char *recalled;         /* JSON array of the results it was given as context */
    char *cached_from;      /* the task whose answer it was given from the cache, or NULL */
    char *notes;            /* what fleetq changed in the request (parameters left out) */
    int64_t usage_estimated;   /* 1: the answer's tokens are fleetq's estimate */
} fq_final_record;

/* Appends the record as stream fields ("kind" first) to an XADD command
 * line. NULL strings are left out. Returns 0 or -1 (allocation). */
int fq_record_attempt_to_fields(const fq_attempt_record *r, fq_argv *out);
int fq_record_final_to_fields(const fq_final_record *r, fq_argv *out);

/* Which kind an entry is: 'a' attempt, 'f' final, 0 unknown. */
char fq_record_kind(const fq_field *fields, size_t n);

/* Parse an entry (strings are copied; free with the matching _free).
 * Return 0, or -1 when required fields (task, and n for attempts) are
 * missing. */
int fq_record_attempt_from_fields(const fq_field *fields, size_t n, fq_attempt_record *r);
int fq_record_final_from_fields(const fq_field *fields, size_t n, fq_final_record *r);

void fq_record_attempt_free(fq_attempt_record *r);
void fq_record_final_free(fq_final_record *r);

/* Formats ms since the epoch as ISO-8601 UTC with milliseconds,
 * "2026-11-23T12:00:00.123Z" (buf of at least 25 bytes). */
char *fq_iso8601_ms(int64_t ms, char *buf, size_t len);

#endif
