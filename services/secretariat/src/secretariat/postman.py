"""The nameko edge of delivery: a DependencyProvider that runs the delivery worker in a managed
thread (as the Store runs its relay), woken after commits and polling, and gives workers the
settings and a mailer for synchronous sends (credentials)."""

from __future__ import annotations

import logging
from typing import Any

import eventlet
from eventlet.event import Event
from eventlet.queue import Empty, LightQueue
from nameko.extensions import DependencyProvider

from congress.messaging.nameko_edge import Store
from secretariat.adapters.mail import SmtpMailer
from secretariat.adapters.webhooks import WebhookPoster
from secretariat.delivery import DeliveryWorker
from secretariat.settings import Settings

log = logging.getLogger(__name__)


class PostmanAccess:
    """What a worker sees as `self.postman`."""

    def __init__(self, provider: Postman) -> None:
        self._provider = provider
        self.settings = provider.settings
        self.mailer = provider.mailer

    def wake(self) -> None:
        self._provider.wake()


class Postman(DependencyProvider):
    def __init__(self, stop_timeout: float = 20.0) -> None:
        self.stop_timeout = stop_timeout
        self._running = False
        self._wake: LightQueue = LightQueue(maxsize=1)
        self._stopped = Event()

    def setup(self) -> None:
        self.settings = Settings.from_config(self.container.config)
        self.mailer = SmtpMailer(self.settings)

    def start(self) -> None:
        # Built here, not in setup: the Store's engine exists only once every setup has run.
        store = next(d for d in self.container.dependencies if isinstance(d, Store))
        self.worker = DeliveryWorker(
            store.sessions,
            self.settings,
            mailer=self.mailer,
            poster=WebhookPoster(
                self.settings.webhook_timeout, allow_private_networks=self.settings.webhook_allow_private_networks
            ),
            on_commit=store.wake_relay,
        )
        self._running = True
        self._stopped = Event()
        self.container.spawn_managed_thread(self._deliver_forever)

    def stop(self) -> None:
        # Let sends in flight finish and be recorded, so none waits for its lease to expire.
        was_running, self._running = self._running, False
        self.wake()
        if was_running:
            with eventlet.Timeout(self.stop_timeout, False):
                self._stopped.wait()

    def kill(self) -> None:
        self._running = False
        self.wake()

    def get_dependency(self, worker_ctx: Any) -> PostmanAccess:
        return PostmanAccess(self)

    def wake(self) -> None:
        try:
            self._wake.put_nowait(True)
        except eventlet.queue.Full:
            pass  # a wake-up is already pending

    def _deliver_forever(self) -> None:
        poll = self.settings.poll_interval
        backoff = poll
        try:
            while self._running:
                try:
                    if self.worker.run_due():
                        continue  # more may be due already
                    wait, backoff = self.worker.seconds_until_due(poll), poll
                except Exception as exc:  # database away: keep the deliveries, try again
                    log.warning("delivery worker: cannot work yet (%s); retrying in %.1fs", exc, backoff)
                    wait, backoff = backoff, min(backoff * 2, 30.0)
                try:
                    self._wake.get(timeout=max(wait, 0.05))
                except Empty:
                    pass
        finally:
            self._stopped.send(None)
