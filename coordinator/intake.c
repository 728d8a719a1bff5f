/* intake.c -- reads submissions from <prefix>:submit and records each one.
 *
 * Entries are read with XREADGROUP in batches: first this consumer's own
 * pending entries (read before a crash but never acknowledged), then new
 * ones. Each entry is validated in C (fq_task_parse_submission) and then
 * recorded by intake.lua, which routes it to its role's queue (or delayed
 * set) or records the rejection with its reason, and acknowledges it, all
 * in one step; one intake.lua call records every entry of a read (a
 * cancel among them splits it, to keep their order). The next batch is read once every script of this one has
 * answered, so an entry is never acknowledged before it is recorded.
 * When a read or a script fails (Redis out of memory, the connection
 * lost), the batch stays pending and is read again after a back-off that
 * doubles from 100 ms to 10 s (failing.h): intake never spins.
 *
 * An entry whose one and only field is `cancel` (XADD fleetq:submit *
 * cancel <id>) is not a task: it runs cancel.lua on that id instead, which
 * acknowledges it in the same step, and the outcome is logged (a refusal
 * with its reason). `cancel` next to any other field is an unknown field
 * of a submission, rejected as such.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "coordinator.h"
#include "keys.h"
#include "log.h"
#include "memory.h"
#include "plan.h"
#include "readers.h"
#include "task.h"

#define BATCH 200
#define BLOCK_MS 2000

struct fq_intake {
    fq_coordinator *c;
    fq_argv keys;      /* the intake.lua call being gathered: its keys, */
    fq_argv args;      /* its arguments */
    int entries;       /* and how many entries it records */
    int reading;
    int inflight;
    int own_pending;   /* 1 while re-reading our unacknowledged entries */
    char batch_error[256];   /* why a script of this batch failed, "" if none did */
    fq_failing failing;
    uv_timer_t retry;
};

static void on_retry(uv_timer_t *t)
{
    fq_intake_kick(t->data);
}

/* A read or a batch failed: the entries stay pending and are read again
 * once the back-off has passed. */
static void back_off(struct fq_intake *in, const char *error)
{
    in->own_pending = 1;
    int64_t wait = fq_health_failed(in->c->health, FQ_PART_INTAKE, &in->failing, error, 0);
    uv_timer_start(&in->retry, on_retry, (uint64_t)wait, 0);
}

/* A batch was recorded, or a read found nothing new: intake works. */
static void works(struct fq_intake *in)
{
    fq_health_works(in->c->health, FQ_PART_INTAKE, &in->failing);
}

/* Every script of a batch has answered: back off after a failure, else
 * read the next batch. */
static void batch_done(struct fq_intake *in)
{
    if (in->batch_error[0] != '\0') {
        back_off(in, in->batch_error);
        in->batch_error[0] = '\0';
    } else {
        works(in);
        fq_intake_kick(in);
    }
}

static void on_recorded(fq_redis *r, redisReply *reply, void *data)
{
    struct fq_intake *in = data;
    in->inflight--;
    if (fq_reply_failed(reply)) {
        /* Not acknowledged: the entries stay pending and are read again. */
        snprintf(in->batch_error, sizeof(in->batch_error), "recording a submission: %s",
                 reply ? reply->str : "Redis connection lost");
    } else if (reply->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < reply->elements; i++) {
            const redisReply *e = reply->element[i];
            if (e->type == REDIS_REPLY_STRING && strncmp(e->str, "duplicate:", 10) == 0) {
                /* duplicate:<status>:<id> (a status has no ':') */
                char status[32];
                snprintf(status, sizeof(status), "%.*s", (int)strcspn(e->str + 10, ":"),
                         e->str + 10);
                const char *id = strchr(e->str + 10, ':');
                fq_log(FQ_LOG_INFO, "intake.duplicate", FQ_LS, "task", id ? id + 1 : "",
                       FQ_LS, "status", status, FQ_LS, "msg",
                       "a task with this id exists: not run again", FQ_LEND);
            }
            else if (e->type == REDIS_REPLY_STRING && strcmp(e->str, "waiting") == 0)
                fq_resolver_kick(in->c->resolver);   /* its parents may have ended */
        }
    }
    if (in->inflight == 0) {
        batch_done(in);
        fq_coordinator_maybe_close(in->c);
    }
}

static void on_cancelled(fq_redis *r, redisReply *reply, void *data)
{
    if (!fq_reply_failed(reply) && reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
        reply->element[0]->type == REDIS_REPLY_STRING &&
        reply->element[1]->type == REDIS_REPLY_STRING &&
        reply->element[2]->type == REDIS_REPLY_STRING) {
        const char *outcome = reply->element[0]->str, *id = reply->element[1]->str;
        const char *detail = reply->element[2]->str;
        if (strcmp(outcome, "cancelled") == 0)
            fq_log(FQ_LOG_INFO, "task.cancelled", FQ_LS, "task", id, FQ_LS, "was", detail,
                   FQ_LEND);
        else
            fq_log(FQ_LOG_WARN, "cancel.refused", FQ_LS, "task", id, FQ_LS, "reason",
                   strcmp(outcome, "not found") == 0 ? "not found" : detail, FQ_LEND);
    }
    on_recorded(r, reply, data);
}

/* A `cancel <id>` entry: cancel.lua cancels the task (or says why not) and
 * acknowledges the entry. An id that cannot name a task is only
 * acknowledged. */
static void cancel_entry(struct fq_intake *in, const char *entry_id, const redisReply *value)
{
    fq_coordinator *c = in->c;
    int rc;
    if (value->type != REDIS_REPLY_STRING || !fq_id_valid(value->str, value->len)) {
        fq_log(FQ_LOG_WARN, "cancel.refused", FQ_LS, "entry", entry_id, FQ_LS, "reason",
               "cancel: not a task id (1-128 of A-Za-z0-9._:-)", FQ_LEND);
        /* consumed like every other entry: acknowledged and deleted (sent
         * together, so Redis gets both or, with the connection lost,
         * neither, and the entry is read again) */
        const char *submit = fq_keys()->submit;
        rc = fq_redis_command(c->redis, on_recorded, in, "XACK %s %s %s", submit,
                              FQ_GROUP_INTAKE, entry_id);
        if (rc == 0)
            fq_redis_command(c->redis, NULL, NULL, "XDEL %s %s", submit, entry_id);
    } else {
        char reason[FQ_KEY_MAX + 128];
        snprintf(reason, sizeof(reason), "cancelled by operator (%s entry %s)",
                 fq_keys()->submit, entry_id);
        fq_argv a;
        fq_argv_init(&a);
        rc = fq_cancel_args(&a, value->str, value->len, reason, entry_id, 0);
        if (rc == 0)
            rc = fq_redis_script(c->redis, "cancel", FQ_CANCEL_NKEYS, &a, on_cancelled, in);
        fq_argv_free(&a);
    }
    if (rc == 0)
        in->inflight++;
    else
        snprintf(in->batch_error, sizeof(in->batch_error),
                 "recording a cancel: Redis connection lost or out of memory");
}

/* The keys and first argument every intake.lua call has. */
static void add_call_head(fq_argv *keys, fq_argv *args)
{
    const fq_keyset *k = fq_keys();
    fq_argv_adds(keys, k->delayed);
    fq_argv_adds(keys, k->events);
    fq_argv_adds(keys, k->results);
    fq_argv_adds(keys, k->submit);
    fq_argv_adds(keys, k->seq);
    fq_argv_adds(keys, k->expiry);
    fq_argv_add_ready_keys(keys);
    fq_argv_add_marker_keys(keys);
    fq_argv_adds(keys, k->resolving);
    fq_argv_adds(args, FQ_GROUP_INTAKE);
}

/* Starts gathering an intake.lua call. */
static void begin_call(struct fq_intake *in)
{
    fq_argv_free(&in->keys);
    fq_argv_free(&in->args);
    add_call_head(&in->keys, &in->args);
    in->entries = 0;
}

/* Sends the entries gathered so far, if any, in one intake.lua call. */
static void send_call(struct fq_intake *in)
{
    if (in->entries == 0)
        return;
    int nkeys = in->keys.argc;
    int rc = fq_argv_append(&in->keys, &in->args);
    if (rc == 0)
        rc = fq_redis_script(in->c->redis, "intake", nkeys, &in->keys, on_recorded, in);
    if (rc == 0)
        in->inflight++;
    else
        snprintf(in->batch_error, sizeof(in->batch_error),
                 "recording a submission: Redis connection lost or out of memory");
    begin_call(in);
}

/* 1 when an entry's fields are exactly one `cancel`. */
static int is_cancel(const redisReply *body)
{
    return body->type == REDIS_REPLY_ARRAY && body->elements == 2 &&
           body->element[0]->type == REDIS_REPLY_STRING && body->element[0]->len == 6 &&
           memcmp(body->element[0]->str, "cancel", 6) == 0;
}

/* Adds one task (or its rejection) to an intake.lua call being gathered:
 * its key and its parents' keys, then its values. Returns 0, or -1 when
 * out of memory (the entry then stays pending). */
static int add_entry(const fq_config *cfg, fq_argv *keys, fq_argv *args, const char *entry_id,
                     const char *id, int valid, int role, fq_task *task, const char *reason)
{
    fq_role route_role = role >= 0 ? (fq_role)role : FQ_ROLE_CEO;
    int priority = task->priority >= 0 ? task->priority : cfg->roles[route_role].priority;
    cJSON *parents = valid && task->parents ? cJSON_Parse(task->parents) : NULL;
    if (valid && task->parents && parents == NULL)
        return -1;
    fq_argv hash;
    fq_argv_init(&hash);
    if (valid) {
        fq_task_to_hash(task, &hash);
        fq_argv_pairll(&hash, "priority", priority);
    } else if (role >= 0) {
        fq_argv_pair(&hash, "role", fq_role_name((fq_role)role));
    }
    fq_argv_add_task_key(keys, id, strlen(id));
    const cJSON *p;
    cJSON_ArrayForEach(p, parents) {
        fq_argv_add_task_key(keys, p->valuestring, strlen(p->valuestring));
        fq_argv_add_children_key(keys, p->valuestring, strlen(p->valuestring));
    }
    fq_argv *a = args;
    fq_argv_adds(a, entry_id);
    fq_argv_adds(a, valid ? "route" : "reject");
    fq_argv_adds(a, id);
    fq_argv_adds(a, role >= 0 ? fq_role_name((fq_role)role) : "");
    fq_argv_addll(a, route_role);
    fq_argv_addll(a, priority);
    fq_argv_addll(a, (long long)task->delay_s * 1000);
    fq_argv_addll(a, (long long)task->ttl_s * 1000);
    fq_argv_addll(a, task->max_attempts > 0 ? task->max_attempts : cfg->max_retries + 1);
    fq_argv_adds(a, reason);
    fq_argv_addll(a, cJSON_GetArraySize(parents));
    cJSON_ArrayForEach(p, parents)
        fq_argv_adds(a, p->valuestring);
    cJSON_Delete(parents);
    fq_argv_addll(a, hash.argc);
    fq_argv_append(a, &hash);
    fq_argv_free(&hash);
    if (valid)
        fq_log(FQ_LOG_DEBUG, "task.accepted", FQ_LS, "task", id, FQ_LS, "role",
               fq_role_name((fq_role)role), FQ_LI, "priority", (int64_t)priority, FQ_LEND);
    else
        fq_log(FQ_LOG_WARN, "task.rejected", FQ_LS, "task", id, FQ_LS, "entry", entry_id,
               FQ_LS, "reason", reason, FQ_LEND);
    return 0;
}

/* Adds a task and, with review_by, its review task right after it. */
static int add_task(const fq_config *cfg, fq_argv *keys, fq_argv *args, const char *entry_id,
                    const char *id, fq_task *task, int *entries)
{
    fq_task review;
    fq_task_init(&review);
    int rc = task->review_by >= 0 ? fq_task_review(task, id, &review) : 0;
    if (rc == 0 && (rc = add_entry(cfg, keys, args, entry_id, id, 1, (int)task->role, task,
                                   "")) == 0)
        (*entries)++;
    if (rc == 0 && review.id[0] != '\0' &&
        (rc = add_entry(cfg, keys, args, entry_id, review.id, 1, (int)review.role, &review,
                        "")) == 0)
        (*entries)++;
    fq_task_free(&review);
    return rc;
}

/* ------------------------------------------------------------------------
 * Recall: the searches of a batch run on a reader thread (readers.h)
 * --------------------------------------------------------------------- */

/* What a recalling task (`recall QUERY`, or a memory task, its prompt as
 * the query, unless `recall off`) searches the fleet's memory for; NULL
 * when it does not recall. */
static const char *recall_text(const fq_config *cfg, const fq_task *task)
{
    const char *text = task->recall;
    if (text == NULL && task->role == FQ_ROLE_MEMORY && !task->recall_off)
        text = task->prompt ? task->prompt : task->messages;
    return cfg->recall_k > 0 ? text : NULL;
}

/* One entry's search and what it found. */
typedef struct recall_result {
    char *query;            /* NULL: the entry does not recall */
    char *context, *recalled;
    int failed;
    char error[256];
} recall_result;

/* A batch whose entries wait for their searches: a copy of the read (the
 * reply itself is gone once on_read returns) and one result per entry. */
typedef struct recall_batch {
    struct fq_intake *in;
    int k;
    redisReply *list;       /* owned copy (reply_free) */
    recall_result *results;
} recall_batch;

static void reply_free(redisReply *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->elements; i++)
        reply_free(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

/* A deep copy of a reply of strings, integers and arrays, or NULL. */
static redisReply *reply_copy(const redisReply *r)
{
    redisReply *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->type = r->type;
    c->integer = r->integer;
    if (r->str != NULL) {
        if ((c->str = malloc(r->len + 1)) == NULL)
            goto err;
        memcpy(c->str, r->str, r->len);
        c->str[r->len] = '\0';
        c->len = r->len;
    }
    if (r->elements > 0) {
        if ((c->element = calloc(r->elements, sizeof(*c->element))) == NULL)
            goto err;
        for (size_t i = 0; i < r->elements; i++, c->elements++)
            if ((c->element[i] = reply_copy(r->element[i])) == NULL)
                goto err;
    }
    return c;
err:
    reply_free(c);
    return NULL;
}

/* 1 when an entry may recall: it names `recall`, is a memory task, or
 * comes as `json` (then only parsing it says). */
static int may_recall(const redisReply *body)
{
    for (size_t i = 0; body->type == REDIS_REPLY_ARRAY && i + 1 < body->elements; i += 2) {
        const redisReply *name = body->element[i], *value = body->element[i + 1];
        if (name->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(name->str, "recall") == 0 || strcmp(name->str, "json") == 0 ||
            (strcmp(name->str, "role") == 0 && strcmp(value->str, "memory") == 0))
            return 1;
    }
    return 0;
}

/* The query of one entry, or NULL (no recall, not valid, or memory). */
static char *entry_query(const fq_config *cfg, const redisReply *body)
{
    if (!may_recall(body))
        return NULL;
    size_t nf = body->elements / 2;
    fq_field *fields = calloc(nf + 1, sizeof(*fields));
    if (fields == NULL)
        return NULL;
    nf = fq_reply_fields(body, fields, nf);
    fq_task task;
    fq_task_limits limits = {.max_submission_bytes = cfg->max_submission_bytes};
    char reason[512];
    char *query = NULL;
    if (fq_task_parse_submission(fields, nf, &limits, &task, NULL, reason, sizeof(reason)) == 0) {
        const char *text = recall_text(cfg, &task);
        query = text != NULL ? strdup(text) : NULL;
    }
    fq_task_free(&task);
    free(fields);
    return query;
}

static void recall_batch_free(recall_batch *b, size_t n)
{
    for (size_t i = 0; b->results != NULL && i < n; i++) {
        free(b->results[i].query);
        free(b->results[i].context);
        free(b->results[i].recalled);
    }
    free(b->results);
    reply_free(b->list);
    free(b);
}

/* The batch's searches, if any: NULL when no entry recalls (or memory ran
 * out: the entries then run without, as after a failed search). */
static recall_batch *plan_recalls(struct fq_intake *in, const redisReply *list)
{
    recall_batch *b = calloc(1, sizeof(*b));
    if (b == NULL || (b->results = calloc(list->elements, sizeof(*b->results))) == NULL) {
        free(b);
        return NULL;
    }
    size_t queries = 0;
    for (size_t i = 0; i < list->elements; i++) {
        const redisReply *e = list->element[i];
        if (e->type == REDIS_REPLY_ARRAY && e->elements == 2 && !is_cancel(e->element[1]) &&
            (b->results[i].query = entry_query(in->c->cfg, e->element[1])) != NULL)
            queries++;
    }
    if (queries == 0 || (b->list = reply_copy(list)) == NULL) {
        recall_batch_free(b, list->elements);
        return NULL;
    }
    b->in = in;
    b->k = in->c->cfg->recall_k;
    return b;
}

/* On a reader thread: every search of the batch. */
static int run_recalls(struct sqlite3 *db, void *data, char *err, size_t errlen)
{
    recall_batch *b = data;
    (void)err;
    (void)errlen;
    for (size_t i = 0; i < b->list->elements; i++) {
        recall_result *r = &b->results[i];
        if (r->query != NULL &&
            fq_memory_recall(db, r->query, b->k, &r->context, &r->recalled, r->error,
                             sizeof(r->error)) != 0)
            r->failed = 1;
    }
    return 0;
}

/* A recalling task gets what its search found as context, before it is
 * queued; a failed search is logged and the task runs without. */
static void attach_recall(const char *id, fq_task *task, recall_result *r)
{
    if (r == NULL || r->query == NULL)
        return;
    if (r->failed) {
        fq_log(FQ_LOG_WARN, "recall.failed", FQ_LS, "task", id, FQ_LS, "error", r->error,
               FQ_LS, "msg", "the task runs without the earlier results", FQ_LEND);
        return;
    }
    task->context = r->context;
    task->recalled = r->recalled;
    r->context = r->recalled = NULL;
}

/* Records one entry: validated → routed, invalid → rejected with reason;
 * a task with review_by brings its review task along, right after it;
 * recall is what the entry's search found (NULL: it has none). */
static void record_entry(struct fq_intake *in, const redisReply *entry, recall_result *recall)
{
    const fq_config *cfg = in->c->cfg;
    const redisReply *eid = entry->element[0], *body = entry->element[1];
    char entry_id[64];
    snprintf(entry_id, sizeof(entry_id), "%.*s", (int)eid->len, eid->str);
    if (is_cancel(body)) {
        send_call(in);   /* what came before it is recorded first */
        cancel_entry(in, entry_id, body->element[1]);
        return;
    }

    size_t nf = body->type == REDIS_REPLY_ARRAY ? body->elements / 2 : 0;
    fq_field *fields = calloc(nf + 1, sizeof(*fields));
    if (fields == NULL) {
        snprintf(in->batch_error, sizeof(in->batch_error), "reading a submission: out of memory");
        return;  /* stays pending; read again later */
    }
    nf = fq_reply_fields(body, fields, nf);

    fq_task task;
    fq_task_init(&task);
    fq_task_limits limits = {.max_submission_bytes = cfg->max_submission_bytes};
    int role = -1;
    char reason[512] = "";
    int valid = body->type == REDIS_REPLY_ARRAY &&
                fq_task_parse_submission(fields, nf, &limits, &task, &role, reason,
                                         sizeof(reason)) == 0;
    if (body->type != REDIS_REPLY_ARRAY)
        snprintf(reason, sizeof(reason), "the submission entry was deleted before it was read");
    free(fields);

    const char *id = task.id[0] ? task.id : entry_id;
    if (valid)
        attach_recall(id, &task, recall);
    int rc;
    if (valid)
        rc = add_task(cfg, &in->keys, &in->args, entry_id, id, &task, &in->entries);
    else if ((rc = add_entry(cfg, &in->keys, &in->args, entry_id, id, 0, role, &task,
                             reason)) == 0)
        in->entries++;
    if (rc != 0)
        snprintf(in->batch_error, sizeof(in->batch_error), "reading a submission: out of memory");
    fq_task_free(&task);
}

typedef struct spawn {
    const fq_config *cfg;
    fq_argv keys, args;
    int entries;
} spawn;

static int spawn_one(fq_task *t, void *data)
{
    spawn *sp = data;
    return add_task(sp->cfg, &sp->keys, &sp->args, "", t->id, t, &sp->entries);
}

int fq_intake_spawn(struct fq_intake *in, const char *parent_id, int depth, const char *plan,
                    fq_redis_cb cb, void *data)
{
    spawn sp = {.cfg = in->c->cfg};
    fq_argv_init(&sp.keys);
    fq_argv_init(&sp.args);
    add_call_head(&sp.keys, &sp.args);
    int rc = fq_plan_each(plan, depth, spawn_one, &sp);
    int nkeys = sp.keys.argc;
    if (rc == 0 && sp.entries > 0 && fq_argv_append(&sp.keys, &sp.args) == 0)
        rc = fq_redis_script(in->c->redis, "intake", nkeys, &sp.keys, cb, data);
    else
        rc = -1;
    if (rc == 0)
        fq_log(FQ_LOG_INFO, "plan.submitted", FQ_LS, "task", parent_id, FQ_LI, "subtasks",
               (int64_t)sp.entries, FQ_LEND);
    else
        fq_log(FQ_LOG_ERROR, "plan.not_submitted", FQ_LS, "task", parent_id, FQ_LS, "msg",
               "its plan could not be read back or sent; the batch is tried again", FQ_LEND);
    fq_argv_free(&sp.keys);
    fq_argv_free(&sp.args);
    return rc;
}

/* Records a read's entries, in order, in as few intake.lua calls as its
 * cancels allow. */
static void record_batch(struct fq_intake *in, const redisReply *list, recall_batch *b)
{
    begin_call(in);
    for (size_t i = 0; i < list->elements; i++) {
        const redisReply *e = list->element[i];
        if (e->type == REDIS_REPLY_ARRAY && e->elements == 2)
            record_entry(in, e, b != NULL ? &b->results[i] : NULL);
    }
    send_call(in);
}

/* A batch's searches are done: the batch is recorded. */
static void on_recalled(int rc, const char *err, void *data)
{
    recall_batch *b = data;
    struct fq_intake *in = b->in;
    in->inflight--;
    (void)rc;
    (void)err;
    if (in->c->stopping) {   /* left pending: read again at the next start */
        recall_batch_free(b, b->list->elements);
        fq_coordinator_maybe_close(in->c);
        return;
    }
    record_batch(in, b->list, b);
    recall_batch_free(b, b->list->elements);
    if (in->inflight == 0)
        batch_done(in);
}

static void on_read(fq_redis *r, redisReply *reply, void *data)
{
    struct fq_intake *in = data;
    fq_coordinator *c = in->c;
    in->reading = 0;
    if (c->stopping) {
        fq_coordinator_maybe_close(c);
        return;
    }
    if (fq_reply_failed(reply)) {
        if (reply != NULL && strncmp(reply->str, "NOGROUP", 7) == 0)
            fq_coordinator_ensure_group(c, fq_keys()->submit, FQ_GROUP_INTAKE);
        char why[300];
        snprintf(why, sizeof(why), "reading %s: %s", fq_keys()->submit,
                 reply != NULL ? reply->str : "Redis connection lost");
        back_off(in, why);
        return;
    }
    size_t entries = 0;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0) {
        const redisReply *stream = reply->element[0];
        const redisReply *list = stream->element[1];
        entries = list->elements;
        recall_batch *b = plan_recalls(in, list);
        if (b != NULL && fq_readers_submit(c->readers, run_recalls, on_recalled, b) == 0) {
            in->inflight++;   /* the batch is recorded once its searches are done */
            return;
        }
        if (b != NULL)
            recall_batch_free(b, list->elements);
        record_batch(in, list, NULL);
    }
    if (in->own_pending && entries == 0)
        in->own_pending = 0;  /* caught up with what we had left unacknowledged */
    if (entries == 0)
        works(in);
    if (in->inflight == 0)
        batch_done(in);
}

void fq_intake_kick(struct fq_intake *in)
{
    fq_coordinator *c = in->c;
    if (c->stopping || in->reading || in->inflight > 0)
        return;
    if (fq_redis_command(c->intake_conn, on_read, in,
                         "XREADGROUP GROUP %s %s COUNT %d BLOCK %d STREAMS %s %s",
                         FQ_GROUP_INTAKE, c->consumer, BATCH, in->own_pending ? 0 : BLOCK_MS,
                         fq_keys()->submit, in->own_pending ? "0" : ">") == 0)
        in->reading = 1;
    else
        back_off(in, "Redis connection lost");
}

struct fq_intake *fq_intake_new(fq_coordinator *c)
{
    struct fq_intake *in = calloc(1, sizeof(*in));
    if (in == NULL)
        return NULL;
    in->c = c;
    in->own_pending = 1;
    fq_argv_init(&in->keys);
    fq_argv_init(&in->args);
    fq_health_part_init(&in->failing, FQ_PART_INTAKE);
    uv_timer_init(c->loop, &in->retry);
    in->retry.data = in;
    return in;
}

int fq_intake_busy(const struct fq_intake *in)
{
    return in->inflight > 0;
}

static void free_on_close(uv_handle_t *h)
{
    struct fq_intake *in = h->data;
    fq_argv_free(&in->keys);
    fq_argv_free(&in->args);
    free(in);
}

void fq_intake_free(struct fq_intake *in)
{
    if (in != NULL)
        uv_close((uv_handle_t *)&in->retry, free_on_close);
}
