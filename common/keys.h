/* keys.h -- the names of fleetq's Redis keys, in one place.
 *
 * Every name starts with the fleet's key prefix (FLEETQ_KEY_PREFIX, default
 * "fleetq"). User-facing keys are easy to type: <prefix>:submit,
 * <prefix>:task:<id>, <prefix>:done:<id>, <prefix>:events, <prefix>:quota,
 * <prefix>:limits, <prefix>:fleet, <prefix>:coordinator. Internal keys
 * are <prefix>:{q}:<name>, so that with the default prefix they share one
 * slot. On a Redis Cluster the prefix holds a
 * hash tag ("{fleetq}"): its tag then decides the slot of every key of the
 * fleet, so every script's keys are in one slot. Scripts never build a key
 * name: each is given every key it touches, in KEYS.
 *
 * The set is built once (fq_keys_init, from the configuration); before
 * that, fq_keys() answers with the default prefix.
 */
#ifndef FQ_KEYS_H
#define FQ_KEYS_H

#include <stddef.h>

#include "fields.h"
#include "fq_shared.h"
#include "task.h"

#define FQ_KEY_PREFIX_DEFAULT "fleetq"
#define FQ_KEY_PREFIX_MAX 64
#define FQ_KEY_MAX (FQ_KEY_PREFIX_MAX + FQ_ID_MAX + 64)

typedef struct fq_keyset {
    char prefix[FQ_KEY_PREFIX_MAX + 1];
    int tagged;                       /* the prefix holds a hash tag: one slot */
    char submit[FQ_KEY_MAX];          /* the submissions stream */
    char events[FQ_KEY_MAX];          /* state changes, trimmed to FQ_EVENTS_MAXLEN */
    char quota[FQ_KEY_MAX];           /* the fleet quota (":<model>" for a model's state) */
    char limits[FQ_KEY_MAX];          /* the fleet's limits and budget (fleet_limits.h) */
    char fleet[FQ_KEY_MAX];           /* the fleet's id and where its results are (lease.lua) */
    char coordinator[FQ_KEY_MAX];     /* the coordinator's lease: who holds the fleet */
    char delayed[FQ_KEY_MAX];         /* delayed tasks and retries by due ms */
    char expiry[FQ_KEY_MAX];          /* tasks with a ttl by expiry ms */
    char leases[FQ_KEY_MAX];          /* running tasks by lease expiry ms */
    char results[FQ_KEY_MAX];         /* records waiting for the store */
    char seq[FQ_KEY_MAX];             /* FIFO sequence within a priority */
    char workers[FQ_KEY_MAX];         /* registry: "host:pid:role" by last heartbeat ms */
    char metrics[FQ_KEY_MAX];         /* counters for /metrics */
    char inflight[FQ_KEY_MAX];        /* quota: leased call slots */
    char oks[FQ_KEY_MAX];             /* quota: recent successes (":<model>" for a model's) */
    char models[FQ_KEY_MAX];          /* quota: the models seen, by last grant ms */
    char dead[FQ_KEY_MAX];            /* dead letters: failed ids by finish ms */
    char resolving[FQ_KEY_MAX];       /* waiting tasks a parent of which has ended */
    char cache[FQ_KEY_MAX];           /* response cache: request hash -> answer (cache.lua) */
    char cache_index[FQ_KEY_MAX];     /* response cache: request hash by expiry ms */
    char cache_meta[FQ_KEY_MAX];      /* response cache: its size, and calls in flight */
    char missing_models[FQ_KEY_MAX];  /* models that answered 404, by until ms */
    char ready[FQ_ROLE_COUNT][FQ_KEY_MAX];    /* a role's queue, by score */
    char marker[FQ_ROLE_COUNT][FQ_KEY_MAX];   /* wakes a role's idle workers */
} fq_keyset;

#define FQ_GROUP_INTAKE "coordinators"
#define FQ_GROUP_STORE  "store"

/* FQ_EVENTS_MAXLEN (the approximate trim of <prefix>:events) and
 * FQ_ENDED_TTL (an ended task's hash lives at most that long until the
 * store has it; then the result ttl, FLEETQ_RESULT_TTL) are in shared.def. */

/* Checks prefix (1..64 printable characters, no space; a '{' opens a hash
 * tag closed by '}' with something between) and builds the set. Returns
 * 0, or -1 with the reason in err. */
int fq_keys_init(const char *prefix, char *err, size_t errlen);
const fq_keyset *fq_keys(void);

/* The Redis Cluster slot of a key (its hash tag's, when it has one); with a
 * tagged prefix, the slot of every key of the fleet. */
int fq_key_slot(const char *key);

const char *fq_key_task(const char *id, char *buf, size_t len);   /* <prefix>:task:<id> */
const char *fq_key_done(const char *id, char *buf, size_t len);   /* <prefix>:done:<id> */
const char *fq_key_children(const char *id, char *buf, size_t len);   /* <prefix>:children:<id> */
/* <prefix>:stream:<id>, a streamed task's output as it arrives */
const char *fq_key_stream(const char *id, char *buf, size_t len);

/* Appends the hash key of the task id[0..len) to a; returns fq_argv's
 * result. */
int fq_argv_add_task_key(fq_argv *a, const char *id, size_t len);
int fq_argv_add_done_key(fq_argv *a, const char *id, size_t len);   /* <prefix>:done:<id> */
/* <prefix>:children:<id>, the tasks waiting for id (`after`) */
int fq_argv_add_children_key(fq_argv *a, const char *id, size_t len);
/* <prefix>:quota:<model>, a model's quota state */
int fq_argv_add_model_key(fq_argv *a, const char *model, size_t len);

/* The four roles' ready queues, or their markers, in role order. */
int fq_argv_add_ready_keys(fq_argv *a);
int fq_argv_add_marker_keys(fq_argv *a);

/* The first n ids of an array reply of ids (ZRANGE and the like): as
 * they are, or as the keys of their task hashes. */
struct redisReply;
int fq_argv_add_ids(fq_argv *a, const struct redisReply *ids, size_t n);
int fq_argv_add_task_keys(fq_argv *a, const struct redisReply *ids, size_t n);

/* The keys and arguments of cancel.lua (see there): the task id, the
 * reason, the <prefix>:submit entry to acknowledge ("" for none), and
 * whether a dead letter is cancelled too. */
int fq_cancel_args(fq_argv *a, const char *id, size_t idlen, const char *reason,
                   const char *entry, int dead_too);
#define FQ_CANCEL_NKEYS (7 + FQ_ROLE_COUNT)

/* The keys and arguments of requeue.lua (see there) for ids[0..n), lens[i]
 * bytes each: FQ_REQUEUE_NKEYS fixed keys, then two keys per id. */
int fq_requeue_args(fq_argv *a, const char *const *ids, const size_t *lens, size_t n);
#define FQ_REQUEUE_NKEYS (4 + 2 * FQ_ROLE_COUNT)

/* The keys and arguments of resume.lua (see there): the quota hash and the
 * state of each model of models (the registry's ZRANGE reply, NULL for
 * none); closing the breakers too with breaker. Returns the number of
 * keys, or -1 when out of memory. */
int fq_resume_args(fq_argv *a, const struct redisReply *models, int breaker,
                   long long breaker_cooldown_ms);

#endif
