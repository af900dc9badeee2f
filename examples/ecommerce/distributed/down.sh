#!/usr/bin/env bash
# Stops what up.sh started, by the process ids it recorded: SIGTERM (each drains and stops),
# then SIGKILL for any still running after 15 s.
set -euo pipefail
cd "$(dirname "$0")/../../.."
run_dir="${ECOMMERCE_RUN_DIR:-$PWD/target/ecommerce-distributed}"
if [ ! -s "$run_dir/pids" ]; then
    echo "nothing started (no $run_dir/pids)"
    exit 0
fi
while read -r pid name; do
    kill -TERM "$pid" 2>/dev/null && echo "stopping $name ($pid)" || true
done < "$run_dir/pids"
deadline=$((SECONDS + 15))
while read -r pid name; do
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            echo "$name ($pid) did not stop: killing it"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
done < "$run_dir/pids"
rm -f "$run_dir/pids"
echo "stopped"
