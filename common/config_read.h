/* config_read.h -- what the readers of the configuration share, inside the
 * common library: the environment helpers and typed readers of config.c,
 * and the readers that rows of settings.def name (config.c, config_roles.c).
 * Programs use config.h and settings.h.
 */
#ifndef FQ_CONFIG_READ_H
#define FQ_CONFIG_READ_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "settings.h"

/* The variable's value, NULL when unset or empty. */
const char *fq_cfg_env(const char *name);

/* Copies s without surrounding white space into out (bounded); returns the
 * trimmed length, which may exceed outlen - 1 (then out is cut). */
size_t fq_cfg_trim(const char *s, char *out, size_t outlen);

/* Reads the variable name as a value of row s's type into field (its
 * size bytes), def when unset: the generic reader of the typed rows, used
 * for each role's variable of a role's row too. */
int fq_cfg_read_value(const fq_setting *s, const char *name, void *field, const char *def,
                      char *err, size_t errlen);

/* The same for a row that is not a role's: its variable, its default. */
int fq_cfg_read_row(const fq_setting *s, void *field, char *err, size_t errlen);

/* The value of a row that is not a role's: its variable, or its default
 * when unset. */
const char *fq_cfg_given(const fq_setting *s);

/* The row's own readers (settings.def). */
#define FQ_CFG_READER(fn) \
    int fn(fq_config *cfg, const fq_setting *s, unsigned needs, char *err, size_t errlen);
FQ_CFG_READER(fq_cfg_read_key)
FQ_CFG_READER(fq_cfg_read_redis_url)
FQ_CFG_READER(fq_cfg_read_redis_password)
FQ_CFG_READER(fq_cfg_read_redis_tls)
FQ_CFG_READER(fq_cfg_read_key_prefix)
FQ_CFG_READER(fq_cfg_read_base_url)
FQ_CFG_READER(fq_cfg_read_http_port)
FQ_CFG_READER(fq_cfg_read_token)
FQ_CFG_READER(fq_cfg_read_limit_scope)
FQ_CFG_READER(fq_cfg_read_model_limits)
FQ_CFG_READER(fq_cfg_read_on_budget)
FQ_CFG_READER(fq_cfg_read_log_level)
FQ_CFG_READER(fq_cfg_read_submission_bytes)
FQ_CFG_READER(fq_cfg_read_backoff_max)
FQ_CFG_READER(fq_cfg_read_cache_max)
FQ_CFG_READER(fq_cfg_read_cache)
FQ_CFG_READER(fq_cfg_read_prices)
FQ_CFG_READER(fq_cfg_read_model_params)
FQ_CFG_READER(fq_cfg_read_role_shares)
#undef FQ_CFG_READER

/* The readers of one role's variable of a role's row (config_roles.c). */
#define FQ_CFG_ROLE_READER(fn)                                                          \
    int fn(fq_config *cfg, const fq_setting *s, int role, const char *name, char *err, \
           size_t errlen);
FQ_CFG_ROLE_READER(fq_cfg_read_role_model)
FQ_CFG_ROLE_READER(fq_cfg_read_role_system)
FQ_CFG_ROLE_READER(fq_cfg_read_role_priority)
FQ_CFG_ROLE_READER(fq_cfg_read_role_fallback)
#undef FQ_CFG_ROLE_READER

#endif
