//! What a killed server or CLI leaves in its scratch root, and clearing it
//! at the next start.
//!
//! A scratch root holds the per-call scratch directories
//! (`PLUGIN-UUID/`), the secret files handed to programs (`.secrets/`) and
//! a record of every program running on a plugin's behalf (`.children/`).
//! A graceful stop removes all of it; `kill -9` removes nothing, and a
//! `pg_dump` whose server died keeps running until its pipe breaks — which
//! a dump waiting on a lock may never notice. So every program runs in its
//! own process group, recorded on disk while it runs (pid, group, and the
//! start time from `/proc/PID/stat` so that a reused pid is never taken
//! for it), and the next start kills the recorded groups still alive and
//! removes the rest. (`PR_SET_PDEATHSIG` is no answer: it fires when the
//! spawning *thread* exits, and tokio's blocking threads come and go.)
//!
//! The server's root is `DATA_DIR/tmp`, cleared at start under the data-dir
//! lock. A CLI command runs without that lock, beside a server perhaps, so
//! it gets a root of its own, `DATA_DIR/tmp/.cli-UUID/`, held by an `flock`
//! on `DATA_DIR/tmp/.cli-UUID.lock` for as long as it runs: whoever starts
//! next (server or CLI) clears the roots whose lock is free — their CLI is
//! gone — and leaves live ones alone.

use rustix::process::{Pid, Signal};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Secret files for programs, beneath a scratch root.
pub const SECRETS: &str = ".secrets";
/// Records of running programs, beneath a scratch root.
pub const CHILDREN: &str = ".children";
/// Prefix of CLI roots (a plugin id cannot start with a dot, so no
/// scratch directory looks like one).
const CLI_PREFIX: &str = ".cli-";
const LOCK_SUFFIX: &str = ".lock";

/// Fields of `/proc/PID/stat` this module needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Process group (field 5).
    pub pgrp: u32,
    /// Clock ticks after boot at which the process started (field 22).
    pub start_time: u64,
    /// A zombie (state `Z`) has exited and only waits to be reaped.
    pub zombie: bool,
}

/// Reads `/proc/PID/stat`; `None` when there is no such process.
pub fn proc_stat(pid: u32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces or `)`: the
    // fields proper start after the last `)`, at field 3 (state).
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        zombie: *fields.first()? == "Z",
        pgrp: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// A running program's record (`PID-START`, holding `pid pgid start
/// program`), removed when dropped — that is, when the program's handle
/// is gone, after it was killed or waited for.
#[derive(Debug)]
pub struct ChildRecord {
    path: PathBuf,
}

impl ChildRecord {
    /// Records `pid`, leader of its own process group, in `children`.
    pub fn create(children: &Path, pid: u32, program: &str) -> io::Result<Self> {
        let stat = proc_stat(pid)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("/proc/{pid}/stat")))?;
        dg_core::private::dir(children)?;
        let path = children.join(format!("{pid}-{}", stat.start_time));
        let line = format!("{pid} {} {} {program}\n", stat.pgrp, stat.start_time);
        // No fsync: a power loss takes the programs down with the record.
        dg_core::private::create_new(&path)?.write_all(line.as_bytes())?;
        Ok(Self { path })
    }
}

impl Drop for ChildRecord {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), "removing a child record: {e}");
        }
    }
}

/// Kills the process group `pgid` led by `pid` if that leader is still
/// the process that was started (not a zombie, not a reused pid). Used
/// when a program's handle is dropped before it was waited for.
pub fn kill_group(pid: u32) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process_group(pid, Signal::KILL);
    }
}

/// What clearing a root did.
#[derive(Debug, Default)]
pub struct Cleared {
    /// `program (pid N, group G)` of every program killed.
    pub killed: Vec<String>,
    /// Scratch and secret directories and CLI roots removed.
    pub removed: usize,
    /// What could not be removed or killed, with why.
    pub problems: Vec<String>,
}

impl Cleared {
    /// Logs what was done (one line per killed program).
    pub fn log(&self, root: &Path) {
        for killed in &self.killed {
            tracing::warn!("killed {killed}, left running by a previous process that was killed");
        }
        if self.removed > 0 {
            tracing::info!(
                "removed {} scratch or secret director(y/ies) left in {} by a previous process",
                self.removed,
                root.display()
            );
        }
        for problem in &self.problems {
            tracing::warn!("clearing {}: {problem}", root.display());
        }
    }

    fn absorb(&mut self, other: Cleared) {
        self.killed.extend(other.killed);
        self.removed += other.removed;
        self.problems.extend(other.problems);
    }
}

/// Clears the server's scratch root; call at start with the data-dir lock
/// held (no other server uses the root then). Kills recorded programs
/// still alive, removes secret files and scratch directories, and clears
/// the roots of CLI commands that are gone; a running CLI's root stays.
pub fn clear_server_root(root: &Path) -> Cleared {
    let mut done = clear_dead_cli_roots(root);
    done.absorb(kill_recorded(&root.join(CHILDREN)));
    let remove = |path: &Path, done: &mut Cleared| match std::fs::remove_dir_all(path) {
        Ok(()) => done.removed += 1,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => done.problems.push(format!("{}: {e}", path.display())),
    };
    for entry in entries(&root.join(SECRETS)) {
        remove(&entry, &mut done);
    }
    for entry in entries(root) {
        let is_scratch = entry
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_scratch_name);
        if is_scratch && entry.is_dir() {
            remove(&entry, &mut done);
        }
    }
    done
}

/// Clears CLI roots beneath `tmp` whose CLI is gone (its lock is free).
pub fn clear_dead_cli_roots(tmp: &Path) -> Cleared {
    let mut done = Cleared::default();
    for entry in entries(tmp) {
        let Some(name) = entry.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(id) = name
            .strip_prefix(CLI_PREFIX)
            .and_then(|rest| rest.strip_suffix(LOCK_SUFFIX))
        else {
            continue;
        };
        let Ok(lock) = File::open(&entry) else {
            continue;
        };
        if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            continue; // its CLI is running
        }
        let root = tmp.join(format!("{CLI_PREFIX}{id}"));
        done.absorb(kill_recorded(&root.join(CHILDREN)));
        match std::fs::remove_dir_all(&root) {
            Ok(()) => done.removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => done.problems.push(format!("{}: {e}", root.display())),
        }
        // Removed while locked: no one else can have taken it meanwhile.
        if let Err(e) = std::fs::remove_file(&entry) {
            done.problems.push(format!("{}: {e}", entry.display()));
        }
    }
    done
}

/// `PLUGIN-UUID`: a per-call scratch directory.
fn is_scratch_name(name: &str) -> bool {
    let Some(at) = name
        .len()
        .checked_sub(36)
        .filter(|at| name.is_char_boundary(*at))
    else {
        return false;
    };
    let (plugin, id) = name.split_at(at);
    plugin.len() > 1
        && plugin.ends_with('-')
        && !plugin.starts_with('.')
        && uuid::Uuid::parse_str(id).is_ok()
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(list) => list.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    }
}

/// Kills the recorded programs of `children` that are still the processes
/// recorded, then removes every record.
fn kill_recorded(children: &Path) -> Cleared {
    let mut done = Cleared::default();
    for record in entries(children) {
        match std::fs::read_to_string(&record) {
            Ok(text) => {
                if let Some(killed) = kill_if_same(&text) {
                    done.killed.push(killed);
                }
            }
            Err(e) => done.problems.push(format!("{}: {e}", record.display())),
        }
        if let Err(e) = std::fs::remove_file(&record) {
            done.problems.push(format!("{}: {e}", record.display()));
        }
    }
    done
}

/// Kills the group of a record `pid pgid start program` if its leader is
/// still the process recorded (same start time). A leader that is gone
/// may have left members of its group running: those that started after
/// it, in that same group, are killed one by one. A pid now used by
/// another process is left alone.
fn kill_if_same(record: &str) -> Option<String> {
    let mut parts = record.trim_end().splitn(4, ' ');
    let pid: u32 = parts.next()?.parse().ok()?;
    let pgid: u32 = parts.next()?.parse().ok()?;
    let start: u64 = parts.next()?.parse().ok()?;
    let program = parts.next().unwrap_or("?");
    let to_pid = |n: u32| i32::try_from(n).ok().and_then(Pid::from_raw);
    match proc_stat(pid) {
        Some(now) if now.start_time == start && !now.zombie => {
            rustix::process::kill_process_group(to_pid(pgid)?, Signal::KILL).ok()?;
            Some(format!("{program} (pid {pid}, group {pgid})"))
        }
        Some(_) => None,
        None => {
            let mut killed = Vec::new();
            for entry in entries(Path::new("/proc")) {
                let Some(other) = entry
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.parse::<u32>().ok())
                else {
                    continue;
                };
                let member = proc_stat(other)
                    .is_some_and(|s| s.pgrp == pgid && s.start_time >= start && !s.zombie);
                let sent = member
                    && to_pid(other)
                        .is_some_and(|p| rustix::process::kill_process(p, Signal::KILL).is_ok());
                if sent {
                    killed.push(other.to_string());
                }
            }
            (!killed.is_empty()).then(|| {
                format!(
                    "what {program} (pid {pid}, group {pgid}) left: pid {}",
                    killed.join(", ")
                )
            })
        }
    }
}

/// A CLI command's own scratch root, `TMP/.cli-UUID/`, locked for as long
/// as the command runs and removed when dropped.
#[derive(Debug)]
pub struct CliRoot {
    root: PathBuf,
    lock_path: PathBuf,
    _lock: File,
}

impl CliRoot {
    /// Clears the roots of CLI commands that are gone, then makes this
    /// one's. The lock file is locked under a temporary name and renamed
    /// into place, so no one ever sees it unlocked while its CLI lives.
    pub fn create(tmp: &Path) -> io::Result<Self> {
        dg_core::private::dir(tmp)?;
        clear_dead_cli_roots(tmp).log(tmp);
        let id = uuid::Uuid::new_v4();
        let building = tmp.join(format!("{CLI_PREFIX}{id}.new"));
        let mut lock = dg_core::private::create_new(&building)?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)?;
        writeln!(lock, "{}", std::process::id())?;
        let lock_path = tmp.join(format!("{CLI_PREFIX}{id}{LOCK_SUFFIX}"));
        std::fs::rename(&building, &lock_path)?;
        let root = tmp.join(format!("{CLI_PREFIX}{id}"));
        dg_core::private::dir(&root)?;
        Ok(Self {
            root,
            lock_path,
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.root
    }
}

impl Drop for CliRoot {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.root) {
            tracing::warn!(path = %self.root.display(), "removing the CLI scratch root: {e}");
        }
        let _ = std::fs::remove_file(&self.lock_path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Child, Command};

    /// `sleep` in its own process group, as programs are spawned.
    fn sleeper() -> Child {
        Command::new("sleep")
            .arg("600")
            .process_group(0)
            .spawn()
            .expect("sleep")
    }

    fn killed_by_sigkill(child: &mut Child) -> bool {
        child.wait().expect("wait").signal() == Some(9)
    }

    #[test]
    fn reads_the_start_time_and_group() {
        let mut child = sleeper();
        let stat = proc_stat(child.id()).expect("stat");
        assert_eq!(stat.pgrp, child.id(), "its own group");
        assert!(stat.start_time > 0);
        assert!(!stat.zombie);
        assert!(proc_stat(u32::MAX).is_none());
        child.kill().expect("kill");
        child.wait().expect("wait");
    }

    #[test]
    fn scratch_names() {
        let id = uuid::Uuid::new_v4();
        assert!(is_scratch_name(&format!("postgres-{id}")));
        assert!(!is_scratch_name(&format!(".cli-{id}")));
        assert!(!is_scratch_name(&format!("-{id}")));
        assert!(!is_scratch_name("postgres-not-a-uuid"));
        assert!(!is_scratch_name("x"));
        assert!(
            !is_scratch_name(&"é".repeat(30)),
            "not cut inside a character"
        );
    }

    /// After a "crash" (records and files left behind), the next start
    /// kills the recorded program, removes secrets, scratch and dead CLI
    /// roots, and leaves a live CLI root, a reused pid and unknown files
    /// alone.
    #[test]
    fn a_crashed_root_is_cleared() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let children = root.join(CHILDREN);

        let mut orphan = sleeper();
        std::mem::forget(ChildRecord::create(&children, orphan.id(), "pg_dump").unwrap());
        // A record whose pid now belongs to another process.
        let mut stranger = sleeper();
        let stat = proc_stat(stranger.id()).unwrap();
        dg_core::private::dir(&children).unwrap();
        std::fs::write(
            children.join("reused"),
            format!(
                "{} {} {} psql\n",
                stranger.id(),
                stat.pgrp,
                stat.start_time + 1
            ),
        )
        .unwrap();

        let secret = root.join(SECRETS).join(uuid::Uuid::new_v4().to_string());
        dg_core::private::dir(&secret).unwrap();
        std::fs::write(secret.join("0.secret"), b"pw").unwrap();
        let scratch = root.join(format!("postgres-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&scratch).unwrap();
        std::fs::write(root.join("keep.txt"), b"not ours").unwrap();

        let live = CliRoot::create(root).unwrap();
        // What a CLI killed mid-run leaves: its (now unlocked) lock file
        // and its root, with a running child recorded.
        let dead_id = uuid::Uuid::new_v4();
        let dead_path = root.join(format!("{CLI_PREFIX}{dead_id}"));
        std::fs::write(
            root.join(format!("{CLI_PREFIX}{dead_id}{LOCK_SUFFIX}")),
            b"1\n",
        )
        .unwrap();
        let mut dead_child = sleeper();
        std::mem::forget(
            ChildRecord::create(&dead_path.join(CHILDREN), dead_child.id(), "mysqldump").unwrap(),
        );

        let done = clear_server_root(root);
        assert!(killed_by_sigkill(&mut orphan), "the orphan was killed");
        assert!(
            killed_by_sigkill(&mut dead_child),
            "the dead CLI's child too"
        );
        assert_eq!(done.killed.len(), 2, "{done:?}");
        assert!(
            done.killed.iter().any(|k| k.starts_with("pg_dump (pid")),
            "{done:?}"
        );
        assert!(
            proc_stat(stranger.id()).is_some_and(|s| !s.zombie),
            "a reused pid is spared"
        );
        assert!(entries(&root.join(SECRETS)).is_empty());
        assert!(entries(&children).is_empty(), "records removed");
        assert!(!scratch.exists());
        assert!(!dead_path.exists(), "a dead CLI's root is removed");
        assert!(live.path().exists(), "a running CLI's root stays");
        assert!(root.join("keep.txt").exists());
        stranger.kill().unwrap();
        stranger.wait().unwrap();
        drop(live);
        assert!(entries(root).iter().all(|p| !p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(CLI_PREFIX)));
    }
}
