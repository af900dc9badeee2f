#!/usr/bin/env bash
# Stops every replica of one service that up.sh started (SIGTERM, SIGKILL after 15 s), then
# starts them again with the command lines up.sh recorded, and waits until each answers its
# readiness probe again. Usage: restart.sh <service> (customer, inventory, payment,
# notification, analytics, order, gateway).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../../.."
run_dir="${ECOMMERCE_RUN_DIR:-$PWD/target/ecommerce-distributed}"
service="${1:?usage: restart.sh <service>}"
# shellcheck source=lib.sh
source "$here/lib.sh"
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
            echo "$name ($pid) did not stop: killing it"
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
# One after the other, each ready (its /health/ready answers 200) before the next starts:
# a consumer group then grows one member at a time.
for line in "${mine[@]}"; do
    read -r _ name <<< "$line"
    eval "nohup $(cat "$run_dir/$name.cmd") >> \"$run_dir/$name.log\" 2>&1 &"
    echo "$! $name" >> "$run_dir/pids"
    echo "started $name ($!)"
    addr="$(addr_of "$name")"
    [ -n "$addr" ] || continue
    wait_ready "$name" "$addr" 120
    echo "$name is ready on $addr"
done
