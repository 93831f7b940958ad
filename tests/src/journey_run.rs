//! One journey run of pathtrace (`--dhcp MAC`, or `trace --mac MAC --icmp ...`): started with
//! `--json --record`, finished with its JSON report, and checked against its own replay: the
//! recording must judge to the same report and exit status.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Result;
use serde_json::Value;

use crate::{
    dhcp::{acquire_lease_within, DhcpClient},
    kernel_state::assert_nothing_left_in,
    tracer::pathtrace_bin,
    Lab, Tracer,
};

pub struct Journey {
    tracer: Tracer,
    record: PathBuf,
    name: String,
    /// Where to check that nothing of pathtrace is left once it ended.
    namespaces: Vec<String>,
    host_links: Vec<String>,
}

impl Journey {
    /// Starts pathtrace with `args` plus `--json --record FILE` (FILE in the lab's workdir);
    /// returns once its probes are attached. `name` names the kept results.
    pub fn start(lab: &mut Lab, name: &str, args: &[&str]) -> Result<Self> {
        let record = lab.workdir()?.join("journey-recording.json");
        let mut argv: Vec<&str> = args.to_vec();
        let record_arg = record.to_str().unwrap_or_default().to_string();
        argv.extend(["--json", "--record", &record_arg]);
        Ok(Self {
            tracer: Tracer::start(&argv)?,
            record,
            name: name.into(),
            namespaces: lab.namespaces().to_vec(),
            host_links: lab.host_links().to_vec(),
        })
    }

    /// `pathtrace --dhcp MAC --timeout SECS` on a libvirt network of this lab: libvirt's
    /// dnsmasq conf directory is the lab's workdir, where the testbed writes the network's.
    pub fn start_on_libvirt_network(
        lab: &mut Lab,
        name: &str,
        mac: &str,
        secs: &str,
    ) -> Result<Self> {
        let conf_dir = lab.workdir()?.display().to_string();
        let args = [
            "--dhcp",
            mac,
            "--libvirt-dnsmasq-dir",
            &conf_dir,
            "--timeout",
            secs,
        ];
        Self::start(lab, name, &args)
    }

    /// Runs dhclient on `netns`:eth0 (giving up after `client_secs`), then [`Self::finish`]; the
    /// lease and the verdict must agree.
    pub fn finish_after_dhclient(
        self,
        lab: &mut Lab,
        netns: &str,
        client_secs: u32,
    ) -> (i32, Value) {
        let lease = acquire_lease_within(lab, netns, "eth0", DhcpClient::Dhclient, client_secs);
        let (code, report) = self.finish();
        assert_eq!(
            lease.is_ok(),
            report["verdict"] == "delivered",
            "lease {lease:?} vs report {report:#}"
        );
        (code, report)
    }

    /// Runs dhclient on `netns`:eth0 for `client_secs` (it must get no lease), waits `after`,
    /// then stops pathtrace as a person does: `signals` in a row (SIGINT: Ctrl-C), 100 ms
    /// apart. Returns what [`Self::finish`] does, and how long pathtrace took to end after the
    /// first signal.
    pub fn stop_after_failed_dhclient(
        self,
        lab: &mut Lab,
        (netns, client_secs): (&str, u32),
        after: Duration,
        signals: &[i32],
    ) -> (i32, Value, Duration) {
        let lease = acquire_lease_within(lab, netns, "eth0", DhcpClient::Dhclient, client_secs);
        assert!(lease.is_err(), "the exchange was meant to fail: {lease:?}");
        std::thread::sleep(after);
        let first = Instant::now();
        for (i, &sig) in signals.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(100));
            }
            self.tracer.signal(sig);
        }
        let (code, report, took) = self.finish_timed(first);
        (code, report, took)
    }

    /// Waits for pathtrace to end: its exit code and JSON report. Panics if the replay of the
    /// recording differs. With `$PATHTRACE_RESULTS`, keeps the report and the recording there.
    pub fn finish(self) -> (i32, Value) {
        let (code, report, _) = self.finish_timed(Instant::now());
        (code, report)
    }

    /// [`Self::finish`], and how long after `since` pathtrace ended.
    fn finish_timed(self, since: Instant) -> (i32, Value, Duration) {
        let out = self.tracer.wait().unwrap();
        let took = since.elapsed();
        let report: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("no JSON report ({e}): {out:?}"));
        let code = out.status.code().unwrap_or(-1);
        assert_nothing_left_in(&self.namespaces, &self.host_links);
        // It names every tenant's addresses: only its owner may read it.
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&self.record).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "mode of {}", self.record.display());
        let (replay_code, replayed) = replay(&self.record);
        // Start-up timings are the live run's own; a replay has none.
        let mut live = report.clone();
        let timings = live
            .as_object_mut()
            .and_then(|o| o.remove("timings"))
            .unwrap_or_else(|| panic!("no timings in the live report: {report:#}"));
        assert!(
            timings["to_attached_ms"]
                .as_f64()
                .is_some_and(|ms| ms > 0.0),
            "{timings:#}"
        );
        assert_eq!(replayed, live, "replay of {}", self.record.display());
        assert_eq!(replay_code, code, "replay exit status");
        if let Some(dir) = std::env::var_os("PATHTRACE_RESULTS") {
            let dir = Path::new(&dir);
            let _ = std::fs::write(dir.join(format!("journey-{}.json", self.name)), &out.stdout);
            let _ = std::fs::copy(
                &self.record,
                dir.join(format!("recording-{}.json", self.name)),
            );
        }
        (code, report, took)
    }
}

/// `pathtrace replay --json FILE`: exit code and report.
pub fn replay(record: &Path) -> (i32, Value) {
    let out = std::process::Command::new(pathtrace_bin())
        .args(["replay", "--json"])
        .arg(record)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("replay printed no JSON ({e}): {out:?}"));
    (out.status.code().unwrap_or(-1), report)
}

/// The first packet of a report whose summary names `message` (a DHCP message type).
pub fn packet<'a>(report: &'a Value, message: &str) -> &'a Value {
    report["packets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["summary"].as_str().is_some_and(|s| s.contains(message)))
        .unwrap_or_else(|| panic!("no {message} packet in {report:#}"))
}

/// The report's `reason`, empty if none.
pub fn reason(report: &Value) -> String {
    report["reason"].as_str().unwrap_or_default().to_string()
}

/// The packets of a report that went `way` (`outbound` from the MAC, `inbound` to it).
pub fn packets_going<'a>(report: &'a Value, way: &str) -> Vec<&'a Value> {
    report["packets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["way"] == way)
        .collect()
}
