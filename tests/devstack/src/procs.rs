//! Processes this tool starts, and stopping exactly those by their ids.
//!
//! Each one is started in its own process group (group id = its PID), so everything it starts
//! in turn (cargo-lambda → cargo → the function binaries; moto.sh → moto_server + its
//! watchdog) is stopped with it: SIGTERM to the group, a grace period, then SIGKILL. Nothing is
//! ever looked up or stopped by name. Ctrl-C in the terminal reaches only this tool (the
//! children are not in the foreground group), which then stops them in reverse order.

use crate::error::{Context as _, Result};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

unsafe extern "C" {
    fn kill(pid: i32, signal: i32) -> i32;
}

const SIGTERM: i32 = 15;
const SIGKILL: i32 = 9;
/// How long a group gets to exit after SIGTERM (cargo-lambda stops its functions first).
const GRACE: Duration = Duration::from_secs(10);

/// Sends `signal` to process group `pgid`; false when there is no such group.
fn signal_group(pgid: u32, signal: i32) -> bool {
    let Ok(pgid) = i32::try_from(pgid) else {
        return false;
    };
    if pgid <= 1 {
        return false; // never the caller's or init's group by mistake
    }
    // SAFETY: kill(2) with a negative id signals exactly the group we created; no memory is
    // shared with the callee.
    unsafe { kill(-pgid, signal) == 0 }
}

/// `(pid, ppid, pgrp)` of every live (non-zombie) process, from /proc (empty without one).
fn process_table() -> Vec<(u32, u32, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // "pid (comm) S ppid pgrp …": comm may hold spaces and parens; split after the last ')'.
            let (_, rest) = stat.rsplit_once(')')?;
            let mut fields = rest.split_whitespace();
            let state = fields.next()?;
            let ppid = fields.next()?.parse().ok()?;
            let pgrp = fields.next()?.parse().ok()?;
            (state != "Z" && state != "X").then_some((pid, ppid, pgrp))
        })
        .collect()
}

/// Every live descendant of `root` (children, their children, …).
fn descendants(root: u32) -> Vec<u32> {
    let table = process_table();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            table
                .iter()
                .filter(|(_, ppid, _)| *ppid == parent)
                .map(|(pid, _, _)| *pid),
        );
        i += 1;
    }
    found.remove(0);
    found
}

fn alive(pid: u32) -> bool {
    process_table().iter().any(|(p, _, _)| *p == pid)
}

fn signal_process(pid: u32, signal: i32) {
    if let Ok(pid) = i32::try_from(pid) {
        if pid > 1 {
            // SAFETY: kill(2) on a PID we started (or one of its descendants, read from /proc
            // a moment ago); no memory is shared.
            unsafe {
                kill(pid, signal);
            }
        }
    }
}

/// True while any live (non-zombie) process is in group `pgid`. Reads /proc where there is
/// one (zombies waiting for a parent that does not reap must not count as running).
pub fn group_alive(pgid: u32) -> bool {
    if std::fs::metadata("/proc/self/stat").is_err() {
        return signal_group(pgid, 0);
    }
    process_table().iter().any(|(_, _, group)| *group == pgid)
}

struct Started {
    name: String,
    /// The process group (the id of the process we started).
    pgid: u32,
    /// Our direct child while it may still need reaping (`None` for a launcher that exited).
    child: Option<Child>,
}

/// The processes started so far; dropping it stops them (also on an early return or a panic).
#[derive(Default)]
pub struct Processes {
    started: Vec<Started>,
}

impl Processes {
    /// Starts `command` in a new process group with stdout+stderr appended to `log`.
    pub fn spawn(&mut self, name: &str, command: &mut Command, log: &Path) -> Result<u32> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open log {}", log.display()))?;
        let err = file
            .try_clone()
            .with_context(|| format!("cannot open log {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", command.get_program()))?;
        let pid = child.id();
        self.started.push(Started {
            name: name.to_string(),
            pgid: pid,
            child: Some(child),
        });
        Ok(pid)
    }

    /// Runs a launcher in a new process group until it exits and returns its stdout (e.g.
    /// `moto.sh start`, which prints the PID of the server it left running in that group).
    /// The group is stopped with the others.
    pub fn launch(&mut self, name: &str, command: &mut Command) -> Result<String> {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", command.get_program()))?;
        // Recorded before the status is known: a failed launcher may still have left something.
        self.started.push(Started {
            name: name.to_string(),
            pgid: child.id(),
            child: None,
        });
        let output = child
            .wait_with_output()
            .with_context(|| format!("waiting for {name}"))?;
        if !output.status.success() {
            crate::bail!("{name} failed ({})", output.status);
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    }

    /// Stops everything in reverse start order; returns the names stopped.
    pub fn stop_all(&mut self) -> Vec<String> {
        let mut stopped = Vec::new();
        while let Some(mut started) = self.started.pop() {
            // Descendants may sit in groups of their own (cargo-lambda starts each function in
            // a new group): noted now, stopped by PID below if the group's exit left them.
            let offspring = descendants(started.pgid);
            signal_group(started.pgid, SIGTERM);
            let deadline = Instant::now() + GRACE;
            while Instant::now() < deadline {
                reap(&mut started);
                if !group_alive(started.pgid) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if group_alive(started.pgid) {
                signal_group(started.pgid, SIGKILL);
                std::thread::sleep(Duration::from_millis(100));
            }
            reap(&mut started);
            let survivors: Vec<u32> = offspring.into_iter().filter(|pid| alive(*pid)).collect();
            for pid in &survivors {
                signal_process(*pid, SIGTERM);
            }
            std::thread::sleep(Duration::from_millis(if survivors.is_empty() {
                0
            } else {
                500
            }));
            for pid in survivors.into_iter().filter(|pid| alive(*pid)) {
                signal_process(pid, SIGKILL);
            }
            stopped.push(started.name);
        }
        stopped
    }
}

fn reap(started: &mut Started) {
    if let Some(child) = started.child.as_mut() {
        if let Ok(Some(_)) = child.try_wait() {
            started.child = None;
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop_all();
    }
}
