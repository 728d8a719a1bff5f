/* stream.c -- piecewise responses through MHD_create_response_from_callback.
 *
 * A feed is one buffer with the offsets where its pieces end. The reader
 * callback hands MHD one piece per call (so each SSE event goes out as its
 * own HTTP chunk) and, when the feed is cut, returns
 * MHD_CONTENT_READER_END_WITH_ERROR at the cut offset: MHD then closes the
 * connection without finishing the body, and the client sees a partial
 * transfer, exactly as when a proxy drops a connection mid-answer.
 *
 * A feed that ends in an error event ends there, cleanly: the event is its
 * last piece and the transfer finishes as any other.
 *
 * A paced feed (stream_chunk_ms) sleeps in the reader callback at the start
 * of each paced piece, once per piece. MHD runs a thread per connection, so
 * the sleep holds back only this answer; it is mock_timing_wait, which ends
 * at once when the mock stops (the answer then breaks off).
 */
#include "mock_stream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mock_timing.h"

struct feed {
    char *buf;
    size_t len, cap;
    size_t *marks;          /* end offset of each piece */
    size_t nmarks, capmarks;
    size_t stop;            /* offset where the feed ends or breaks */
    int cut;                /* 1: break at stop instead of ending */
    void (*free_buf)(void *);
    long pause_ms;          /* sleep before each paced piece; 0 = none */
    size_t next_paced;      /* index of the next piece to sleep before */
    size_t last_paced;      /* index of the last piece to sleep before */
};

static void feed_free(void *cls)
{
    struct feed *f = cls;
    if (!f) return;
    if (f->free_buf) f->free_buf(f->buf);
    free(f->marks);
    free(f);
}

static ssize_t feed_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct feed *f = cls;
    if (pos >= f->stop)
        return f->cut ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    size_t end = f->stop, piece = 0;
    for (; piece < f->nmarks; piece++) {
        if (f->marks[piece] > pos) {
            if (f->marks[piece] < end) end = f->marks[piece];
            break;
        }
    }
    if (f->pause_ms > 0 && piece == f->next_paced && piece <= f->last_paced &&
        pos == f->marks[piece - 1]) {
        f->next_paced++;
        if (mock_timing_wait(-1, f->pause_ms) != MOCK_WAIT_DONE)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = end - (size_t)pos;
    if (n > max) n = max;
    memcpy(buf, f->buf + pos, n);
    return (ssize_t)n;
}

static int feed_add(struct feed *f, const char *s, size_t n)
{
    if (f->len + n + 1 > f->cap) {
        size_t cap = f->cap ? f->cap : 1024;
        while (cap < f->len + n + 1) cap *= 2;
        char *b = realloc(f->buf, cap);
        if (!b) return -1;
        f->buf = b;
        f->cap = cap;
    }
    memcpy(f->buf + f->len, s, n);
    f->len += n;
    f->buf[f->len] = '\0';
    return 0;
}

static int feed_mark(struct feed *f)
{
    if (f->nmarks == f->capmarks) {
        size_t cap = f->capmarks ? f->capmarks * 2 : 16;
        size_t *m = realloc(f->marks, cap * sizeof(*m));
        if (!m) return -1;
        f->marks = m;
        f->capmarks = cap;
    }
    f->marks[f->nmarks++] = f->len;
    return 0;
}

/* Appends "data: <obj>\n\n" as one piece; consumes obj. */
static int feed_event(struct feed *f, cJSON *obj)
{
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!text) return -1;
    int rc = feed_add(f, "data: ", 6) == 0 && feed_add(f, text, strlen(text)) == 0 &&
             feed_add(f, "\n\n", 2) == 0 && feed_mark(f) == 0 ? 0 : -1;
    cJSON_free(text);
    return rc;
}

/* One chat.completion.chunk. content NULL: an empty delta; role set only
 * on the first. finish set only on the last, with usage as cfg shapes it. */
static cJSON *chunk(const mock_chat_req *req, const mock_chat_answer *a, int with_role,
                    const char *content, size_t content_len, const char *finish,
                    const mock_config *cfg)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    if (!cJSON_AddStringToObject(root, "id", a->id)) goto err;
    if (!cJSON_AddStringToObject(root, "object", "chat.completion.chunk")) goto err;
    if (!cJSON_AddNumberToObject(root, "created", (double)a->created)) goto err;
    if (!cJSON_AddStringToObject(root, "model", req->model->id)) goto err;
    cJSON *choices = cJSON_AddArrayToObject(root, "choices");
    if (!choices) goto err;
    cJSON *choice = cJSON_CreateObject();
    if (!choice) goto err;
    if (!cJSON_AddItemToArray(choices, choice)) {
        cJSON_Delete(choice);
        goto err;
    }
    if (!cJSON_AddNumberToObject(choice, "index", 0)) goto err;
    cJSON *delta = cJSON_AddObjectToObject(choice, "delta");
    if (!delta) goto err;
    if (with_role && !cJSON_AddStringToObject(delta, "role", "assistant")) goto err;
    if (content) {
        char *piece = strndup(content, content_len);
        if (!piece) goto err;
        cJSON *s = cJSON_AddStringToObject(delta, "content", piece);
        free(piece);
        if (!s) goto err;
    }
    if (finish) {
        if (!cJSON_AddStringToObject(choice, "finish_reason", finish)) goto err;
        if (mock_chat_add_usage(root, a, cfg) != 0) goto err;
    }
    if (!cJSON_AddStringToObject(root, "system_fingerprint", "fp_mock")) goto err;
    return root;
err:
    cJSON_Delete(root);
    return NULL;
}

/* Backs an offset up to the start of a UTF-8 character. */
static size_t char_start(const char *s, size_t off)
{
    while (off > 0 && ((unsigned char)s[off] & 0xc0) == 0x80) off--;
    return off;
}

/* Appends the content chunks, at most max of them. */
static int feed_content(struct feed *f, const mock_chat_req *req, const mock_chat_answer *a,
                        const mock_config *cfg, size_t max)
{
    size_t piece = a->content_len / 6 + 1;
    if (piece < 16) piece = 16;
    size_t off = 0;
    for (size_t sent = 0; off < a->content_len && sent < max; sent++) {
        size_t end = off + piece >= a->content_len ? a->content_len
                                                   : char_start(a->content, off + piece);
        if (end <= off) end = a->content_len;
        if (feed_event(f, chunk(req, a, 0, a->content + off, end - off, NULL, cfg)) != 0)
            return -1;
        off = end;
    }
    return 0;
}

/* Appends how the answer ends and sets where the feed stops and which
 * pieces are paced; consumes error_event. */
static int feed_ending(struct feed *f, const mock_chat_req *req, const mock_chat_answer *a,
                       const mock_config *cfg, mock_stream_end end, cJSON *error_event)
{
    if (end == MOCK_STREAM_ERROR) {
        if (feed_event(f, error_event) != 0) return -1;
        f->stop = f->len;
        f->last_paced = f->nmarks - 1;   /* the error event */
        return 0;
    }
    cJSON_Delete(error_event);
    if (feed_event(f, chunk(req, a, 0, NULL, 0, a->cut_at_max ? "length" : "stop", cfg)) != 0)
        return -1;
    if (feed_add(f, "data: [DONE]\n\n", 14) != 0 || feed_mark(f) != 0) return -1;
    f->cut = end == MOCK_STREAM_CUT;
    f->stop = f->cut ? f->marks[f->nmarks / 2 - 1] : f->len;
    f->last_paced = f->nmarks - 2;       /* the finish chunk; [DONE] follows it at once */
    return 0;
}

struct MHD_Response *mock_stream_sse(const mock_chat_req *req, const mock_chat_answer *a,
                                     const mock_config *cfg, mock_stream_end end,
                                     cJSON *error_event)
{
    struct feed *f = calloc(1, sizeof(*f));
    if (!f) {
        cJSON_Delete(error_event);
        return NULL;
    }
    f->free_buf = free;
    size_t max_content = end == MOCK_STREAM_ERROR ? MOCK_STREAM_ERROR_AFTER : SIZE_MAX;
    if (feed_event(f, chunk(req, a, 1, "", 0, NULL, cfg)) != 0 ||
        feed_content(f, req, a, cfg, max_content) != 0) {
        cJSON_Delete(error_event);
        goto err;
    }
    if (feed_ending(f, req, a, cfg, end, error_event) != 0) goto err;
    f->pause_ms = cfg->stream_chunk_ms;
    f->next_paced = 1;              /* not before the role chunk */
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, feed_read, f, feed_free);
    if (!resp) goto err;
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream") != MHD_YES ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") != MHD_YES) {
        MHD_destroy_response(resp);
        return NULL;
    }
    return resp;
err:
    feed_free(f);
    return NULL;
}

struct MHD_Response *mock_stream_cut(char *body, size_t len)
{
    struct feed *f = calloc(1, sizeof(*f));
    if (!f) {
        cJSON_free(body);
        return NULL;
    }
    f->buf = body;
    f->len = f->cap = len;
    f->free_buf = cJSON_free;
    f->cut = 1;
    f->stop = len / 2;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(len, 64 * 1024, feed_read, f, feed_free);
    if (!resp) {
        feed_free(f);
        return NULL;
    }
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") != MHD_YES) {
        MHD_destroy_response(resp);
        return NULL;
    }
    return resp;
}
