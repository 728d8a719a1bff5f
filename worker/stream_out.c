/* stream_out.c -- a streamed task's answer, appended to Redis as it
 * arrives (see stream_out.h).
 */
#include "stream_out.h"

#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "log.h"

int fq_stream_out_begin(fq_stream_out *so, const char *task_id, int attempt)
{
    fq_stream_out_free(so);
    if ((so->task_id = strdup(task_id)) == NULL)
        return -1;
    so->attempt = attempt;
    return 0;
}

int fq_stream_out_active(const fq_stream_out *so)
{
    return so->task_id != NULL;
}

void fq_stream_out_append(fq_stream_out *so, const char *text, size_t len)
{
    if (so->task_id == NULL || len == 0 || so->held_back)
        return;
    if (so->len + len > so->cap) {
        size_t cap = so->cap ? so->cap : 256;
        while (cap < so->len + len)
            cap *= 2;
        char *b = realloc(so->pending, cap);
        if (b == NULL) {
            so->held_back = 1;
            return;
        }
        so->pending = b;
        so->cap = cap;
    }
    memcpy(so->pending + so->len, text, len);
    so->len += len;
}

static void on_written(fq_redis *r, redisReply *reply, void *data)
{
    (void)r;
    (void)data;
    if (fq_reply_failed(reply))
        fq_log(FQ_LOG_WARN, "stream.write_failed", FQ_LS, "error",
               reply != NULL ? reply->str : "no answer from Redis", FQ_LS, "msg",
               "the task's result is not affected", FQ_LEND);
}

/* XADD <key> MAXLEN N * attempt <n> <pairs...>, and PEXPIRE with the
 * attempt's first entry and its end (last). An exact trim: a stream
 * trimmed by about N could keep whole nodes of entries beyond the bound,
 * and trimming one entry per XADD costs little. */
static void send_entry(fq_stream_out *so, fq_redis *r, const fq_config *cfg,
                       const fq_argv *pairs, int last)
{
    char key[FQ_KEY_MAX];
    fq_key_stream(so->task_id, key, sizeof(key));
    fq_argv a;
    fq_argv_init(&a);
    fq_argv_adds(&a, "XADD");
    fq_argv_adds(&a, key);
    fq_argv_adds(&a, "MAXLEN");
    fq_argv_addll(&a, cfg->stream_maxlen);
    fq_argv_adds(&a, "*");
    fq_argv_pairll(&a, "attempt", so->attempt);
    fq_argv_append(&a, pairs);
    fq_redis_argv(r, on_written, NULL, &a);
    fq_argv_free(&a);
    if (so->expiry_set && !last)
        return;
    fq_redis_command(r, on_written, NULL, "PEXPIRE %s %lld", key,
                     (long long)cfg->result_ttl_s * 1000);
    so->expiry_set = 1;
}

static void send_delta(fq_stream_out *so, fq_redis *r, const fq_config *cfg, const char *text,
                       size_t len)
{
    fq_argv pairs;
    fq_argv_init(&pairs);
    fq_argv_adds(&pairs, "delta");
    fq_argv_add(&pairs, text, len);
    send_entry(so, r, cfg, &pairs, 0);
    fq_argv_free(&pairs);
    so->sent += len;
}

void fq_stream_out_flush(fq_stream_out *so, fq_redis *r, const fq_config *cfg)
{
    if (so->task_id == NULL || so->len == 0 || r == NULL)
        return;
    send_delta(so, r, cfg, so->pending, so->len);
    so->len = 0;
}

void fq_stream_out_end(fq_stream_out *so, fq_redis *r, const fq_config *cfg,
                       const char *content, const char *end, const fq_argv *fields)
{
    if (so->task_id == NULL || r == NULL)
        return;
    fq_stream_out_flush(so, r, cfg);
    size_t total = content != NULL ? strlen(content) : 0;
    if (total > so->sent)
        send_delta(so, r, cfg, content + so->sent, total - so->sent);
    fq_argv pairs;
    fq_argv_init(&pairs);
    fq_argv_pair(&pairs, "end", end);
    if (fields != NULL)
        fq_argv_append(&pairs, fields);
    send_entry(so, r, cfg, &pairs, 1);
    fq_argv_free(&pairs);
    fq_stream_out_free(so);
}

void fq_stream_out_free(fq_stream_out *so)
{
    free(so->task_id);
    free(so->pending);
    memset(so, 0, sizeof(*so));
}
