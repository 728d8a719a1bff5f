/* redis_sync.h -- a blocking Redis connection made the way every fleetq
 * program makes one, for code that needs no event loop: fleetqctl, and
 * the coordinator's HTTP handlers (which run on their own threads).
 */
#ifndef FQ_REDIS_SYNC_H
#define FQ_REDIS_SYNC_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "config.h"

/* Connects to cfg's Redis within connect_ms, sets a reply timeout of
 * reply_ms, and sends AUTH (user and password of REDIS_URL) and SELECT
 * (its database) when the URL has them. Returns the context, or NULL with
 * one line in err; *refused (when not NULL) is then 1 when Redis answered
 * but refused AUTH or SELECT (the URL is wrong), 0 when it could not be
 * reached or stopped answering. An AUTH error is quoted by its first word
 * only, so no part of a password can show. */
redisContext *fq_redis_connect_sync(const fq_config *cfg, int connect_ms, int reply_ms,
                                    int *refused, char *err, size_t errlen);

#endif
