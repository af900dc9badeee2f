//! Tests of the notification policy and the message slot.

use eventcore::saga::{PolicySaga, SagaStatus};
use eventcore::testing::{AggregateFixture, SagaFixture};

use super::*;

fn confirmed() -> NotifiableEvent {
    NotifiableEvent::OrderConfirmed {
        order_id: "o1".into(),
        customer_id: "c1".into(),
    }
}

#[test]
fn each_notifiable_event_sends_one_message_keyed_by_order_and_kind() {
    let events = [
        (confirmed(), "o1.confirmed", Channel::Email),
        (
            NotifiableEvent::OrderCancelled {
                order_id: "o1".into(),
                customer_id: "c1".into(),
                reason: "r".into(),
            },
            "o1.cancelled",
            Channel::Email,
        ),
        (
            NotifiableEvent::PaymentFailed {
                order_id: "o1".into(),
                customer_id: "c1".into(),
                reason: "declined".into(),
            },
            "o1.payment-failed",
            Channel::Sms,
        ),
        (
            NotifiableEvent::OrderShipped {
                order_id: "o1".into(),
                customer_id: "c1".into(),
                tracking_number: "T1".into(),
            },
            "o1.shipped",
            Channel::Email,
        ),
    ];
    // The broker is asked for exactly these types (by their stored names).
    let mut names: Vec<String> = events
        .iter()
        .map(|(event, _, _)| event.encode().unwrap().event_type)
        .collect();
    let mut asked: Vec<&str> = NotifiableEvent::TYPES.iter().map(|(_, t)| *t).collect();
    names.sort_unstable();
    asked.sort_unstable();
    assert_eq!(names, asked);
    for (event, key, channel) in events {
        let mut saga = SagaFixture::new(PolicySaga::new(NotificationPolicy));
        saga.when(&event);
        let commands = saga.commands();
        assert_eq!(commands.len(), 1);
        assert_eq!(
            (commands[0].key.as_str(), commands[0].channel),
            (key, channel)
        );
        assert_eq!(commands[0].recipient, "c1");
        saga.step_succeeds("send");
        assert_eq!(saga.status(), SagaStatus::Completed);
    }
}

#[test]
fn a_message_is_recorded_once_even_when_sent_again() {
    let message = message_for(&confirmed());
    let send = || SendNotification {
        message: message.clone(),
        id: eventcore::CommandId::new_random(),
    };
    AggregateFixture::<Notification>::new()
        .when(send())
        .then_expect_events([NotificationEvent::NotificationSent(message.clone())]);
    AggregateFixture::<Notification>::given([NotificationEvent::NotificationSent(message.clone())])
        .when(send())
        .then_expect_no_events();
}

/// A consumed order or payment event of `event_type` with `payload`.
fn consumed(event_type: &str, payload: serde_json::Value) -> eventcore::broker::Message {
    let stream = eventcore::StreamId::new("order-o1").unwrap();
    eventcore::broker::Message {
        message_id: eventcore::EventId::new_random(),
        routing_key: eventcore::broker::routing_key("order", event_type),
        stream,
        stream_version: 1,
        global_position: 1,
        event_type: event_type.to_owned(),
        schema_version: 1,
        correlation_id: Some(uuid::Uuid::new_v4()),
        causation_id: None,
        recorded_at: std::time::SystemTime::now(),
        payload: serde_json::value::to_raw_value(&payload).unwrap(),
    }
}

#[tokio::test]
async fn the_desk_sends_one_message_per_notable_event_however_often_it_comes() {
    use eventcore::EventReader;
    use eventcore::broker::{Handled, Inbox};

    let store = eventcore::InMemoryEventStore::new();
    let desk = NotificationDesk::new(Notifier::new(Repository::new(store.clone())));
    let inbox = Inbox::new(store.clone(), "notification.events");
    let placed = consumed("OrderPlaced", serde_json::json!({ "order_id": "o1" }));
    let confirmed = consumed(
        "OrderConfirmed",
        serde_json::json!({ "order_id": "o1", "customer_id": "c1" }),
    );
    let outcomes = inbox
        .apply(&desk, &[placed, confirmed.clone()])
        .await
        .unwrap();
    assert!(matches!(outcomes[..], [Handled::Applied, Handled::Applied]));
    let again = inbox
        .apply(&desk, std::slice::from_ref(&confirmed))
        .await
        .unwrap();
    assert!(matches!(again[..], [Handled::Duplicate]), "redelivered");
    // The same event under another message id (sent twice upstream): the key holds.
    let resent = eventcore::broker::Message {
        message_id: eventcore::EventId::new_random(),
        ..confirmed.clone()
    };
    inbox.apply(&desk, &[resent]).await.unwrap();
    let sent: Vec<_> = store.read_all(1, 100).await.unwrap();
    let sent: Vec<_> = sent
        .iter()
        .filter(|e| e.stream_id.category() == "notification")
        .collect();
    assert_eq!(sent.len(), 1, "one message for the confirmation: {sent:?}");
    assert_eq!(sent[0].stream_id.as_str(), "notification-o1.confirmed");
    assert_eq!(sent[0].metadata.correlation_id, confirmed.correlation_id);
    // A notable event that does not decode is given up on (dead-lettered by the consumer).
    let malformed = consumed("OrderConfirmed", serde_json::json!({ "order": 1 }));
    let outcome = inbox.apply(&desk, &[malformed]).await.unwrap();
    assert!(
        matches!(&outcome[..], [Handled::Failed(error)] if !error.is_transient()),
        "{outcome:?}"
    );
}
