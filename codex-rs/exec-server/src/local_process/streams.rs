//! The per-process event streams of a [`LocalProcess`] and its [`ExecProcess`]
//! implementation.
//!
//! The first subscription starts an event router ([`crate::event_router`]) that takes
//! over the backend's event queue ([`LocalProcess::events`]): from then on, each process's
//! events go to its own [`ProcessStream`], holes are filled with [`LocalProcess::read`],
//! and a slow subscriber paces its own process exactly as a slow remote client does.

use std::sync::Arc;
use std::sync::Weak;

use tokio::sync::mpsc;

use super::Inner;
use super::LocalProcess;
use super::Owner;
use crate::error::ExecError;
use crate::event_router::Backend;
use crate::event_router::NotifyFn;
use crate::event_router::ROUTER_QUEUE;
use crate::event_router::ReadFn;
use crate::event_router::RouterMsg;
use crate::event_router::run_router;
use crate::event_router::subscription;
use crate::exec_process::BoxFuture;
use crate::exec_process::EventQueue;
use crate::exec_process::ExecFuture;
use crate::exec_process::ExecProcess;
use crate::process_stream::ProcessStream;
use crate::protocol::OutputNotificationsParams;
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

/// The router of a backend's per-process streams and the event queue feeding it.
pub(super) struct LocalStreams {
    router: mpsc::Sender<RouterMsg>,
    queue: Arc<EventQueue>,
}

impl LocalStreams {
    /// The last handle of the backend is gone: end the feeder, and so the router.
    pub(super) fn close(&self) {
        self.queue.close();
    }
}

/// A handle that does not keep the backend alive (the router lives beside it).
#[derive(Clone)]
struct WeakLocal {
    inner: Weak<Inner>,
    owner: Weak<Owner>,
}

impl WeakLocal {
    fn upgrade(&self) -> Option<LocalProcess> {
        let (inner, owner) = self.inner.upgrade().zip(self.owner.upgrade())?;
        Some(LocalProcess { inner, owner })
    }
}

fn backend_gone() -> ExecError {
    ExecError::Internal("the local backend was dropped".to_string())
}

impl LocalProcess {
    fn streams(&self) -> &LocalStreams {
        self.owner.streams.get_or_init(|| {
            let (router, rx) = mpsc::channel(ROUTER_QUEUE);
            let (mut events, queue) = self.events_with_queue();
            let feeder = router.clone();
            tokio::spawn(async move {
                while let Some(event) = events.recv().await {
                    if feeder.send(RouterMsg::Event(event)).await.is_err() {
                        break;
                    }
                }
            });
            let handle = WeakLocal {
                inner: Arc::downgrade(&self.inner),
                owner: Arc::downgrade(&self.owner),
            };
            let reader = handle.clone();
            let read: ReadFn = Arc::new(move |params: ReadParams| match reader.upgrade() {
                Some(local) => Box::pin(local.read(params)),
                None => Box::pin(std::future::ready(Err(backend_gone()))),
            });
            let notify: NotifyFn = Arc::new(move |params: OutputNotificationsParams| match handle
                .upgrade()
            {
                Some(local) => {
                    let set = local.set_output_notifications(params);
                    Box::pin(async move { set.await.map(|_| ()) })
                }
                None => Box::pin(std::future::ready(Err(backend_gone()))),
            });
            tokio::spawn(run_router(
                rx,
                // Taking an event from the local queue is its delivery.
                Backend {
                    read,
                    notify,
                    ack: None,
                },
                Box::new(|| Some(backend_gone())),
            ));
            LocalStreams { router, queue }
        })
    }

    async fn subscribe_with(&self, process_id: &str, catch_up: bool) -> ProcessStream {
        let (stream, subscribe) = subscription(process_id, catch_up);
        match self.streams().router.send(subscribe).await {
            Ok(()) => stream,
            Err(_) => ProcessStream::failed(process_id.to_string(), backend_gone()),
        }
    }

    /// The events of a process already started, from its first retained event, then live
    /// (see [`ExecProcess::subscribe`]). The first subscription takes over the backend's
    /// event queue: do not mix with [`LocalProcess::events`].
    pub async fn subscribe(&self, process_id: &str) -> ProcessStream {
        self.subscribe_with(process_id, /*catch_up*/ true).await
    }

    /// Subscribe to `params.process_id`, then start it (see
    /// [`ExecProcess::start_streaming`]).
    pub async fn start_streaming(
        &self,
        params: StartParams,
    ) -> Result<(StartResponse, ProcessStream), ExecError> {
        let stream = self
            .subscribe_with(&params.process_id, /*catch_up*/ false)
            .await;
        let response = self.start(params).await?;
        Ok((response, stream))
    }
}

impl ExecProcess for LocalProcess {
    fn start(&self, params: StartParams) -> ExecFuture<'_, StartResponse> {
        Box::pin(LocalProcess::start(self, params))
    }

    fn start_streaming(
        &self,
        params: StartParams,
    ) -> ExecFuture<'_, (StartResponse, ProcessStream)> {
        Box::pin(LocalProcess::start_streaming(self, params))
    }

    fn subscribe<'a>(&'a self, process_id: &'a str) -> BoxFuture<'a, ProcessStream> {
        Box::pin(LocalProcess::subscribe(self, process_id))
    }

    fn read(&self, params: ReadParams) -> ExecFuture<'_, ReadResponse> {
        Box::pin(LocalProcess::read(self, params))
    }

    fn write(&self, params: WriteParams) -> ExecFuture<'_, WriteResponse> {
        Box::pin(LocalProcess::write(self, params))
    }

    fn signal(&self, params: SignalParams) -> ExecFuture<'_, SignalResponse> {
        Box::pin(LocalProcess::signal(self, params))
    }

    fn terminate(&self, params: TerminateParams) -> ExecFuture<'_, TerminateResponse> {
        Box::pin(LocalProcess::terminate(self, params))
    }

    fn resize(&self, params: ResizeParams) -> ExecFuture<'_, ResizeResponse> {
        Box::pin(LocalProcess::resize(self, params))
    }
}
