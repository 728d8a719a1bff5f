#!/usr/bin/env bash
# The table of settings, as `fleetqctl settings` lists it, against the
# README: the configuration table names exactly the settings the programs
# read (a role's as FLEETQ_ROLE_<ROLE>_...), the scripts' variables are
# described with their scripts instead, and every setting that allows 0
# says what 0 means in the table's words. Then misspelled variables: the
# coordinator and a worker started with GROK_RATE_LIMT_RPM=5 and
# FLEETQ_ROLE_CODER_MODEL=x log config.unknown_setting once each, with the
# name they meant and never the value (nor that of a key pasted into
# XAI_API_KY), fleetqctl says the same on stderr, and a correctly spelled
# environment gives no such warning.
. "$(dirname "$0")/lib.sh"

readme="$FQ_SRC/README.md"

# ---- the table against the README ----
fq_ctl settings --json
fq_assert_eq "$CTL_RC" 0 "fleetqctl settings --json ($CTL_ERR)"
settings=$CTL_OUT
fq_assert_eq "$(jq length <<<"$settings")" "$(jq '[.[].name] | unique | length' <<<"$settings")" \
    "names listed once each"
fq_ctl settings
fq_assert_eq "$CTL_RC" 0 "fleetqctl settings ($CTL_ERR)"
fq_assert_contains "$CTL_OUT" "GROK_RATE_LIMIT_RPM = 480  (default)" "a default in the listing"
fq_assert_contains "$CTL_OUT" "0 or more; 0 means no per-minute ceiling" \
    "0's meaning in the listing"

# the rows of README's "## Configuration" table
config_rows=$(awk '/^## Configuration/ {on = 1; next} /^## / {on = 0} on && /^\| `/' "$readme")
[ -n "$config_rows" ] || fq_fail "no configuration table in the README"
readme_names=$(cut -d'|' -f2 <<<"$config_rows" | grep -oE '`[A-Z][A-Z0-9_<>]*`' | tr -d '`' |
               sort -u)
by_programs='every program|fleetq-worker|fleetq-coordinator'
# a role's settings as the README writes them
program_names=$(jq -r --arg p "^($by_programs)$" '.[] | select(.read_by | test($p)) | .name' \
                    <<<"$settings" |
                sed -E 's/^FLEETQ_ROLE_(CEO|CODE|QUALITY|MEMORY)_/FLEETQ_ROLE_<ROLE>_/' | sort -u)
missing=$(comm -23 <(echo "$program_names") <(echo "$readme_names"))
[ -z "$missing" ] || fq_fail "settings missing from README's configuration table: $missing"
extra=$(comm -13 <(echo "$program_names") <(echo "$readme_names"))
[ -z "$extra" ] || fq_fail "README's configuration table names what no program reads: $extra"
fq_assert_ge "$(wc -l <<<"$program_names")" 60 "settings compared"

# the scripts' (and the tests') variables: described in the README, with
# their scripts, not in the configuration table
others=$(jq -r --arg p "^($by_programs)$" '.[] | select(.read_by | test($p) | not) | .name' \
             <<<"$settings")
fq_assert_ge "$(wc -l <<<"$others")" 8 "variables of scripts and tests"
for name in $others; do
    grep -q "\`$name\`" <<<"$config_rows" && fq_fail "$name is in the configuration table"
    grep -q "$name" "$readme" || fq_fail "$name (read by scripts or tests) is not in the README"
done

# 0's meaning: in the README row of a program's setting, in the paragraph
# that names a script's variable (the README's backticks aside)
checked=0
while IFS=$'\t' read -r name by zero; do
    pattern=$(sed -E 's/^FLEETQ_ROLE_(CEO|CODE|QUALITY|MEMORY)_/FLEETQ_ROLE_<ROLE>_/' <<<"$name")
    if grep -qE "^($by_programs)$" <<<"$by"; then
        row=$(awk -F'|' -v n="\`$pattern\`" 'index($2, n)' <<<"$config_rows" | tr -d '`')
    else
        row=$(awk -v RS= -v n="$name" 'index($0, n)' "$readme" | tr '\n' ' ' | tr -d '`')
    fi
    [ -n "$row" ] || fq_fail "$name: no README text names it"
    fq_assert_contains "$row" "$zero" "what 0 means for $name, in the README"
    checked=$((checked + 1))
done < <(jq -r '.[] | select(.zero != null) | [.name, .read_by, .zero] | @tsv' <<<"$settings")
fq_assert_ge "$checked" 20 "settings that allow 0"

# ---- misspelled settings ----
fq_start_redis
fq_start_mock
pasted="xai-pasted-$RANDOM$RANDOM$RANDOM-key"
# each misspelled variable and the name meant
misspelled="GROK_RATE_LIMT_RPM:GROK_RATE_LIMIT_RPM FLEETQ_ROLE_CODER_MODEL:FLEETQ_ROLE_CODE_MODEL"
export GROK_RATE_LIMT_RPM=5 FLEETQ_ROLE_CODER_MODEL=x XAI_API_KY="$pasted"
fq_start_coordinator
fq_start_worker code
fq_wait_for 10 grep -q '"event":"worker.started"' "$FQ_TMP/worker-code.log" ||
    fq_fail "the worker did not start"

# check_warned LOG WHAT: each misspelled variable named once, with the name
# meant, without its value
check_warned() {
    local log=$1 line
    for pair in $misspelled XAI_API_KY:XAI_API_KEY; do
        local wrong=${pair%%:*} meant=${pair#*:}
        fq_assert_eq "$(grep -c "\"config.unknown_setting\".*\"variable\":\"$wrong\"" "$log")" 1 \
            "$2: config.unknown_setting lines for $wrong"
        line=$(grep "\"variable\":\"$wrong\"" "$log")
        fq_assert_contains "$line" '"level":"warn"' "$2: the level for $wrong"
        fq_assert_contains "$line" "did you mean $meant?" "$2: the suggestion for $wrong"
        fq_assert_contains "$line" "\"suggestion\":\"$meant\"" "$2: the suggestion field for $wrong"
        case "$line" in *'"5"'* | *'=5'* | *'"x"'* | *'=x'*) fq_fail "$2: a value in: $line" ;; esac
    done
    ! grep -qF "$pasted" "$log" || fq_fail "$2: the pasted key is in its log"
}
check_warned "$FQ_TMP/coordinator.log" coordinator
check_warned "$FQ_TMP/worker-code.log" worker
# a misspelled setting changes nothing: the fleet's ceiling is the default
fq_assert_eq "$(fq_redis HGET fleetq:limits rpm)" 480 "the fleet's rpm"

fq_ctl status
fq_assert_eq "$CTL_RC" 0 "fleetqctl status ($CTL_ERR)"
for pair in $misspelled; do
    wrong=${pair%%:*} meant=${pair#*:}
    want="fleetqctl: warning: $wrong is not a fleetq setting and changes nothing;"
    want+=" did you mean $meant?"
    fq_assert_eq "$(grep -cxF "$want" <<<"$CTL_ERR")" 1 "fleetqctl's warning about $wrong"
done
fq_assert_eq "$(grep -c 'warning' <<<"$CTL_ERR")" 3 "fleetqctl's warnings ($CTL_ERR)"
case "$CTL_ERR$CTL_OUT" in *"$pasted"*) fq_fail "fleetqctl showed the pasted key" ;; esac

# fleetqctl settings shows a key only as (set)
fq_ctl settings
fq_assert_contains "$CTL_OUT" "XAI_API_KEY = (set)" "the key in the listing"
case "$CTL_OUT$CTL_ERR" in
*"$FQ_KEY"* | *"$pasted"*) fq_fail "fleetqctl settings showed a key" ;;
esac

# ---- spelled right: no warning ----
fq_reset_fleet
mv "$FQ_TMP/coordinator.log" "$FQ_TMP/coordinator-misspelled.log"
mv "$FQ_TMP/worker-code.log" "$FQ_TMP/worker-misspelled.log"
unset GROK_RATE_LIMT_RPM FLEETQ_ROLE_CODER_MODEL XAI_API_KY
export GROK_RATE_LIMIT_RPM=5 FLEETQ_ROLE_CODE_MODEL=grok-code-fast-1
fq_start_redis
fq_start_mock
fq_start_coordinator
fq_start_worker code
fq_wait_for 10 grep -q '"event":"worker.started"' "$FQ_TMP/worker-code.log" ||
    fq_fail "the worker did not start"
for log in coordinator worker-code; do
    ! grep -q config.unknown_setting "$FQ_TMP/$log.log" ||
        fq_fail "$log warned of a correct setting: $(grep unknown_setting "$FQ_TMP/$log.log")"
done
fq_assert_eq "$(fq_redis HGET fleetq:limits rpm)" 5 "the fleet's rpm"
fq_ctl status
fq_assert_eq "$CTL_RC" 0 "fleetqctl status ($CTL_ERR)"
fq_assert_eq "$CTL_ERR" "" "fleetqctl's stderr with a correctly spelled environment"
fq_pass
