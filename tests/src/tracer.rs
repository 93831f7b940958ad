//! Runs the real `pathtrace` binary and collects what it prints.

use std::{
    io::{BufRead as _, BufReader, Read as _},
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    thread::JoinHandle,
    time::Duration,
};

use anyhow::{bail, Context as _, Result};
use serde_json::Value;

/// The line pathtrace prints on stderr once every probe is attached.
pub const READY_MARKER: &str = "pathtrace: attached to";

/// The binary under test: `$PATHTRACE_BIN`, else the workspace's debug build.
pub fn pathtrace_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("PATHTRACE_BIN") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/pathtrace");
    assert!(
        p.exists(),
        "{} not found: build it (`cargo build -p tracer`) or set PATHTRACE_BIN",
        p.display()
    );
    p
}

/// What becomes of pathtrace's standard output.
enum Stdout {
    /// Kept whole.
    Keep,
    /// Closed at once.
    Close,
    /// Each line handed to the closure; only the last kept.
    Each(Box<dyn FnMut(&str) + Send>),
}

pub struct Tracer {
    child: Child,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

#[derive(Debug)]
pub struct TracerOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Tracer {
    /// Starts pathtrace and returns once it reports its probes attached (or fails with what it
    /// printed if it exits first).
    pub fn start(args: &[&str]) -> Result<Self> {
        Self::spawn(args, Stdout::Keep)
    }

    /// As [`Self::start`], handing each line of standard output to `on_line` as it comes and
    /// keeping only the last one (the summary of `--output json`): for runs that print more
    /// than a test should hold in memory.
    pub fn start_streaming(
        args: &[&str],
        on_line: impl FnMut(&str) + Send + 'static,
    ) -> Result<Self> {
        Self::spawn(args, Stdout::Each(Box::new(on_line)))
    }

    /// As [`Self::start`], with nobody reading standard output: its pipe is closed at once,
    /// as `| head` does once it has its lines.
    pub fn start_unread(args: &[&str]) -> Result<Self> {
        Self::spawn(args, Stdout::Close)
    }

    fn spawn(args: &[&str], stdout_mode: Stdout) -> Result<Self> {
        let mut child = Command::new(pathtrace_bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start pathtrace")?;
        let mut out = child.stdout.take().expect("piped");
        let stdout = std::thread::spawn(move || {
            let mut s = String::new();
            match stdout_mode {
                Stdout::Keep => {
                    let _ = out.read_to_string(&mut s);
                }
                Stdout::Close => {}
                Stdout::Each(mut on_line) => {
                    for line in BufReader::new(out).lines().map_while(Result::ok) {
                        on_line(&line);
                        s = line;
                    }
                }
            }
            s
        });
        let (ready_tx, ready_rx) = mpsc::channel();
        let err = child.stderr.take().expect("piped");
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if line.contains(READY_MARKER) {
                    let _ = ready_tx.send(());
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        let tracer = Self {
            child,
            stdout,
            stderr,
        };
        // Generous: under TCG in a VM, loading and attaching takes seconds.
        match ready_rx.recv_timeout(Duration::from_secs(90)) {
            Ok(()) => Ok(tracer),
            Err(_) => {
                let out = tracer.stop(libc::SIGKILL)?;
                bail!("pathtrace did not get ready: {out:?}");
            }
        }
    }

    /// Sends `signal` and collects the output.
    pub fn stop(self, signal: i32) -> Result<TracerOutput> {
        self.signal(signal);
        self.wait()
    }

    /// Sends `signal`, and leaves pathtrace running.
    pub fn signal(&self, signal: i32) {
        // SAFETY: plain kill(2) on our child.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// Waits up to `limit` for pathtrace to end by itself; kills it (and fails) past that.
    pub fn wait_for(mut self, limit: Duration) -> Result<TracerOutput> {
        let start = std::time::Instant::now();
        while self.child.try_wait()?.is_none() {
            if start.elapsed() > limit {
                let out = self.stop(libc::SIGKILL)?;
                bail!("pathtrace did not end within {limit:?}: {out:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.wait()
    }

    pub fn wait(mut self) -> Result<TracerOutput> {
        let status = self.child.wait()?;
        let (stdout, stderr) = (
            std::mem::replace(&mut self.stdout, std::thread::spawn(String::new)),
            std::mem::replace(&mut self.stderr, std::thread::spawn(String::new)),
        );
        Ok(TracerOutput {
            status,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        })
    }
}

impl Drop for Tracer {
    /// A test that fails while tracing must not leave pathtrace running (and attached).
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs pathtrace to completion (for invocations expected to end by themselves).
pub fn run(args: &[&str]) -> Result<TracerOutput> {
    let out = Command::new(pathtrace_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("cannot run pathtrace")?;
    Ok(TracerOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

impl TracerOutput {
    /// Records of `--output json`, in order.
    pub fn records(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
            .collect()
    }

    pub fn hops(&self) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| r["type"] == "hop")
            .collect()
    }

    pub fn summary(&self) -> Value {
        self.records()
            .into_iter()
            .find(|r| r["type"] == "summary")
            .unwrap_or_else(|| panic!("no summary record in {self:?}"))
    }
}

/// Runs pathtrace, requires success, and parses its stdout as one JSON document (`topology
/// --format json`, `path --output json`).
pub fn run_json(args: &[&str]) -> Result<Value> {
    let out = run(args)?;
    if !out.status.success() {
        bail!("pathtrace {args:?} failed: {out:?}");
    }
    serde_json::from_str(&out.stdout).with_context(|| format!("not JSON: {}", out.stdout))
}

/// The element of the JSON array `list` whose `field` equals `value`.
pub fn named<'a>(list: &'a Value, field: &str, value: &str) -> &'a Value {
    list.as_array()
        .and_then(|a| a.iter().find(|e| e[field] == value))
        .unwrap_or_else(|| panic!("no element with {field} = {value:?} in {list:#}"))
}

/// What `pathtrace topology` says of one source (`found`, `absent`, `failed`).
pub fn source_status(topo: &Value, source: &str) -> String {
    named(&topo["sources"], "source", source)["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Each hop of a `path --output json` document as (kind, name, netns, direction), with `""`
/// for absent fields: what the path tests compare against the expected walk.
pub fn hop_rows(path: &Value) -> Vec<(String, String, String, String)> {
    path["hops"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|h| {
            let s = |k: &str| h[k].as_str().unwrap_or("").to_string();
            (s("kind"), s("name"), s("netns"), s("direction"))
        })
        .collect()
}
