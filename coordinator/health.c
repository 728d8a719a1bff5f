/* health.c -- the board the coordinator's parts report to (health.h). */
#include "health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "timeutil.h"

struct fq_health {
    uv_mutex_t lock;
    fq_health_view view;
};

#define PART_RETRY_BASE_MS 100
#define PART_RETRY_MAX_MS 10000

static const char *const part_names[FQ_PART_COUNT] = {"intake", "store", "timer"};

fq_health *fq_health_new(void)
{
    fq_health *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    if (uv_mutex_init(&h->lock) != 0) {
        free(h);
        return NULL;
    }
    for (int i = 0; i < FQ_PART_COUNT; i++)
        h->view.parts[i].part = part_names[i];
    h->view.stored_at_ms = fq_now_ms();
    h->view.beat_mono_ms = fq_mono_ms();
    snprintf(h->view.lease.state, sizeof(h->view.lease.state), "starting");
    return h;
}

void fq_health_coordinator(fq_health *h, const char *state, const char *fleet, const char *host,
                           const char *pid, const char *since, const char *db)
{
    if (h == NULL)
        return;
    fq_health_lease l;
    snprintf(l.state, sizeof(l.state), "%s", state);
    snprintf(l.fleet, sizeof(l.fleet), "%s", fleet);
    snprintf(l.host, sizeof(l.host), "%s", host);
    snprintf(l.pid, sizeof(l.pid), "%s", pid);
    snprintf(l.since, sizeof(l.since), "%s", since);
    snprintf(l.db, sizeof(l.db), "%s", db);
    uv_mutex_lock(&h->lock);
    h->view.lease = l;
    uv_mutex_unlock(&h->lock);
}

void fq_health_stored(fq_health *h, int64_t now_ms)
{
    if (h == NULL)
        return;
    uv_mutex_lock(&h->lock);
    h->view.stored_at_ms = now_ms;
    uv_mutex_unlock(&h->lock);
}

void fq_health_beat(fq_health *h)
{
    if (h == NULL)
        return;
    int64_t now = fq_mono_ms();
    uv_mutex_lock(&h->lock);
    h->view.beat_mono_ms = now;
    uv_mutex_unlock(&h->lock);
}

int64_t fq_health_beat_age_ms(fq_health *h)
{
    if (h == NULL)
        return 0;
    uv_mutex_lock(&h->lock);
    int64_t beat = h->view.beat_mono_ms;
    uv_mutex_unlock(&h->lock);
    return fq_mono_ms() - beat;
}

void fq_health_free(fq_health *h)
{
    if (h == NULL)
        return;
    uv_mutex_destroy(&h->lock);
    free(h);
}

static void report(fq_health *h, fq_part part, const fq_failing *f, int refused)
{
    if (h == NULL)
        return;
    uv_mutex_lock(&h->lock);
    h->view.parts[part] = *f;
    h->view.parts[part].part = part_names[part];
    if (part == FQ_PART_STORE)
        h->view.store_refused = fq_failing_now(f) && refused;
    uv_mutex_unlock(&h->lock);
}

void fq_health_part_init(fq_failing *f, fq_part part)
{
    fq_failing_init(f, part_names[part], PART_RETRY_BASE_MS, PART_RETRY_MAX_MS);
}

int64_t fq_health_failed(fq_health *h, fq_part part, fq_failing *f, const char *error,
                         int refused)
{
    int64_t wait = fq_failing_fail(f, error);
    report(h, part, f, refused);
    return wait;
}

void fq_health_works(fq_health *h, fq_part part, fq_failing *f)
{
    if (!fq_failing_now(f))
        return;
    fq_failing_ok(f);
    report(h, part, f, 0);
}

void fq_health_warn(fq_health *h, int i, const char *warning)
{
    if (h == NULL || i < 0 || i >= FQ_HEALTH_WARNINGS_MAX)
        return;
    uv_mutex_lock(&h->lock);
    snprintf(h->view.warnings[i], sizeof(h->view.warnings[i]), "%s", warning);
    uv_mutex_unlock(&h->lock);
}

void fq_health_snapshot(fq_health *h, fq_health_view *out)
{
    if (h == NULL) {
        memset(out, 0, sizeof(*out));
        for (int i = 0; i < FQ_PART_COUNT; i++)
            out->parts[i].part = part_names[i];
        return;
    }
    uv_mutex_lock(&h->lock);
    *out = h->view;
    uv_mutex_unlock(&h->lock);
}
