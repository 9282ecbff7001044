//! One connection type for a single Redis node and for Redis Cluster, so that the store's code is the
//! same for both.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::Error;

/// A multiplexed connection: one TCP connection per node, shared by every request, that reconnects
/// by itself after the server comes back.
#[derive(Clone)]
pub(crate) enum Connection {
    /// `redis://HOST:PORT[/DB]`: a `ConnectionManager`.
    Single(ConnectionManager),
    /// `redis+cluster://H1:P1,H2:P2,...`: commands routed to the node of their keys' slot.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Connection::Single(_) => f.write_str("Connection::Single"),
            Connection::Cluster(_) => f.write_str("Connection::Cluster"),
        }
    }
}

impl Connection {
    /// Connects lazily to the server or cluster a URL names: no I/O happens before the first command,
    /// so a store opens while Redis is down and serves once it is up.
    pub(crate) fn open(url: &str, timeout: Duration) -> Result<Connection, Error> {
        let config_error = |message: String| Error::Config { message };
        if let Some(nodes) = url.strip_prefix("redis+cluster://") {
            let nodes: Vec<String> = nodes
                .split(',')
                .map(str::trim)
                .filter(|node| !node.is_empty())
                .map(|node| format!("redis://{node}"))
                .collect();
            if nodes.is_empty() || nodes.iter().any(|node| node["redis://".len()..].contains('/')) {
                return Err(config_error(format!(
                    "Redis Cluster URL {url:?} must list its nodes as redis+cluster://HOST1:PORT1,HOST2:PORT2"
                )));
            }
            let client = ClusterClient::builder(nodes)
                .tcp_settings(tcp_settings())
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .build()
                .map_err(|error| config_error(format!("bad Redis Cluster URL {url:?}: {error}")))?;
            let config = ClusterConfig::new()
                .set_connection_timeout(timeout)
                .set_response_timeout(timeout);
            Ok(Connection::Cluster(
                client.get_pending_async_connection_with_config(config),
            ))
        } else if url.starts_with("redis://") {
            let connection_info = redis::IntoConnectionInfo::into_connection_info(url)
                .map_err(|error| config_error(format!("bad Redis URL {url:?}: {error}")))?
                .set_tcp_settings(tcp_settings());
            let client = redis::Client::open(connection_info)
                .map_err(|error| config_error(format!("bad Redis URL {url:?}: {error}")))?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_min_delay(Duration::from_millis(20))
                .set_max_delay(Duration::from_millis(500));
            let manager = ConnectionManager::new_lazy_with_config(client, config).map_err(|error| {
                config_error(format!("cannot set up Redis connection to {url:?}: {error}"))
            })?;
            Ok(Connection::Single(manager))
        } else {
            Err(config_error(format!(
                "Redis URL {url:?} must be redis://HOST:PORT[/DB] or redis+cluster://HOST1:PORT1,HOST2:PORT2"
            )))
        }
    }
}

/// Returns the TCP settings of every Redis connection: no Nagle delay, since each command is a small
/// write that a reply waits for (with Nagle, some replies waited for the peer's 40 ms delayed ACK).
fn tcp_settings() -> redis::io::tcp::TcpSettings {
    redis::io::tcp::TcpSettings::default().set_nodelay(true)
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(connection) => connection.req_packed_command(cmd),
            Connection::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(connection) => connection.get_db(),
            Connection::Cluster(connection) => connection.get_db(),
        }
    }
}
