/* lease.h -- one coordinator per fleet: the lease in Redis (lease.lua).
 *
 * A coordinator works only while it holds the fleet's lease,
 * <prefix>:coordinator, which names its host, pid, start and database and
 * lapses FQ_LEASE_MS after its last renewal (every FQ_LEASE_RENEW_MS, from
 * the coordinator's timer). Before taking it, the lease checks that the
 * database belongs to the fleet: a database that records another fleet's
 * id is refused, and so is a new database while the fleet has recorded
 * tasks in another (unless FLEETQ_NEW_DATABASE=true).
 *
 * A coordinator that finds the lease held exits 2 naming the holder; with
 * FLEETQ_STANDBY=true it waits and takes over once the lease lapses. A
 * holder on this host whose process is gone (a crash, then a restart) is
 * taken over at once, and a holder that stopped renewing is waited out
 * (a crash on another host). A holder that finds its lease taken stops.
 */
#ifndef FQ_LEASE_H
#define FQ_LEASE_H

struct fq_coordinator;
typedef struct fq_lease fq_lease;

fq_lease *fq_lease_new(struct fq_coordinator *c);
void fq_lease_free(fq_lease *l);

/* From the coordinator's timer, and when Redis (re)connects: takes or
 * renews the lease when it is time. */
void fq_lease_tick(fq_lease *l);
/* 1 while the lease is ours: the coordinator's parts may work. */
int fq_lease_held(const fq_lease *l);
/* A batch of results was committed: the fleet has recorded tasks. */
void fq_lease_recorded(fq_lease *l);
/* On a clean stop: gives the lease up (a standby takes over at once).
 * Returns 1 while the release is in flight (fq_coordinator_maybe_close is
 * called again when it is done), 0 when there is nothing to wait for. */
int fq_lease_release(fq_lease *l);

#endif
