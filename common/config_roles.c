/* config_roles.c -- the readers of the roles' settings (the rows
 * FLEETQ_ROLE_<ROLE>_... of settings.def, which hold each role's default):
 * each reads one role's variable into cfg->roles[r], and fq_config_load()
 * calls it for each role in turn; the shares' reader reads all four, and
 * checks that they add up to at most 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_read.h"
#include "task.h"
#include "text.h"

#define NAME_LEN 64

/* FLEETQ_ROLE_<ROLE>_MODEL: a model name (A-Z a-z 0-9 . _ : -). */
int fq_cfg_read_role_model(fq_config *cfg, const fq_setting *s, int r, const char *name,
                           char *err, size_t errlen)
{
    fq_role_profile *p = &cfg->roles[r];
    char model[256];
    fq_text_shown sh;
    const char *mv = fq_cfg_env(name);
    size_t mlen = fq_cfg_trim(mv ? mv : fq_setting_default(s, r), model, sizeof(model));
    if (mlen >= sizeof(p->model) || !fq_text_name_valid(model, mlen, sizeof(p->model) - 1))
        return fq_text_fail(err, errlen,
                            "%s: must be 1 to %zu characters of A-Z a-z 0-9 . _ : -, got %s",
                            name, sizeof(p->model) - 1, fq_config_show(&sh, mv ? mv : ""));
    memcpy(p->model, model, mlen + 1);
    return 0;
}

/* FLEETQ_ROLE_<ROLE>_SYSTEM: the system prompt, UTF-8, kept as it is. */
int fq_cfg_read_role_system(fq_config *cfg, const fq_setting *s, int r, const char *name,
                            char *err, size_t errlen)
{
    const char *sys = fq_cfg_env(name);
    if (sys != NULL && !fq_utf8_valid(sys, strlen(sys)))
        return fq_text_fail(err, errlen, "%s: not valid UTF-8; use UTF-8 text", name);
    if ((cfg->roles[r].system = strdup(sys ? sys : fq_setting_default(s, r))) == NULL)
        return fq_text_fail(err, errlen, "%s: out of memory", name);
    return 0;
}

/* FLEETQ_ROLE_<ROLE>_PRIORITY: a priority's name or a digit. */
int fq_cfg_read_role_priority(fq_config *cfg, const fq_setting *s, int r, const char *name,
                              char *err, size_t errlen)
{
    char buf[16];
    fq_text_shown sh;
    const char *pv = fq_cfg_env(name);
    const char *given = pv ? pv : fq_setting_default(s, r);
    size_t n = fq_cfg_trim(given, buf, sizeof(buf));
    int prio = n < sizeof(buf) ? fq_priority_parse(buf, n) : -1;
    if (prio < 0)
        return fq_text_fail(err, errlen,
                            "%s: must be critical, high, normal, low, bulk or a "
                            "digit 0-9, got %s; 0 means %s",
                            name, fq_config_show(&sh, given), s->zero);
    cfg->roles[r].priority = prio;
    return 0;
}

/* FLEETQ_ROLE_<ROLE>_FALLBACK: models to try next (task_fallback.c). */
int fq_cfg_read_role_fallback(fq_config *cfg, const fq_setting *s, int r, const char *name,
                              char *err, size_t errlen)
{
    (void)s;
    const char *fb = fq_cfg_env(name);
    return fq_fallback_parse(name, fb ? fb : "", fb ? strlen(fb) : 0, NULL,
                             &cfg->roles[r].fallback, err, errlen);
}

/* FLEETQ_ROLE_<ROLE>_SHARE: each a fraction, all four at most 1 together;
 * the error names the last one set. */
int fq_cfg_read_role_shares(fq_config *cfg, const fq_setting *s, unsigned needs, char *err,
                            size_t errlen)
{
    (void)needs;
    char name[NAME_LEN], last_set[NAME_LEN];
    double sum = 0;
    fq_setting_name(s, FQ_ROLE_CEO, last_set, sizeof(last_set));
    for (int r = 0; r < FQ_ROLE_COUNT; r++) {
        fq_setting_name(s, r, name, sizeof(name));
        if (fq_cfg_read_value(s, name, &cfg->roles[r].share, fq_setting_default(s, r), err,
                              errlen) != 0)
            return -1;
        if (fq_cfg_env(name) != NULL)
            snprintf(last_set, sizeof(last_set), "%s", name);
        sum += cfg->roles[r].share;
    }
    if (sum > 1.0 + 1e-9)
        return fq_text_fail(err, errlen,
                            "%s: the shares of the four roles add up to %.4g (ceo %g, code "
                            "%g, quality %g, memory %g); they must add up to at most 1",
                            last_set, sum, cfg->roles[FQ_ROLE_CEO].share,
                            cfg->roles[FQ_ROLE_CODE].share, cfg->roles[FQ_ROLE_QUALITY].share,
                            cfg->roles[FQ_ROLE_MEMORY].share);
    return 0;
}
