//! The payment and notification services as the distributed mode runs them, over RabbitMQ (a
//! vhost of the test's own) and over Kafka (topics under a prefix of its own): each on its own
//! PostgreSQL schema; payment requests arrive from a shop whose saga sends them as messages,
//! the payments' events go back as the saga's replies; the notification service follows the
//! order and payment events and sends one message per notable event. Happy path, a declined
//! payment, and a refund after a customer cancels a confirmed order; every payment and every
//! notification lives in its service's schema, and the shop holds the mirrored payments its
//! saga followed and no notification.

mod shop_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ecommerce::app::Warehouse;
use ecommerce::app::{RemoteContexts, Shop, ShopConfig};
use ecommerce::inventory::{ReservationExpiry, ReservationStatus};
use ecommerce::messaging::Broker;
use ecommerce::money::Money;
use ecommerce::order::Status;
use ecommerce::payment::{Payment, PaymentStatus, SimulatedProvider};
use ecommerce::readmodels::pg;
use ecommerce::services::analytics::AnalyticsService;
use ecommerce::services::inventory::InventoryService;
use ecommerce::services::notification::NotificationService;
use ecommerce::services::{self, payment::PaymentService};
use eventcore::{
    AppendRequest, EventAppender, EventReader, ExpectedVersion, NewEvent, Repository, StreamId,
};
use shop_support::services::{Vhost, database_url, drop_schemas};
use shop_support::{WAIT, request, settle, temp_db};

/// Every notification sent in `store` (the events of its `notification` streams).
async fn notifications_in(store: &impl EventReader) -> Vec<eventcore::RecordedEvent> {
    let all = store.read_all(1, 1_000_000).await.expect("reads");
    all.into_iter()
        .filter(|e| e.stream_id.category() == "notification")
        .collect()
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
    let broker = vhost.broker();
    pays_through_the_payment_service(&broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saga_pays_through_the_payment_service_over_kafka() {
    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let prefix = format!("ec_test_{}.", uuid::Uuid::new_v4().simple());
    let broker = Broker::Kafka {
        brokers: brokers.clone(),
        prefix: prefix.clone(),
        instance: None,
        debug: None,
    };
    pays_through_the_payment_service(&broker).await;
    let topics = [
        "payment",
        "paymentrequest",
        "order",
        "inventory",
        "stockrequest",
    ];
    let mut topics: Vec<String> = topics.iter().map(|c| format!("{prefix}{c}")).collect();
    let consumers = [
        services::payment::REQUESTS,
        services::notification::EVENTS,
        services::analytics::EVENTS,
        services::inventory::REQUESTS,
        ecommerce::app::PAYMENT_REPLIES,
        ecommerce::app::STOCK_REPLIES,
    ];
    for consumer in consumers {
        topics.push(format!("{}.dlq", broker.queue_of(consumer)));
    }
    let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
    eventcore_kafka::delete_topics(&brokers, &topics)
        .await
        .expect("deletes the test's topics");
}

/// Happy path, declined payment and refund with the payment and notification services on
/// `broker`.
async fn pays_through_the_payment_service(broker: &Broker) {
    let run = uuid::Uuid::new_v4().simple();
    let schema = format!("ec_test_ecommerce_payment_{run}");
    let store = services::open_store(&database_url(), &schema, 4)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must be running at {}: {e}", database_url()));
    let notification_schema = format!("ec_test_ecommerce_notification_{run}");
    let notification_store = services::open_store(&database_url(), &notification_schema, 4)
        .await
        .expect("opens the notification schema");
    let notifications = NotificationService::start(notification_store.clone(), broker)
        .await
        .expect("the notification service starts");
    let analytics_schema = format!("ec_test_ecommerce_analytics_{run}");
    let analytics_store = services::open_store(&database_url(), &analytics_schema, 4)
        .await
        .expect("opens the analytics schema");
    let analytics = AnalyticsService::start(analytics_store.clone(), broker)
        .await
        .expect("the analytics service starts");
    let inventory_schema = format!("ec_test_ecommerce_inventory_{run}");
    let inventory_store = services::open_store(&database_url(), &inventory_schema, 4)
        .await
        .expect("opens the inventory schema");
    let expiry = ReservationExpiry::DEFAULT_AFTER;
    let inventory = InventoryService::start(inventory_store.clone(), broker, expiry)
        .await
        .expect("the inventory service starts");
    // Approves everything up to 1,000.00; declines above.
    let provider = SimulatedProvider {
        success_rate: 1.0,
        decline_above: Money::usd(100_000),
        ..SimulatedProvider::seeded(1)
    };
    let service = PaymentService::start(store.clone(), broker, Arc::new(provider))
        .await
        .expect("the payment service starts");
    let remote = RemoteContexts::new(broker.clone())
        .with_payment()
        .with_notification()
        .with_analytics()
        .with_inventory();
    // The order context as the order service runs it: on PostgreSQL, in a schema of its own.
    let order_schema = format!("ec_test_ecommerce_order_{run}");
    let order_store = services::open_store(&database_url(), &order_schema, 8)
        .await
        .expect("opens the order schema");
    let shop = Shop::start(
        order_store.clone(),
        ShopConfig {
            remote: Some(remote),
            ..shop_support::config(&temp_db())
        },
    )
    .await
    .expect("the order service starts against the broker");
    let ready = Instant::now() + WAIT;
    while !(service.requests().is_ready()
        && notifications.events().is_ready()
        && analytics.events().is_ready()
        && inventory.requests().is_ready()
        && shop.stock_replies().is_some_and(|c| c.is_ready())
        && shop.payment_replies().is_some_and(|c| c.is_ready()))
    {
        assert!(Instant::now() < ready, "the consumers did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let payments = Repository::<Payment>::new(store.clone());
    // The shop prices orders from the inventory service's catalogue, mirrored.
    let until = Instant::now() + WAIT;
    while shop.product("prod-002").await.is_err() || shop.product("prod-001").await.is_err() {
        assert!(
            Instant::now() < until,
            "the catalogue did not reach the shop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

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
    let cancelling = uuid::Uuid::new_v4();
    shop.cancel_order(&paid, Some("c-1"), "changed my mind", Some(cancelling))
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

    // A request the payment service cannot read is dead-lettered at once, and shows among its
    // dead letters (what the gateway's /api/v1/dead-letters gathers).
    let poison = NewEvent::raw(
        "ProcessPayment",
        1,
        serde_json::value::RawValue::from_string(r#"{"order_id": 7}"#.into()).expect("json"),
    );
    let stream = StreamId::new("paymentrequest-poison").expect("valid");
    shop.store()
        .append(AppendRequest::single(
            stream,
            ExpectedVersion::NoStream,
            vec![poison],
        ))
        .await
        .expect("appended to the outbox");
    let until = Instant::now() + WAIT;
    while service.requests().figures().dead_lettered() == 0 {
        assert!(
            Instant::now() < until,
            "the malformed request was not dead-lettered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let letters = service.requests().dead_letters(10).await.expect("lists");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(letters[0].origin.contains("paymentrequest"), "{letters:?}");

    // One message per notable event, each with the placing request's correlation id for the
    // paid order: confirmed, then cancelled; payment failed and cancelled for the declined one.
    let expected = [
        format!("{paid}.confirmed"),
        format!("{paid}.cancelled"),
        format!("{declined}.payment-failed"),
        format!("{declined}.cancelled"),
    ];
    let until = Instant::now() + WAIT;
    let sent = loop {
        let sent = notifications_in(&notification_store).await;
        if sent.len() >= expected.len() || Instant::now() >= until {
            break sent;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut keys: Vec<String> = sent
        .iter()
        .map(|e| e.stream_id.entity_id().unwrap_or_default().to_owned())
        .collect();
    keys.sort();
    let mut want = expected.to_vec();
    want.sort();
    assert_eq!(keys, want, "one notification per notable event");
    // Each message carries the correlation id of the request that started its flow: the
    // confirmation the placing request's, the cancellation the cancelling request's.
    let correlation_of = |key: &str| {
        sent.iter()
            .find(|e| e.stream_id.entity_id() == Some(key))
            .and_then(|e| e.metadata.correlation_id)
    };
    assert_eq!(
        correlation_of(&format!("{paid}.confirmed")),
        Some(correlation)
    );
    assert_eq!(
        correlation_of(&format!("{paid}.cancelled")),
        Some(cancelling)
    );
    assert!(
        notifications_in(shop.store()).await.is_empty(),
        "the shop sends none itself"
    );

    // The analytics service's read model, from the order events it received: the paid order
    // confirmed then cancelled (its revenue taken back), the declined one cancelled; the shop
    // keeps none itself. Its tables are in its own schema (a row per table at least).
    let want = vec![("cancelled".to_owned(), 2)];
    let until = Instant::now() + WAIT;
    let report = loop {
        let report = pg::analytics::report(analytics_store.pool(), 10).await;
        let report = report.expect("reads the analytics service's tables");
        if report.orders_per_status == want || Instant::now() >= until {
            break report;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(report.orders_per_status, want, "{report:?}");
    assert_eq!(report.revenue_per_day.iter().map(|d| d.1).sum::<i64>(), 0);
    let customers: Vec<(&str, i64)> = report
        .customers
        .iter()
        .map(|c| (c.0.as_str(), c.1))
        .collect();
    assert_eq!(customers, [("c-1", 1), ("c-2", 1)]);
    assert!(shop.read_models().iter().all(|m| m.name != "analytics"));
    // The warehouse is the inventory service's: the paid order's units sold, then returned
    // with the refund; the declined order's reservation released. Nothing is held or sold.
    let ledger = inventory.ledger().await.expect("loads the warehouse");
    for (product, stock) in [("prod-001", 100), ("prod-002", 500)] {
        let held = &ledger.products[product];
        assert_eq!(
            (held.on_hand, held.reserved, held.sold),
            (stock, 0, 0),
            "{product}"
        );
    }
    let reservation = |id: &str| ledger.reservations.get(id).map(|r| r.status);
    assert_eq!(reservation(&paid), Some(ReservationStatus::Returned));
    assert_eq!(reservation(&declined), Some(ReservationStatus::Released));
    assert!(
        inventory_store
            .read_stream(&order_stream, 1, 10)
            .await
            .expect("reads")
            .is_empty(),
        "the inventory service keeps no orders"
    );
    let status = analytics.read_model().await.expect("running");
    assert_eq!(status.state, "running");
    let rows = pg::dump(analytics_store.pool(), "analytics")
        .await
        .expect("dumps");
    for table in pg::analytics::TABLES {
        let prefix = format!("{table}: {{");
        assert!(
            rows.iter().any(|r| r.starts_with(&prefix)),
            "{table}: {rows:?}"
        );
    }

    shop.shutdown().await.expect("stops");
    service.shutdown().await.expect("stops");
    notifications.shutdown().await.expect("stops");
    analytics.shutdown().await.expect("stops");
    inventory.shutdown().await.expect("stops");
    drop_schemas(&[
        (&store, &schema),
        (&notification_store, &notification_schema),
        (&analytics_store, &analytics_schema),
        (&inventory_store, &inventory_schema),
        (&order_store, &order_schema),
    ])
    .await;
}

/// The order service is not ready while it knows no product of the inventory service's (each
/// order would be refused as of an unknown product), and is once the catalogue reached it:
/// here the inventory service starts after it, as it may when up.sh starts both at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_service_is_ready_once_the_catalogue_reached_it() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    let vhost = Vhost::new();
    let broker = vhost.broker();
    let run = uuid::Uuid::new_v4().simple();
    let order_schema = format!("ec_test_ecommerce_order_{run}");
    let order_store = services::open_store(&database_url(), &order_schema, 4)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must be running at {}: {e}", database_url()));
    let config = ShopConfig {
        remote: Some(RemoteContexts::new(broker.clone()).with_inventory()),
        ..shop_support::config(&temp_db())
    };
    let shop = Arc::new(
        Shop::start(order_store.clone(), config)
            .await
            .expect("starts"),
    );
    let app = ecommerce::http::router(shop.clone(), ecommerce::http::HttpConfig::default())
        .expect("the router builds");
    let readiness = || async {
        let request = Request::get("/health/ready")
            .body(Body::empty())
            .expect("a request");
        let response = app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body reads");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        let catalogue = body["checks"]
            .as_array()
            .and_then(|checks| checks.iter().find(|c| c["name"] == "catalogue"))
            .cloned()
            .unwrap_or_else(|| panic!("no catalogue check in {body}"));
        (status, catalogue)
    };
    let (status, catalogue) = readiness().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{catalogue}");
    assert_eq!(catalogue["ok"], false, "{catalogue}");

    let inventory_schema = format!("ec_test_ecommerce_inventory_{run}");
    let inventory_store = services::open_store(&database_url(), &inventory_schema, 4)
        .await
        .expect("opens the inventory schema");
    let expiry = ReservationExpiry::DEFAULT_AFTER;
    let inventory = InventoryService::start(inventory_store.clone(), &broker, expiry)
        .await
        .expect("the inventory service starts");
    let until = Instant::now() + WAIT;
    loop {
        let (status, catalogue) = readiness().await;
        if status == StatusCode::OK {
            assert_eq!(catalogue["ok"], true, "{catalogue}");
            break;
        }
        assert!(Instant::now() < until, "never ready: {catalogue}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        shop.product("prod-001").await.is_ok(),
        "priced from the mirror"
    );

    drop(app);
    let shop = Arc::try_unwrap(shop).expect("the router let go of the shop");
    shop.shutdown().await.expect("stops");
    inventory.shutdown().await.expect("stops");
    drop_schemas(&[
        (&inventory_store, &inventory_schema),
        (&order_store, &order_schema),
    ])
    .await;
}
