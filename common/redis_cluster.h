/* redis_cluster.h -- what a fleetq connection needs to know of a Redis
 * Cluster.
 *
 * Every key of a fleet is in one slot (a key prefix with a hash tag, see
 * keys.h), so a connection talks to one node: the master that owns that
 * slot. At connect it asks CLUSTER SLOTS where that is (a server without
 * cluster support says so, and nothing changes) and remembers every node
 * listed, to try them in turn when the one it used is gone (a failover);
 * a MOVED or ASK reply names the node to go to.
 */
#ifndef FQ_REDIS_CLUSTER_H
#define FQ_REDIS_CLUSTER_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#define FQ_CLUSTER_HOST_MAX 256
#define FQ_CLUSTER_NODES_MAX 32

typedef struct fq_cluster_node {
    char host[FQ_CLUSTER_HOST_MAX];
    int port;
} fq_cluster_node;

/* Parses "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" into
 * *to (*ask = 1 for ASK). Returns 0, or -1 when err is no redirection. */
int fq_cluster_redirect(const char *err, fq_cluster_node *to, int *ask);

/* From a CLUSTER SLOTS reply: the master that serves slot into *owner
 * (port -1 when no range holds it), and every node listed (masters and
 * replicas) added to nodes[0..*n) unless already there, up to max.
 * Returns 0, or -1 when the reply is not one (the server has no cluster
 * support). */
int fq_cluster_slots(const redisReply *reply, int slot, fq_cluster_node *owner,
                     fq_cluster_node *nodes, size_t max, size_t *n);

int fq_cluster_node_is(const fq_cluster_node *a, const char *host, int port);

#endif
