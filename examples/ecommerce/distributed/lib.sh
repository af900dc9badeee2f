#!/usr/bin/env bash
# Shared by up.sh and restart.sh.

# Waits (up to $3 seconds) until the process $1, listening on $2 (host:port), answers its
# /health/ready with 200; on time out prints the end of its log and its readiness, returns 1.
wait_ready() {
    local name="$1" addr="$2" deadline=$((SECONDS + $3))
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/health/ready")" = 200 ]; do
        if ((SECONDS >= deadline)); then
            echo "$name did not become ready on $addr; the end of $run_dir/$name.log:" >&2
            tail -n 30 "$run_dir/$name.log" >&2
            curl -s "http://$addr/health/ready" >&2 || true
            echo >&2
            return 1
        fi
        sleep 0.5
    done
}

# Waits (up to $3 seconds) until the process $1, listening on $2, consumes from the broker:
# its /health/ready names no broker check failing and at least one passing (the process may
# not be ready yet for other reasons). Its queues exist from then on.
wait_consuming() {
    local name="$1" addr="$2" deadline=$((SECONDS + $3)) body
    while :; do
        body="$(curl -s "http://$addr/health/ready" || true)"
        if [[ "$body" == *'"name":"broker","ok":true'* && "$body" != *'"name":"broker","ok":false'* ]]; then
            return 0
        fi
        if ((SECONDS >= deadline)); then
            echo "$name did not start consuming on $addr; the end of $run_dir/$name.log:" >&2
            tail -n 30 "$run_dir/$name.log" >&2
            echo "$body" >&2
            return 1
        fi
        sleep 0.2
    done
}

# The --addr of the process $1, from the command line up.sh recorded.
addr_of() {
    sed -n 's/.*--addr \([^ ]*\).*/\1/p' "$run_dir/$1.cmd"
}
