/* config_limits.c -- this process' environment as the fleet's limits
 * (fleetq:limits, see limits.h): the pairs the coordinator publishes, and
 * what a worker's environment says differently from what the fleet holds.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cost.h"
#include "text.h"

/* The value of each fleet-wide field, in fq_limit_fields[] order. */
static void values(const fq_config *cfg, char out[][32])
{
    int i = 0;
    snprintf(out[i++], 32, "%s", fq_limit_scope_name(cfg->limit_scope));
    snprintf(out[i++], 32, "%lld", (long long)cfg->rate_limit_rpm);
    snprintf(out[i++], 32, "%lld", (long long)cfg->rate_limit_rph);
    snprintf(out[i++], 32, "%lld", (long long)cfg->rate_limit_tpm);
    snprintf(out[i++], 32, "%d", cfg->rate_burst);
    snprintf(out[i++], 32, "%lld", (long long)cfg->max_inflight);
    fq_cost_format_usd(cfg->daily_budget_ticks, out[i++], 32);
    snprintf(out[i++], 32, "%s", cfg->rate_limiting ? "on" : "off");
    snprintf(out[i++], 32, "%s", cfg->adaptive ? "on" : "off");
}

/* Where the environment variables of the fields are named, for messages. */
static const char *const field_vars[] = {
    "FLEETQ_LIMIT_SCOPE", "GROK_RATE_LIMIT_RPM", "GROK_RATE_LIMIT_RPH", "GROK_RATE_LIMIT_TPM",
    "FLEETQ_RATE_BURST", "FLEETQ_MAX_INFLIGHT", "DAILY_BUDGET_USD", "ENABLE_RATE_LIMITING",
    "FLEETQ_ADAPTIVE",
};

int fq_config_limits_argv(const fq_config *cfg, fq_argv *out)
{
    char v[sizeof(field_vars) / sizeof(field_vars[0])][32];
    values(cfg, v);
    int bad = 0;
    for (int i = 0; fq_limit_fields[i] != NULL; i++)
        bad |= fq_argv_pair(out, fq_limit_fields[i], v[i]);
    for (size_t m = 0; m < cfg->n_model_limits; m++)
        bad |= fq_model_limit_argv(&cfg->model_limits[m], out);
    return bad;
}

size_t fq_config_limits_diff(const fq_config *cfg, const fq_field *hash, size_t n, char *buf,
                             size_t len)
{
    char v[sizeof(field_vars) / sizeof(field_vars[0])][32];
    values(cfg, v);
    size_t used = 0, count = 0;
    buf[0] = '\0';
    for (int i = 0; fq_limit_fields[i] != NULL; i++) {
        const fq_field *f = fq_fields_find(hash, n, fq_limit_fields[i]);
        if (f == NULL || (f->value_len == strlen(v[i]) && memcmp(f->value, v[i], f->value_len) == 0))
            continue;
        int w = snprintf(buf + used, len - used, "%s%s: this process %s, the fleet %.*s",
                         count ? "; " : "", field_vars[i], v[i], (int)(f->value_len > 40 ? 40 : f->value_len),
                         f->value);
        count++;
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
    return count;
}
