//! The tasks of a running process: [`spawn_process`] (the spawn, with or without a PTY),
//! one reader per output pipe ([`pump`]), the stdin writer ([`spawn_stdin_task`]), and
//! the sequencer ([`sequence`]) that assigns every event its `seq`, waits a bounded time
//! for the pipes after the exit ([`exit_drain`]), and emits the events.

use std::os::fd::AsFd;
use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use bytes::BytesMut;
use tokio::io::AsyncRead;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWrite;
use tokio::io::AsyncWriteExt;
use tokio::process::Child;
use tokio::process::Command;
use tokio::sync::mpsc;
use tracing::debug;
use tracing::warn;

use crate::error::ExecError;
use crate::exec_process::Pushed;
use crate::protocol::ClosedNotification;
use crate::protocol::ExitedNotification;
use crate::protocol::OutputNotification;
use crate::protocol::OutputStream;
use crate::protocol::ProcessEvent;
use crate::protocol::StartParams;
use crate::protocol::WriteStatus;
use crate::pty::end_of_input;
use crate::pty::open_pty;
use crate::pty::terminal_child_setup;
use crate::sandbox::Launch;
use crate::sandbox::Reaper;

use super::Inner;
use super::entry::Entry;
use super::entry::EntryState;
use super::entry::StdinOp;
use super::lock;

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
pub(super) const EXIT_DRAIN: Duration = Duration::from_millis(100);
/// The same wait once the child's process group is empty at the reap: the usual case (a
/// process without background children). Every writer in the group is gone, so the pipes
/// are at EOF or held only by processes that left the group (`setsid` daemons, rare); what
/// remains is the output already in the pipes, which only waits for the reader tasks to be
/// scheduled. That can take longer than [`EXIT_DRAIN`] on a starved machine, and would put
/// an ordinary process's last output after `exited`; this bound keeps the order "all
/// output, exited, closed" there, and only delays `exited` of a process whose daemon holds
/// its pipes.
pub(super) const EXIT_DRAIN_EMPTY_GROUP: Duration = Duration::from_secs(2);

/// What an output reader hands the sequencer.
enum ReaderMsg {
    Data(OutputStream, Bytes),
    Failed(String),
}

impl Inner {
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

    /// Append an event to the log and hand it to the subscriber (output only while its
    /// process's notifications are on, see [`EntryState::output_notifications`]), both
    /// under the entry lock: a switch of the notifications (which takes that lock) comes
    /// wholly before or after it. Only the process's sequencer calls this, so events leave
    /// in `seq` order.
    fn emit(&self, entry: &Entry, build: impl FnOnce(&mut EntryState) -> ProcessEvent) {
        let next_seq = {
            let mut state = lock(&entry.state);
            let event = build(&mut state);
            // Output not queued stays undelivered: a `read` delivers it (and until one
            // does, pace mode counts it against the process's limits).
            if state.output_notifications || !matches!(event, ProcessEvent::Output(_)) {
                self.queue_event(entry, event);
            }
            state.log.next_seq()
        };
        entry.seq_tx.send_replace(next_seq);
    }

    /// Hands `event` to the subscriber, if there is one. Never blocks.
    fn queue_event(&self, entry: &Entry, event: ProcessEvent) {
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
pub(super) fn spawn_process(
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
        escalation,
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
    let (child, stdin, terminal, reaper) = if params.tty {
        let size = params.pty_size.unwrap_or_default();
        let pty = open_pty(size).map_err(|err| spawn_failed(&program, err))?;
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
        let reaper = confinement.spawned().holding(escalation);
        let child = spawned.map_err(|err| spawn_failed(&program, err))?;
        // Close our copies of the slave so the master reports EOF (EIO) once the child side
        // is gone.
        drop(command);
        let crate::pty::Pty { master, slave } = pty;
        drop(slave);
        let clone = || {
            master
                .try_clone()
                .map_err(|err| spawn_failed(&program, err))
        };
        let writer = clone()?;
        let terminal = clone()?;
        let reader = tokio::fs::File::from_std(std::fs::File::from(master));
        tokio::spawn(pump(reader, OutputStream::Pty, tx, Arc::clone(entry)));
        let writer = tokio::fs::File::from_std(std::fs::File::from(writer));
        let stdin = spawn_stdin_task(writer, Arc::clone(entry), /*terminal*/ true);
        (child, Some(stdin), Some(terminal), reaper)
    } else {
        let stdin = if params.pipe_stdin {
            Stdio::piped()
        } else {
            confinement
                .empty_stdin()
                .map_err(|err| spawn_failed(&program, err))?
                .unwrap_or_else(Stdio::null)
        };
        command
            .process_group(/*pgroup*/ 0)
            .stdin(stdin)
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
        let reaper = confinement.spawned().holding(escalation);
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
            .map(|stdin| spawn_stdin_task(stdin, Arc::clone(entry), /*terminal*/ false));
        (child, stdin, None, reaper)
    };
    let pgid = child.id().map(|pid| pid as i32);
    {
        let mut state = lock(&entry.state);
        state.pgid = pgid;
        state.stdin = stdin;
        state.terminal = terminal;
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
    let rc = unsafe {
        libc::kill(-pgid, /*sig*/ 0)
    };
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
pub(super) fn exit_drain(pgid: Option<i32>) -> Duration {
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
/// adds to `accepted_writes` for writes it applies, so a retry queued behind its original
/// sees it.
///
/// `closeStdin` ends the input after its chunk: a pipe is closed (the writer dropped); a
/// `terminal` (the writer is a descriptor of its master) gets the end-of-file input of
/// [`end_of_input`], and the writer is dropped as well. From then on a write with bytes
/// answers `stdinClosed` and a close without bytes `accepted`, as after a failed write.
fn spawn_stdin_task<W: AsyncWrite + AsFd + Unpin + Send + 'static>(
    writer: W,
    entry: Arc<Entry>,
    terminal: bool,
) -> mpsc::UnboundedSender<StdinOp> {
    let (tx, mut rx) = mpsc::unbounded_channel::<StdinOp>();
    tokio::spawn(async move {
        let mut writer = Some(writer);
        // The last byte written, which tells whether a terminal's line is unfinished.
        let mut last_written = None;
        while let Some(op) = rx.recv().await {
            if let Some(write_id) = &op.write_id
                && lock(&entry.state).accepted_writes.contains(write_id)
            {
                let _ = op.reply.send(WriteStatus::Accepted);
                continue;
            }
            let Some(open) = writer.as_mut() else {
                let status = closed_stdin_status(&op.chunk, op.close);
                if status == WriteStatus::Accepted
                    && let Some(write_id) = op.write_id
                {
                    lock(&entry.state).accepted_writes.insert(write_id);
                }
                let _ = op.reply.send(status);
                continue;
            };
            let mut result = write_flushed(open, &op.chunk).await;
            if let Some(&byte) = op.chunk.last() {
                last_written = Some(byte);
            }
            if result.is_ok() && op.close && terminal {
                let eof = end_of_input(open.as_fd(), last_written);
                result = write_flushed(open, &eof).await;
            }
            let status = match result {
                Ok(()) => {
                    if op.close {
                        writer = None;
                    }
                    if let Some(write_id) = op.write_id {
                        lock(&entry.state).accepted_writes.insert(write_id);
                    }
                    WriteStatus::Accepted
                }
                Err(err) => {
                    debug!("stdin closed: {err}");
                    writer = None;
                    WriteStatus::StdinClosed
                }
            };
            let _ = op.reply.send(status);
        }
    });
    tx
}

/// The answer to a write when stdin is already closed (or there never was one): a close
/// without bytes is `accepted` (stdin is closed, as asked), anything else `stdinClosed`.
pub(super) fn closed_stdin_status(chunk: &[u8], close: bool) -> WriteStatus {
    if close && chunk.is_empty() {
        WriteStatus::Accepted
    } else {
        WriteStatus::StdinClosed
    }
}

async fn write_flushed<W: AsyncWrite + Unpin>(writer: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    writer.write_all(bytes).await?;
    writer.flush().await
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
    // sender lets the stdin writer task end. There is nothing left to resize either.
    {
        let mut state = lock(&entry.state);
        state.stdin = None;
        state.terminal = None;
    }
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
