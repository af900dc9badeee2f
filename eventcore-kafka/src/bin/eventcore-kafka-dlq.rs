//! Lists and replays a consumer group's dead letters.
//!
//! ```text
//! eventcore-kafka-dlq <brokers> <dead-letter-topic> list [limit]
//! eventcore-kafka-dlq <brokers> <dead-letter-topic> replay [limit]
//! ```
//!
//! A consumer of group `<group>` dead-letters to `<group>.dlq` unless told otherwise. `list`
//! shows the letters not replayed yet; `replay` produces them back to their original topic
//! with their original key.

use eventcore_kafka::DeadLetters;

const USAGE: &str =
    "usage: eventcore-kafka-dlq <brokers> <dead-letter-topic> (list|replay) [limit]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(brokers), Some(topic), Some(action)) = (args.first(), args.get(1), args.get(2))
    else {
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
    let letters = DeadLetters::new(brokers, topic);
    let result = match action.as_str() {
        "list" => letters.list(limit).await.map(|list| {
            for letter in &list {
                println!(
                    "{}\t{}[{}]@{}\t{} attempts\t{}\t{}",
                    letter.message_id.as_deref().unwrap_or("-"),
                    letter.original_topic,
                    letter.original_partition,
                    letter.original_offset,
                    letter.attempts,
                    letter.error,
                    String::from_utf8_lossy(&letter.body)
                );
            }
            eprintln!("{} dead letter(s) in {topic}", list.len());
        }),
        "replay" => letters.replay(limit).await.map(|n| {
            eprintln!("replayed {n} dead letter(s) from {topic}");
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
