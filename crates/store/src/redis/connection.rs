//! One connection type for a single Redis node and for Redis Cluster, so that the store's code is the
//! same for both.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, Value};

use crate::Error;

/// The setting a user fixes when Redis cannot be reached or refuses the credentials.
const STORE_URL_SETTING: &str = "the store URL (--store or HOURGLASS_STORE)";

/// A multiplexed connection: one TCP connection per node, shared by every request, that reconnects
/// by itself after the server comes back.
#[derive(Clone)]
pub(crate) struct Connection {
    link: Link,
    /// The nodes the URL names, without credentials, for error messages.
    target: Arc<str>,
    /// For a cluster, whose client reports only that it reached no node: the first node, which one
    /// direct connection asks why.
    probe: Option<Arc<Probe>>,
}

/// One node of a cluster and how long asking it may take.
struct Probe {
    client: redis::Client,
    timeout: Duration,
}

#[derive(Clone)]
enum Link {
    /// `redis://HOST:PORT[/DB]` or `rediss://…`: a `ConnectionManager`.
    Single(ConnectionManager),
    /// `redis+cluster://H1:P1,H2:P2,...` or `rediss+cluster://…`: commands routed to the node of their
    /// keys' slot.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.link {
            Link::Single(_) => write!(f, "Connection::Single({})", self.target),
            Link::Cluster(_) => write!(f, "Connection::Cluster({})", self.target),
        }
    }
}

impl Connection {
    /// Returns whether this is a Redis Cluster, where a script may touch the keys of one slot only.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.link, Link::Cluster(_))
    }

    /// Connects lazily to the server or cluster a URL names: no I/O happens before the first command,
    /// so a store opens while Redis is down and serves once it is up.
    ///
    /// `rediss://` and `rediss+cluster://` connect over TLS. Credentials go in the URL
    /// (`redis://USER:PASSWORD@HOST:PORT`); a cluster URL gives them once, before its first node
    /// (`redis+cluster://:PASSWORD@H1:P1,H2:P2`), for every node.
    pub(crate) fn open(url: &str, timeout: Duration) -> Result<Connection, Error> {
        let config_error = |message: String| Error::Config { message };
        if url.starts_with("rediss") {
            // rustls needs a process-wide crypto provider; naming ring here keeps TLS working whatever
            // providers other crates enable. An error means one is installed already, which is as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let cluster = url
            .strip_prefix("redis+cluster://")
            .map(|nodes| ("redis", nodes))
            .or_else(|| {
                url.strip_prefix("rediss+cluster://")
                    .map(|nodes| ("rediss", nodes))
            });
        if let Some((scheme, nodes)) = cluster {
            let nodes = cluster_node_urls(scheme, nodes).ok_or_else(|| {
                config_error(format!(
                    "Redis Cluster URL {} must list its nodes as {scheme}+cluster://[USER:PASSWORD@]HOST1:PORT1,HOST2:PORT2",
                    redact(url)
                ))
            })?;
            let target = nodes
                .iter()
                .map(|node| node_address(node))
                .collect::<Vec<_>>()
                .join(",");
            let probe = redis::Client::open(nodes[0].as_str())
                .map(|client| {
                    Arc::new(Probe {
                        client,
                        timeout: timeout / 2,
                    })
                })
                .map_err(|error| config_error(format!("bad Redis Cluster URL {}: {error}", redact(url))))?;
            let client = ClusterClient::builder(nodes)
                .tcp_settings(tcp_settings())
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .build()
                .map_err(|error| config_error(format!("bad Redis Cluster URL {}: {error}", redact(url))))?;
            let config = ClusterConfig::new()
                .set_connection_timeout(timeout)
                .set_response_timeout(timeout);
            Ok(Connection {
                link: Link::Cluster(client.get_pending_async_connection_with_config(config)),
                target: target.into(),
                probe: Some(probe),
            })
        } else if url.starts_with("redis://") || url.starts_with("rediss://") {
            let connection_info = redis::IntoConnectionInfo::into_connection_info(url)
                .map_err(|error| config_error(format!("bad Redis URL {}: {error}", redact(url))))?
                .set_tcp_settings(tcp_settings());
            let target = connection_info.addr().to_string();
            let client = redis::Client::open(connection_info)
                .map_err(|error| config_error(format!("bad Redis URL {}: {error}", redact(url))))?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_min_delay(Duration::from_millis(20))
                .set_max_delay(Duration::from_millis(500))
                .set_number_of_retries(connection_retries(timeout));
            let manager = ConnectionManager::new_lazy_with_config(client, config).map_err(|error| {
                config_error(format!(
                    "cannot set up Redis connection to {}: {error}",
                    redact(url)
                ))
            })?;
            Ok(Connection {
                link: Link::Single(manager),
                target: target.into(),
                probe: None,
            })
        } else {
            Err(config_error(format!(
                "Redis URL {} must be redis://HOST:PORT[/DB], rediss://HOST:PORT[/DB] (TLS), \
                 redis+cluster://HOST1:PORT1,HOST2:PORT2 or rediss+cluster://HOST1:PORT1,HOST2:PORT2",
                redact(url)
            )))
        }
    }
}

/// Returns the node URLs of a cluster URL's node list, each with the credentials written before the
/// first node unless it has its own, or `None` when the list is empty or a node names a database.
fn cluster_node_urls(scheme: &str, nodes: &str) -> Option<Vec<String>> {
    let nodes: Vec<&str> = nodes
        .split(',')
        .map(str::trim)
        .filter(|node| !node.is_empty())
        .collect();
    let credentials = nodes
        .first()
        .and_then(|first| first.rsplit_once('@'))
        .map(|(credentials, _)| credentials);
    let urls: Vec<String> = nodes
        .iter()
        .map(|node| match credentials {
            Some(credentials) if !node.contains('@') => format!("{scheme}://{credentials}@{node}"),
            _ => format!("{scheme}://{node}"),
        })
        .collect();
    let names_a_database = nodes.iter().any(|node| node.contains('/'));
    (!urls.is_empty() && !names_a_database).then_some(urls)
}

/// Returns the `HOST:PORT` of a node URL, without its scheme and credentials.
fn node_address(node_url: &str) -> &str {
    let address = node_url.split_once("://").map_or(node_url, |(_, rest)| rest);
    address.rsplit_once('@').map_or(address, |(_, address)| address)
}

/// Returns how many times a lost connection is retried before the waiting command fails: the retries
/// and their backoff (20 ms doubling, up to twice that with jitter) take at most half the store
/// timeout, so that a refused connection or a rejected password reaches the caller as what it is,
/// not as a timeout. Every later command starts a new attempt.
fn connection_retries(timeout: Duration) -> usize {
    let budget_ms = timeout.as_millis() / 2;
    let mut retries = 0;
    // The longest wait of `n` retries: 2 × 20 ms × (2^n − 1).
    while retries < 10 && 40 * ((1_u128 << (retries + 1)) - 1) <= budget_ms {
        retries += 1;
    }
    retries
}

/// Hides the credentials of a Redis URL (`redis://user:secret@host` → `redis://***@host`) for messages.
fn redact(url: &str) -> std::borrow::Cow<'_, str> {
    match url.split_once("://") {
        Some((scheme, rest)) if rest.contains('@') => {
            let nodes: Vec<&str> = rest
                .split(',')
                .map(|node| node.rsplit_once('@').map_or(node, |(_, address)| address))
                .collect();
            std::borrow::Cow::Owned(format!("{scheme}://***@{}", nodes.join(",")))
        }
        _ => std::borrow::Cow::Borrowed(url),
    }
}

/// Rewrites a failure to reach Redis so that it says what happened and which setting to check; other
/// errors pass unchanged.
async fn explain(error: RedisError, target: &str, probe: Option<&Probe>) -> RedisError {
    if let (ErrorKind::ClusterConnectionNotFound, Some(probe)) = (error.kind(), probe) {
        return explain_cluster(error, target, probe).await;
    }
    let text = error.to_string();
    let message = if error.is_connection_refusal() {
        format!(
            "connection to Redis at {target} refused: nothing listens there; check that Redis is running \
             and that {STORE_URL_SETTING} names its host and port"
        )
    } else if error.kind() == ErrorKind::AuthenticationFailed || text.contains("WRONGPASS") {
        format!(
            "authentication to Redis at {target} failed: the server refused the user name or password \
             that {STORE_URL_SETTING} gives"
        )
    } else if text.contains("NOAUTH") {
        return no_password(target);
    } else if text.contains("invalid peer certificate") {
        format!(
            "TLS to Redis at {target} failed ({text}): its certificate must chain to a public root \
             (Mozilla's list) and name the host that {STORE_URL_SETTING} gives"
        )
    } else {
        return error;
    };
    std::io::Error::other(message).into()
}

/// Returns the error for a server that wants a password the URL does not give.
fn no_password(target: &str) -> RedisError {
    std::io::Error::other(format!(
        "Redis at {target} requires a password and {STORE_URL_SETTING} gives none: write it as \
         redis://:PASSWORD@HOST:PORT, or redis://USER:PASSWORD@HOST:PORT for an ACL user"
    ))
    .into()
}

/// Returns whether a reply is Redis refusing a command because the connection has not authenticated;
/// it comes back as a reply, not as a failed connection.
fn is_no_auth(reply: &Value) -> bool {
    matches!(reply, Value::ServerError(server_error) if server_error.code() == "NOAUTH")
}

/// Explains why a cluster client reached no node by asking its first node directly.
async fn explain_cluster(error: RedisError, target: &str, probe: &Probe) -> RedisError {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(probe.timeout))
        .set_response_timeout(Some(probe.timeout));
    let asked = async {
        let mut connection = probe
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        redis::cmd("PING").query_async::<Value>(&mut connection).await
    };
    let why = match tokio::time::timeout(probe.timeout, asked).await {
        Ok(Ok(_pong)) => return error,
        Ok(Err(node_error)) => {
            let node = probe.client.get_connection_info().addr().to_string();
            Box::pin(explain(node_error, &node, None)).await.to_string()
        }
        Err(_elapsed) => format!(
            "its first node did not answer within {} ms",
            probe.timeout.as_millis()
        ),
    };
    std::io::Error::other(format!(
        "no node of the Redis Cluster {target} is reachable: {why}"
    ))
    .into()
}

/// Returns the TCP settings of every Redis connection: no Nagle delay, since each command is a small
/// write that a reply waits for (with Nagle, some replies waited for the peer's 40 ms delayed ACK).
fn tcp_settings() -> redis::io::tcp::TcpSettings {
    redis::io::tcp::TcpSettings::default().set_nodelay(true)
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let reply = match &mut self.link {
            Link::Single(connection) => connection.req_packed_command(cmd),
            Link::Cluster(connection) => connection.req_packed_command(cmd),
        };
        let (target, probe) = (&self.target, self.probe.as_deref());
        Box::pin(async move {
            match reply.await {
                Ok(value) if is_no_auth(&value) => Err(no_password(target)),
                Ok(value) => Ok(value),
                Err(error) => Err(explain(error, target, probe).await),
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let replies = match &mut self.link {
            Link::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Link::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        };
        let (target, probe) = (&self.target, self.probe.as_deref());
        Box::pin(async move {
            match replies.await {
                Ok(values) if values.iter().any(is_no_auth) => Err(no_password(target)),
                Ok(values) => Ok(values),
                Err(error) => Err(explain(error, target, probe).await),
            }
        })
    }

    fn get_db(&self) -> i64 {
        match &self.link {
            Link::Single(connection) => connection.get_db(),
            Link::Cluster(connection) => connection.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_credentials_given_once_apply_to_every_node() {
        assert_eq!(
            cluster_node_urls("rediss", ":secret@h1:7000, h2:7001"),
            Some(vec![
                "rediss://:secret@h1:7000".to_owned(),
                "rediss://:secret@h2:7001".to_owned()
            ])
        );
        assert_eq!(
            cluster_node_urls("redis", "h1:7000,h2:7001"),
            Some(vec!["redis://h1:7000".to_owned(), "redis://h2:7001".to_owned()])
        );
        assert_eq!(cluster_node_urls("redis", " , "), None);
        assert_eq!(cluster_node_urls("redis", "h1:7000/1"), None);
    }

    #[test]
    fn node_addresses_hide_credentials() {
        assert_eq!(node_address("rediss://u:secret@h1:7000"), "h1:7000");
        assert_eq!(node_address("redis://h2:7001"), "h2:7001");
    }

    #[test]
    fn retries_fit_in_half_the_store_timeout() {
        assert_eq!(connection_retries(Duration::from_millis(1)), 0);
        assert_eq!(connection_retries(Duration::from_millis(500)), 2);
        assert_eq!(connection_retries(Duration::from_secs(60)), 9);
    }

    #[test]
    fn messages_never_show_a_password() {
        assert_eq!(redact("redis://:secret@h:6379/2"), "redis://***@h:6379/2");
        assert_eq!(
            redact("rediss+cluster://u:secret@h1:1,u:secret@h2:2"),
            "rediss+cluster://***@h1:1,h2:2"
        );
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
    }
}
