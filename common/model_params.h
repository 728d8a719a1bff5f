/* model_params.h -- the optional model parameters a task may pass, and
 * which models accept which.
 *
 * A task may give reasoning_effort, top_p, seed, stop, presence_penalty,
 * frequency_penalty and response_format (task.c checks their values and
 * keeps them as one JSON object). Providers refuse some of them for some
 * models with a 400: xAI's reasoning models reject presence_penalty,
 * frequency_penalty and a non-null stop, and every one of them but
 * grok-3-mini rejects reasoning_effort. The request builder therefore
 * sends each parameter only to models the table says accept it, and names
 * the ones it left out so the task's record can say so.
 *
 * The built-in table covers xAI's and OpenAI's models by name prefix (the
 * longest prefix wins, as for prices); a model it does not know is sent
 * every parameter. FLEETQ_MODEL_PARAMS overrides or adds entries:
 * "model=param/param,model2=..." (the exact set that model accepts; an
 * empty set, "model=", accepts none).
 */
#ifndef FQ_MODEL_PARAMS_H
#define FQ_MODEL_PARAMS_H

#include <stddef.h>

struct cJSON;

/* The parameters, in the order they are listed and sent. */
#define FQ_MODEL_PARAM_NAMES \
    "reasoning_effort, top_p, seed, stop, presence_penalty, frequency_penalty, response_format"

/* The index of a parameter name (exact), or -1. */
int fq_model_param_index(const char *name, size_t len);

/* 1 when model is known to accept the parameter (by name). */
int fq_model_accepts(const char *model, const char *param);

/* Applies FLEETQ_MODEL_PARAMS. Returns 0, or -1 with a reason in err.
 * Not thread-safe; called once at start-up. */
int fq_model_params_override(const char *spec, char *err, size_t errlen);

/* Puts the built-in table back, undoing every override (for tests and
 * fuzzing, which apply many). Not thread-safe. */
void fq_model_params_reset(void);

/* Adds to body (a JSON object) each member of params (a JSON object text,
 * may be NULL) that model accepts, in its own order; writes the names of
 * the others into dropped, comma-separated ("" when none). Returns 0, or
 * -1 when params is not a JSON object or memory runs out. */
int fq_model_params_apply(struct cJSON *body, const char *model, const char *params,
                          char *dropped, size_t dropped_len);

#endif
