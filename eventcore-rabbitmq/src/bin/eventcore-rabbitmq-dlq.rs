//! Lists and replays a consumer's dead letters.
//!
//! ```text
//! eventcore-rabbitmq-dlq <amqp-uri> <queue> list [limit]
//! eventcore-rabbitmq-dlq <amqp-uri> <queue> replay [limit]
//! ```
//!
//! `<queue>` is the consumer's queue; its dead letters are in `<queue>.dlq`. `list` leaves
//! them there; `replay` publishes them back to their original exchange and routing key.

use eventcore_rabbitmq::DeadLetters;

const USAGE: &str = "usage: eventcore-rabbitmq-dlq <amqp-uri> <queue> (list|replay) [limit]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(uri), Some(queue), Some(action)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("{USAGE}");
        return std::process::ExitCode::from(2);
    };
    let limit = match args.get(3).map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(limit)) => limit,
        Some(Err(_)) => {
            eprintln!("limit must be a number\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    let letters = DeadLetters::new(uri, queue);
    let result = match action.as_str() {
        "list" => letters.list(limit).await.map(|list| {
            for letter in &list {
                println!(
                    "{}\t{}\t{} attempts\t{}\t{}",
                    letter.message_id.as_deref().unwrap_or("-"),
                    letter.original_routing_key,
                    letter.attempts,
                    letter.error,
                    String::from_utf8_lossy(&letter.body)
                );
            }
            eprintln!("{} dead letter(s) in {queue}.dlq", list.len());
        }),
        "replay" => letters.replay(limit).await.map(|n| {
            eprintln!("replayed {n} dead letter(s) from {queue}.dlq");
        }),
        _ => {
            eprintln!("{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
