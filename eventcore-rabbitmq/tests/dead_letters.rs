//! Dead letters: a message its handler refuses goes to `<queue>.dlq` with the reason; an
//! operator lists it (API and CLI), fixes the cause, and replays it, which applies it once.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::{options, total, vhost};
use eventcore::broker::{HandlerError, Inbox, Message, MessageHandler, Publisher};
use eventcore::testing::counter::{Counter, CounterCommand, CounterEvent};
use eventcore::{
    EventReader, InMemoryEventStore, InMemoryTransaction, Metadata, Repository, Upcasters,
};
use eventcore_rabbitmq::{DeadLetters, RabbitConsumer, RabbitPublisher};

/// Mirrors added amounts; refuses stream `counter-bad` for good while `broken`.
struct Mirror {
    repo: Repository<Counter>,
    broken: Arc<AtomicBool>,
}

#[async_trait]
impl MessageHandler<InMemoryTransaction> for Mirror {
    async fn handle(
        &self,
        tx: &mut InMemoryTransaction,
        message: &Message,
    ) -> Result<(), HandlerError> {
        if message.stream.as_str() == "counter-bad" && self.broken.load(Ordering::SeqCst) {
            return Err(HandlerError::permanent("bad is broken"));
        }
        let CounterEvent::Added { amount } = message
            .decode(&Upcasters::default())
            .map_err(HandlerError::permanent)?
        else {
            return Ok(());
        };
        let target = format!("mirror-{}", message.stream.as_str());
        self.repo
            .execute_in(tx, CounterCommand::add(target, amount), Metadata::default())
            .await
            .map_err(|e| HandlerError::transient(e.to_string()))?;
        Ok(())
    }
}

fn cli(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eventcore-rabbitmq-dlq"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_and_replayed_once_the_cause_is_fixed() {
    let vhost = vhost();
    let uri = vhost.uri();
    let source = InMemoryEventStore::new();
    let target = InMemoryEventStore::new();
    let broken = Arc::new(AtomicBool::new(true));
    let consumer = RabbitConsumer::new(
        &uri,
        "shop",
        options("mirror"),
        Inbox::new(target.clone(), "mirror"),
        Mirror {
            repo: Repository::new(target.clone()),
            broken: broken.clone(),
        },
    );
    let readiness = consumer.readiness();
    let (stop, consuming) = common::spawn(consumer);
    // Publish once the queues are bound: a retried publish would dead-letter `bad` twice.
    common::wait_ready(&readiness).await;
    let repo = Repository::<Counter>::new(source.clone());
    for (id, amount) in [("bad", 5), ("good", 1), ("bad", 7), ("good", 2)] {
        repo.execute(CounterCommand::add(id, amount)).await.unwrap();
    }
    let messages: Vec<Message> = source
        .read_all(1, 100)
        .await
        .unwrap()
        .iter()
        .map(Message::from_event)
        .collect();
    let publisher = RabbitPublisher::connect(&uri, "shop").await.unwrap();
    publisher.publish(&messages).await.unwrap();
    until("good applied", async || {
        total(&target, "mirror-counter-good").await == 3
    })
    .await;

    let letters = DeadLetters::new(&uri, "mirror");
    let mut listed = Vec::new();
    until("both dead-lettered", async || {
        listed = letters.list(10).await.unwrap();
        listed.len() == 2
    })
    .await;
    assert!(listed.iter().all(|l| l.error == "permanent: bad is broken"));
    assert!(
        listed
            .iter()
            .all(|l| l.original_routing_key == "counter.added")
    );
    assert_eq!(
        listed[0].message_id.as_deref(),
        Some(messages[0].message_id.to_string().as_str())
    );
    // Listing leaves them where they are; so does the CLI.
    let (ok, out, err) = cli(&[&uri, "mirror", "list"]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        out.contains("bad is broken") && err.contains("2 dead letter(s)"),
        "{out}{err}"
    );

    broken.store(false, Ordering::SeqCst);
    let (ok, _, err) = cli(&[&uri, "mirror", "replay"]);
    assert!(ok && err.contains("replayed 2"), "{err}");
    until("replayed and applied", async || {
        total(&target, "mirror-counter-bad").await == 12
    })
    .await;
    assert!(
        letters.list(10).await.unwrap().is_empty(),
        "the dead-letter queue is empty"
    );
    assert_eq!(total(&target, "mirror-counter-good").await, 3);
    let (ok, _, err) = cli(&[&uri, "mirror", "frobnicate"]);
    assert!(!ok && err.contains("usage"), "{err}");
    let _ = stop.send(());
    consuming.await.unwrap().unwrap();
}
