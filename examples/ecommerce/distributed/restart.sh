#!/usr/bin/env bash
# Stops every replica of one service that up.sh started (SIGTERM, SIGKILL after 15 s), then
# starts them again with the command lines up.sh recorded, and waits until each answers its
# readiness probe again. Usage: restart.sh <service> (customer, payment, shop, gateway).
set -euo pipefail
cd "$(dirname "$0")/../../.."
run_dir="${ECOMMERCE_RUN_DIR:-$PWD/target/ecommerce-distributed}"
service="${1:?usage: restart.sh <service>}"
[ -s "$run_dir/pids" ] || { echo "nothing started (no $run_dir/pids)" >&2; exit 1; }

# This service's lines of the pid file: "pid name", name "<service>" or "<service>-<n>".
mapfile -t mine < <(awk -v s="$service" '$2 == s || index($2, s "-") == 1' "$run_dir/pids")
[ "${#mine[@]}" -gt 0 ] || { echo "no process of $service in $run_dir/pids" >&2; exit 1; }
for line in "${mine[@]}"; do
    read -r pid name <<< "$line"
    kill -TERM "$pid" 2>/dev/null && echo "stopping $name ($pid)" || true
done
deadline=$((SECONDS + 15))
for line in "${mine[@]}"; do
    read -r pid name <<< "$line"
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
done

# The environment up.sh started them with (token secret, broker, ...).
# shellcheck disable=SC1091
source "$run_dir/env"
others="$(awk -v s="$service" '!($2 == s || index($2, s "-") == 1)' "$run_dir/pids")"
printf '%s\n' "$others" | sed '/^$/d' > "$run_dir/pids"
for line in "${mine[@]}"; do
    read -r _ name <<< "$line"
    eval "nohup $(cat "$run_dir/$name.cmd") >> \"$run_dir/$name.log\" 2>&1 &"
    echo "$! $name" >> "$run_dir/pids"
    echo "started $name ($!)"
done

# Ready again: each restarted process answers /health/ready (its --addr) with 200.
for line in "${mine[@]}"; do
    read -r _ name <<< "$line"
    addr="$(sed -n 's/.*--addr \([^ ]*\).*/\1/p' "$run_dir/$name.cmd")"
    [ -n "$addr" ] || continue
    deadline=$((SECONDS + 60))
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/health/ready")" = 200 ]; do
        if ((SECONDS >= deadline)); then
            echo "$name did not become ready again; see $run_dir/$name.log" >&2
            exit 1
        fi
        sleep 0.5
    done
    echo "$name is ready on $addr"
done
