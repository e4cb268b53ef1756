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
//! Events go to at most one subscriber through a queue that never blocks the sequencer.
//! Output is *delivered* when the subscriber takes it from the queue, or when a `read` goes
//! past it (or returns it). With `outputMode: "pace"` (the default) the reader tasks stop
//! reading a process's pipes while its undelivered output is at the limits of
//! [`entry::PaceLimits`], so the process blocks on write until its client catches up and
//! nothing is dropped; the retention log only drops delivered output. With `"drop"`, output
//! events that do not fit the bounded queue are dropped for the subscriber (never blocking
//! the process) and it recovers them with `read(afterSeq)` from the retention log, which
//! drops the oldest output beyond its budget. `exited`/`closed` are always queued, so the
//! subscriber always learns that a process finished. The output events of one process can
//! be turned off for the subscriber ([`LocalProcess::set_output_notifications`]): its
//! output is then delivered by `read` alone.
//!
//! The modules: [`entry`] (a process's entry: its state, signal target and output pacing)
//! and [`tasks`] (the spawn, and the reader, stdin writer and sequencer tasks).
//!
//! [`exit_drain`]: tasks::exit_drain
//! [`EXIT_DRAIN`]: tasks::EXIT_DRAIN
//! [`EXIT_DRAIN_EMPTY_GROUP`]: tasks::EXIT_DRAIN_EMPTY_GROUP

mod entry;
mod streams;
mod tasks;

use std::collections::HashMap;
use std::collections::HashSet;
use std::future::Future;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::sync::oneshot;
use tokio::sync::watch;
use tracing::debug;

use crate::error::ExecError;
use crate::exec_process::EventQueue;
use crate::exec_process::ProcessEvents;
use crate::protocol::AckParams;
use crate::protocol::AckResponse;
use crate::protocol::OutputMode;
use crate::protocol::OutputNotificationsParams;
use crate::protocol::OutputNotificationsResponse;
use crate::protocol::ProcessEvent;
use crate::protocol::ProcessSignal;
use crate::protocol::ReadParams;
use crate::protocol::ReadResponse;
use crate::protocol::ResizeParams;
use crate::protocol::ResizeResponse;
use crate::protocol::SignalParams;
use crate::protocol::SignalResponse;
use crate::protocol::StartParams;
use crate::protocol::StartResponse;
use crate::protocol::TerminateParams;
use crate::protocol::TerminateResponse;
use crate::protocol::WriteParams;
use crate::protocol::WriteResponse;
use crate::protocol::WriteStatus;
use crate::pty::set_window_size;
use crate::retention::Retention;
use crate::sandbox::prepare_launch;

use entry::Entry;
use entry::EntryState;
use entry::PaceLimits;
use entry::SignalTarget;
use entry::StdinOp;
use tasks::closed_stdin_status;
use tasks::spawn_process;

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
    owner: Arc<Owner>,
}

/// Kills every process group of a backend when the last [`LocalProcess`] handle to it is
/// dropped, as the server does when a session expires: nobody could read, write or
/// terminate them any more. (The tasks of running processes keep `Inner` alive, so this
/// cannot be `Inner`'s own `Drop`.)
struct Owner {
    inner: std::sync::Weak<Inner>,
    /// The per-process event streams, once someone subscribed (see `streams.rs`).
    streams: std::sync::OnceLock<streams::LocalStreams>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.kill_all();
        }
        if let Some(streams) = self.streams.get() {
            streams.close();
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
    /// Shell escalation for `process/start {escalation}` (set by the server for each
    /// session; without it an escalated start is `escalationUnavailable`).
    escalation: std::sync::OnceLock<Arc<crate::escalation::SessionEscalation>>,
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
            escalation: std::sync::OnceLock::new(),
        });
        Self {
            owner: Arc::new(Owner {
                inner: Arc::downgrade(&inner),
                streams: std::sync::OnceLock::new(),
            }),
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

    /// Gives `process/start {escalation}` its shell escalation (once; the server's
    /// sessions do this when they are created).
    pub(crate) fn set_escalation(&self, escalation: crate::escalation::SessionEscalation) {
        let _ = self.inner.escalation.set(Arc::new(escalation));
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
        let escalation = self.inner.escalation.get().cloned();
        async move {
            let mut reservation = reserved?;
            // An escalated start runs the server's patched shell, with its socket.
            let (params, escalation) =
                crate::escalation::prepare(params, escalation.as_deref()).await?;
            // The sandbox policy is applied (and refused when it cannot be enforced)
            // before anything runs.
            let launch = prepare_launch(&params, &root_pins, &hidden, escalation).await?;
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
        match (params.pty_size, params.tty) {
            (Some(_), false) => {
                return Err(ExecError::InvalidParams(
                    "`ptySize` needs `tty: true`".to_string(),
                ));
            }
            (Some(size), true) => size.validate().map_err(ExecError::InvalidParams)?,
            (None, _) => {}
        }
        let mut processes = lock(&self.inner.processes);
        if processes.contains_key(&params.process_id) {
            return Err(ExecError::DuplicateProcess(params.process_id.clone()));
        }
        let (seq_tx, _) = watch::channel(1);
        let entry = Arc::new(Entry {
            id: params.process_id.clone(),
            tty: params.tty,
            state: Mutex::new(EntryState {
                log: Retention::with_mode(self.inner.config.max_retained_bytes, params.output_mode),
                pgid: None,
                reaped: false,
                closed: false,
                in_flight: 0,
                stdin: None,
                terminal: None,
                accepted_writes: HashSet::new(),
                output_notifications: true,
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
                .clamp(/*min*/ 1, MAX_READ_BYTES);
            let deadline = params
                .wait_ms
                .map(|ms| tokio::time::Instant::now() + Duration::from_millis(ms).min(MAX_WAIT));
            let mut seq_rx = entry.seq_tx.subscribe();
            loop {
                seq_rx.borrow_and_update();
                let response = {
                    let mut state = lock(&entry.state);
                    let mut response = state.log.read(after_seq, max_bytes);
                    // Under the lock that `emit` takes: no event falls between this
                    // reply and the first notified one.
                    if params.resume_notifications && response.next_seq >= state.log.next_seq() {
                        state.output_notifications = true;
                        response.notifications_resumed = true;
                    }
                    response
                };
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

    /// Write to stdin, and with `close_stdin` close it after the chunk (see
    /// [`WriteParams::close_stdin`]). The write is queued before this returns, so writes
    /// submitted in order are applied in order even when their futures are polled
    /// concurrently.
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
                let mut state = lock(&entry.state);
                let retry = params
                    .write_id
                    .as_ref()
                    .is_some_and(|write_id| state.accepted_writes.contains(write_id));
                match (retry, &state.pgid, &state.stdin) {
                    // Checked first: stdin may be gone by now (the process exited).
                    (true, _, _) => Queued::Done(WriteStatus::Accepted),
                    (false, None, _) => Queued::Done(WriteStatus::Starting),
                    (false, Some(_), None) => {
                        let status = closed_stdin_status(&params.chunk.0, params.close_stdin);
                        if status == WriteStatus::Accepted
                            && let Some(write_id) = params.write_id
                        {
                            state.accepted_writes.insert(write_id);
                        }
                        Queued::Done(status)
                    }
                    (false, Some(_), Some(stdin)) => {
                        let (reply, rx) = oneshot::channel();
                        let op = StdinOp {
                            chunk: params.chunk.0,
                            write_id: params.write_id,
                            close: params.close_stdin,
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

    /// Set the window size of a tty process's terminal (`TIOCSWINSZ` on its master; the
    /// kernel sends `SIGWINCH` to the terminal's foreground process group when the size
    /// changes). Applied before this returns, so a write submitted after it sees the new
    /// size. A size out of bounds is `InvalidParams`, a process without a terminal
    /// `NotATerminal`, one not spawned yet `ProcessStarting`; once the process was reaped
    /// there is nothing to resize and the call succeeds without doing anything.
    pub fn resize(
        &self,
        params: ResizeParams,
    ) -> impl Future<Output = Result<ResizeResponse, ExecError>> + Send + 'static {
        std::future::ready(self.resize_now(&params).map(|()| ResizeResponse {}))
    }

    fn resize_now(&self, params: &ResizeParams) -> Result<(), ExecError> {
        params.validate().map_err(ExecError::InvalidParams)?;
        let size = params.size();
        let entry = self.lookup(&params.process_id)?;
        if !entry.tty {
            return Err(ExecError::NotATerminal(params.process_id.clone()));
        }
        let state = lock(&entry.state);
        match (state.pgid, &state.terminal) {
            (None, _) => Err(ExecError::ProcessStarting(params.process_id.clone())),
            (Some(_), None) => Ok(()),
            (Some(_), Some(terminal)) => set_window_size(terminal.as_fd(), size).map_err(|err| {
                ExecError::Internal(format!(
                    "resizing the terminal of `{}`: {err}",
                    params.process_id
                ))
            }),
        }
    }

    /// Turn the output events of one process off (`enabled: false`) or on again for the
    /// event subscriber ([`LocalProcess::events`]): `process/outputNotifications`, per-process
    /// flow control for a client whose consumer of that process falls behind.
    ///
    /// Applied before this returns, at the point where the process's events get their
    /// `seq`: output that gets one later is not queued for the subscriber, and its output
    /// still in the queue is taken back (never taken, it was never delivered). So from
    /// this call on, the subscriber takes none of its output (an event it had already
    /// taken is all that may still be on its way); that output is delivered only when a
    /// [`LocalProcess::read`] returns it or passes it, and in `outputMode: "pace"` the
    /// process pauses once half the retention window is undelivered, as with a
    /// subscriber that reads nothing. `exited` and `closed` are always queued. With
    /// `enabled: true`, output that gets a `seq` later is queued again; what came while it
    /// was off is in the log by the time this returns, so one `read` after it covers the
    /// hole. Idempotent. The setting belongs to the process, so it outlives a replaced
    /// subscriber (a resumed session). A process still starting takes the setting from
    /// its first output on; a closed one has nothing more to send (`Ok`, and nothing is
    /// done, not even a withdrawal); an unknown id is [`ExecError::UnknownProcess`].
    pub fn set_output_notifications(
        &self,
        params: OutputNotificationsParams,
    ) -> impl Future<Output = Result<OutputNotificationsResponse, ExecError>> + Send + 'static {
        let result = self.lookup(&params.process_id).map(|entry| {
            // Under the entry lock, which the sequencer holds while it queues an event
            // (see `Inner::emit`): no output of this process is queued after this.
            let mut state = lock(&entry.state);
            if state.closed {
                // Nothing more to send: the switch changes nothing.
                return OutputNotificationsResponse {};
            }
            state.output_notifications = params.enabled;
            if !params.enabled {
                let subscriber = lock(&self.inner.subscriber).clone();
                if let Some(subscriber) = subscriber {
                    let withdrawn = subscriber.withdraw_output(&entry.id);
                    debug!(
                        process_id = entry.id,
                        withdrawn, "output notifications off; queued output withdrawn"
                    );
                }
            }
            OutputNotificationsResponse {}
        });
        std::future::ready(result)
    }

    /// Subscribe to events of all processes of this backend. A new subscription replaces the
    /// previous one (whose stream then ends). The queue is bounded: events that do not fit
    /// are dropped for this subscriber; use `read` to recover.
    pub fn events(&self) -> ProcessEvents {
        self.subscribe_queue(Delivery::Taken).0
    }

    /// Like [`LocalProcess::events`], but only `exited` and `closed`: for a subscriber that
    /// takes output with `read`, which alone then counts as its delivery (pace mode).
    pub fn lifecycle_events(&self) -> ProcessEvents {
        self.subscribe_queue(Delivery::ReadOnly).0
    }

    /// Like [`LocalProcess::events`], but output counts as delivered only once
    /// acknowledged ([`LocalProcess::acknowledge`]) or read past, not once taken: for a
    /// subscriber that forwards it over a connection that may break with output on its
    /// way.
    pub fn acknowledged_events(&self) -> ProcessEvents {
        self.subscribe_queue(Delivery::Acknowledged).0
    }

    /// [`LocalProcess::events`], with the queue behind it.
    fn events_with_queue(&self) -> (ProcessEvents, Arc<EventQueue>) {
        self.subscribe_queue(Delivery::Taken)
    }

    /// `process/ack`: the subscriber holds every event of the process through `seq`, so
    /// that output counts as delivered (see [`LocalProcess::acknowledged_events`]).
    pub fn acknowledge(
        &self,
        params: AckParams,
    ) -> impl Future<Output = Result<AckResponse, ExecError>> + Send + 'static {
        let result = self.lookup(&params.process_id).map(|entry| {
            entry.delivered_through(params.seq);
            AckResponse {}
        });
        std::future::ready(result)
    }

    fn subscribe_queue(&self, delivery: Delivery) -> (ProcessEvents, Arc<EventQueue>) {
        let inner = Arc::downgrade(&self.inner);
        let mut queue = EventQueue::new(
            self.inner.config.event_queue,
            self.inner.config.event_queue_bytes,
        )
        .with_output(delivery != Delivery::ReadOnly);
        if delivery == Delivery::Taken {
            queue = queue.on_taken(Box::new(move |event| {
                // Output the subscriber took is delivered: its process may go on.
                if let (ProcessEvent::Output(output), Some(inner)) = (event, inner.upgrade()) {
                    let entry = lock(&inner.processes).get(&output.process_id).cloned();
                    if let Some(entry) = entry {
                        entry.delivered_one(output.seq);
                    }
                }
            }));
        }
        let queue = Arc::new(queue);
        if let Some(previous) = lock(&self.inner.subscriber).replace(Arc::clone(&queue)) {
            previous.close();
        }
        (ProcessEvents::queue(Arc::clone(&queue)), queue)
    }

    /// Kill every process group (session expiry, shutdown), except those of closed
    /// processes: their group numbers may belong to someone else by now.
    pub fn kill_all(&self) {
        self.inner.kill_all();
    }
}

/// When a subscriber's output counts as delivered (pace mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    /// Once it takes the notification from its queue.
    Taken,
    /// Once it acknowledges it (`process/ack`) or reads past it.
    Acknowledged,
    /// It gets no output notifications: once it reads past the output.
    ReadOnly,
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
}

#[cfg(test)]
#[path = "local_process_tests.rs"]
mod tests;
