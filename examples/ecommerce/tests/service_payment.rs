//! The payment service as the distributed mode runs it: its own PostgreSQL schema, payment
//! requests arriving through RabbitMQ (a vhost of this test's own) from a shop whose saga
//! sends them as messages, the payments' events going back as the saga's replies. Happy path,
//! a declined payment, and a refund after a customer cancels a confirmed order; every payment
//! lives in the service's schema, and the shop holds the mirrored copies its saga followed.

mod shop_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ecommerce::app::{Shop, ShopConfig};
use ecommerce::messaging::Broker;
use ecommerce::money::Money;
use ecommerce::order::Status;
use ecommerce::payment::{Payment, PaymentStatus, SimulatedProvider};
use ecommerce::services::{self, payment::PaymentService};
use eventcore::{EventReader, Repository, StreamId};
use shop_support::{WAIT, request, settle, temp_db};

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn rabbitmqctl(args: &[&str]) {
    let out = std::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl runs (RabbitMQ must be installed: bash .ci/services)");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A RabbitMQ vhost of this test's own, deleted on drop.
struct Vhost(String);

impl Vhost {
    fn new() -> Self {
        let name = format!("ec_test_{}", uuid::Uuid::new_v4().simple());
        rabbitmqctl(&["add_vhost", &name]);
        rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"]);
        Self(name)
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["delete_vhost", &self.0])
            .output();
    }
}

/// Waits until `payment` of `order_id` in `payments` has `status`.
async fn payment_reaches(payments: &Repository<Payment>, order_id: &str, status: PaymentStatus) {
    let until = Instant::now() + WAIT;
    loop {
        let state = payments.load(order_id).await.expect("loads").state;
        if state.status == status {
            return;
        }
        assert!(
            Instant::now() < until,
            "{order_id}: payment {:?}, not {status:?}",
            state.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saga_pays_through_the_payment_service_over_rabbitmq() {
    let vhost = Vhost::new();
    let broker = Broker::RabbitMq {
        uri: format!("amqp://guest:guest@127.0.0.1:5672/{}", vhost.0),
        exchange: "ecommerce".into(),
    };
    pays_through_the_payment_service(&broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saga_pays_through_the_payment_service_over_kafka() {
    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let prefix = format!("ec_test_{}.", uuid::Uuid::new_v4().simple());
    let broker = Broker::Kafka {
        brokers: brokers.clone(),
        prefix: prefix.clone(),
    };
    pays_through_the_payment_service(&broker).await;
    let mut topics: Vec<String> = ["payment", "paymentrequest"]
        .iter()
        .map(|c| format!("{prefix}{c}"))
        .collect();
    for consumer in [services::payment::REQUESTS, ecommerce::app::PAYMENT_REPLIES] {
        topics.push(format!("{}.dlq", broker.queue_of(consumer)));
    }
    let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
    eventcore_kafka::delete_topics(&brokers, &topics)
        .await
        .expect("deletes the test's topics");
}

/// Happy path, declined payment and refund with the payment service on `broker`.
async fn pays_through_the_payment_service(broker: &Broker) {
    let schema = format!(
        "ec_test_ecommerce_payment_{}",
        uuid::Uuid::new_v4().simple()
    );
    let store = services::open_store(&database_url(), &schema, 4)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must be running at {}: {e}", database_url()));
    // Approves everything up to 1,000.00; declines above.
    let provider = SimulatedProvider {
        success_rate: 1.0,
        decline_above: Money::usd(100_000),
        ..SimulatedProvider::seeded(1)
    };
    let service = PaymentService::start(store.clone(), broker, Arc::new(provider))
        .await
        .expect("the payment service starts");
    let shop = Shop::open(ShopConfig {
        payment_service: Some(broker.clone()),
        ..shop_support::config(&temp_db())
    })
    .await
    .expect("the shop opens against the broker");
    let ready = Instant::now() + WAIT;
    while !(service.requests().is_ready() && shop.payment_replies().is_some_and(|c| c.is_ready())) {
        assert!(Instant::now() < ready, "the consumers did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let payments = Repository::<Payment>::new(store.clone());

    // Happy path: the saga's payment step reaches the service; its reply confirms the order.
    let correlation = uuid::Uuid::new_v4();
    let paid = shop
        .place_order(request("c-1", &[("prod-002", 2)]), Some(correlation))
        .await
        .expect("placed")
        .order_id;
    // Declined by the service's provider: the order is cancelled, its stock released.
    let declined = shop
        .place_order(request("c-2", &[("prod-001", 2)]), None)
        .await
        .expect("placed")
        .order_id;
    settle(&shop).await;
    payment_reaches(&payments, &paid, PaymentStatus::Completed).await;
    payment_reaches(&payments, &declined, PaymentStatus::Failed).await;
    settle(&shop).await;
    assert_eq!(
        shop.order(&paid).await.expect("exists").status,
        Status::Confirmed
    );
    let cancelled = shop.order(&declined).await.expect("exists");
    assert_eq!(cancelled.status, Status::Cancelled);
    let payment = shop.payment(&paid).await.expect("mirrored into the shop");
    assert_eq!(payment.status, PaymentStatus::Completed);
    assert_eq!(payment.customer_id.as_deref(), Some("c-1"));

    // The service's payment events carry the placing request's correlation id; they were
    // written in the service's schema and only mirrored (same ids) into the shop's store.
    let stream = StreamId::new(format!("payment-{paid}")).expect("valid");
    let theirs = store.read_stream(&stream, 1, 10).await.expect("reads");
    let ours = shop
        .store()
        .read_stream(&stream, 1, 10)
        .await
        .expect("reads");
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].metadata.correlation_id, Some(correlation));
    let ids =
        |events: &[eventcore::RecordedEvent]| events.iter().map(|e| e.event_id).collect::<Vec<_>>();
    assert_eq!(ids(&ours), ids(&theirs));
    let order_stream = StreamId::new(format!("order-{paid}")).expect("valid");
    assert!(
        store
            .read_stream(&order_stream, 1, 10)
            .await
            .expect("reads")
            .is_empty()
    );

    // A customer cancels the confirmed order: the undo policy's refund goes to the service.
    shop.cancel_order(&paid, Some("c-1"), "changed my mind", None)
        .await
        .expect("cancels");
    payment_reaches(&payments, &paid, PaymentStatus::Refunded).await;
    let until = Instant::now() + WAIT;
    while shop.payment(&paid).await.expect("mirrored").status != PaymentStatus::Refunded {
        assert!(
            Instant::now() < until,
            "the refund did not come back to the shop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    settle(&shop).await;
    assert!(shop.dead_letters().await.expect("lists").is_empty());
    assert!(
        shop.payment_replies()
            .expect("consuming")
            .figures()
            .handled()
            >= 3
    );
    assert!(service.requests().figures().handled() >= 3);
    assert_eq!(service.requests().figures().dead_lettered(), 0);

    shop.shutdown().await.expect("stops");
    service.shutdown().await.expect("stops");
    eventcore_postgres::sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(store.pool())
        .await
        .expect("drops the test's schema");
}
