//! Test support (feature `testing`): a RabbitMQ vhost of a test's own, so that tests which
//! talk to a real broker run side by side, and again on a used machine, without seeing each
//! other's exchanges, queues or messages.

use std::io;
use std::process::Command;

/// A vhost of one test's own on the local RabbitMQ (`127.0.0.1:5672`, user `guest`), deleted
/// with everything in it when dropped. It is managed with `rabbitmqctl`, which must be on the
/// `PATH` and allowed to manage the local broker (root, or the `rabbitmq` user); its name
/// starts with `ec_test_`, so a cleanup can find those a killed test left behind.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use eventcore_rabbitmq::RabbitPublisher;
/// use eventcore_rabbitmq::testing::TestVhost;
///
/// let vhost = TestVhost::new()?;
/// let publisher = RabbitPublisher::connect(&vhost.uri(), "shop").await?;
/// // ... relay, consume and assert; the vhost goes when `vhost` is dropped.
/// # drop(publisher);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TestVhost {
    name: String,
}

impl TestVhost {
    /// A fresh vhost, `ec_test_<random>`, that `guest` may use.
    ///
    /// # Errors
    /// `rabbitmqctl` cannot run, or refuses (its message says why: the broker is down, say).
    pub fn new() -> io::Result<Self> {
        let name = format!("ec_test_{}", uuid::Uuid::new_v4().simple());
        rabbitmqctl(&["add_vhost", &name])?;
        let vhost = Self { name }; // deleted again if the permissions cannot be set
        rabbitmqctl(&[
            "set_permissions",
            "-p",
            &vhost.name,
            "guest",
            ".*",
            ".*",
            ".*",
        ])?;
        Ok(vhost)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The AMQP URI of the vhost on the local broker, as `guest`.
    pub fn uri(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:5672/{}", self.name)
    }

    /// Closes every client connection to this vhost (and to no other), as a broker restart
    /// would: for tests of reconnection. How many it closed.
    ///
    /// # Errors
    /// `rabbitmqctl` cannot run, or refuses.
    pub fn close_connections(&self) -> io::Result<usize> {
        let listing = rabbitmqctl(&["list_connections", "--silent", "pid", "vhost"])?;
        let mut closed = 0;
        for line in listing.lines() {
            let mut fields = line.split_whitespace();
            if let (Some(pid), Some(vhost)) = (fields.next(), fields.next())
                && vhost == self.name
            {
                rabbitmqctl(&["close_connection", pid, "eventcore test: closed on purpose"])?;
                closed += 1;
            }
        }
        Ok(closed)
    }
}

impl Drop for TestVhost {
    fn drop(&mut self) {
        if let Err(error) = rabbitmqctl(&["delete_vhost", &self.name]) {
            tracing::warn!(vhost = %self.name, %error, "a test vhost could not be deleted");
        }
    }
}

/// Runs `rabbitmqctl` with `args`; its standard output.
///
/// # Errors
/// It cannot run (not installed, say), or exits unsuccessfully: the error carries its
/// standard error.
pub fn rabbitmqctl(args: &[&str]) -> io::Result<String> {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("rabbitmqctl cannot run ({error}): is RabbitMQ installed here?"),
            )
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(io::Error::other(format!(
            "rabbitmqctl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
