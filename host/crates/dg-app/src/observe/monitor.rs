//! The system monitor (seed 001): every interval, CPU, memory, this
//! process's RSS and CPU, the load average and the async runtime's
//! figures, kept in a ring of the configured size. Read from `/proc`
//! (Linux); elsewhere those figures are null and only the runtime's are
//! sampled. Served in `/api/dashboard/overview` (`performance`,
//! `thread_pool`) and as gauges in `/metrics`.

use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use utoipa::ToSchema;

/// What does not change while the process runs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Machine {
    pub hostname: String,
    pub os: String,
    pub arch: String,
    pub cpus: usize,
    pub memory_total_bytes: Option<u64>,
    pub process_id: u32,
    /// Sampling period (`--system-monitor-interval-ms`).
    pub interval_ms: u64,
    /// Samples kept (`--system-monitor-history-size`).
    pub history_size: usize,
}

/// The async runtime's figures (tokio's stable metrics only): the seed's
/// "thread pool".
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Runtime {
    /// Worker threads.
    pub workers: usize,
    /// Tasks alive (spawned, not finished).
    pub alive_tasks: usize,
    /// Tasks waiting in the global queue.
    pub global_queue_depth: usize,
    /// Share of the workers' time spent busy over the last interval
    /// (0-1); null on the first sample.
    pub busy_ratio: Option<f64>,
}

/// One sample; figures the platform cannot give are null.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Sample {
    pub timestamp: chrono::DateTime<chrono::Utc>,
    /// Machine CPU use since the previous sample, percent of all CPUs.
    pub cpu_percent: Option<f64>,
    /// This process's CPU use since the previous sample (100 = one CPU).
    pub process_cpu_percent: Option<f64>,
    pub memory_total_bytes: Option<u64>,
    /// Total minus available.
    pub memory_used_bytes: Option<u64>,
    pub memory_percent: Option<f64>,
    pub process_rss_bytes: Option<u64>,
    /// 1, 5 and 15 minutes.
    pub load_average: Option<[f64; 3]>,
    pub runtime: Runtime,
}

/// The seed's `thread_pool` block, from the latest sample.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ThreadPool {
    /// Worker threads of the async runtime.
    pub size: usize,
    /// Workers busy on average over the last interval (size × busy ratio).
    pub busy: Option<f64>,
    /// Tasks waiting in the runtime's global queue.
    pub queued: usize,
    /// Tasks alive on the runtime.
    pub alive_tasks: usize,
}

/// Previous raw counters, to turn totals into rates.
#[derive(Default)]
struct Previous {
    cpu: Option<(u64, u64)>,
    process_ticks: Option<(u64, Instant)>,
    busy: Option<(Duration, Instant)>,
}

/// The sampler's state and history.
pub struct Monitor {
    machine: Machine,
    interval: Duration,
    history: Mutex<VecDeque<Sample>>,
    previous: Mutex<Previous>,
}

impl Monitor {
    pub fn new(interval: Duration, history_size: usize) -> Self {
        let history_size = history_size.max(1);
        Self {
            machine: Machine {
                hostname: crate::hostname(),
                os: std::env::consts::OS.into(),
                arch: std::env::consts::ARCH.into(),
                cpus: std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1),
                memory_total_bytes: proc::meminfo().map(|m| m.0),
                process_id: std::process::id(),
                interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
                history_size,
            },
            interval,
            history: Mutex::new(VecDeque::with_capacity(history_size)),
            previous: Mutex::default(),
        }
    }

    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        // Only whole values are stored under these locks.
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Samples forever, every interval (the first sample at once).
    pub fn spawn(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(me.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let sample = me.sample_now();
                super::metrics::get().system_sample(&sample);
                me.push(sample);
            }
        })
    }

    fn push(&self, sample: Sample) {
        let mut h = Self::lock(&self.history);
        if h.len() == self.machine.history_size {
            h.pop_front();
        }
        h.push_back(sample);
    }

    /// Takes one sample (rates relative to the previous one).
    pub fn sample_now(&self) -> Sample {
        let now = Instant::now();
        let mut prev = Self::lock(&self.previous);
        let cpu = proc::cpu_times();
        let cpu_percent = match (prev.cpu, cpu) {
            (Some((busy0, total0)), Some((busy1, total1))) if total1 > total0 => Some(round2(
                busy1.saturating_sub(busy0) as f64 / (total1 - total0) as f64 * 100.0,
            )),
            _ => None,
        };
        prev.cpu = cpu;
        let ticks = proc::process_ticks();
        let process_cpu_percent = match (prev.process_ticks, ticks) {
            (Some((t0, at0)), Some(t1)) => {
                let secs = now.duration_since(at0).as_secs_f64();
                (secs > 0.0).then(|| {
                    round2(t1.saturating_sub(t0) as f64 / proc::ticks_per_second() / secs * 100.0)
                })
            }
            _ => None,
        };
        prev.process_ticks = ticks.map(|t| (t, now));
        let runtime = runtime_figures(&mut prev.busy, now);
        drop(prev);
        let mem = proc::meminfo();
        let memory_used = mem.map(|(total, available)| total.saturating_sub(available));
        Sample {
            timestamp: chrono::Utc::now(),
            cpu_percent,
            process_cpu_percent,
            memory_total_bytes: mem.map(|m| m.0),
            memory_used_bytes: memory_used,
            memory_percent: mem.filter(|m| m.0 > 0).map(|(total, available)| {
                round2(total.saturating_sub(available) as f64 / total as f64 * 100.0)
            }),
            process_rss_bytes: proc::rss_bytes(),
            load_average: proc::loadavg(),
            runtime,
        }
    }

    /// The newest sample, if one was taken.
    pub fn current(&self) -> Option<Sample> {
        Self::lock(&self.history).back().cloned()
    }

    /// Every kept sample, oldest first.
    pub fn history(&self) -> Vec<Sample> {
        Self::lock(&self.history).iter().cloned().collect()
    }

    /// The seed's `thread_pool` figures from the newest sample.
    pub fn thread_pool(&self) -> ThreadPool {
        let rt = self.current().map(|s| s.runtime).unwrap_or_default();
        ThreadPool {
            size: rt.workers,
            busy: rt.busy_ratio.map(|b| round2(b * rt.workers as f64)),
            queued: rt.global_queue_depth,
            alive_tasks: rt.alive_tasks,
        }
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// tokio's stable runtime metrics; busy ratio from the workers' total busy
/// time since the previous sample.
fn runtime_figures(prev: &mut Option<(Duration, Instant)>, now: Instant) -> Runtime {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return Runtime::default();
    };
    let m = handle.metrics();
    let workers = m.num_workers();
    let busy: Duration = (0..workers).map(|w| m.worker_total_busy_duration(w)).sum();
    let busy_ratio = prev.and_then(|(busy0, at0)| {
        let wall = now.duration_since(at0).as_secs_f64() * workers as f64;
        (wall > 0.0).then(|| {
            round2((busy.saturating_sub(busy0).as_secs_f64() / wall).clamp(0.0, 1.0) * 100.0)
                / 100.0
        })
    });
    *prev = Some((busy, now));
    Runtime {
        workers,
        alive_tasks: m.num_alive_tasks(),
        global_queue_depth: m.global_queue_depth(),
        busy_ratio,
    }
}

/// Readers of `/proc`; each answers None where it is missing or unreadable.
mod proc {
    /// (busy, total) jiffies of all CPUs from `/proc/stat`.
    pub fn cpu_times() -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        parse_cpu_line(stat.lines().next()?)
    }

    pub fn parse_cpu_line(line: &str) -> Option<(u64, u64)> {
        let mut fields = line.split_whitespace();
        if fields.next()? != "cpu" {
            return None;
        }
        let v: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
        if v.len() < 4 {
            return None;
        }
        // user nice system idle iowait irq softirq steal (guest is
        // already counted in user).
        let total: u64 = v.iter().take(8).sum();
        let idle = v[3] + v.get(4).copied().unwrap_or(0);
        Some((total.saturating_sub(idle), total))
    }

    /// (total, available) bytes from `/proc/meminfo`.
    pub fn meminfo() -> Option<(u64, u64)> {
        let text = std::fs::read_to_string("/proc/meminfo").ok()?;
        parse_meminfo(&text)
    }

    pub fn parse_meminfo(text: &str) -> Option<(u64, u64)> {
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
                .map(|kb| kb * 1024)
        };
        Some((field("MemTotal:")?, field("MemAvailable:")?))
    }

    /// Resident set size of this process (`/proc/self/status` VmRSS).
    pub fn rss_bytes() -> Option<u64> {
        let text = std::fs::read_to_string("/proc/self/status").ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kb| kb * 1024)
    }

    /// utime + stime of this process, in clock ticks.
    pub fn process_ticks() -> Option<u64> {
        let text = std::fs::read_to_string("/proc/self/stat").ok()?;
        parse_process_ticks(&text)
    }

    pub fn parse_process_ticks(text: &str) -> Option<u64> {
        // The command name (field 2) may hold spaces; fields after its
        // closing parenthesis are fixed: utime and stime are 14 and 15.
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(utime + stime)
    }

    pub fn ticks_per_second() -> f64 {
        // USER_HZ is 100 on every Linux architecture the host builds for.
        100.0
    }

    pub fn loadavg() -> Option<[f64; 3]> {
        let text = std::fs::read_to_string("/proc/loadavg").ok()?;
        let mut f = text.split_whitespace().map(|v| v.parse::<f64>().ok());
        Some([f.next()??, f.next()??, f.next()??])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_formats_parse() {
        assert_eq!(
            proc::parse_cpu_line("cpu  100 0 50 800 50 0 0 0 0 0"),
            Some((150, 1000))
        );
        assert_eq!(proc::parse_cpu_line("cpu0 1 2 3 4"), None);
        assert_eq!(
            proc::parse_meminfo("MemTotal:  2048 kB\nMemFree: 10 kB\nMemAvailable:   1024 kB\n"),
            Some((2048 * 1024, 1024 * 1024))
        );
        let stat = "42 (my (odd) prog) S 1 2 3 4 5 6 7 8 9 10 250 30 0 0";
        assert_eq!(proc::parse_process_ticks(stat), Some(280));
    }

    #[tokio::test]
    async fn history_is_bounded_and_ordered() {
        let m = Monitor::new(Duration::from_millis(10), 3);
        for _ in 0..5 {
            let s = m.sample_now();
            m.push(s);
        }
        let h = m.history();
        assert_eq!(h.len(), 3);
        assert!(h.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
        assert!(h[0].runtime.workers >= 1);
        if cfg!(target_os = "linux") {
            assert!(h[2].process_rss_bytes.is_some_and(|b| b > 0));
            assert!(h[2].memory_total_bytes.is_some());
        }
    }
}
