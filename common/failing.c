/* failing.c -- back-off and logging for a failing part (see failing.h). */
#include "failing.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "timeutil.h"

#define AT_CAP_LOG_MS 60000

void fq_failing_init(fq_failing *f, const char *part, int64_t base_ms, int64_t max_ms)
{
    memset(f, 0, sizeof(*f));
    f->part = part;
    f->base_ms = base_ms;
    f->max_ms = max_ms;
}

static int64_t step_ms(const fq_failing *f, int n)
{
    return fq_backoff_step_ms(n, f->base_ms, f->max_ms);
}

int64_t fq_failing_fail(fq_failing *f, const char *error)
{
    int64_t now = fq_mono_ms();
    if (f->failures == 0)
        f->since_ms = fq_now_ms();
    f->failures++;
    f->total++;
    snprintf(f->error, sizeof(f->error), "%s", error != NULL ? error : "unknown error");
    int64_t step = step_ms(f, f->failures);
    int new_step = f->failures == 1 || step > step_ms(f, f->failures - 1);
    if (new_step || now - f->logged_ms >= AT_CAP_LOG_MS) {
        f->logged_ms = now;
        fq_log(FQ_LOG_ERROR, "part.failing", FQ_LS, "part", f->part, FQ_LS, "error", f->error,
               FQ_LI, "failures", (int64_t)f->failures, FQ_LI, "retry_ms", step, FQ_LEND);
    }
    return fq_backoff_ms(f->failures, f->base_ms, f->max_ms);
}

void fq_failing_ok(fq_failing *f)
{
    if (f->failures == 0)
        return;
    fq_log(FQ_LOG_INFO, "part.recovered", FQ_LS, "part", f->part, FQ_LI, "failures",
           (int64_t)f->failures, FQ_LI, "failing_ms", fq_now_ms() - f->since_ms, FQ_LEND);
    f->failures = 0;
    f->error[0] = '\0';
}

int fq_failing_now(const fq_failing *f)
{
    return f->failures > 0;
}
