"""A TCP proxy the tests control, to cut services off from RabbitMQ and give it back.

There is no Toxiproxy here; this is the small stand-in. `cut()` drops every open connection and
refuses new ones (accepted and closed at once, so a client sees the broker vanish rather than
hang) until `restore()`; it counts what it did, so a test can tell that the services really went
through it and reconnected after the cut. The e2e stack puts the sections relay behind one; the
fault tests put every service behind one.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass


@dataclass
class ProxyStats:
    accepted: int = 0
    refused: int = 0
    dropped: int = 0
    accepted_since_restore: int = 0


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.5)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._peers: dict[socket.socket, socket.socket] = {}
        self._cut = False
        self._closed = False
        self.cut_at: float | None = None
        self.restored_at: float | None = None
        self.stats = ProxyStats()
        self._acceptor = threading.Thread(target=self._accept_loop, name="test-proxy", daemon=True)
        self._acceptor.start()

    @property
    def is_cut(self) -> bool:
        return self._cut

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._peers) // 2

    def uri(self, amqp_uri: str) -> str:
        """The same account and vhost (amqp://user:pass@host:port/vhost) through this proxy."""
        head, rest = amqp_uri.rsplit("@", 1)
        _host_port, path = rest.split("/", 1)
        return f"{head}@127.0.0.1:{self.port}/{path}"

    def cut(self) -> None:
        """Drop every connection now and refuse new ones until `restore()`."""
        with self._lock:
            self._cut = True
            self.cut_at = time.monotonic()
            self.restored_at = None
            for sock in list(self._peers):
                self._drop(sock)

    def restore(self) -> None:
        with self._lock:
            self._cut = False
            self.restored_at = time.monotonic()
            self.stats.accepted_since_restore = 0

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._acceptor.join(timeout=5)
        self._listener.close()

    def _drop(self, sock: socket.socket) -> None:
        """Close a connection's two sockets (caller holds the lock)."""
        peer = self._peers.pop(sock, None)
        if peer is None:
            return
        self._peers.pop(peer, None)
        self.stats.dropped += 1
        for one in (sock, peer):
            try:
                one.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            one.close()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._cut:
                self.stats.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                if self._cut:
                    self.stats.refused += 1
                    client.close()
                    upstream.close()
                    continue
                self._peers[client] = upstream
                self._peers[upstream] = client
                self.stats.accepted += 1
                self.stats.accepted_since_restore += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), name="test-proxy-pipe", daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        with self._lock:
            self._drop(source)
