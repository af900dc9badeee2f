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
