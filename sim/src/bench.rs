//! Throughput measurements for `sovlab bench` (issue 8).
//!
//! Every figure is taken in one process, so ratios to the raw madsim baseline hold on
//! a noisy machine. Wall-clock time is read only *around* runs, never inside one: a
//! run stays a pure function of its scenario and seed. (madsim replaces
//! `clock_gettime` only inside a simulation context, so `std::time::Instant` outside
//! `block_on` is the real clock.)

use crate::exec::RunOptions;
use crate::scenario::Scenario;
use crate::trace::{Event, EventKind, Trace};
#[cfg(madsim)]
use madsim::net::Endpoint;
#[cfg(madsim)]
use madsim::runtime::Runtime;
#[cfg(madsim)]
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A count of things done in some wall-clock time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rate {
    /// How many (messages, seeds ...).
    pub count: u64,
    /// Wall-clock seconds it took.
    pub secs: f64,
    /// CPU seconds this process spent meanwhile (0 off Linux). For a one-thread
    /// measurement it is the time the work had the CPU: on a loaded machine, a
    /// steadier figure than wall time.
    pub cpu_secs: f64,
}

impl Rate {
    /// Things per second (0 when nothing was timed).
    pub fn per_s(&self) -> f64 {
        if self.secs > 0.0 {
            self.count as f64 / self.secs
        } else {
            0.0
        }
    }

    /// Things per CPU second (0 when no CPU time was measured).
    pub fn per_cpu_s(&self) -> f64 {
        if self.cpu_secs > 0.0 {
            self.count as f64 / self.cpu_secs
        } else {
            0.0
        }
    }
}

/// Wall and CPU clocks started together. The CPU clock is the calling thread's
/// (nanoseconds, from the scheduler) or, for work spread over threads, the whole
/// process's (10 ms ticks).
struct Clocks {
    wall: Instant,
    cpu: f64,
    cpu_clock: fn() -> Option<f64>,
}

impl Clocks {
    fn start(cpu_clock: fn() -> Option<f64>) -> Clocks {
        Clocks {
            wall: Instant::now(),
            cpu: cpu_clock().unwrap_or(0.0),
            cpu_clock,
        }
    }

    fn rate(&self, count: u64) -> Rate {
        Rate {
            count,
            secs: self.wall.elapsed().as_secs_f64(),
            cpu_secs: ((self.cpu_clock)().unwrap_or(0.0) - self.cpu).max(0.0),
        }
    }
}

/// CPU time of the calling thread so far, in seconds; None off Linux.
pub fn thread_cpu_secs() -> Option<f64> {
    // The first field of schedstat: nanoseconds this thread spent on a CPU.
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// Raw madsim: two nodes, a request/response ping-pong over
/// `Endpoint::send_to_raw` / `recv_from_raw`. Counts every message (2 per round trip).
/// Only with `--cfg madsim`.
#[cfg(madsim)]
pub fn raw_madsim(round_trips: u64, seed: u64) -> Rate {
    let clocks = Clocks::start(thread_cpu_secs);
    let runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
    let server_ip = Ipv4Addr::new(10, 0, 0, 1);
    let server_addr = SocketAddr::from((server_ip, 1));
    let done = runtime.block_on(async move {
        let handle = madsim::runtime::Handle::current();
        let server = handle
            .create_node()
            .name("server")
            .ip(server_ip.into())
            .build();
        let client = handle
            .create_node()
            .name("client")
            .ip(Ipv4Addr::new(10, 0, 0, 2).into())
            .build();
        server.spawn(async move {
            let ep = Endpoint::bind(server_addr).await.expect("bind server");
            loop {
                let Ok((payload, from)) = ep.recv_from_raw(0).await else {
                    return;
                };
                if ep.send_to_raw(from, 0, payload).await.is_err() {
                    return;
                }
            }
        });
        client
            .spawn(async move {
                // Let the server bind first.
                madsim::time::sleep(std::time::Duration::from_millis(1)).await;
                let ep = Endpoint::bind((Ipv4Addr::new(10, 0, 0, 2), 1))
                    .await
                    .expect("bind client");
                let mut n = 0;
                for i in 0..round_trips {
                    ep.send_to_raw(server_addr, 0, Box::new(i))
                        .await
                        .expect("send");
                    let (_, _) = ep.recv_from_raw(0).await.expect("recv");
                    n += 2;
                }
                n
            })
            .await
            .expect("client task")
    });
    clocks.rate(done)
}

/// What one engine measurement gives.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EngineRate {
    /// Delivered messages over wall time (the figure compared to raw madsim).
    pub delivered: Rate,
    /// Trace events over the same wall time.
    pub events: u64,
    /// How many seeds ran.
    pub seeds: u64,
}

/// Runs `scenario` for seeds `first, first + 1, ...` one after the other, with the
/// checkers and the report as `sovlab run` does, and counts delivered messages.
/// Runs at least `min_seeds` seeds and for at least `min_secs` of wall time, so the
/// clocks (the CPU one ticks every few milliseconds) have something to measure.
pub fn engine(
    scenario: &Scenario,
    first: u64,
    min_seeds: u64,
    min_secs: f64,
    opts: RunOptions,
) -> EngineRate {
    let clocks = Clocks::start(thread_cpu_secs);
    let mut delivered = 0;
    let mut events = 0;
    let mut seed = first;
    while seed - first < min_seeds || clocks.wall.elapsed().as_secs_f64() < min_secs {
        let r = crate::run_with(scenario, seed, opts);
        delivered += r.trace.counters.delivered;
        events += r.trace.event_count;
        seed += 1;
    }
    EngineRate {
        delivered: clocks.rate(delivered),
        events,
        seeds: seed - first,
    }
}

/// A sweep measurement: wall clock and the CPU time the process used meanwhile.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SweepRate {
    /// Seeds over wall-clock seconds.
    pub wall: Rate,
    /// CPU seconds (user + system, every thread) spent meanwhile; 0 off Linux.
    pub cpu_secs: f64,
}

impl SweepRate {
    /// How many cores the process had on average (CPU time over wall time).
    pub fn cores_used(&self) -> f64 {
        if self.wall.secs > 0.0 {
            self.cpu_secs / self.wall.secs
        } else {
            0.0
        }
    }
}

/// CPU time this process has used so far (all threads), in seconds; None off Linux.
pub fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at state (3rd);
    // utime and stime are the 14th and 15th, in USER_HZ ticks (100 on Linux).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Sweep throughput: `seeds` runs spread over `threads` OS threads, each seed run
/// exactly as `sovlab sweep` runs it ([`crate::sweep::run_one_on`]: no trace line, no
/// hash, only the events the checkers read; checked and reported).
pub fn sweep(scenario: &Scenario, seeds: u64, threads: usize) -> SweepRate {
    sweep_on(scenario, seeds, threads, crate::Engine::default())
}

/// [`sweep`] on `engine`.
pub fn sweep_on(
    scenario: &Scenario,
    seeds: u64,
    threads: usize,
    engine: crate::Engine,
) -> SweepRate {
    let next = AtomicU64::new(0);
    let clocks = Clocks::start(process_cpu_secs);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= seeds {
                    return;
                }
                std::hint::black_box(crate::sweep::run_one_on(scenario, seed, engine));
            });
        }
    });
    let wall = clocks.rate(seeds);
    SweepRate {
        wall,
        cpu_secs: wall.cpu_secs,
    }
}

/// What one checking measurement gives.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CheckRate {
    /// Events in the checked trace.
    pub events: u64,
    /// Violations the checkers found, over every invariant.
    pub violations: u64,
    /// The best try: checking time (CPU, or wall where there is no CPU clock).
    pub secs: f64,
}

impl CheckRate {
    /// Checking time per event, in nanoseconds.
    pub fn ns_per_event(&self) -> f64 {
        self.secs * 1e9 / self.events.max(1) as f64
    }
}

/// Checking cost: runs `scenario` once keeping its events, then checks its trace
/// (`check::check_all`, every invariant) `repeats` times and keeps the fastest try.
/// Only the checkers are timed, not the run.
pub fn checking(scenario: &Scenario, seed: u64, repeats: usize) -> CheckRate {
    let trace = crate::run_with(scenario, seed, RunOptions::default()).trace;
    let mut best = CheckRate {
        events: trace.event_count,
        secs: f64::INFINITY,
        ..CheckRate::default()
    };
    for _ in 0..repeats.max(1) {
        let clocks = Clocks::start(thread_cpu_secs);
        let verdicts = crate::check::check_all(&trace);
        let r = clocks.rate(0);
        let secs = if thread_cpu_secs().is_some() {
            r.cpu_secs
        } else {
            r.secs
        };
        best.violations = verdicts.iter().map(|v| v.violations).sum();
        best.secs = best.secs.min(secs);
    }
    best
}

/// What one exploration measurement gives.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExploreRate {
    /// Executions judged.
    pub executions: u64,
    /// Distinct states met.
    pub states: u64,
    /// Wall time of the exploration.
    pub secs: f64,
}

/// Explores `scenario` within its own bounds (state hashing on) and times it.
pub fn explore(scenario: &Scenario) -> ExploreRate {
    let bounds = crate::explore::Bounds::of(scenario);
    let start = std::time::Instant::now();
    let x = crate::explore::explore(scenario, &bounds, &mut |_| {});
    let secs = start.elapsed().as_secs_f64();
    let (executions, states) = x.map_or((0, 0), |x| (x.executions, x.states.unwrap_or(0)));
    ExploreRate {
        executions,
        states,
        secs,
    }
}

/// Heap bytes an event owns beyond its fixed size.
pub fn event_heap_bytes(e: &Event) -> usize {
    match &e.kind {
        EventKind::Local { writes, .. } => std::mem::size_of_val::<[_]>(writes),
        EventKind::Partition { groups } => {
            std::mem::size_of_val::<[_]>(groups)
                + groups
                    .iter()
                    .map(|g| std::mem::size_of_val::<[_]>(g))
                    .sum::<usize>()
        }
        EventKind::Limit { what } => what.capacity(),
        _ => 0,
    }
}

/// Trace size of a run kept in full: bytes per event in memory (fixed size plus
/// owned heap) and in the JSONL file (event lines only, header excluded).
pub fn trace_bytes_per_event(trace: &Trace) -> (f64, f64) {
    let n = trace.events.len().max(1) as f64;
    let mem: usize = trace
        .events
        .iter()
        .map(|e| std::mem::size_of::<Event>() + event_heap_bytes(e))
        .sum();
    let mut counter = CountingWriter(0);
    trace
        .write_jsonl(&mut counter)
        .expect("counting never fails");
    let header = trace.header_line().len() + 1;
    (mem as f64 / n, (counter.0 - header) as f64 / n)
}

/// An `io::Write` that only counts bytes.
struct CountingWriter(usize);

impl std::io::Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Peak resident set size of this process so far (`VmHWM`), in kB; None off Linux.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
