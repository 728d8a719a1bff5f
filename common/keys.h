/* keys.h -- the names of fleetq's Redis keys, in one place.
 *
 * User-facing keys are easy to type (fleetq:submit, fleetq:task:<id>,
 * fleetq:done:<id>, fleetq:events, fleetq:quota). Internal keys carry the
 * hash tag {q} so that they share one slot.
 */
#ifndef FQ_KEYS_H
#define FQ_KEYS_H

#include <stdio.h>

#include "fields.h"
#include "task.h"

#define FQ_KEY_SUBMIT   "fleetq:submit"
#define FQ_KEY_EVENTS   "fleetq:events"
#define FQ_KEY_QUOTA    "fleetq:quota"
#define FQ_KEY_DELAYED  "fleetq:{q}:delayed"
#define FQ_KEY_LEASES   "fleetq:{q}:leases"
#define FQ_KEY_RESULTS  "fleetq:{q}:results"
#define FQ_KEY_SEQ      "fleetq:{q}:seq"
#define FQ_KEY_WORKERS  "fleetq:{q}:workers"    /* registry: "host:pid:role" by last
                                                   heartbeat ms (heartbeat.lua) */
#define FQ_KEY_METRICS  "fleetq:{q}:metrics"    /* counters for /metrics (finish.lua and
                                                   claim.lua name it too) */
#define FQ_KEY_INFLIGHT "fleetq:{q}:inflight"   /* quota: leased call slots */
#define FQ_KEY_OKS      "fleetq:{q}:oks"        /* quota: recent successes (":<model>" for
                                                   a model's own) */
#define FQ_KEY_MODELS   "fleetq:{q}:models"     /* quota: the models seen, by last grant ms */
#define FQ_KEY_DEAD     "fleetq:{q}:dead"       /* dead letters: failed ids by finish ms
                                                   (the Lua prelude names it too) */

#define FQ_GROUP_INTAKE "coordinators"
#define FQ_GROUP_STORE  "store"

#define FQ_EVENTS_MAXLEN "100000"           /* approximate trim of fleetq:events */
#define FQ_RESULT_TTL_S  "604800"           /* finished task hashes live 7 days */

#define FQ_KEY_MAX (FQ_ID_MAX + 64)

static inline const char *fq_key_ready(fq_role role, char *buf, size_t len)
{
    snprintf(buf, len, "fleetq:{q}:ready:%s", fq_role_name(role));
    return buf;
}

static inline const char *fq_key_marker(fq_role role, char *buf, size_t len)
{
    snprintf(buf, len, "fleetq:{q}:marker:%s", fq_role_name(role));
    return buf;
}

static inline const char *fq_key_task(const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "fleetq:task:%s", id);
    return buf;
}

/* The keys and arguments of cancel.lua (see there): the task id, the
 * reason, and the fleetq:submit entry to acknowledge ("" for none). */
static inline void fq_cancel_args(fq_argv *a, const char *id, size_t idlen, const char *reason,
                                  const char *entry)
{
    char ready[FQ_KEY_MAX];
    fq_argv_adds(a, FQ_KEY_DELAYED);
    fq_argv_adds(a, FQ_KEY_EVENTS);
    fq_argv_adds(a, FQ_KEY_RESULTS);
    fq_argv_adds(a, FQ_KEY_SUBMIT);
    for (int role = 0; role < FQ_ROLE_COUNT; role++)
        fq_argv_adds(a, fq_key_ready((fq_role)role, ready, sizeof(ready)));
    fq_argv_add(a, id, idlen);
    fq_argv_adds(a, reason);
    fq_argv_adds(a, FQ_EVENTS_MAXLEN);
    fq_argv_adds(a, FQ_RESULT_TTL_S);
    fq_argv_adds(a, entry);
    fq_argv_adds(a, FQ_GROUP_INTAKE);
}
#define FQ_CANCEL_NKEYS (4 + FQ_ROLE_COUNT)

#endif
