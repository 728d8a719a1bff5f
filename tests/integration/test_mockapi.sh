#!/usr/bin/env bash
# test_mockapi.sh -- fleetq-mockapi behaves like the xAI chat API: flat
# error bodies in the provider's order (401, 400 wrong key, 404 model, 400
# refused parameter), usage and cost by the published formula, rate-limit
# headers, a true sliding-window limit that refuses the excess with 429,
# per-model limits beside the key's, 429s that name the limit and the
# model, OpenAI's nested error bodies, streaming (chunks at once, or paced
# one by one with --stream-chunk-ms), credits exhaustion, injected faults,
# and the /mock/ controls. And OpenAI's shapes: its rate-limit headers
# (reset waits, retry-after), answers without usage, an error event inside
# a streamed 200, "Request too large", insufficient_quota turned on and
# off, a key-less server, and the model list narrowed or switched off.
. "$(dirname "$0")/lib.sh"

MOCK="$FQ_BIN/mockapi/fleetq-mockapi"

# call KEY BODY [curl args...]: POSTs BODY to chat/completions with Bearer
# KEY ("" = no Authorization header); the body lands in $FQ_TMP/body, the
# headers in $FQ_TMP/headers, and the HTTP status ("000": no answer) in CODE.
call() {
    local key=$1 body=$2; shift 2
    local auth=()
    [ -n "$key" ] && auth=(-H "Authorization: Bearer $key")
    CODE=$(curl -s -o "$FQ_TMP/body" -D "$FQ_TMP/headers" -w '%{http_code}' \
        "${auth[@]}" -H 'Content-Type: application/json' "$@" \
        --data-binary "$body" "$FQ_MOCK_URL/v1/chat/completions") || true
}
body() { cat "$FQ_TMP/body"; }
header() { # name: value of that response header, or empty
    tr -d '\r' <"$FQ_TMP/headers" | awk -v n="$(echo "$1" | tr 'A-Z' 'a-z')" -F': ' \
        'tolower($1) == n { print $2 }' | tail -n 1
}
mstat() { fq_mock_stats | jq -r "$1"; }
mstat_c() { fq_mock_stats | jq -c "$1"; }
json_ok() { jq -e . "$FQ_TMP/body" >/dev/null 2>&1; }
# config_code JSON: the status POST /mock/config answers (400: refused)
config_code() { curl -s -o /dev/null -w '%{http_code}' -X POST -d "$1" "$FQ_MOCK_URL/mock/config"; }
# start_beside NAME [mockapi args...]: one more fleetq-mockapi beside the
# main one, its log in $FQ_TMP/mock-NAME.log; sets BESIDE_URL and BESIDE_PID.
start_beside() {
    local name=$1; shift
    local pf="$FQ_TMP/$name.port"
    "$MOCK" --port 0 --port-file "$pf" "$@" >"$FQ_TMP/mock-$name.log" 2>&1 &
    BESIDE_PID=$!
    FQ_PIDS+=("$BESIDE_PID")
    fq_wait_for 10 test -s "$pf" || fq_fail "the $name fleetq-mockapi did not start"
    BESIDE_URL="http://127.0.0.1:$(cat "$pf")"
}

SIMPLE='{"model":"grok-3-mini","messages":[{"role":"user","content":"ping"}]}'

# ---- program basics -------------------------------------------------------
fq_assert_contains "$("$MOCK" --version)" "fleetq-mockapi " "--version"
fq_assert_contains "$("$MOCK" --help)" "--rate-limit" "--help"
fq_assert_contains "$("$MOCK" --help)" "--model-limits SPEC" "--help documents --model-limits"
fq_assert_contains "$("$MOCK" --help)" "--error-style STYLE" "--help documents --error-style"
fq_assert_contains "$("$MOCK" --help)" "--stream-chunk-ms N" "--help documents --stream-chunk-ms"
rc=0; "$MOCK" --stream-chunk-ms -1 >/dev/null 2>&1 || rc=$?
fq_assert_eq "$rc" 2 "a negative --stream-chunk-ms exits 2"
rc=0; "$MOCK" --fail-rate 2 >/dev/null 2>&1 || rc=$?
fq_assert_eq "$rc" 2 "a bad option exits 2"
# a bad SPEC: exit 2 with one line that names the option and the fault
while IFS='|' read -r spec why; do
    rc=0; err=$(timeout 10 "$MOCK" --port 0 --model-limits "$spec" 2>&1 >/dev/null) || rc=$?
    fq_assert_eq "$rc" 2 "--model-limits '$spec' exits 2"
    fq_assert_eq "$(wc -l <<<"$err")" 1 "--model-limits '$spec': one line"
    fq_assert_contains "$err" "--model-limits" "--model-limits '$spec' is named"
    fq_assert_contains "$err" "$why" "--model-limits '$spec' says why"
done <<'SPECS'
grok-4:speed=3|unknown key "speed"
grok-4:rate|no '='
grok-4:rate=many|not a whole number
grok-4:rate=1;grok-4:tokens=9|grok-4 is given twice
:rate=1|empty model name
grok-4:rate=2;|empty model name
grok-4|no ':'
grok-9:rate=1|no model "grok-9"
SPECS
rc=0; err=$(timeout 10 "$MOCK" --port 0 --error-style anthropic 2>&1 >/dev/null) || rc=$?
fq_assert_eq "$rc" 2 "a bad --error-style exits 2"
fq_assert_contains "$err" "--error-style" "a bad --error-style is named"
for opt in "--rate-headers STYLE" "--no-usage" "--stream-error-rate F" "--stream-error-status N" \
        "--request-token-limit N" "--quota-exhausted" "--no-auth" "--models LIST" \
        "--no-models-endpoint"; do
    fq_assert_contains "$("$MOCK" --help)" "$opt" "--help documents $opt"
done
# a bad value of a new option: exit 2 with one line that names the option and why
while IFS='|' read -r opt value why; do
    rc=0; err=$(timeout 10 "$MOCK" --port 0 "$opt" "$value" 2>&1 >/dev/null) || rc=$?
    fq_assert_eq "$rc" 2 "$opt '$value' exits 2"
    fq_assert_eq "$(wc -l <<<"$err")" 1 "$opt '$value': one line"
    fq_assert_contains "$err" "$opt" "$opt '$value' is named"
    fq_assert_contains "$err" "$why" "$opt '$value' says why"
done <<'OPTS'
--rate-headers|soap|auto, xai or openai
--stream-error-status|404|429, 500 or 503
--stream-error-rate|1.5|not a number from 0 to 1
--request-token-limit|-5|not a whole number
--models|grok-9|no model "grok-9"
--models|grok-4,,grok-3|empty model name
--models|grok-4,grok-4|grok-4 is given twice
OPTS

fq_start_mock --seed 42 --verbose

# ---- models and routes ------------------------------------------------------
models=$(curl -sf "$FQ_MOCK_URL/v1/models" | jq -r '[.data[].id] | sort | join(",")')
fq_assert_eq "$models" "gpt-4o,gpt-4o-mini,grok-3,grok-3-mini,grok-4,grok-4-fast,grok-code-fast-1" "model list"
code=$(curl -s -o /dev/null -w '%{http_code}' "$FQ_MOCK_URL/v2/nothing")
fq_assert_eq "$code" 404 "unknown route"

# ---- the provider's errors, flat {code, error} -----------------------------
call "" "$SIMPLE"
fq_assert_eq "$CODE" 401 "no Authorization header"
fq_assert_eq "$(body | jq -c 'keys')" '["code","error"]' "401 body is flat"
fq_assert_eq "$(body | jq -r .code)" "unauthenticated" "401 code"
fq_assert_contains "$(body | jq -r .error)" "No API key provided" "401 message"
[ -n "$(header x-request-id)" ] || fq_fail "x-request-id missing on an error"

WRONG="wrong-secret-value-zz"
call "$WRONG" "$SIMPLE"
fq_assert_eq "$CODE" 400 "wrong key"
fq_assert_eq "$(body | jq -r .code)" "Client specified an invalid argument" "wrong key code"
fq_assert_contains "$(body | jq -r .error)" "Incorrect API key provided: wr***zz" "wrong key message"
case "$(body)" in *"$WRONG"*) fq_fail "the wrong key is echoed in full" ;; esac
case "$(body)" in *"$FQ_KEY"*) fq_fail "the valid key appears in a response" ;; esac

call "$FQ_KEY" '{"model":"grok-9","messages":[{"role":"user","content":"hi"}]}'
fq_assert_eq "$CODE" 404 "unknown model"
fq_assert_eq "$(body | jq -r .code)" "Some requested entity was not found" "404 code"
fq_assert_contains "$(body | jq -r .error)" "The model grok-9 does not exist" "404 message"

call "$FQ_KEY" '{"model":"grok-4","presence_penalty":0.5,"messages":[{"role":"user","content":"hi"}]}'
fq_assert_eq "$CODE" 400 "presence_penalty on grok-4"
fq_assert_eq "$(body | jq -r .error)" "Model grok-4 does not support parameter presencePenalty." \
    "refused parameter message"
call "$FQ_KEY" '{"model":"grok-4","stop":["x"],"messages":[{"role":"user","content":"hi"}]}'
fq_assert_contains "$(body | jq -r .error)" "parameter stop." "stop on grok-4"
call "$FQ_KEY" '{"model":"grok-4","stop":null,"messages":[{"role":"user","content":"hi"}]}'
fq_assert_eq "$CODE" 200 "a null stop is accepted"
call "$FQ_KEY" '{"model":"grok-3","presence_penalty":0.5,"messages":[{"role":"user","content":"hi"}]}'
fq_assert_eq "$CODE" 200 "grok-3 takes penalties"
call "$FQ_KEY" '{"model":"grok-3-mini","reasoning_effort":"low","messages":[{"role":"user","content":"hi"}]}'
fq_assert_eq "$CODE" 200 "grok-3-mini takes reasoning_effort"

call "$FQ_KEY" '{"model": "grok-4", "messages": '
fq_assert_eq "$CODE" 400 "body not JSON"
call "$FQ_KEY" '{"model":"grok-4","messages":"hi"}'
fq_assert_eq "$CODE" 400 "messages not an array"
call "$FQ_KEY" '{"messages":[{"role":"user","content":"hi"}]}'
fq_assert_eq "$CODE" 400 "no model"

# ---- usage and cost ------------------------------------------------------------
fq_mock_config '{"completion_tokens":40,"reasoning_tokens":30}'
fq_curl_reset() { curl -sf -X POST "$FQ_MOCK_URL/mock/reset" >/dev/null; }
fq_curl_reset
# system: 15 bytes -> 4 + 3; user: 18 bytes -> 5 + 3; P = 15
REQ='{"model":"grok-4","messages":[{"role":"system","content":"You are a test."},{"role":"user","content":"Hello there, mock!"}]}'
for round in first second; do
    call "$FQ_KEY" "$REQ"
    fq_assert_eq "$CODE" 200 "$round grok-4 call"
    u=$(body | jq -c .usage)
    P=$(jq -r .prompt_tokens <<<"$u"); C=$(jq -r .completion_tokens <<<"$u")
    R=$(jq -r .completion_tokens_details.reasoning_tokens <<<"$u")
    K=$(jq -r .prompt_tokens_details.cached_tokens <<<"$u")
    fq_assert_eq "$P" 15 "$round prompt tokens"
    fq_assert_eq "$C" 40 "$round completion tokens"
    fq_assert_eq "$R" 30 "$round reasoning tokens"
    fq_assert_eq "$(jq -r .total_tokens <<<"$u")" $((P + C + R)) "$round total = P + C + R"
    # grok-4: 3.00 / 0.75 / 15.00 USD per 1M tokens = 30000 / 7500 / 150000 ticks per token
    fq_assert_eq "$(jq -r .cost_in_usd_ticks <<<"$u")" \
        $(( (P - K) * 30000 + K * 7500 + (C + R) * 150000 )) "$round cost_in_usd_ticks"
    if [ "$round" = first ]; then
        fq_assert_eq "$K" 0 "first sight of a system prompt is not cached"
    else
        fq_assert_eq "$K" 7 "a repeated system prompt is half cached"
    fi
done
fq_assert_eq "$(body | jq -r .object)" "chat.completion" "object"
fq_assert_eq "$(body | jq -r '.choices[0].finish_reason')" "stop" "finish_reason"
fq_assert_contains "$(body | jq -r '.choices[0].message.content')" \
    "Mock answer to: Hello there, mock!" "content"
fq_assert_eq "$(mstat .spend_ticks)" $((10950000 + 8 * 30000 + 7 * 7500 + 70 * 150000)) "spend_ticks"

# rate-limit headers on a 200 (limit off: 480 advertised)
fq_assert_eq "$(header x-ratelimit-limit-requests)" 480 "x-ratelimit-limit-requests"
fq_assert_eq "$(header x-ratelimit-remaining-requests)" 478 "x-ratelimit-remaining-requests"
[ -n "$(header x-ratelimit-limit-tokens)" ] || fq_fail "x-ratelimit-limit-tokens missing"
[ -n "$(header x-ratelimit-remaining-tokens)" ] || fq_fail "x-ratelimit-remaining-tokens missing"
[ -n "$(header x-request-id)" ] || fq_fail "x-request-id missing on a 200"
[ -z "$(header x-ratelimit-reset-requests)$(header x-ratelimit-reset-tokens)" ] ||
    fq_fail "xAI's headers have OpenAI's reset waits"

call "$FQ_KEY" '{"model":"grok-3","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}'
fq_assert_eq "$(body | jq -r .usage.completion_tokens)" 10 "capped by max_tokens"
fq_assert_eq "$(body | jq -r '.choices[0].finish_reason')" "length" "finish_reason when capped"
fq_assert_eq "$(body | jq -r .usage.completion_tokens_details.reasoning_tokens)" 0 \
    "grok-3 has no reasoning tokens"

fq_mock_config '{"cost_ticks":false}'
call "$FQ_KEY" "$SIMPLE"
fq_assert_eq "$(body | jq -r '.usage | has("cost_in_usd_ticks")')" false "no cost ticks"
fq_mock_config '{"cost_ticks":true,"completion_tokens":null,"reasoning_tokens":null}'

# ---- streaming ---------------------------------------------------------------
call "$FQ_KEY" '{"model":"grok-4-fast","stream":true,"messages":[{"role":"user","content":"stream it"}]}'
fq_assert_eq "$CODE" 200 "stream status"
fq_assert_contains "$(header content-type)" "text/event-stream" "stream content type"
fq_assert_eq "$(grep '^data: ' "$FQ_TMP/body" | tail -n 1)" "data: [DONE]" "stream ends with [DONE]"
last=$(grep '^data: {' "$FQ_TMP/body" | tail -n 1 | cut -c7-)
fq_assert_eq "$(jq -r '.object' <<<"$last")" "chat.completion.chunk" "chunk object"
[ "$(jq -r '.choices[0].finish_reason' <<<"$last")" != null ] || fq_fail "last chunk has no finish_reason"
fq_assert_eq "$(jq -r '.usage.total_tokens == .usage.prompt_tokens + .usage.completion_tokens + .usage.completion_tokens_details.reasoning_tokens' <<<"$last")" \
    true "stream usage adds up"
n=$(grep -c '^data: {' "$FQ_TMP/body")
fq_assert_ge "$n" 3 "several chunks"

# stream_arrivals URL FILE: one streamed answer from the mock at URL, each
# chunk's line in FILE after its arrival time in ms ("1712345678901 data: ...")
STREAM_BODY='{"model":"grok-3","stream":true,"messages":[{"role":"user","content":"pace it"}]}'
stream_arrivals() {
    curl -sN -H "Authorization: Bearer $FQ_KEY" -H 'Content-Type: application/json' \
            --data-binary "$STREAM_BODY" "$1/v1/chat/completions" |
        while IFS= read -r line; do
            case "$line" in
            "data: {"*) t=${EPOCHREALTIME/[.,]/}; printf '%s %s\n' "$((t / 1000))" "$line" ;;
            esac
        done >"$2"
}
# the chunks in FILE, and the ms from the first to the last and the least
# ms between two in a row: "count spread least_gap"
arrival_figures() {
    awk '{ t[NR] = $1 } END {
        least = -1
        for (i = 2; i <= NR; i++) if (least < 0 || t[i] - t[i-1] < least) least = t[i] - t[i-1]
        print NR, t[NR] - t[1], least }' "$1"
}
stream_arrivals "$FQ_MOCK_URL" "$FQ_TMP/unpaced"
read -r chunks spread _ < <(arrival_figures "$FQ_TMP/unpaced")
fq_log "unpaced stream: $chunks chunks within $spread ms"
fq_assert_ge "$chunks" 4 "chunks of an unpaced answer"
fq_assert_le "$spread" 199 "ms over which the chunks of an unpaced answer arrive"

# --stream-chunk-ms: the chunks of one answer arrive one by one
start_beside paced --key "$FQ_KEY" --completion-tokens 120 --stream-chunk-ms 300
paced_pid=$BESIDE_PID paced_url=$BESIDE_URL
stream_arrivals "$paced_url" "$FQ_TMP/paced"
read -r chunks spread least_gap < <(arrival_figures "$FQ_TMP/paced")
fq_log "paced stream (300 ms): $chunks chunks over $spread ms, at least $least_gap ms apart"
fq_assert_ge "$chunks" 5 "chunks of a paced answer"
fq_assert_ge "$spread" $(( (chunks - 2) * 300 )) "ms over which the $chunks chunks of a paced answer arrive"
fq_assert_ge "$least_gap" 200 "ms between two chunks of a paced answer"
fq_assert_eq "$(tail -n 1 "$FQ_TMP/paced" | cut -d' ' -f3- | jq -r '.choices[0].finish_reason')" \
    stop "the paced answer ends with its finish chunk"
# a stop does not wait for a paced answer to finish
curl -sf -X POST -H 'Content-Type: application/json' -d '{"stream_chunk_ms": 60000}' \
    "$paced_url/mock/config" >/dev/null || fq_fail "POST /mock/config stream_chunk_ms"
curl -sN -H "Authorization: Bearer $FQ_KEY" --data-binary "$STREAM_BODY" \
    "$paced_url/v1/chat/completions" >"$FQ_TMP/paced-long" 2>/dev/null &
slow_client=$!
fq_wait_for 5 grep -q '^data: {' "$FQ_TMP/paced-long" || fq_fail "no first chunk of a slow answer"
stop_start=$(date +%s%N)
kill -TERM "$paced_pid"
rc=0; wait "$paced_pid" || rc=$?
fq_assert_eq "$rc" 0 "exit status of the paced mock stopped mid-answer"
fq_assert_le "$(( ($(date +%s%N) - stop_start) / 1000000 ))" 2000 \
    "ms the paced mock took to stop mid-answer"
wait "$slow_client" || true
fq_assert_eq "$(grep -c '^data: {' "$FQ_TMP/paced-long")" 1 "chunks of the answer cut by the stop"

# ---- the true rate limit ---------------------------------------------------------
fq_curl_reset
fq_mock_config '{"rate_limit":5,"window_ms":3000}'
ok=0; limited=0; start=$(date +%s%N)
for _ in $(seq 1 12); do
    call "$FQ_KEY" "$SIMPLE"
    case "$CODE" in
    200) ok=$((ok + 1)); fq_assert_eq "$(header x-ratelimit-limit-requests)" 10 "advertised = 2x true" ;;
    429) limited=$((limited + 1))
         fq_assert_eq "$(body | jq -r .code)" "Some resource has been exhausted" "429 code"
         [[ "$(body | jq -r .error)" =~ ^"Too many requests for team "[0-9a-f-]{36}" and model grok-3-mini. Please try again later or contact support to increase your rate limit."$ ]] ||
             fq_fail "429 message does not name the request limit, team and model: $(body)"
         ra=$(header retry-after)
         [[ "$ra" =~ ^[0-5]$ ]] || fq_fail "retry-after '$ra' is not 0..5"
         fq_assert_eq "$(header x-ratelimit-remaining-requests)" 0 "429 remaining requests"
         [[ "$(header x-ratelimit-remaining-tokens)" =~ ^[1-9][0-9]*$ ]] ||
             fq_fail "429 remaining tokens '$(header x-ratelimit-remaining-tokens)'"
         [ -z "$(header x-ratelimit-limit-requests)" ] || fq_fail "x-ratelimit-limit-requests on a 429" ;;
    *) fq_fail "unexpected status $CODE under the rate limit" ;;
    esac
done
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
fq_assert_le "$elapsed_ms" 2900 "12 calls fit in one window"
fq_assert_eq "$ok" 5 "answered within the limit"
fq_assert_eq "$limited" 7 "refused over the limit"
fq_assert_eq "$(mstat .admitted)" 5 "stats admitted"
fq_assert_eq "$(mstat .rate_limited)" 7 "stats rate_limited"
fq_assert_eq "$(mstat '.status["200"]')" 5 "stats status 200"
fq_assert_eq "$(mstat '.status["429"]')" 7 "stats status 429"
fq_assert_eq "$(mstat .max_in_window)" 5 "max_in_window"
mini_tokens=$(mstat '.by_model["grok-3-mini"].tokens')
fq_assert_ge "$mini_tokens" 5 "stats by_model tokens"
fq_assert_eq "$(mstat_c '.by_model["grok-3-mini"]')" \
    "{\"requests\":12,\"admitted\":5,\"rate_limited\":7,\"rate_limited_tokens\":0,\"tokens\":$mini_tokens,\"max_in_window\":5}" \
    "stats by_model under the key's limit"
fq_assert_eq "$(mstat '.models["grok-3-mini"]')" 5 "stats models keeps the admitted count"
sleep 3.1
call "$FQ_KEY" "$SIMPLE"
fq_assert_eq "$CODE" 200 "the window slides on"
fq_mock_config '{"rate_limit":0,"window_ms":60000}'

# ---- per-model limits ------------------------------------------------------------
# chat MODEL [content]: a small request for MODEL
chat() { call "$FQ_KEY" "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"${2:-hi}\"}]}"; }
# codes_of N MODEL: N calls in a row; their statuses in CODES
codes_of() {
    CODES=""
    for _ in $(seq 1 "$1"); do chat "$2"; CODES="$CODES${CODES:+ }$CODE"; done
}
TEAM_RE='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'

fq_curl_reset
fq_mock_config '{"window_ms":2000,"model_limits":"grok-4:rate=3;grok-3:rate=10"}'
start=$(date +%s%N)
chat grok-4
fq_assert_eq "$(header x-ratelimit-limit-requests)" 6 "grok-4 advertises 2x its own rate"
fq_assert_eq "$(header x-ratelimit-remaining-requests)" 5 "grok-4 remaining of its own window"
codes_of 3 grok-4
fq_assert_eq "$CODES" "200 200 429" "grok-4 at rate=3 refuses its 4th call in the window"
[[ "$(body | jq -r .error)" =~ ^"Too many requests for team "$TEAM_RE" and model grok-4. Please try again later or contact support to increase your rate limit."$ ]] ||
    fq_fail "per-model request limit message: $(body)"
fq_assert_eq "$(body | jq -r .code)" "Some resource has been exhausted" "per-model 429 code"
fq_assert_eq "$(header x-ratelimit-remaining-requests)" 0 "per-model 429 remaining requests"
[ -n "$(header x-ratelimit-remaining-tokens)" ] || fq_fail "per-model 429 has no remaining tokens"
[[ "$(header retry-after)" =~ ^[0-5]$ ]] || fq_fail "per-model 429 retry-after '$(header retry-after)'"
codes_of 5 grok-3
fq_assert_eq "$CODES" "200 200 200 200 200" "grok-3 at rate=10 still admits"
fq_assert_eq "$(header x-ratelimit-limit-requests)" 20 "grok-3 advertises 2x its own rate"
fq_assert_eq "$(header x-ratelimit-remaining-requests)" 15 "grok-3 remaining of its own window"
chat grok-4
fq_assert_eq "$CODE" 429 "grok-4 stays refused while grok-3 is admitted"
chat grok-3-mini
fq_assert_eq "$CODE" 200 "an unlisted model is admitted"
fq_assert_eq "$(header x-ratelimit-limit-requests)" 480 "an unlisted model: the key's headers"
fq_assert_eq "$(header x-ratelimit-remaining-requests)" $((480 - 9)) \
    "an unlisted model: the key's window over all models"
fq_assert_le $(( ($(date +%s%N) - start) / 1000000 )) 1900 "the calls fit in one window"
fq_assert_eq "$(mstat_c '.by_model["grok-4"] | [.requests, .admitted, .rate_limited, .rate_limited_tokens, .max_in_window]')" \
    "[5,3,2,0,3]" "stats by_model grok-4"
fq_assert_eq "$(mstat_c '.by_model["grok-3"] | [.requests, .admitted, .rate_limited, .max_in_window]')" \
    "[5,5,0,5]" "stats by_model grok-3"
fq_assert_eq "$(mstat_c '[.admitted, .rate_limited, .max_in_window]')" "[9,2,9]" \
    "the key's counters cover every model"
fq_assert_eq "$(mstat_c '.by_model["grok-4"] | keys')" \
    '["admitted","max_in_window","rate_limited","rate_limited_tokens","requests","tokens"]' \
    "by_model fields"
fq_assert_eq "$(mstat_c '.by_model | keys')" \
    '["gpt-4o","gpt-4o-mini","grok-3","grok-3-mini","grok-4","grok-4-fast","grok-code-fast-1"]' "by_model lists every model"
fq_assert_eq "$(mstat '[.by_model[].tokens] | add')" \
    "$(mstat '.prompt_tokens + .completion_tokens + .reasoning_tokens')" "by_model tokens add up"
fq_curl_reset
chat grok-4
fq_assert_eq "$CODE" 200 "/mock/reset empties the model's window"
fq_assert_eq "$(mstat_c '.by_model["grok-4"] | [.requests, .max_in_window]')" "[1,1]" \
    "/mock/reset zeroes by_model"

# the key's limit still holds over all models
fq_curl_reset
fq_mock_config '{"rate_limit":4,"model_limits":"grok-4:rate=10"}'
chat grok-4; chat grok-3; chat grok-4
fq_assert_eq "$(header x-ratelimit-limit-requests)" 20 "grok-4: its own rate, not the key's"
chat grok-3
fq_assert_eq "$CODE" 200 "4th call within the key's limit"
fq_assert_eq "$(header x-ratelimit-limit-requests)" 8 "grok-3: the key's rate"
fq_assert_eq "$(header x-ratelimit-remaining-requests)" 4 "grok-3: the key's window"
chat grok-4
fq_assert_eq "$CODE" 429 "the key's limit refuses a model under its own"
fq_assert_contains "$(body | jq -r .error)" "Too many requests for team " "the key's limit message"
fq_assert_contains "$(body | jq -r .error)" " and model grok-4. " "the key's limit names the model"
fq_assert_eq "$(mstat '.by_model["grok-4"].rate_limited')" 1 "stats: refused by the key's limit"

# a token limit of the model's own
fq_curl_reset
fq_mock_config '{"rate_limit":0,"completion_tokens":40,"model_limits":"grok-3:tokens=40"}'
chat grok-3
fq_assert_eq "$CODE" 200 "an empty token window admits"
total=$(body | jq -r .usage.total_tokens)
fq_assert_eq "$(header x-ratelimit-limit-tokens)" 80 "grok-3 advertises 2x its own tokens"
fq_assert_eq "$(header x-ratelimit-remaining-tokens)" $((80 - total)) "grok-3 remaining tokens"
fq_assert_eq "$(header x-ratelimit-limit-requests)" 480 "tokens only: the key's request headers"
chat grok-3
fq_assert_eq "$CODE" 429 "grok-3 over its own token limit"
[[ "$(body | jq -r .error)" =~ ^"Too many tokens for team "$TEAM_RE" and model grok-3. Please try again later or contact support to increase your rate limit."$ ]] ||
    fq_fail "per-model token limit message: $(body)"
fq_assert_eq "$(header x-ratelimit-remaining-tokens)" 0 "token 429 remaining tokens"
[[ "$(header x-ratelimit-remaining-requests)" =~ ^[1-9][0-9]*$ ]] ||
    fq_fail "token 429 remaining requests '$(header x-ratelimit-remaining-requests)'"
chat grok-4
fq_assert_eq "$CODE" 200 "another model is not under grok-3's tokens"
fq_assert_eq "$(mstat_c '.by_model["grok-3"] | [.requests, .admitted, .rate_limited, .rate_limited_tokens, .tokens]')" \
    "[2,1,1,1,$total]" "stats by_model token refusals"
fq_assert_eq "$(mstat '.by_model["grok-4"].rate_limited_tokens')" 0 "stats by_model other model"

# a bad model_limits through /mock/config: 400 with the reason, nothing changed
while IFS='|' read -r spec why; do
    code=$(curl -s -o "$FQ_TMP/body" -w '%{http_code}' -X POST \
        -d "{\"model_limits\":$spec}" "$FQ_MOCK_URL/mock/config")
    fq_assert_eq "$code" 400 "model_limits $spec is refused"
    fq_assert_eq "$(body | jq -r .ok)" false "model_limits $spec: ok false"
    fq_assert_contains "$(body | jq -r .error)" "model_limits" "model_limits $spec: named"
    fq_assert_contains "$(body | jq -r .error)" "$why" "model_limits $spec: the reason"
done <<'SPECS'
"grok-3:toks=5"|unknown key "toks"
"grok-3:tokens"|no '='
"grok-3:tokens=lots"|not a whole number
"grok-3:rate=1;grok-3:rate=2"|grok-3 is given twice
"grok-3:rate=1;:rate=2"|empty model name
5|wrong type
SPECS
chat grok-3
fq_assert_eq "$CODE" 429 "a refused update leaves the model limits as they were"
code=$(config_code '{"error_style":"soap"}')
fq_assert_eq "$code" 400 "a bad error_style is refused"

# ---- OpenAI's error style ------------------------------------------------------------
fq_curl_reset
fq_mock_config '{"error_style":"openai","window_ms":60000,"model_limits":"grok-4:rate=1;grok-3:tokens=40"}'
# oa_error: type, code and param of a nested error body
oa_error() { body | jq -c '[.error.type, .error.code, .error.param]'; }
oa_shape() {
    fq_assert_eq "$(body | jq -c 'keys')" '["error"]' "$1: nested body"
    fq_assert_eq "$(body | jq -c '.error | keys')" '["code","message","param","type"]' "$1: error fields"
}
chat grok-4
fq_assert_eq "$CODE" 200 "openai style: a call within the limit"
chat grok-4
fq_assert_eq "$CODE" 429 "openai style: request limit"
oa_shape "openai 429 requests"
fq_assert_eq "$(oa_error)" '["requests","rate_limit_exceeded",null]' "openai 429 requests type and code"
[[ "$(body | jq -r .error.message)" =~ ^"Rate limit reached for grok-4 in organization org-"[0-9a-f]{32}" on requests per min (RPM): Limit 1, Used 1, Requested 1. Please try again in "[0-9.]+m?s\.$ ]] ||
    fq_fail "openai 429 requests message: $(body)"
fq_assert_eq "$(header x-ratelimit-remaining-requests)" 0 "openai 429 remaining requests"
chat grok-3
prompt=$(body | jq -r .usage.prompt_tokens); total=$(body | jq -r .usage.total_tokens)
chat grok-3
fq_assert_eq "$CODE" 429 "openai style: token limit"
oa_shape "openai 429 tokens"
fq_assert_eq "$(oa_error)" '["tokens","rate_limit_exceeded",null]' "openai 429 tokens type and code"
[[ "$(body | jq -r .error.message)" =~ ^"Rate limit reached for grok-3 in organization org-"[0-9a-f]{32}" on tokens per min (TPM): Limit 40, Used $total, Requested $prompt. Please try again in "[0-9.]+m?s\.$ ]] ||
    fq_fail "openai 429 tokens message: $(body)"
fq_assert_eq "$(header x-ratelimit-remaining-tokens)" 0 "openai 429 remaining tokens"
call "" "$SIMPLE"
fq_assert_eq "$CODE" 401 "openai style: no key"
oa_shape "openai 401"
fq_assert_eq "$(oa_error)" '["invalid_request_error","invalid_api_key",null]' "openai 401 no key"
call "$WRONG" "$SIMPLE"
fq_assert_eq "$CODE" 401 "openai style: a wrong key is a 401"
fq_assert_eq "$(oa_error)" '["invalid_request_error","invalid_api_key",null]' "openai 401 wrong key"
fq_assert_contains "$(body | jq -r .error.message)" "Incorrect API key provided: wr***zz" "openai 401 message"
chat grok-9
fq_assert_eq "$CODE" 404 "openai style: unknown model"
oa_shape "openai 404"
fq_assert_eq "$(oa_error)" '["invalid_request_error","model_not_found",null]' "openai 404 model"
fq_assert_contains "$(body | jq -r .error.message)" "The model grok-9 does not exist" "openai 404 message"
call "$FQ_KEY" '{"model":"grok-4-fast","messages":"hi"}'
fq_assert_eq "$CODE" 400 "openai style: a bad request"
fq_assert_eq "$(oa_error)" '["invalid_request_error",null,null]' "openai 400"
fq_mock_config '{"model_limits":null,"fail_rate":1}'
server_errors=0
for _ in $(seq 1 12); do
    chat grok-4-fast
    case "$CODE" in
    500|503) server_errors=$((server_errors + 1))
             oa_shape "openai $CODE"
             fq_assert_eq "$(oa_error)" '["server_error",null,null]' "openai $CODE type" ;;
    502) ;;
    *) fq_fail "fail_rate 1 answered $CODE" ;;
    esac
done
fq_assert_ge "$server_errors" 1 "openai style: a JSON 5xx was seen"
fq_mock_config '{"fail_rate":0,"credits_usd":0.000001}'
chat grok-4-fast
chat grok-4-fast
fq_assert_eq "$CODE" 429 "openai style: spent credits are a 429"
oa_shape "openai credits"
fq_assert_eq "$(oa_error)" '["insufficient_quota","insufficient_quota",null]' "openai credits"
fq_assert_eq "$(body | jq -r .error.message)" \
    "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors." \
    "openai credits message"
code=$(curl -s -o "$FQ_TMP/body" -w '%{http_code}' "$FQ_MOCK_URL/v2/nothing")
fq_assert_eq "$code" 404 "openai style: unknown route"
oa_shape "openai no route"
fq_mock_config '{"error_style":"xai","credits_usd":0,"completion_tokens":null}'
call "" "$SIMPLE"
fq_assert_eq "$(body | jq -c 'keys')" '["code","error"]' "back to xAI's flat bodies"

# ---- OpenAI's rate-limit headers ------------------------------------------------------
# a wait the way OpenAI writes it ("0s", "120ms", "1.5s", "6m0s", "1h0m0s")
DUR_RE='^(0s|[1-9][0-9]*ms|([1-9][0-9]*h)?([0-9]+m)?[0-9]+(\.[0-9]{1,3})?s)$'
dur_ms() { # WAIT: its ms
    awk -v d="$1" 'BEGIN {
        if (d ~ /ms$/) { print d + 0; exit }
        ms = 0
        if (match(d, /[0-9]+h/)) ms += substr(d, RSTART, RLENGTH - 1) * 3600000
        if (match(d, /[0-9]+m/)) ms += substr(d, RSTART, RLENGTH - 1) * 60000
        if (match(d, /[0-9.]+s$/)) ms += substr(d, RSTART, RLENGTH - 1) * 1000
        printf "%d\n", ms + 0.5 }'
}
reset_within() { # HEADER LOW HIGH: the header is a wait of LOW..HIGH ms
    local v
    v=$(header "$1")
    [[ "$v" =~ $DUR_RE ]] || fq_fail "$1 '$v' is not a wait like 6m0s, 1s or 120ms"
    fq_assert_ge "$(dur_ms "$v")" "$2" "$1 '$v' in ms"
    fq_assert_le "$(dur_ms "$v")" "$3" "$1 '$v' in ms"
}
fq_assert_eq "$(dur_ms 1m0s) $(dur_ms 59.5s) $(dur_ms 120ms) $(dur_ms 1h0m0.25s)" \
    "60000 59500 120 3600250" "dur_ms reads Go durations"
fq_curl_reset
fq_mock_config '{"error_style":"openai","rate_limit":2,"window_ms":60000,"completion_tokens":40}'
chat grok-3
fq_assert_eq "$CODE" 200 "openai headers: a 200"
total=$(body | jq -r .usage.total_tokens)
fq_assert_eq "$(header x-ratelimit-limit-requests)" 4 "openai 200: the advertised limit, 2x the true 2"
fq_assert_eq "$(header x-ratelimit-remaining-requests)" 3 "openai 200: remaining requests"
reset_within x-ratelimit-reset-requests 50000 60000
fq_assert_eq "$(header x-ratelimit-limit-tokens)" 2000000 "openai 200: the token limit"
fq_assert_eq "$(header x-ratelimit-remaining-tokens)" $((2000000 - total)) "openai 200: remaining tokens"
reset_within x-ratelimit-reset-tokens 50000 60000
[ -z "$(header retry-after)" ] || fq_fail "retry-after on a 200"
chat grok-3
chat grok-3
fq_assert_eq "$CODE" 429 "openai headers: a 429 of the request window"
fq_assert_eq "$(header x-ratelimit-limit-requests)" 4 "openai 429: the advertised request limit"
fq_assert_eq "$(header x-ratelimit-remaining-requests)" 0 "openai 429: remaining requests"
reset_within x-ratelimit-reset-requests 50000 60000
fq_assert_eq "$(header x-ratelimit-limit-tokens)" 2000000 "openai 429: the token limit"
[[ "$(header x-ratelimit-remaining-tokens)" =~ ^[1-9][0-9]*$ ]] ||
    fq_fail "openai 429 remaining tokens '$(header x-ratelimit-remaining-tokens)'"
reset_within x-ratelimit-reset-tokens 50000 60000
ra=$(header retry-after)
[[ "$ra" =~ ^[0-9]+$ ]] || fq_fail "openai 429 retry-after '$ra' is not whole seconds"
fq_assert_ge "$ra" 50 "openai 429 retry-after: until the first call leaves the window"
fq_assert_le "$ra" 60 "openai 429 retry-after: at most the window"
ORG=$(body | jq -r .error.message | grep -oE 'org-[0-9a-f]{32}') || fq_fail "no organization: $(body)"
# the setting rate_headers picks the set whatever the error style
fq_mock_config '{"error_style":"xai","rate_headers":"openai","rate_limit":0}'
chat grok-3
fq_assert_eq "$CODE" 200 "rate_headers openai under xAI's errors"
reset_within x-ratelimit-reset-requests 50000 60000
fq_mock_config '{"error_style":"openai","rate_headers":"xai"}'
chat grok-3
[ -z "$(header x-ratelimit-reset-requests)" ] || fq_fail "rate_headers xai sends reset waits"
[ -n "$(header x-ratelimit-remaining-requests)" ] || fq_fail "rate_headers xai: no remaining requests"
code=$(config_code '{"rate_headers":"soap"}')
fq_assert_eq "$code" 400 "a bad rate_headers is refused"
fq_mock_config '{"rate_headers":"auto","error_style":"xai"}'

# ---- answers without usage ----------------------------------------------------------
fq_curl_reset
fq_mock_config '{"usage":false,"completion_tokens":40}'
USAGE_REQ='{"model":"grok-3","messages":[{"role":"user","content":"count me"}]}'
USAGE_STREAM='{"model":"grok-3","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"count me"}]}'
# events: the streamed chunks in the body, without what differs from call to call
events() { grep '^data: {' "$FQ_TMP/body" | cut -c7- | jq -c 'del(.id, .created, .usage)'; }
call "$FQ_KEY" "$USAGE_REQ"
fq_assert_eq "$CODE" 200 "no usage: a plain answer"
fq_assert_eq "$(body | jq 'has("usage")')" false "no usage: no usage key in a plain answer"
fq_assert_contains "$(body | jq -r '.choices[0].message.content')" "Mock answer to: count me" \
    "no usage: the content"
call "$FQ_KEY" "$USAGE_STREAM"
fq_assert_eq "$CODE" 200 "no usage: a streamed answer"
fq_assert_eq "$(grep -c '"usage"' "$FQ_TMP/body")" 0 "no usage: no usage chunk though include_usage asks"
fq_assert_eq "$(grep '^data: ' "$FQ_TMP/body" | tail -n 1)" "data: [DONE]" "no usage: [DONE] ends the stream"
events >"$FQ_TMP/events-without"
# "count me": 8 bytes -> 2 + 3 prompt tokens; 40 completion tokens each
fq_assert_eq "$(mstat_c '[.prompt_tokens, .completion_tokens, .ok]')" "[10,80,2]" \
    "no usage: /mock/stats counts the tokens it did not report"
fq_mock_config '{"usage":true}'
call "$FQ_KEY" "$USAGE_STREAM"
fq_assert_eq "$(grep '^data: {' "$FQ_TMP/body" | tail -n 1 | cut -c7- | jq -c '.usage | [.prompt_tokens, .completion_tokens]')" \
    "[5,40]" "with usage: the final chunk carries it"
events >"$FQ_TMP/events-with"
fq_assert_ge "$(wc -l <"$FQ_TMP/events-with")" 4 "streamed events compared"
cmp -s "$FQ_TMP/events-with" "$FQ_TMP/events-without" ||
    fq_fail "without usage the stream differs otherwise: $(diff "$FQ_TMP/events-with" "$FQ_TMP/events-without")"

# ---- an error event inside a streamed 200 ----------------------------------------------
fq_curl_reset
fq_mock_config '{"error_style":"openai","stream_error_rate":1,"stream_error_status":500,"completion_tokens":120}'
STREAM_REQ='{"model":"grok-3","stream":true,"messages":[{"role":"user","content":"break off"}]}'
stream_call() { # URL: one streamed call; curl's exit status in CURL_RC
    CURL_RC=0
    CODE=$(curl -s -o "$FQ_TMP/body" -D "$FQ_TMP/headers" -w '%{http_code}' \
        -H "Authorization: Bearer $FQ_KEY" --data-binary "$STREAM_REQ" \
        "$1/v1/chat/completions") || CURL_RC=$?
}
last_event() { grep '^data: ' "$FQ_TMP/body" | tail -n 1 | cut -c7-; }
# stream_error_shape WHAT: a 200 event stream of a role chunk, two content
# chunks and the error event, that ends cleanly with no finish chunk nor [DONE]
stream_error_shape() {
    fq_assert_eq "$CODE" 200 "$1: the status"
    fq_assert_eq "$CURL_RC" 0 "$1: the transfer ends cleanly"
    fq_assert_contains "$(header content-type)" "text/event-stream" "$1: content type"
    fq_assert_eq "$(grep -c '^data: ' "$FQ_TMP/body")" 4 "$1: events"
    fq_assert_eq "$(grep '^data: {"id"' "$FQ_TMP/body" | cut -c7- | jq -c '.choices[0].delta | keys' | paste -sd' ')" \
        '["content","role"] ["content"] ["content"]' "$1: a role chunk and two content chunks"
    if grep -q -e 'data: \[DONE\]' -e '"finish_reason"' "$FQ_TMP/body"; then
        fq_fail "$1: a finish chunk or [DONE] besides the error: $(body)"
    fi
}
stream_call "$FQ_MOCK_URL"
stream_error_shape "stream error 500"
fq_assert_eq "$(last_event | jq -c '.error | keys')" '["code","message","param","type"]' \
    "stream error 500: OpenAI's fields"
fq_assert_eq "$(last_event | jq -c '.error | [.type, .code, .param]')" '["server_error",null,null]' \
    "stream error 500: type and code"
fq_assert_eq "$(last_event | jq -r .error.message)" \
    "An internal error occurred while processing your request. Please try again later." \
    "stream error 500: message"
reset_within x-ratelimit-reset-requests 0 60000
fq_mock_config '{"stream_error_status":429}'
stream_call "$FQ_MOCK_URL"
stream_error_shape "stream error 429"
fq_assert_eq "$(last_event | jq -c '.error | [.type, .code, .param]')" \
    '["tokens","rate_limit_exceeded",null]' "stream error 429: type and code"
fq_assert_eq "$(last_event | jq -r .error.message)" \
    "Rate limit reached for grok-3 in organization $ORG on tokens per min (TPM). Please try again later." \
    "stream error 429: message"
fq_mock_config '{"stream_error_status":503,"error_style":"xai"}'
stream_call "$FQ_MOCK_URL"
stream_error_shape "stream error 503 in xAI's words"
fq_assert_eq "$(last_event | jq -c '[keys, .code]')" '[["code","error"],"The service is currently unavailable"]' \
    "stream error 503: xAI's flat body"
call "$FQ_KEY" '{"model":"grok-3","messages":[{"role":"user","content":"not streamed"}]}'
fq_assert_eq "$CODE" 200 "stream_error_rate leaves a plain call alone"
json_ok || fq_fail "a plain call under stream_error_rate 1 is not whole: $(body)"
fq_assert_eq "$(mstat_c '[.faults.stream_error, .status["200"], .ok, .completion_tokens]')" "[3,4,1,120]" \
    "stats: stream errors are 200s, not ok and not billed"
code=$(config_code '{"stream_error_status":404}')
fq_assert_eq "$code" 400 "a stream_error_status other than 429, 500, 503 is refused"
code=$(config_code '{"stream_error_rate":0.5,"fail_rate":0.6}')
fq_assert_eq "$code" 400 "stream_error_rate counts among the fault rates"
fq_mock_config '{"stream_error_rate":0,"stream_error_status":500,"completion_tokens":null}'

# ---- "Request too large" ---------------------------------------------------------------
fq_curl_reset
fq_mock_config '{"error_style":"openai","rate_limit":2,"request_token_limit":500}'
BIG='{"model":"grok-3","max_tokens":600,"messages":[{"role":"user","content":"hi"}]}'
SMALL='{"model":"grok-3","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}'
for round in 1 2 3; do
    call "$FQ_KEY" "$BIG"
    fq_assert_eq "$CODE" 429 "request too large ($round)"
done
# "hi": 2 bytes -> 1 + 3 prompt tokens, + max_tokens 600
fq_assert_eq "$(body | jq -c .)" \
    "{\"error\":{\"message\":\"Request too large for grok-3 in organization $ORG on tokens per min (TPM): Limit 500, Requested 604. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.\",\"type\":\"tokens\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}" \
    "request too large: OpenAI's body"
[ -z "$(header retry-after)" ] || fq_fail "request too large: a retry-after, though waiting cannot help"
fq_assert_eq "$(header x-ratelimit-remaining-requests)" 4 "request too large: the request window is empty"
CODES=""
for _ in 1 2 3; do call "$FQ_KEY" "$SMALL"; CODES="$CODES${CODES:+ }$CODE"; done
fq_assert_eq "$CODES" "200 200 429" "the refused large requests did not count against the rate window"
fq_assert_eq "$(mstat_c '[.request_too_large, .admitted, .rate_limited, .by_model["grok-3"].requests, .max_in_window]')" \
    "[3,2,1,3,2]" "stats: request_too_large stays out of the windows"
fq_assert_eq "$(mstat '.status["429"]')" 4 "stats: the 429s"
fq_mock_config '{"error_style":"xai"}'
call "$FQ_KEY" "$BIG"
fq_assert_eq "$CODE" 429 "request too large in xAI's words"
fq_assert_eq "$(body | jq -c 'keys')" '["code","error"]' "request too large: xAI's flat body"
fq_assert_eq "$(body | jq -r .code)" "Some resource has been exhausted" "request too large: xAI's code"
[[ "$(body | jq -r .error)" =~ ^"Request too large for team "$TEAM_RE" and model grok-3 on tokens per min (TPM): Limit 500, Requested 604. " ]] ||
    fq_fail "request too large: xAI's message: $(body)"
fq_mock_config '{"rate_limit":0,"request_token_limit":0}'

# ---- insufficient_quota, on and off ---------------------------------------------------
fq_curl_reset
fq_mock_config '{"error_style":"openai","quota_exhausted":true}'
chat grok-3
fq_assert_eq "$CODE" 429 "quota_exhausted: a 429"
fq_assert_eq "$(body | jq -c .)" \
    '{"error":{"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}' \
    "quota_exhausted: OpenAI's body"
fq_mock_config '{"quota_exhausted":false}'
chat grok-3
fq_assert_eq "$CODE" 200 "quota_exhausted off: answered again"
fq_mock_config '{"error_style":"xai","quota_exhausted":true}'
chat grok-3
fq_assert_eq "$CODE" 403 "quota_exhausted in xAI's words: credits_status"
fq_assert_eq "$(body | jq -r .code)" "permission-denied" "quota_exhausted: xAI's code"
fq_mock_config '{"quota_exhausted":false}'
chat grok-3
fq_assert_eq "$CODE" 200 "answered again in xAI's words"

# ---- a key-less server with a few models -------------------------------------------------
start_beside keyless --no-auth --models grok-4,grok-3 --no-models-endpoint --quota-exhausted \
    --no-usage --error-style openai --rate-headers xai --request-token-limit 100000 \
    --stream-error-status 429 --completion-tokens 30
keyless_url=$BESIDE_URL
kset() { curl -sf -X POST -d "$1" "$keyless_url/mock/config" >/dev/null || fq_fail "keyless config $1"; }
kcall() { # MODEL [curl args...]: a call to the key-less mock, with no key unless given
    local model=$1; shift
    CODE=$(curl -s -o "$FQ_TMP/body" -D "$FQ_TMP/headers" -w '%{http_code}' "$@" \
        --data-binary "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" \
        "$keyless_url/v1/chat/completions") || true
}
code=$(curl -s -o "$FQ_TMP/body" -w '%{http_code}' "$keyless_url/v1/models")
fq_assert_eq "$code" 404 "--no-models-endpoint: GET /v1/models is a 404"
oa_shape "no models endpoint"
case "$(body | jq -r .error.message)" in
*"/v1/models,"*) fq_fail "the 404 offers GET /v1/models: $(body)" ;;
esac
kcall grok-3
fq_assert_eq "$CODE" 429 "--quota-exhausted"
fq_assert_eq "$(oa_error)" '["insufficient_quota","insufficient_quota",null]' "--quota-exhausted: insufficient_quota"
kset '{"quota_exhausted":false}'
kcall grok-3
fq_assert_eq "$CODE" 200 "--no-auth: no Authorization header"
fq_assert_eq "$(body | jq 'has("usage")')" false "--no-usage: no usage"
[ -z "$(header x-ratelimit-reset-requests)" ] || fq_fail "--rate-headers xai: reset waits"
kcall grok-4 -H "Authorization: Bearer anything-at-all"
fq_assert_eq "$CODE" 200 "--no-auth: any key"
kcall grok-3-mini
fq_assert_eq "$CODE" 404 "--models: a model left out"
fq_assert_eq "$(oa_error)" '["invalid_request_error","model_not_found",null]' "--models: model_not_found"
CODE=$(curl -s -o "$FQ_TMP/body" -w '%{http_code}' --data-binary \
    '{"model":"grok-3","max_tokens":200000,"messages":[{"role":"user","content":"hi"}]}' \
    "$keyless_url/v1/chat/completions")
fq_assert_eq "$CODE" 429 "--request-token-limit"
fq_assert_contains "$(body | jq -r .error.message)" "Limit 100000, Requested 200004." "--request-token-limit: the words"
kset '{"stream_error_rate":1}'
stream_call "$keyless_url"
stream_error_shape "--stream-error-status 429"
fq_assert_eq "$(last_event | jq -r .error.code)" rate_limit_exceeded "--stream-error-status 429: the code"
kset '{"stream_error_rate":0,"models_endpoint":true}'
models=$(curl -sf "$keyless_url/v1/models")
fq_assert_eq "$(jq -r .object <<<"$models")" list "models_endpoint on: a list"
fq_assert_eq "$(jq -c '[.data[].id] | sort' <<<"$models")" '["grok-3","grok-4"]' "--models: the list"
fq_assert_eq "$(jq -c '[.data[] | keys] | unique' <<<"$models")" '[["created","id","object","owned_by"]]' \
    "the list's fields"
fq_assert_eq "$(jq '[.data[] | .object == "model" and (.created | type) == "number" and (.owned_by | type) == "string"] | all' <<<"$models")" \
    true "the list's entries are models"
kset '{"models":"grok-3-mini"}'
fq_assert_eq "$(curl -sf "$keyless_url/v1/models" | jq -c '[.data[].id]')" '["grok-3-mini"]' "models: the list"
kcall grok-4
fq_assert_eq "$CODE" 404 "models: a model left out at run time"
kcall grok-3-mini
fq_assert_eq "$CODE" 200 "models: a model listed at run time"
code=$(curl -s -o "$FQ_TMP/body" -w '%{http_code}' -X POST -d '{"models":"grok-9"}' "$keyless_url/mock/config")
fq_assert_eq "$code" 400 "models: an unknown model is refused"
fq_assert_contains "$(body | jq -r .error)" 'models' "models: the setting is named"
kset '{"models":null}'
fq_assert_eq "$(curl -sf "$keyless_url/v1/models" | jq '.data | length')" 7 "models null: every model"
kset '{"auth":true}'
kcall grok-3
fq_assert_eq "$CODE" 401 "auth on again: a key is needed"
fq_assert_eq "$(oa_error)" '["invalid_request_error","invalid_api_key",null]' "auth on again: invalid_api_key"
kill -TERM "$BESIDE_PID"
rc=0; wait "$BESIDE_PID" || rc=$?
fq_assert_eq "$rc" 0 "the key-less mock stops cleanly"

# ---- credits, blocked key, key rotation ---------------------------------------
fq_curl_reset
fq_mock_config '{"credits_usd":0.000001}'
call "$FQ_KEY" "$SIMPLE"
fq_assert_eq "$CODE" 200 "within credits"
call "$FQ_KEY" "$SIMPLE"
fq_assert_eq "$CODE" 403 "credits exhausted"
fq_assert_eq "$(body | jq -r .code)" "permission-denied" "credits code"
fq_assert_contains "$(body | jq -r .error)" "has either used all available credits or reached its monthly spending limit" "credits message"
fq_mock_config '{"credits_status":429}'
call "$FQ_KEY" "$SIMPLE"
fq_assert_eq "$CODE" 429 "credits exhausted, older status"
fq_assert_contains "$(body | jq -r .error)" "used all available credits" "credits message on 429"
fq_mock_config '{"credits_usd":0,"credits_status":403,"blocked":true}'
call "$FQ_KEY" "$SIMPLE"
fq_assert_eq "$CODE" 403 "blocked key"
fq_assert_contains "$(body | jq -r .error)" "is blocked" "blocked message"
fq_mock_config '{"blocked":false,"key":"rotated-key-1234"}'
call "$FQ_KEY" "$SIMPLE"
fq_assert_eq "$CODE" 400 "the old key after rotation"
call "rotated-key-1234" "$SIMPLE"
fq_assert_eq "$CODE" 200 "the new key after rotation"
fq_mock_config "{\"key\":\"$FQ_KEY\"}"

code=$(config_code '{"fail_rate":"lots"}')
fq_assert_eq "$code" 400 "a bad setting is refused"
code=$(config_code '{"fail_rate":0.6,"reset_rate":0.6}')
fq_assert_eq "$code" 400 "fault rates above 1 in all are refused"

# ---- injected faults --------------------------------------------------------------
fq_curl_reset
fq_mock_config '{"reset_rate":1}'
call "$FQ_KEY" "$SIMPLE"
fq_assert_eq "$CODE" 000 "reset: no answer"
fq_mock_config '{"reset_rate":0,"fail_rate":1}'
for _ in 1 2 3; do
    call "$FQ_KEY" "$SIMPLE"
    case "$CODE" in 500|502|503) ;; *) fq_fail "fail_rate 1 answered $CODE" ;; esac
done
fq_mock_config '{"fail_rate":0,"truncate_rate":1}'
for _ in 1 2 3 4; do
    call "$FQ_KEY" "$SIMPLE"
    fq_assert_eq "$CODE" 200 "truncated answers are 200s"
    json_ok && fq_fail "a truncated body parsed as JSON"
done
fq_mock_config '{"truncate_rate":0,"hang_rate":1,"hang_ms":600000}'
call "$FQ_KEY" "$SIMPLE" -m 1
fq_assert_eq "$CODE" 000 "hang: the client gives up"
fq_mock_config '{"hang_rate":0}'
none_inflight() { [ "$(mstat .inflight)" = 0 ]; }
fq_wait_for 5 none_inflight || fq_fail "a hung request outlived its client"
fq_assert_eq "$(mstat .faults.reset)" 1 "stats reset"
fq_assert_eq "$(mstat .faults.server_error)" 3 "stats server errors"
fq_assert_eq "$(mstat .faults.truncated)" 4 "stats truncated"
fq_assert_eq "$(mstat .faults.hang)" 1 "stats hang"
fq_assert_eq "$(mstat '.status["200"]')" 4 "truncated 200s counted as 200"
fq_assert_eq "$(mstat .ok)" 0 "truncated 200s are not ok"
fq_assert_ge "$(mstat .spend_ticks)" 1 "truncated 200s are billed"

# ---- reset zeroes everything ----------------------------------------------------
curl -sf -X POST "$FQ_MOCK_URL/mock/reset" | jq -e '.ok == true' >/dev/null || fq_fail "/mock/reset reply"
fq_assert_eq "$(mstat '[.requests, .admitted, .ok, .rate_limited, .request_too_large, .auth_failures, .spend_ticks, .prompt_tokens, .max_in_window, .faults.truncated, .faults.stream_error] | add')" 0 "stats after reset"
fq_assert_eq "$(mstat '[.by_model[][]] | add')" 0 "by_model after reset"
fq_assert_eq "$(mstat '.status | length')" 0 "status counts after reset"
call "$FQ_KEY" "$SIMPLE"
fq_assert_eq "$CODE" 200 "serving after reset"
fq_assert_eq "$(mstat .requests)" 1 "counting again after reset"

# ---- graceful stop ------------------------------------------------------------
kill -TERM "$FQ_MOCK_PID"
rc=0; wait "$FQ_MOCK_PID" || rc=$?
fq_assert_eq "$rc" 0 "exit status after SIGTERM"
fq_assert_ge "$(grep -c '"path":"/v1/chat/completions"' "$FQ_TMP/mock.log")" 40 "verbose request lines"
if grep -q -e "$FQ_KEY" -e "rotated-key-1234" -e "$WRONG" "$FQ_TMP/mock.log"; then
    fq_fail "a key appears in the mock's log"
fi

fq_pass
