/* stream_error.c -- the words of the error event of a broken-off stream:
 * the same error kinds and words as the mock's own 429, 500 and 503, so a
 * client reads them the way it reads those statuses.
 */
#include "mock_stream_error.h"

#include "mock_limits_reply.h"
#include "mock_reply.h"

cJSON *mock_stream_error_event(const mock_req *r, const mock_config *cfg, const mock_model *m)
{
    char msg[400];
    switch (cfg->stream_error_status) {
    case 429:
        mock_limits_words(r, cfg, m, 1, NULL, msg, sizeof(msg));
        return mock_reply_error_json(r, MOCK_ERR_RATE_TOKENS, msg);
    case 503:
        return mock_reply_error_json(r, MOCK_ERR_UNAVAILABLE, MOCK_MSG_UNAVAILABLE);
    default:
        return mock_reply_error_json(r, MOCK_ERR_INTERNAL, MOCK_MSG_INTERNAL);
    }
}
