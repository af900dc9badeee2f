#!/usr/bin/env bash
# Starts the distributed shop on this machine: the customer, inventory, order, payment,
# notification and analytics services, each a process on PostgreSQL in a schema of its own
# ($ECOMMERCE_<SERVICE>_SCHEMA, default ecommerce_<service>), and the gateway in front. The
# order service sends its saga's stock and payment steps to the inventory and payment
# services and its order events to the notification and analytics services through the
# broker. The broker is $ECOMMERCE_BROKER
# (rabbitmq, the default, or kafka) at $ECOMMERCE_BROKER_URL (default: the local one), started
# here if it is installed and down. Records every process id it started in
# $ECOMMERCE_RUN_DIR/pids (default target/ecommerce-distributed) for down.sh, waits until the
# gateway reports every service ready, and prints its address.
# Addresses: $ECOMMERCE_GATEWAY_ADDR (127.0.0.1:8080), $ECOMMERCE_ORDER_ADDR (127.0.0.1:8100),
# $ECOMMERCE_CUSTOMER_ADDR (127.0.0.1:8101), $ECOMMERCE_NOTIFICATION_ADDR (127.0.0.1:8104),
# $ECOMMERCE_ANALYTICS_ADDR (127.0.0.1:8105), $ECOMMERCE_INVENTORY_ADDR (127.0.0.1:8106),
# $ECOMMERCE_PAYMENT_ADDR (127.0.0.1:8102; its
# $ECOMMERCE_PAYMENT_REPLICAS replicas, default 2, on ports 10 apart). restart.sh <service>
# stops every replica of a service and starts them again.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../../.."
run_dir="${ECOMMERCE_RUN_DIR:-$PWD/target/ecommerce-distributed}"
gateway_addr="${ECOMMERCE_GATEWAY_ADDR:-127.0.0.1:8080}"
order_addr="${ECOMMERCE_ORDER_ADDR:-127.0.0.1:8100}"
order_schema="${ECOMMERCE_ORDER_SCHEMA:-ecommerce_order}"
customer_addr="${ECOMMERCE_CUSTOMER_ADDR:-127.0.0.1:8101}"
customer_schema="${ECOMMERCE_CUSTOMER_SCHEMA:-ecommerce_customer}"
payment_addr="${ECOMMERCE_PAYMENT_ADDR:-127.0.0.1:8102}"
payment_schema="${ECOMMERCE_PAYMENT_SCHEMA:-ecommerce_payment}"
payment_replicas="${ECOMMERCE_PAYMENT_REPLICAS:-2}"
notification_addr="${ECOMMERCE_NOTIFICATION_ADDR:-127.0.0.1:8104}"
notification_schema="${ECOMMERCE_NOTIFICATION_SCHEMA:-ecommerce_notification}"
analytics_addr="${ECOMMERCE_ANALYTICS_ADDR:-127.0.0.1:8105}"
analytics_schema="${ECOMMERCE_ANALYTICS_SCHEMA:-ecommerce_analytics}"
inventory_addr="${ECOMMERCE_INVENTORY_ADDR:-127.0.0.1:8106}"
inventory_schema="${ECOMMERCE_INVENTORY_SCHEMA:-ecommerce_inventory}"
broker="${ECOMMERCE_BROKER:-rabbitmq}"
mkdir -p "$run_dir"
if [ -s "$run_dir/pids" ]; then
    echo "already started (process ids in $run_dir/pids): run down.sh first" >&2
    exit 1
fi

# shellcheck source=lib.sh
source "$here/lib.sh"
port_open() { (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; }

# PostgreSQL: every service's store.
if ! port_open 127.0.0.1:5432; then
    if command -v pg_ctlcluster >/dev/null && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
        echo "starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    else
        echo "PostgreSQL is not running on 127.0.0.1:5432 and cannot be started here" >&2
        exit 1
    fi
fi

# The broker between the services.
case "$broker" in
rabbitmq)
    if [ -z "${ECOMMERCE_BROKER_URL:-}" ] && ! port_open 127.0.0.1:5672; then
        if command -v rabbitmq-server >/dev/null; then
            echo "starting RabbitMQ"
            rabbitmq-server -detached
            rabbitmqctl await_startup --timeout 90 >/dev/null
        else
            echo "RabbitMQ is not running on 127.0.0.1:5672 and is not installed" >&2
            exit 1
        fi
    fi
    ;;
kafka)
    if [ -z "${ECOMMERCE_BROKER_URL:-}" ] && ! port_open 127.0.0.1:9092; then
        echo "starting a Kafka-protocol broker (tansu)"
        bash .ci/kafka
    fi
    ;;
*)
    echo "ECOMMERCE_BROKER must be rabbitmq or kafka, not $broker" >&2
    exit 1
    ;;
esac
export ECOMMERCE_BROKER="$broker"

cargo build --release -q -p ecommerce
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/ecommerce"

# One token secret for every process (the gateway checks what the customer service signs).
if [ -z "${ECOMMERCE_JWT_SECRET:-}" ]; then
    [ -s "$run_dir/secret" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$run_dir/secret"
    ECOMMERCE_JWT_SECRET="$(cat "$run_dir/secret")"
fi
if [ -z "${ECOMMERCE_ADMIN_PASSWORD:-}" ]; then
    [ -s "$run_dir/admin" ] || head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$run_dir/admin"
    ECOMMERCE_ADMIN_PASSWORD="$(cat "$run_dir/admin")"
fi
export ECOMMERCE_JWT_SECRET ECOMMERCE_ADMIN_PASSWORD ECOMMERCE_TRUST_FORWARDED_FOR=1
# Each service logs a line per order placed, payment request applied and notification sent,
# with the flow's correlation id (the placing request's id), into $run_dir/<process>.log.
export RUST_LOG="${RUST_LOG:-warn,ecommerce=info}"
# The environment every process starts with, for restart.sh.
export -p | grep -E '^declare -x (ECOMMERCE_|DATABASE_URL|RUST_LOG)' > "$run_dir/env"

start() { # name, then the command (kept for restart.sh)
    local name="$1"
    shift
    printf '%q ' "$@" > "$run_dir/$name.cmd"
    nohup "$@" >> "$run_dir/$name.log" 2>&1 &
    echo "$! $name" >> "$run_dir/pids"
}

start customer "$bin" service customer --addr "$customer_addr" --schema "$customer_schema"
# Replicas of the payment service side by side (ports 10 apart): the broker hands each
# request to one of them, the inbox applies it once, the relay's checkpoint takes turns.
payment_urls=()
for ((i = 0; i < payment_replicas; i++)); do
    addr="${payment_addr%:*}:$((${payment_addr##*:} + 10 * i))"
    start "payment-$i" env ECOMMERCE_INSTANCE="payment-$i" "$bin" service payment \
        --addr "$addr" --schema "$payment_schema"
    payment_urls+=("http://$addr")
    # One at a time: a Kafka consumer group grows one member at a time.
    wait_ready "payment-$i" "$addr" 90 || { bash "$here/down.sh"; exit 1; }
done
start notification "$bin" service notification --addr "$notification_addr" \
    --schema "$notification_schema"
start analytics "$bin" service analytics --addr "$analytics_addr" --schema "$analytics_schema"
# The order service's queues before the inventory service's relay publishes the catalogue to
# them: a batch routed only in part (a binding appearing mid-batch) is published again whole,
# and its later messages would reach the order service before their predecessors.
start order "$bin" service order --addr "$order_addr" --schema "$order_schema"
wait_consuming order "$order_addr" 90 || { bash "$here/down.sh"; exit 1; }
start inventory "$bin" service inventory --addr "$inventory_addr" --schema "$inventory_schema"
payment_list="$(IFS=,; echo "${payment_urls[*]}")"
upstreams=(--upstream "customer=http://$customer_addr" --upstream "payment=$payment_list"
    --upstream "notification=http://$notification_addr" --upstream "analytics=http://$analytics_addr"
    --upstream "inventory=http://$inventory_addr" --upstream "order=http://$order_addr")
start gateway "$bin" gateway --addr "$gateway_addr" "${upstreams[@]}"

# Every process ready (each replica, not only one per service: a Kafka group has formed
# before the first message), then the gateway's view of them all.
while read -r _ name; do
    addr="$(addr_of "$name")"
    if ! wait_ready "$name" "$addr" 90; then
        bash "$here/down.sh"
        exit 1
    fi
done < "$run_dir/pids"
echo "every service is ready"
echo "gateway on http://$gateway_addr (customer service on $customer_addr, payment service on $payment_addr, notification service on $notification_addr, analytics service on $analytics_addr, inventory service on $inventory_addr, order service on $order_addr; broker: $broker)"
echo "admin login: admin@shop.local / $ECOMMERCE_ADMIN_PASSWORD"
echo "try: curl -s http://$gateway_addr/api/v1/products"
echo "restart a service's replicas: bash examples/ecommerce/distributed/restart.sh payment"
echo "stop: bash examples/ecommerce/distributed/down.sh"
