/* redis_cluster.c -- MOVED/ASK and CLUSTER SLOTS replies read (see
 * redis_cluster.h). */
#include "redis_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fq_cluster_redirect(const char *err, fq_cluster_node *to, int *ask)
{
    const char *rest;
    if (strncmp(err, "MOVED ", 6) == 0) {
        *ask = 0;
        rest = err + 6;
    } else if (strncmp(err, "ASK ", 4) == 0) {
        *ask = 1;
        rest = err + 4;
    } else {
        return -1;
    }
    const char *addr = strchr(rest, ' ');
    const char *colon = addr != NULL ? strrchr(addr, ':') : NULL;
    if (colon == NULL || colon == addr + 1)
        return -1;
    size_t hostlen = (size_t)(colon - addr - 1);
    if (hostlen >= sizeof(to->host))
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (port <= 0 || port > 65535 || (*end != '\0' && *end != ' ' && *end != '\r'))
        return -1;
    memcpy(to->host, addr + 1, hostlen);
    to->host[hostlen] = '\0';
    to->port = (int)port;
    return 0;
}

/* One [host, port, ...] node of a CLUSTER SLOTS range. */
static int read_node(const redisReply *n, fq_cluster_node *out)
{
    if (n->type != REDIS_REPLY_ARRAY || n->elements < 2 ||
        n->element[0]->type != REDIS_REPLY_STRING || n->element[1]->type != REDIS_REPLY_INTEGER ||
        n->element[0]->len >= sizeof(out->host))
        return -1;
    memcpy(out->host, n->element[0]->str, n->element[0]->len);
    out->host[n->element[0]->len] = '\0';
    out->port = (int)n->element[1]->integer;
    return out->host[0] != '\0' && out->port > 0 ? 0 : -1;
}

static void add_node(fq_cluster_node *nodes, size_t max, size_t *n, const fq_cluster_node *node)
{
    for (size_t i = 0; i < *n; i++)
        if (fq_cluster_node_is(&nodes[i], node->host, node->port))
            return;
    if (*n < max)
        nodes[(*n)++] = *node;
}

int fq_cluster_slots(const redisReply *reply, int slot, fq_cluster_node *owner,
                     fq_cluster_node *nodes, size_t max, size_t *n)
{
    owner->host[0] = '\0';
    owner->port = -1;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *range = reply->element[i];
        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
            range->element[0]->type != REDIS_REPLY_INTEGER ||
            range->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        for (size_t k = 2; k < range->elements; k++) {
            fq_cluster_node node;
            if (read_node(range->element[k], &node) != 0)
                continue;
            add_node(nodes, max, n, &node);
            if (k == 2 && range->element[0]->integer <= slot && slot <= range->element[1]->integer)
                *owner = node;
        }
    }
    return 0;
}

int fq_cluster_node_is(const fq_cluster_node *a, const char *host, int port)
{
    return a->port == port && strcmp(a->host, host) == 0;
}
