//! `LocalProcess`: the real process backend. The server's handlers call it, and an
//! `Environment` without a server uses it directly.
//!
//! Each process gets: its own process group (so terminate reaches grandchildren), one reader
//! task per output pipe, one stdin writer task (so writes are applied in the order they were
//! submitted; it records accepted `writeId`s in the entry, where they outlive stdin, so a
//! retry is answered `accepted` and not written twice), and one *sequencer* task that
//! owns the process's `seq` counter. Readers send chunks to the sequencer; once the child was
//! reaped, the sequencer waits a bounded time for every pipe to reach EOF, then emits
//! `exited`; it emits `closed` once every pipe reached EOF. The bound ([`exit_drain`]) is
//! short ([`EXIT_DRAIN`]) while the child's process group still has members (a background
//! child that may hold the pipes for good) and longer ([`EXIT_DRAIN_EMPTY_GROUP`]) once the
//! group is empty, when the pipes normally only hold the last output for the readers. Because
//! nothing else assigns `seq`, an ordinary process's events are "all output, then exited,
//! then closed"; only output of something that outlives the child and holds its pipes (a
//! background child, a daemon) can come after `exited`. `closed` is always last.
//!
//! Events go to at most one subscriber through a bounded queue that never blocks: when the
//! subscriber falls behind, output events are dropped for it (never blocking the process)
//! and it recovers them with `read(afterSeq)` from the retention log; `exited`/`closed` are
//! always queued, so the subscriber always learns that a process finished.

use std::collections::HashMap;
use std::collections::HashSet;
use std::future::Future;
use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::time::Duration;

use bytes::Bytes;
use bytes::BytesMut;
use tokio::io::AsyncRead;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWrite;
use tokio::io::AsyncWriteExt;
use tokio::process::Child;
use tokio::process::Command;
use tokio::sync::Notify;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tokio::sync::watch;
use tracing::debug;
use tracing::warn;

use crate::error::ExecError;
use crate::exec_process::EventQueue;
use crate::exec_process::ExecProcess;
use crate::exec_process::ProcessEvents;
use crate::exec_process::Pushed;
use crate::protocol::ClosedNotification;
use crate::protocol::ExitedNotification;
use crate::protocol::OutputMode;
use crate::protocol::OutputNotification;
use crate::protocol::OutputStream;
use crate::protocol::ProcessEvent;
use crate::protocol::ProcessSignal;
use crate::protocol::ReadParams;
use crate::protocol::ReadResponse;
use crate::protocol::SignalParams;
use crate::protocol::SignalResponse;
use crate::protocol::StartParams;
use crate::protocol::StartResponse;
use crate::protocol::TerminateParams;
use crate::protocol::TerminateResponse;
use crate::protocol::WriteParams;
use crate::protocol::WriteResponse;
use crate::protocol::WriteStatus;
use crate::pty::open_pty;
use crate::pty::terminal_child_setup;
use crate::retention::Retention;
use crate::sandbox::Launch;
use crate::sandbox::Reaper;
use crate::sandbox::prepare_launch;

/// Default retention per process: 16 MiB.
pub const DEFAULT_MAX_RETAINED_BYTES: usize = 16 * 1024 * 1024;
/// Default time a closed process stays readable.
pub const DEFAULT_CLOSED_GRACE: Duration = Duration::from_secs(5 * 60);
/// Default bound on chunk bytes held by the subscriber queue (the same as the default
/// retention): a stalled subscriber pins at most this much output beyond the retention log.
pub const DEFAULT_EVENT_QUEUE_BYTES: usize = DEFAULT_MAX_RETAINED_BYTES;
/// Default capacity (in output events) of the subscriber queue.
pub const DEFAULT_EVENT_QUEUE: usize = 1024;

/// `process/read` default and upper bound of `maxBytes`.
const DEFAULT_READ_BYTES: usize = 1024 * 1024;
const MAX_READ_BYTES: usize = 8 * 1024 * 1024;
/// Longest accepted `waitMs` (clients re-poll after this).
const MAX_WAIT: Duration = Duration::from_secs(300);
/// Readers start small (idle processes cost little) and grow to this.
const INITIAL_READ_BUFFER: usize = 4 * 1024;
const MAX_READ_BUFFER: usize = 1024 * 1024;
/// Requested capacity of output pipes.
const PIPE_SIZE: libc::c_int = 1024 * 1024;
/// Chunks in flight from readers to the sequencer.
const READER_QUEUE: usize = 16;
/// How long, after the child was reaped, the sequencer waits for its output pipes to reach
/// EOF before it emits `exited` anyway, while the child's process group still has members
/// (see [`exit_drain`]). Such a member, typically a background child (`sleep 1000 &`), may
/// hold the pipes for good: then `exited` goes out after this short wait (the client learns
/// the exit code and can terminate the rest of the group), output that still comes follows
/// it with higher seqs, and `closed` comes when every pipe reached EOF.
const EXIT_DRAIN: Duration = Duration::from_millis(100);
/// The same wait once the child's process group is empty at the reap: the usual case (a
/// process without background children). Every writer in the group is gone, so the pipes
/// are at EOF or held only by processes that left the group (`setsid` daemons, rare); what
/// remains is the output already in the pipes, which only waits for the reader tasks to be
/// scheduled. That can take longer than [`EXIT_DRAIN`] on a starved machine, and would put
/// an ordinary process's last output after `exited`; this bound keeps the order "all
/// output, exited, closed" there, and only delays `exited` of a process whose daemon holds
/// its pipes.
const EXIT_DRAIN_EMPTY_GROUP: Duration = Duration::from_secs(2);

/// Tunables of a [`LocalProcess`].
#[derive(Clone, Debug)]
pub struct LocalProcessConfig {
    /// Output bytes retained per process for `read`; older output becomes a gap.
    pub max_retained_bytes: usize,
    /// How long a closed process stays readable before its id reads as unknown.
    pub closed_grace: Duration,
    /// Capacity of the event subscriber queue; events beyond it are dropped for that
    /// subscriber.
    pub event_queue: usize,
    /// Bound on chunk bytes held by the subscriber queue; output beyond it is dropped for
    /// that subscriber.
    pub event_queue_bytes: usize,
    /// Files no sandboxed command may read, whatever its policy lets it read (the
    /// server's token file, its TLS key): covered by an empty file in every bubblewrap
    /// sandbox. Resolved paths.
    pub hidden_paths: Vec<std::path::PathBuf>,
}

impl Default for LocalProcessConfig {
    fn default() -> Self {
        Self {
            max_retained_bytes: DEFAULT_MAX_RETAINED_BYTES,
            closed_grace: DEFAULT_CLOSED_GRACE,
            event_queue: DEFAULT_EVENT_QUEUE,
            event_queue_bytes: DEFAULT_EVENT_QUEUE_BYTES,
            hidden_paths: Vec::new(),
        }
    }
}

/// Runs processes on this machine. Cloning shares the same process table; when the last
/// clone is dropped, the processes still running are killed.
#[derive(Clone)]
pub struct LocalProcess {
    inner: Arc<Inner>,
    /// Shared by every clone of this handle: when the last one is dropped, the processes
    /// still running are killed (see [`Owner`]).
    _owner: Arc<Owner>,
}

/// Kills every process group of a backend when the last [`LocalProcess`] handle to it is
/// dropped, as the server does when a session expires: nobody could read, write or
/// terminate them any more. (The tasks of running processes keep `Inner` alive, so this
/// cannot be `Inner`'s own `Drop`.)
struct Owner(std::sync::Weak<Inner>);

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some(inner) = self.0.upgrade() {
            inner.kill_all();
        }
    }
}

struct Inner {
    config: LocalProcessConfig,
    /// Where the sandbox roots of this backend (a session) resolved the first time; shared
    /// with its filesystem ([`LocalProcess::root_pins`]).
    root_pins: Arc<codex_sandboxing::RootPins>,
    processes: Mutex<HashMap<String, Arc<Entry>>>,
    subscriber: Mutex<Option<Arc<EventQueue>>>,
}

struct Entry {
    id: String,
    state: Mutex<EntryState>,
    /// Carries the log's `next_seq` so long-polls wake on new events.
    seq_tx: watch::Sender<u64>,
    /// `outputMode: "pace"`: the subscriber queue never drops this process's output.
    paced: bool,
    /// Pace mode: where the output readers pause.
    pace_limits: PaceLimits,
    /// Wakes paused output readers when output was delivered (or pacing released).
    room: Notify,
}

/// Pace mode: output readers stop reading while the process's undelivered output (retained
/// and in flight to the log) reaches `bytes`, or its undelivered chunks reach `chunks`.
#[derive(Clone, Copy, Debug)]
struct PaceLimits {
    bytes: usize,
    chunks: usize,
}

impl PaceLimits {
    /// Half the retention window may be undelivered; the other half keeps output the
    /// client was sent but may not have received when its connection broke, for the
    /// resume. The chunk bound keeps the per-chunk bookkeeping of many tiny writes
    /// (a few dozen bytes each) within about a third of the window.
    fn for_config(config: &LocalProcessConfig) -> Self {
        let bytes = (config.max_retained_bytes / 2).max(1);
        Self {
            bytes,
            chunks: (bytes / 256).max(config.event_queue).max(1),
        }
    }
}

impl Entry {
    /// Whether the output readers may read on: always in drop mode (or once released),
    /// and in pace mode while the undelivered output is below the limits.
    fn has_room(&self) -> bool {
        let state = lock(&self.state);
        match state.log.undelivered() {
            None => true,
            Some((bytes, chunks)) => {
                bytes + state.in_flight < self.pace_limits.bytes && chunks < self.pace_limits.chunks
            }
        }
    }

    /// Waits until [`Entry::has_room`].
    async fn wait_for_room(&self) {
        loop {
            // Created before the check, so a delivery in between still wakes it.
            let notified = self.room.notified();
            if self.has_room() {
                return;
            }
            notified.await;
        }
    }

    /// Output through `seq` reached the client (a read after it): a paused process may go
    /// on.
    fn delivered_through(&self, seq: u64) {
        if lock(&self.state).log.delivered_through(seq) {
            self.room.notify_waiters();
        }
    }

    /// The output chunk `seq` reached the client (its notification was taken).
    fn delivered_one(&self, seq: u64) {
        if lock(&self.state).log.delivered_one(seq) {
            self.room.notify_waiters();
        }
    }

    /// Stop pacing (the session ends): paused readers go on, the log drops old output.
    fn release(&self) {
        lock(&self.state).log.release();
        self.room.notify_waiters();
    }
}

struct EntryState {
    log: Retention,
    /// `None` while starting.
    pgid: Option<i32>,
    reaped: bool,
    /// Reaped and every output pipe at EOF (`closed` is emitted right after this is set).
    closed: bool,
    /// Output bytes read from the process and not yet in `log` (pace mode accounting).
    in_flight: usize,
    stdin: Option<mpsc::UnboundedSender<StdinOp>>,
    /// `writeId`s of accepted writes. Kept as long as the entry (not only as long as stdin),
    /// so a retry is answered `accepted` even after the process exited and stdin closed.
    accepted_writes: HashSet<String>,
}

/// Where a signal for a process goes (`process/signal`, `process/terminate`, `kill_all`).
enum SignalTarget {
    /// Not spawned yet: there is nothing to signal.
    Starting,
    /// Its process group. `running`: the process itself was not reaped yet.
    Group { pgid: i32, running: bool },
    /// Closed: nothing is sent any more.
    Closed,
}

impl EntryState {
    /// Where a signal for this process goes now.
    ///
    /// The group id is the pid of the process. Until the process is reaped, that number
    /// cannot be reused; after the reap, it stays ours only as long as the group has a
    /// member. While a pipe is still open after the reap, most likely a member of the group
    /// (a background child) holds it, so the group is still signalled: that is how
    /// `terminate` reaches a background child after the exit. Once closed (reaped and every
    /// pipe at EOF), the group may be empty and its number taken by an unrelated group, so it
    /// is never signalled again.
    ///
    /// Residual risk, accepted: (1) between reap and close, the pipes may be held only by a
    /// process outside the group (one that called `setsid`, or was handed the fds) while
    /// the group is already empty; its number could then be reused and a signal reach a
    /// stranger. (2) After close, a member that let go of the pipes
    /// (`sleep 1000 >/dev/null 2>&1 &`) is no longer reached by `terminate`, `signal` or
    /// `kill_all`.
    fn signal_target(&self) -> SignalTarget {
        match (self.pgid, self.closed) {
            (None, _) => SignalTarget::Starting,
            (Some(_), true) => SignalTarget::Closed,
            (Some(pgid), false) => SignalTarget::Group {
                pgid,
                running: !self.reaped,
            },
        }
    }
}

struct StdinOp {
    chunk: Bytes,
    write_id: Option<String>,
    reply: oneshot::Sender<WriteStatus>,
}

enum ReaderMsg {
    Data(OutputStream, Bytes),
    Failed(String),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes a reserved (still starting) entry if the start is abandoned or fails.
struct Reservation {
    inner: Arc<Inner>,
    entry: Arc<Entry>,
    committed: bool,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.committed {
            self.inner.remove_if_same(&self.entry);
        }
    }
}

impl Default for LocalProcess {
    fn default() -> Self {
        Self::new(LocalProcessConfig::default())
    }
}

impl LocalProcess {
    /// A backend with its own, empty process table.
    /// Dropping the last clone kills the processes still running.
    pub fn new(config: LocalProcessConfig) -> Self {
        Self::with_root_pins(config, Arc::default())
    }

    /// [`LocalProcess::new`] sharing `root_pins` (see [`LocalProcess::root_pins`]): the
    /// server gives every session the same, so a symlink planted under one session's
    /// policy is judged in every other session too.
    pub fn with_root_pins(
        config: LocalProcessConfig,
        root_pins: Arc<codex_sandboxing::RootPins>,
    ) -> Self {
        let inner = Arc::new(Inner {
            config,
            root_pins,
            processes: Mutex::new(HashMap::new()),
            subscriber: Mutex::new(None),
        });
        Self {
            _owner: Arc::new(Owner(Arc::downgrade(&inner))),
            inner,
        }
    }

    /// Where the sandbox roots of this backend resolved the first time it used them: a
    /// sandboxed start whose root resolves elsewhere now is refused (a command may have
    /// replaced it with a symlink). Give the same pins to the [`codex_file_system::LocalFileSystem`]
    /// of the same session ([`codex_file_system::LocalFileSystem::with_root_pins`]).
    pub fn root_pins(&self) -> Arc<codex_sandboxing::RootPins> {
        Arc::clone(&self.inner.root_pins)
    }

    /// Start a process. Validation and the reservation of the id happen before this returns
    /// (so a request that follows on the same connection sees the process as `starting`);
    /// the spawn happens when the future is polled.
    pub fn start(
        &self,
        params: StartParams,
    ) -> impl Future<Output = Result<StartResponse, ExecError>> + Send + 'static {
        let reserved = self.reserve(&params);
        let root_pins = self.root_pins();
        let hidden = self.inner.config.hidden_paths.clone();
        async move {
            let mut reservation = reserved?;
            // The sandbox policy is applied (and refused when it cannot be enforced)
            // before anything runs.
            let launch = prepare_launch(&params, &root_pins, &hidden).await?;
            spawn_process(&reservation.inner, &reservation.entry, &params, launch)?;
            reservation.committed = true;
            Ok(StartResponse {
                process_id: reservation.entry.id.clone(),
            })
        }
    }

    fn reserve(&self, params: &StartParams) -> Result<Reservation, ExecError> {
        if params.process_id.is_empty() {
            return Err(ExecError::InvalidParams(
                "processId must not be empty".to_string(),
            ));
        }
        if params.argv.is_empty() || params.argv[0].is_empty() {
            return Err(ExecError::InvalidParams(
                "argv must contain at least the program".to_string(),
            ));
        }
        if !params.cwd.is_absolute() {
            return Err(ExecError::InvalidParams(format!(
                "cwd must be an absolute path, got `{}`",
                params.cwd.display()
            )));
        }
        let mut processes = lock(&self.inner.processes);
        if processes.contains_key(&params.process_id) {
            return Err(ExecError::DuplicateProcess(params.process_id.clone()));
        }
        let (seq_tx, _) = watch::channel(1);
        let entry = Arc::new(Entry {
            id: params.process_id.clone(),
            state: Mutex::new(EntryState {
                log: Retention::with_mode(self.inner.config.max_retained_bytes, params.output_mode),
                pgid: None,
                reaped: false,
                closed: false,
                in_flight: 0,
                stdin: None,
                accepted_writes: HashSet::new(),
            }),
            seq_tx,
            paced: params.output_mode == OutputMode::Pace,
            pace_limits: PaceLimits::for_config(&self.inner.config),
            room: Notify::new(),
        });
        processes.insert(params.process_id.clone(), Arc::clone(&entry));
        Ok(Reservation {
            inner: Arc::clone(&self.inner),
            entry,
            committed: false,
        })
    }

    fn lookup(&self, process_id: &str) -> Result<Arc<Entry>, ExecError> {
        lock(&self.inner.processes)
            .get(process_id)
            .cloned()
            .ok_or_else(|| ExecError::UnknownProcess(process_id.to_string()))
    }

    /// Read retained output and state; with `wait_ms`, wait for something new.
    pub fn read(
        &self,
        params: ReadParams,
    ) -> impl Future<Output = Result<ReadResponse, ExecError>> + Send + 'static {
        let entry = self.lookup(&params.process_id);
        async move {
            let entry = entry?;
            let after_seq = params.after_seq.unwrap_or(0);
            // The reader has everything through `after_seq`.
            entry.delivered_through(after_seq);
            let max_bytes = params
                .max_bytes
                .unwrap_or(DEFAULT_READ_BYTES)
                .clamp(1, MAX_READ_BYTES);
            let deadline = params
                .wait_ms
                .map(|ms| tokio::time::Instant::now() + Duration::from_millis(ms).min(MAX_WAIT));
            let mut seq_rx = entry.seq_tx.subscribe();
            loop {
                seq_rx.borrow_and_update();
                let response = lock(&entry.state).log.read(after_seq, max_bytes);
                let has_new = response.next_seq > after_seq + 1;
                if deadline.is_none() || has_new || response.closed {
                    // What the reply carries is delivered once it is on its way, as a
                    // notification is: the process need not wait for the next read (the
                    // other half of the window keeps it for a reader whose connection
                    // broke with the reply in flight).
                    entry.delivered_through(response.next_seq - 1);
                    return Ok(response);
                }
                let Some(deadline) = deadline else {
                    return Ok(response);
                };
                match tokio::time::timeout_at(deadline, seq_rx.changed()).await {
                    Ok(Ok(())) => continue,
                    Ok(Err(_)) | Err(_) => return Ok(response),
                }
            }
        }
    }

    /// Write to stdin. The write is queued before this returns, so writes submitted in order
    /// are applied in order even when their futures are polled concurrently.
    pub fn write(
        &self,
        params: WriteParams,
    ) -> impl Future<Output = Result<WriteResponse, ExecError>> + Send + 'static {
        enum Queued {
            Done(WriteStatus),
            Pending(oneshot::Receiver<WriteStatus>),
        }
        let queued = match self.lookup(&params.process_id) {
            Err(_) => Queued::Done(WriteStatus::UnknownProcess),
            Ok(entry) => {
                let state = lock(&entry.state);
                let retry = params
                    .write_id
                    .as_ref()
                    .is_some_and(|write_id| state.accepted_writes.contains(write_id));
                match (retry, &state.pgid, &state.stdin) {
                    // Checked first: stdin may be gone by now (the process exited).
                    (true, _, _) => Queued::Done(WriteStatus::Accepted),
                    (false, None, _) => Queued::Done(WriteStatus::Starting),
                    (false, Some(_), None) => Queued::Done(WriteStatus::StdinClosed),
                    (false, Some(_), Some(stdin)) => {
                        let (reply, rx) = oneshot::channel();
                        let op = StdinOp {
                            chunk: params.chunk.0,
                            write_id: params.write_id,
                            reply,
                        };
                        match stdin.send(op) {
                            Ok(()) => Queued::Pending(rx),
                            Err(_) => Queued::Done(WriteStatus::StdinClosed),
                        }
                    }
                }
            }
        };
        async move {
            let status = match queued {
                Queued::Done(status) => status,
                Queued::Pending(rx) => rx.await.unwrap_or(WriteStatus::StdinClosed),
            };
            Ok(WriteResponse { status })
        }
    }

    /// Send `signal` to the process group unless the process is closed (see
    /// [`EntryState::signal_target`]); returns whether the process itself was still running.
    fn signal_group(&self, process_id: &str, signal: libc::c_int) -> Result<bool, ExecError> {
        let entry = self.lookup(process_id)?;
        // Sent under the entry lock, so the process cannot close in between.
        let state = lock(&entry.state);
        match state.signal_target() {
            SignalTarget::Starting => Err(ExecError::ProcessStarting(process_id.to_string())),
            SignalTarget::Group { pgid, running } => {
                kill_group(pgid, signal);
                Ok(running)
            }
            SignalTarget::Closed => Ok(false),
        }
    }

    /// Send a signal to the process group (nothing once the process is closed).
    pub fn signal(
        &self,
        params: SignalParams,
    ) -> impl Future<Output = Result<SignalResponse, ExecError>> + Send + 'static {
        let signal = match params.signal {
            ProcessSignal::Interrupt => libc::SIGINT,
            ProcessSignal::Terminate => libc::SIGTERM,
            ProcessSignal::Hangup => libc::SIGHUP,
            ProcessSignal::Kill => libc::SIGKILL,
        };
        let result = self
            .signal_group(&params.process_id, signal)
            .map(|_running| SignalResponse {});
        std::future::ready(result)
    }

    /// Kill the whole process group (nothing once the process is closed); reports whether
    /// the process was still running.
    pub fn terminate(
        &self,
        params: TerminateParams,
    ) -> impl Future<Output = Result<TerminateResponse, ExecError>> + Send + 'static {
        let result = self
            .signal_group(&params.process_id, libc::SIGKILL)
            .map(|running| TerminateResponse { running });
        std::future::ready(result)
    }

    /// Subscribe to events of all processes of this backend. A new subscription replaces the
    /// previous one (whose stream then ends). The queue is bounded: events that do not fit
    /// are dropped for this subscriber; use `read` to recover.
    pub fn events(&self) -> ProcessEvents {
        self.subscribe(/*output*/ true)
    }

    /// Like [`LocalProcess::events`], but only `exited` and `closed`: for a subscriber that
    /// takes output with `read`, which alone then counts as its delivery (pace mode).
    pub fn lifecycle_events(&self) -> ProcessEvents {
        self.subscribe(/*output*/ false)
    }

    fn subscribe(&self, output: bool) -> ProcessEvents {
        let inner = Arc::downgrade(&self.inner);
        let queue = Arc::new(
            EventQueue::new(
                self.inner.config.event_queue,
                self.inner.config.event_queue_bytes,
            )
            .with_output(output)
            .on_taken(Box::new(move |event| {
                // Output the subscriber took is delivered: its process may go on.
                if let (ProcessEvent::Output(output), Some(inner)) = (event, inner.upgrade()) {
                    let entry = lock(&inner.processes).get(&output.process_id).cloned();
                    if let Some(entry) = entry {
                        entry.delivered_one(output.seq);
                    }
                }
            })),
        );
        if let Some(previous) = lock(&self.inner.subscriber).replace(Arc::clone(&queue)) {
            previous.close();
        }
        ProcessEvents::queue(queue)
    }

    /// Kill every process group (session expiry, shutdown), except those of closed
    /// processes: their group numbers may belong to someone else by now.
    pub fn kill_all(&self) {
        self.inner.kill_all();
    }
}

impl ExecProcess for LocalProcess {
    fn start(
        &self,
        params: StartParams,
    ) -> impl Future<Output = Result<StartResponse, ExecError>> + Send {
        LocalProcess::start(self, params)
    }

    fn read(
        &self,
        params: ReadParams,
    ) -> impl Future<Output = Result<ReadResponse, ExecError>> + Send {
        LocalProcess::read(self, params)
    }

    fn write(
        &self,
        params: WriteParams,
    ) -> impl Future<Output = Result<WriteResponse, ExecError>> + Send {
        LocalProcess::write(self, params)
    }

    fn signal(
        &self,
        params: SignalParams,
    ) -> impl Future<Output = Result<SignalResponse, ExecError>> + Send {
        LocalProcess::signal(self, params)
    }

    fn terminate(
        &self,
        params: TerminateParams,
    ) -> impl Future<Output = Result<TerminateResponse, ExecError>> + Send {
        LocalProcess::terminate(self, params)
    }

    fn events(&self) -> ProcessEvents {
        LocalProcess::events(self)
    }
}

fn kill_group(pgid: i32, signal: libc::c_int) {
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill(2) with a negative pid addresses the process group; no memory involved.
    let rc = unsafe { libc::kill(-pgid, signal) };
    if rc != 0 {
        debug!(
            "kill(-{pgid}, {signal}) failed: {}",
            std::io::Error::last_os_error()
        );
    }
}

impl Inner {
    fn kill_all(&self) {
        let entries: Vec<_> = lock(&self.processes).values().cloned().collect();
        for entry in entries {
            match lock(&entry.state).signal_target() {
                SignalTarget::Group { pgid, .. } => kill_group(pgid, libc::SIGKILL),
                SignalTarget::Starting | SignalTarget::Closed => {}
            }
            // Nobody will take the output any more: let the readers drain the pipes to
            // their end instead of waiting for a delivery.
            entry.release();
        }
    }

    fn remove_if_same(&self, entry: &Arc<Entry>) {
        let mut processes = lock(&self.processes);
        if processes
            .get(&entry.id)
            .is_some_and(|current| Arc::ptr_eq(current, entry))
        {
            processes.remove(&entry.id);
        }
    }

    /// Emit one message of a process's output readers; returns whether a pipe is still open.
    /// Only the process's sequencer calls this.
    fn forward(&self, entry: &Entry, msg: Option<ReaderMsg>) -> bool {
        match msg {
            Some(ReaderMsg::Data(stream, chunk)) => {
                self.emit(entry, |state| {
                    state.in_flight = state.in_flight.saturating_sub(chunk.len());
                    let seq = state.log.push_output(stream, chunk.clone());
                    ProcessEvent::Output(OutputNotification {
                        process_id: entry.id.clone(),
                        seq,
                        stream,
                        chunk: crate::protocol::ByteChunk(chunk),
                    })
                });
                true
            }
            Some(ReaderMsg::Failed(failure)) => {
                warn!(process_id = entry.id, "{failure}");
                lock(&entry.state).log.set_failure(failure);
                true
            }
            None => false,
        }
    }

    /// Append an event to the log under the entry lock and hand it to the subscriber.
    /// Only the process's sequencer calls this, so events leave in `seq` order.
    fn emit(&self, entry: &Entry, build: impl FnOnce(&mut EntryState) -> ProcessEvent) {
        let (event, next_seq) = {
            let mut state = lock(&entry.state);
            let event = build(&mut state);
            (event, state.log.next_seq())
        };
        entry.seq_tx.send_replace(next_seq);
        let subscriber = lock(&self.subscriber).clone();
        if let Some(subscriber) = subscriber {
            match subscriber.push(event, /*droppable*/ !entry.paced) {
                Pushed::Queued | Pushed::NotWanted | Pushed::DroppedClosed => {}
                Pushed::DroppedFull => debug!(
                    process_id = entry.id,
                    "subscriber queue full; output dropped for it (recoverable via process/read)"
                ),
            }
        }
    }
}

fn spawn_failed(program: &str, err: std::io::Error) -> ExecError {
    ExecError::SpawnFailed {
        program: program.to_string(),
        message: err.to_string(),
    }
}

/// Spawns `launch` (the command itself, or the sandbox wrapping it) as `params` asks.
fn spawn_process(
    inner: &Arc<Inner>,
    entry: &Arc<Entry>,
    params: &StartParams,
    launch: Launch,
) -> Result<(), ExecError> {
    let child_setup = launch.child_setup();
    let Launch {
        program,
        args,
        arg0,
        request_env,
        confinement,
        ..
    } = launch;
    let mut command = Command::new(&program);
    let program = program.to_string_lossy().into_owned();
    command.args(&args).current_dir(&params.cwd).env_clear();
    if request_env {
        command.envs(&params.env);
    }
    if let Some(arg0) = &arg0 {
        command.arg0(arg0);
    }
    let (tx, rx) = mpsc::channel(READER_QUEUE);
    let (child, stdin, reaper) = if params.tty {
        let pty = open_pty().map_err(|err| spawn_failed(&program, err))?;
        let slave = |pty: &crate::pty::Pty| {
            pty.slave
                .try_clone()
                .map(Stdio::from)
                .map_err(|err| spawn_failed(&program, err))
        };
        command
            .stdin(slave(&pty)?)
            .stdout(slave(&pty)?)
            .stderr(slave(&pty)?);
        // SAFETY: the closures only call async-signal-safe functions (setsid, ioctl,
        // close_range, fcntl; then setrlimit, prctl, seccomp) and allocate nothing.
        unsafe {
            command.pre_exec(terminal_child_setup());
            if let Some(setup) = child_setup {
                command.pre_exec(setup);
            }
        }
        let spawned = command.spawn();
        let reaper = confinement.spawned();
        let child = spawned.map_err(|err| spawn_failed(&program, err))?;
        // Close our copies of the slave so the master reports EOF (EIO) once the child side
        // is gone.
        drop(command);
        let crate::pty::Pty { master, slave } = pty;
        drop(slave);
        let writer = master
            .try_clone()
            .map_err(|err| spawn_failed(&program, err))?;
        let reader = tokio::fs::File::from_std(std::fs::File::from(master));
        tokio::spawn(pump(reader, OutputStream::Pty, tx, Arc::clone(entry)));
        let writer = tokio::fs::File::from_std(std::fs::File::from(writer));
        (
            child,
            Some(spawn_stdin_task(writer, Arc::clone(entry))),
            reaper,
        )
    } else {
        command
            .process_group(0)
            .stdin(if params.pipe_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Only when there is something to do: a `pre_exec` hook makes the spawn a full
        // `fork` instead of `posix_spawn`, which costs a plain start about 0.2 ms.
        if let Some(setup) = child_setup {
            // SAFETY: as above (setrlimit, fcntl, prctl, seccomp; no allocation).
            unsafe {
                command.pre_exec(setup);
            }
        }
        let spawned = command.spawn();
        let reaper = confinement.spawned();
        let mut child = spawned.map_err(|err| spawn_failed(&program, err))?;
        for fd in [
            child.stdout.as_ref().map(AsRawFd::as_raw_fd),
            child.stderr.as_ref().map(AsRawFd::as_raw_fd),
        ]
        .into_iter()
        .flatten()
        {
            grow_pipe(fd);
        }
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(pump(
                stdout,
                OutputStream::Stdout,
                tx.clone(),
                Arc::clone(entry),
            ));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(pump(stderr, OutputStream::Stderr, tx, Arc::clone(entry)));
        }
        let stdin = child
            .stdin
            .take()
            .map(|stdin| spawn_stdin_task(stdin, Arc::clone(entry)));
        (child, stdin, reaper)
    };
    let pgid = child.id().map(|pid| pid as i32);
    {
        let mut state = lock(&entry.state);
        state.pgid = pgid;
        state.stdin = stdin;
    }
    debug!(process_id = entry.id, ?pgid, "process started");
    tokio::spawn(sequence(
        Arc::clone(inner),
        Arc::clone(entry),
        child,
        reaper,
        rx,
    ));
    Ok(())
}

/// Ask for a larger pipe so a fast writer is read in bigger chunks (fewer notifications).
/// Best effort: the kernel may refuse (per-user pipe limits); pages are only used when
/// filled, so idle processes cost nothing extra.
fn grow_pipe(fd: std::os::fd::RawFd) {
    // SAFETY: fcntl on a pipe fd owned by the child handle, which outlives this call.
    let _ = unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, PIPE_SIZE) };
}

/// Whether process group `pgid` still has a member (a process not reaped yet, zombies
/// included). Sends nothing: signal 0 only checks. A member we may not signal (`EPERM`)
/// counts, and so does a pgid of 0 or 1 (which `kill(-pgid)` would not take as one group).
fn group_has_members(pgid: i32) -> bool {
    if pgid <= 1 {
        return true;
    }
    // SAFETY: kill(2) with signal 0 delivers nothing; no memory involved.
    let rc = unsafe { libc::kill(-pgid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// How long the sequencer waits, right after the child was reaped, for the output pipes to
/// reach EOF before it emits `exited`: [`EXIT_DRAIN_EMPTY_GROUP`] when the child's process
/// group is empty, else (a background child is left, or the group is unknown)
/// [`EXIT_DRAIN`]. The child is the leader of its group (`process_group(0)`; under a PTY,
/// `setsid` makes it leader of a new session and of a group with the same id), so `pgid` is
/// its pid. After the reap that number is ours only while the group has members; if the
/// group is empty and the number was taken again, the answer is "members" and the wait
/// short.
///
/// The check is made once, right after the reap, and can be wrong either way, which only
/// costs what the other bound costs: a child of the process that exited but was not reaped
/// yet (by init) still counts as a member (short wait, as before this check); an
/// interactive shell under a PTY puts its background jobs in groups of their own, so the
/// group may be empty while such a job holds the terminal (`exited` after the long wait).
fn exit_drain(pgid: Option<i32>) -> Duration {
    match pgid {
        Some(pgid) if !group_has_members(pgid) => EXIT_DRAIN_EMPTY_GROUP,
        Some(_) | None => EXIT_DRAIN,
    }
}

/// Read one output stream until EOF and hand chunks to the sequencer. In pace mode it
/// waits before each read until the process's undelivered output is below its limits, so
/// a process whose client does not keep up blocks on a full pipe.
async fn pump<R: AsyncRead + Unpin>(
    mut reader: R,
    stream: OutputStream,
    tx: mpsc::Sender<ReaderMsg>,
    entry: Arc<Entry>,
) {
    let mut capacity = INITIAL_READ_BUFFER;
    let mut buf = BytesMut::with_capacity(capacity);
    loop {
        entry.wait_for_room().await;
        match reader.read_buf(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                lock(&entry.state).in_flight += n;
                if n == capacity && capacity < MAX_READ_BUFFER {
                    capacity = (capacity * 2).min(MAX_READ_BUFFER);
                }
                // A mostly full buffer is handed over as is (no copy: this is the bulk
                // streaming case); a small read is copied out so a retained chunk never
                // pins a large, mostly empty allocation.
                let data = if n >= buf.capacity() / 2 {
                    let data = buf.split().freeze();
                    buf = BytesMut::with_capacity(capacity);
                    data
                } else {
                    let data = Bytes::copy_from_slice(&buf[..n]);
                    buf.clear();
                    if buf.capacity() < capacity {
                        buf = BytesMut::with_capacity(capacity);
                    }
                    data
                };
                if tx.send(ReaderMsg::Data(stream, data)).await.is_err() {
                    break;
                }
            }
            // A PTY master reports EIO once every slave fd is closed: that is its EOF.
            Err(err) if stream == OutputStream::Pty && err.raw_os_error() == Some(libc::EIO) => {
                break;
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => {
                let _ = tx
                    .send(ReaderMsg::Failed(format!("reading {stream:?}: {err}")))
                    .await;
                break;
            }
        }
    }
}

/// Applies writes in the order they were queued. A write whose `writeId` was accepted
/// before is answered `accepted` without writing it again; this task is the only one that
/// adds to `accepted_writes`, so a retry queued behind its original sees it.
fn spawn_stdin_task<W: AsyncWrite + Unpin + Send + 'static>(
    mut writer: W,
    entry: Arc<Entry>,
) -> mpsc::UnboundedSender<StdinOp> {
    let (tx, mut rx) = mpsc::unbounded_channel::<StdinOp>();
    tokio::spawn(async move {
        let mut closed = false;
        while let Some(op) = rx.recv().await {
            if let Some(write_id) = &op.write_id
                && lock(&entry.state).accepted_writes.contains(write_id)
            {
                let _ = op.reply.send(WriteStatus::Accepted);
                continue;
            }
            if closed {
                let _ = op.reply.send(WriteStatus::StdinClosed);
                continue;
            }
            let result = match writer.write_all(&op.chunk).await {
                Ok(()) => writer.flush().await,
                Err(err) => Err(err),
            };
            let status = match result {
                Ok(()) => {
                    if let Some(write_id) = op.write_id {
                        lock(&entry.state).accepted_writes.insert(write_id);
                    }
                    WriteStatus::Accepted
                }
                Err(err) => {
                    debug!("stdin closed: {err}");
                    closed = true;
                    WriteStatus::StdinClosed
                }
            };
            let _ = op.reply.send(status);
        }
    });
    tx
}

/// The one task that assigns `seq` for a process: it forwards output until the child is
/// reaped, waits up to [`exit_drain`] for the pipes to reach EOF, emits `exited`, forwards
/// whatever output still comes, and emits `closed` once every pipe reached EOF.
async fn sequence(
    inner: Arc<Inner>,
    entry: Arc<Entry>,
    mut child: Child,
    reaper: Reaper,
    mut rx: mpsc::Receiver<ReaderMsg>,
) {
    let mut pipes_open = true;
    let status = loop {
        tokio::select! {
            msg = rx.recv(), if pipes_open => pipes_open = inner.forward(&entry, msg),
            status = child.wait() => break status,
        }
    };
    let exit_code = match status {
        Ok(status) => reaper.exit_code(&entry.id, status),
        Err(err) => {
            lock(&entry.state)
                .log
                .set_failure(format!("waiting for process: {err}"));
            -1
        }
    };
    let pgid = {
        let mut state = lock(&entry.state);
        state.reaped = true;
        state.pgid
    };
    let bound = exit_drain(pgid);
    let drain = tokio::time::sleep(bound);
    tokio::pin!(drain);
    while pipes_open {
        tokio::select! {
            msg = rx.recv() => pipes_open = inner.forward(&entry, msg),
            () = &mut drain => {
                if !entry.has_room() {
                    // Paced: the readers wait for the client, not for the pipes. Output
                    // still in them comes before `exited`, as for any process.
                    drain.as_mut().reset(tokio::time::Instant::now() + bound);
                    continue;
                }
                debug!(
                    process_id = entry.id,
                    ?bound,
                    "output pipes still open after exit; reporting the exit"
                );
                break;
            }
        }
    }
    // The process is gone: later writes answer `stdinClosed` at once, and dropping the
    // sender lets the stdin writer task end.
    lock(&entry.state).stdin = None;
    inner.emit(&entry, |state| {
        ProcessEvent::Exited(ExitedNotification {
            process_id: entry.id.clone(),
            seq: state.log.push_exited(exit_code),
            exit_code,
        })
    });
    // Output of whatever still holds the pipes (a background child), after `exited`.
    while pipes_open {
        pipes_open = inner.forward(&entry, rx.recv().await);
    }
    // From here on the group is never signalled again (see `EntryState::signal_target`).
    lock(&entry.state).closed = true;
    inner.emit(&entry, |state| {
        ProcessEvent::Closed(ClosedNotification {
            process_id: entry.id.clone(),
            seq: state.log.push_closed(),
        })
    });
    debug!(process_id = entry.id, exit_code, "process closed");
    tokio::time::sleep(inner.config.closed_grace).await;
    inner.remove_if_same(&entry);
}

#[cfg(test)]
#[path = "local_process_tests.rs"]
mod tests;
