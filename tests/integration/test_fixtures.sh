#!/usr/bin/env bash
# test_fixtures: every Instagram webhook fixture, posted in turn to one server, with the
# response and the database effects listed in fixtures.cases (the format is described there).
# Also checks that every webhook fixture of shared/fixtures/instagram has a case, and that the
# number of stored deliveries equals the number of distinct bodies posted.
. "$(dirname "$0")/lib.sh"

CASES=${DIREKT_CASES:-$(dirname "$0")/fixtures.cases}
CHECK_TIMEOUT_MS=10000

setup_db
start_server || finish

case_name=""
last_event_id=""
declare -A posted_sha=() # sha256 of every body posted -> 1
posted_fixtures=" "

substitute() { # QUERY: fills in {event_id}
    local q=$1
    echo "${q//\{event_id\}/$last_event_id}"
}

# Runs a check: polls QUERY until it prints WANT, up to CHECK_TIMEOUT_MS.
run_check() { # LINE_NO QUERY WANT
    local line=$1 q want=$3 got end
    q=$(substitute "$2")
    end=$(($(now_ms) + CHECK_TIMEOUT_MS))
    while :; do
        got=$(sql "$q" 2>&1)
        [ "$got" == "$want" ] && return 0
        [ "$(now_ms)" -ge $end ] && break
        sleep 0.1
    done
    fail "case \"$case_name\" (fixtures.cases:$line): $q"$'\n'"    expected: [$want]"$'\n'"    got:      [$got]"
}

after_post() { # LINE_NO EXPECTED_STATUS EXPECTED_TEXT FILE
    local line=$1 status=$2 text=$3 file=$4
    posted_sha[$(sha256sum <"$file" | cut -c1-64)]=1
    assert_eq "$status" "$HTTP_STATUS" \
        "case \"$case_name\" (fixtures.cases:$line): HTTP status (body: ${HTTP_BODY:0:300})"
    if [ -n "$text" ]; then
        assert_contains "$text" "$HTTP_BODY" "case \"$case_name\" (fixtures.cases:$line): response body"
    fi
    if [ "$HTTP_STATUS" == 200 ]; then
        last_event_id=$(json_get "$HTTP_BODY_FILE" '$.event_id')
        assert_match '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' \
            "$last_event_id" "case \"$case_name\" (fixtures.cases:$line): event_id in the response"
    else
        last_event_id=""
    fi
}

# pending check, flushed when its expected rows are complete
chk_line=""
chk_query=""
chk_want=""
chk_rows=0
chk_active=0

flush_check() {
    if [ $chk_active -eq 1 ]; then
        if [ -n "$chk_query" ]; then
            run_check "$chk_line" "$chk_query" "$chk_want"
        fi
        chk_active=0
    fi
}

lineno=0
logical=""
start_line=0
ncases=0
nchecks=0
while IFS= read -r raw || [ -n "$raw" ]; do
    lineno=$((lineno + 1))
    if [ -z "$logical" ]; then
        start_line=$lineno
    fi
    if [[ "$raw" == *\\ ]]; then
        logical+="${raw%\\} "
        continue
    fi
    logical+="$raw"
    line=$logical
    logical=""
    # trim leading blanks and collapse the indentation of continued lines
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    case "$line" in
    "" | "#"*)
        continue
        ;;
    "=>" | "=> "*)
        if [ $chk_active -ne 1 ]; then
            fail "fixtures.cases:$start_line: a => row without a sql line before it"
            continue
        fi
        # the expected row keeps its bytes: take it from the raw line
        row=$raw
        row="${row#"${row%%[![:space:]]*}"}"
        row=${row#=>}
        row=${row# }
        if [ $chk_rows -eq 0 ]; then
            chk_want=$row
        else
            chk_want+=$'\n'"$row"
        fi
        chk_rows=$((chk_rows + 1))
        continue
        ;;
    esac
    flush_check
    word=${line%% *}
    rest=""
    [ "$word" != "$line" ] && rest=${line#* }
    case "$word" in
    case)
        case_name=$rest
        ncases=$((ncases + 1))
        log "case $case_name"
        ;;
    post)
        read -r fixture status text <<<"$rest"
        fixture=${fixture%.json}.json
        posted_fixtures+="$fixture "
        if [ ! -f "$IG_FIXTURES/$fixture" ]; then
            fail "fixtures.cases:$start_line: no fixture $IG_FIXTURES/$fixture"
            continue
        fi
        post_fixture "$fixture"
        after_post "$start_line" "$status" "$text" "$IG_FIXTURES/$fixture"
        ;;
    post_raw)
        status=${rest%% *}
        body=${raw#*post_raw}
        body=${body#"${body%%[![:space:]]*}"}
        body=${body#"$status"}
        body=${body# }
        printf '%s' "$body" >"$TEST_TMP/raw_body"
        post_file "$TEST_TMP/raw_body"
        after_post "$start_line" "$status" "" "$TEST_TMP/raw_body"
        ;;
    settle)
        settle_jobs 30 || fail "case \"$case_name\" (fixtures.cases:$start_line): jobs did not settle"
        ;;
    restart)
        stop_server
        start_server || finish
        ;;
    sql | sql@sqlite | sql@postgres)
        chk_active=1
        chk_line=$start_line
        chk_want=""
        chk_rows=0
        chk_query=""
        if [ "$word" == sql ] || [ "$word" == "sql@$DIREKT_BACKEND" ]; then
            chk_query=$rest
            nchecks=$((nchecks + 1))
        fi
        ;;
    *)
        fail "fixtures.cases:$start_line: unknown directive \"$word\""
        ;;
    esac
done <"$CASES"
flush_check

# Every webhook fixture has a case (Graph API replies are not webhooks).
for f in "$IG_FIXTURES"/*.json; do
    name=$(basename "$f")
    case "$name" in
    error_*.json | send_response.json | profile.json) continue ;;
    esac
    [[ "$posted_fixtures" == *" $name "* ]] || fail "fixture $name has no case in fixtures.cases"
done

# One stored delivery per distinct body posted (duplicates are not stored twice).
assert_eq "${#posted_sha[@]}" "$(sql "SELECT count(*) FROM webhook_events")" \
    "webhook_events: one row per distinct body posted"
# Nothing failed in the workers along the way.
assert_eq "0" "$(sql "SELECT count(*) FROM jobs WHERE status = 'failed' OR last_error IS NOT NULL")" \
    "no failed job"

stop_server
log "$ncases cases, $nchecks checks"
finish
