#!/usr/bin/env bash
# test_mockapi.sh -- fleetq-mockapi behaves like the xAI chat API: flat
# error bodies in the provider's order (401, 400 wrong key, 404 model, 400
# refused parameter), usage and cost by the published formula, rate-limit
# headers, a true sliding-window limit that refuses the excess with 429,
# streaming, credits exhaustion, injected faults, and the /mock/ controls.
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
json_ok() { jq -e . "$FQ_TMP/body" >/dev/null 2>&1; }

SIMPLE='{"model":"grok-3-mini","messages":[{"role":"user","content":"ping"}]}'

# ---- program basics -------------------------------------------------------
fq_assert_contains "$("$MOCK" --version)" "fleetq-mockapi " "--version"
fq_assert_contains "$("$MOCK" --help)" "--rate-limit" "--help"
rc=0; "$MOCK" --fail-rate 2 >/dev/null 2>&1 || rc=$?
fq_assert_eq "$rc" 2 "a bad option exits 2"

fq_start_mock --seed 42 --verbose

# ---- models and routes ------------------------------------------------------
models=$(curl -sf "$FQ_MOCK_URL/v1/models" | jq -r '[.data[].id] | sort | join(",")')
fq_assert_eq "$models" "grok-3,grok-3-mini,grok-4,grok-4-fast,grok-code-fast-1" "model list"
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
         ra=$(header retry-after)
         [[ "$ra" =~ ^[0-5]$ ]] || fq_fail "retry-after '$ra' is not 0..5"
         [ -z "$(header x-ratelimit-remaining-requests)" ] || fq_fail "x-ratelimit headers on a 429" ;;
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
sleep 3.1
call "$FQ_KEY" "$SIMPLE"
fq_assert_eq "$CODE" 200 "the window slides on"
fq_mock_config '{"rate_limit":0,"window_ms":60000}'

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

code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"fail_rate":"lots"}' "$FQ_MOCK_URL/mock/config")
fq_assert_eq "$code" 400 "a bad setting is refused"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"fail_rate":0.6,"reset_rate":0.6}' "$FQ_MOCK_URL/mock/config")
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
fq_assert_eq "$(mstat '[.requests, .admitted, .ok, .rate_limited, .auth_failures, .spend_ticks, .prompt_tokens, .max_in_window, .faults.truncated] | add')" 0 "stats after reset"
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
