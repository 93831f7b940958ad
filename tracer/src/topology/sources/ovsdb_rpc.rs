//! One OVSDB JSON-RPC `transact` (RFC 7047 §4.1.3) against a server named the way OVS and OVN
//! tools name them: `unix:PATH` (or a bare path) or `tcp:HOST:PORT`. The whole exchange has one
//! deadline and the reply a size limit: a wedged or hostile server costs discovery seconds and
//! bounded memory, never a hang.

use std::{
    io::{BufReader, Read, Write as _},
    net::{TcpStream, ToSocketAddrs as _},
    os::unix::net::UnixStream,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};

use super::{bounded, untrusted::shown};

/// The most bytes pathtrace reads of one reply: far more than the rows a path needs from a
/// large cloud's databases, far less than would hurt the host.
pub const MAX_REPLY_BYTES: u64 = 64 << 20;

/// How much of a reply is read per system call.
const READ_BUFFER_BYTES: usize = 64 << 10;

/// Where an OVSDB server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remote {
    Unix(PathBuf),
    /// `HOST:PORT`.
    Tcp(String),
}

impl Remote {
    /// `unix:PATH`, `PATH` or `tcp:HOST:PORT`; `ssl:` is refused with a clear message.
    pub fn parse(spec: &str) -> Result<Self> {
        if let Some(addr) = spec.strip_prefix("tcp:") {
            if addr
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
            {
                bail!("OVSDB remote '{}': expected tcp:HOST:PORT", shown(spec));
            }
            return Ok(Self::Tcp(addr.to_string()));
        }
        if spec.starts_with("ssl:") {
            bail!(
                "OVSDB remote '{}': ssl is not supported yet (use a unix socket or tcp:)",
                shown(spec)
            );
        }
        if spec.starts_with("ptcp:") || spec.starts_with("pssl:") || spec.starts_with("punix:") {
            bail!(
                "OVSDB remote '{}' is where a server listens, not one to connect to",
                shown(spec)
            );
        }
        let path = spec.strip_prefix("unix:").unwrap_or(spec);
        if path.is_empty() {
            bail!("empty OVSDB remote");
        }
        Ok(Self::Unix(PathBuf::from(path)))
    }

    /// Whether a unix socket's file exists (a tcp remote may always be tried).
    pub fn exists(&self) -> bool {
        match self {
            Self::Unix(p) => p.exists(),
            Self::Tcp(_) => true,
        }
    }
}

impl std::fmt::Display for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
            Self::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Conn {
    fn open(remote: &Remote, deadline: Instant, who: &str) -> Result<Self> {
        match remote {
            Remote::Unix(p) => UnixStream::connect(p)
                .map(Self::Unix)
                .with_context(|| format!("cannot connect to {who} at {remote}")),
            Remote::Tcp(addr) => {
                let sock = addr
                    .to_socket_addrs()
                    .with_context(|| format!("cannot resolve {who} address {remote}"))?
                    .next()
                    .ok_or_else(|| anyhow!("{remote} resolves to no address"))?;
                let left = bounded::remaining(deadline, who)?;
                TcpStream::connect_timeout(&sock, left)
                    .map(Self::Tcp)
                    .with_context(|| format!("cannot connect to {who} at {remote}"))
            }
        }
    }

    fn try_clone(&self) -> std::io::Result<Self> {
        Ok(match self {
            Self::Unix(s) => Self::Unix(s.try_clone()?),
            Self::Tcp(s) => Self::Tcp(s.try_clone()?),
        })
    }

    fn set_timeouts(&self, t: Duration) -> std::io::Result<()> {
        match self {
            Self::Unix(s) => {
                s.set_read_timeout(Some(t))?;
                s.set_write_timeout(Some(t))
            }
            Self::Tcp(s) => {
                s.set_read_timeout(Some(t))?;
                s.set_write_timeout(Some(t))
            }
        }
    }

    fn send(&mut self, msg: &Value) -> std::io::Result<()> {
        let bytes = msg.to_string();
        match self {
            Self::Unix(s) => s.write_all(bytes.as_bytes()),
            Self::Tcp(s) => s.write_all(bytes.as_bytes()),
        }
    }
}

/// The connection, read with what is left of one deadline for the whole session (a server that
/// only echoes its probes, or answers a byte at a time, cannot stretch it).
struct Deadline {
    conn: Conn,
    deadline: Instant,
    who: &'static str,
}

impl Read for Deadline {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = bounded::remaining(self.deadline, self.who)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::TimedOut, format!("{e:#}")))?;
        self.conn.set_timeouts(left)?;
        match &mut self.conn {
            Conn::Unix(s) => s.read(buf),
            Conn::Tcp(s) => s.read(buf),
        }
    }
}

/// Sends `transact` with `ops` on `db`; returns the results of the operations, one per op, after
/// checking that none failed. `who` names the server in errors (`ovsdb-server`, `OVN SB`).
pub fn transact(
    remote: &Remote,
    db: &str,
    ops: Vec<Value>,
    who: &'static str,
) -> Result<Vec<Value>> {
    let deadline = Instant::now() + bounded::OVS_DEADLINE;
    let mut conn = Conn::open(remote, deadline, who)?;
    conn.set_timeouts(bounded::remaining(deadline, who)?)?;
    let count = ops.len();
    let mut params = vec![json!(db)];
    params.extend(ops);
    conn.send(&json!({"method": "transact", "params": params, "id": 1}))?;
    // Buffered: serde_json reads a byte at a time, and each read here is two system calls.
    let reader = BufReader::with_capacity(
        READ_BUFFER_BYTES,
        Deadline {
            conn: conn.try_clone()?,
            deadline,
            who,
        }
        .take(MAX_REPLY_BYTES),
    );
    for msg in serde_json::Deserializer::from_reader(reader).into_iter::<Value>() {
        bounded::remaining(deadline, who)?;
        let msg = msg.with_context(|| {
            format!("malformed or oversized reply from {who} (at most {MAX_REPLY_BYTES} bytes are read)")
        })?;
        if msg["method"] == "echo" {
            // The server probes idle clients; answering keeps the session open.
            conn.send(&json!({"result": msg["params"], "error": null, "id": msg["id"]}))?;
            continue;
        }
        if msg["id"] == 1 {
            if !msg["error"].is_null() {
                bail!(
                    "{who} refused the query: {}",
                    shown(&msg["error"].to_string())
                );
            }
            return check_ops(&msg["result"], count, who);
        }
    }
    bail!("{who} closed the connection without answering")
}

/// The per-operation results of a transact reply: `count` of them, none an error.
pub fn check_ops(result: &Value, count: usize, who: &str) -> Result<Vec<Value>> {
    let ops = result
        .as_array()
        .ok_or_else(|| anyhow!("{who}: transact result is not an array"))?;
    if ops.len() != count {
        bail!(
            "{who}: transact result has {} operations, expected {count}",
            ops.len()
        );
    }
    for op in ops {
        if let Some(e) = op.get("error") {
            bail!("{who}: select failed: {}", shown(&e.to_string()));
        }
    }
    Ok(ops.clone())
}

/// A `select` of `columns` (which must include `_uuid` when rows reference each other).
pub fn select(table: &str, columns: &[&str]) -> Value {
    json!({"op": "select", "table": table, "where": [], "columns": columns})
}

/// A `select` of the rows whose `column` is one of `values` (strings): several `where` clauses
/// are and-ed, so each value is its own operation; the results are joined by the caller.
pub fn select_where_eq(table: &str, columns: &[&str], column: &str, value: &Value) -> Value {
    json!({"op": "select", "table": table, "where": [[column, "==", value]], "columns": columns})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes() {
        assert_eq!(
            Remote::parse("unix:/run/ovn/ovnsb_db.sock").unwrap(),
            Remote::Unix("/run/ovn/ovnsb_db.sock".into())
        );
        assert_eq!(
            Remote::parse("/run/openvswitch/db.sock").unwrap(),
            Remote::Unix("/run/openvswitch/db.sock".into())
        );
        assert_eq!(
            Remote::parse("tcp:192.0.2.1:6642").unwrap(),
            Remote::Tcp("192.0.2.1:6642".into())
        );
        assert!(Remote::parse("tcp:192.0.2.1").is_err());
        assert!(Remote::parse("tcp::6642").is_err());
        let ssl = Remote::parse("ssl:192.0.2.1:6642").unwrap_err().to_string();
        assert!(ssl.contains("not supported yet"), "{ssl}");
        assert!(Remote::parse("ptcp:6642").is_err());
        assert!(Remote::parse("").is_err());
    }

    #[test]
    fn op_errors_and_counts() {
        assert!(check_ops(&json!([{"rows": []}]), 1, "x").is_ok());
        assert!(check_ops(&json!([{"rows": []}]), 2, "x").is_err());
        assert!(check_ops(&json!([{"error": "no table"}]), 1, "x").is_err());
        assert!(check_ops(&json!({}), 1, "x").is_err());
    }

    #[test]
    fn a_closed_socket_is_an_error_not_a_hang() {
        let dir = std::env::temp_dir().join(format!("pt-rpc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            // A reply that never ends its JSON, then closes.
            let _ = s.write_all(b"{\"id\":1,\"result\":[");
        });
        let e = transact(&Remote::Unix(path), "X", vec![select("T", &["a"])], "test").unwrap_err();
        assert!(format!("{e:#}").contains("malformed"), "{e:#}");
        server.join().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
