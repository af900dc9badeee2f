#!/usr/bin/env bash
# Shared by up.sh and restart.sh.

# Waits (up to $3 seconds) until the /health/ready of the process $1, listening on $2
# (host:port), satisfies $4, a function given its status code and body; on time out prints
# the end of the process's log and its last answer, returns 1.
wait_health() {
    local name="$1" addr="$2" deadline=$((SECONDS + $3)) holds="$4" answer
    while :; do
        answer="$(curl -s -w '\n%{http_code}' "http://$addr/health/ready" || true)"
        if "$holds" "${answer##*$'\n'}" "${answer%$'\n'*}"; then
            return 0
        fi
        if ((SECONDS >= deadline)); then
            echo "$name did not get there ($holds) on $addr; the end of $run_dir/$name.log:" >&2
            tail -n 30 "$run_dir/$name.log" >&2
            echo "${answer%$'\n'*}" >&2
            return 1
        fi
        sleep 0.2
    done
}

# Ready: /health/ready answers 200.
is_ready() { [ "$1" = 200 ]; }

# Consuming from the broker: no broker check failing and at least one passing (the process
# may not be ready yet for other reasons). Its queues exist from then on.
is_consuming() {
    [[ "$2" == *'"name":"broker","ok":true'* && "$2" != *'"name":"broker","ok":false'* ]]
}

# Waits (up to $3 seconds) until the process $1, listening on $2, is ready.
wait_ready() { wait_health "$1" "$2" "$3" is_ready; }

# Waits (up to $3 seconds) until the process $1, listening on $2, consumes from the broker.
wait_consuming() { wait_health "$1" "$2" "$3" is_consuming; }

# The --addr of the process $1, from the command line up.sh recorded.
addr_of() {
    sed -n 's/.*--addr \([^ ]*\).*/\1/p' "$run_dir/$1.cmd"
}
