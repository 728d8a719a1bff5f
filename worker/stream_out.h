/* stream_out.h -- a streamed task's answer, appended to Redis as it
 * arrives: `<prefix>:stream:<id>`, one stream per task.
 *
 * The content deltas of one turn of the worker's loop are gathered and go
 * out as one entry (fields `attempt`, `delta`), so a fast stream does not
 * cost a command per token. Each attempt ends with an entry whose `end`
 * says what became of it (done, failed or retry), with the model, finish
 * reason, tokens and error as known. The stream is trimmed to
 * FLEETQ_STREAM_MAXLEN entries and expires FLEETQ_RESULT_TTL after the
 * first entry of an attempt and again after its end, as the task's result
 * does (an attempt is far shorter than the ttl). Nothing here waits for Redis: a
 * lost entry is logged, and the task's result is written whatever happens
 * to its stream.
 */
#ifndef FQ_STREAM_OUT_H
#define FQ_STREAM_OUT_H

#include <stddef.h>

#include "config.h"
#include "fields.h"
#include "redis.h"

typedef struct fq_stream_out {
    char *task_id;          /* NULL: not streaming */
    int attempt;
    char *pending;          /* deltas not sent yet */
    size_t len, cap;
    size_t sent;            /* content bytes of this attempt sent so far */
    int expiry_set;         /* this attempt's first entry has set the stream's expiry */
    int held_back;          /* a piece did not fit in memory: the rest waits for the end */
} fq_stream_out;

/* Starts an attempt of task_id. Returns 0 or -1 (memory). */
int fq_stream_out_begin(fq_stream_out *so, const char *task_id, int attempt);

/* Gathers a piece of content for the next flush. When memory runs out,
 * no more pieces go out for this attempt: the end entry sends the rest,
 * so the deltas still join into the answer (and the result is not
 * affected). */
void fq_stream_out_append(fq_stream_out *so, const char *text, size_t len);

/* Sends what is pending as one entry. */
void fq_stream_out_flush(fq_stream_out *so, fq_redis *r, const fq_config *cfg);

/* Ends the attempt: whatever of content (the whole answer, may be NULL)
 * was not sent yet, then the end entry: `end` and the name/value pairs of
 * fields. Then the stream is idle until the next begin. */
void fq_stream_out_end(fq_stream_out *so, fq_redis *r, const fq_config *cfg,
                       const char *content, const char *end, const fq_argv *fields);

/* 1 while an attempt is being streamed. */
int fq_stream_out_active(const fq_stream_out *so);

void fq_stream_out_free(fq_stream_out *so);

#endif
