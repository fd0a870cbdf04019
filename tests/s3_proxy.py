"""A wrapping endpoint for S3 tests: forwards to moto's server, failing requests on demand.

Faults are injected on the wire, as a flaky network or a throttling store would: a 503 SlowDown
reply, a connection dropped before any reply, or a 403 AccessDenied. boto3 talks to it exactly
as to any S3 endpoint.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SLOW_DOWN = (
    503,
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code>"
    b"<Message>Please reduce your request rate.</Message></Error>",
)
ACCESS_DENIED = (
    403,
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
    b"<Message>Access Denied</Message></Error>",
)
DROP = "drop"  # close the connection without replying


@dataclass
class Faults:
    """`decide(method, path, n)` -> None (forward), DROP or (status, body); n counts requests."""

    decide: Callable[[str, str, int], object] = lambda method, path, n: None
    seen: list[tuple[str, str, object]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def faulty_endpoint(upstream: str, faults: Faults) -> Iterator[str]:
    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with faults.lock:
                n = len(faults.seen)
                action = faults.decide(self.command, self.path, n)
                faults.seen.append((self.command, self.path, action))
            if action == DROP:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if action is not None:
                status, payload = action
                self._reply(status, [("Content-Type", "application/xml")], payload)
                return
            upstream_conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
            upstream_conn.request(self.command, self.path, body=body, headers=headers)
            response = upstream_conn.getresponse()
            payload = response.read()
            head = self.command == "HEAD"  # its Content-Length is the object's: kept as is
            skip = {"transfer-encoding", "connection"} | (set() if head else {"content-length"})
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in skip]
            self._reply(response.status, kept, payload, head=head)
            upstream_conn.close()

        def _reply(self, status, headers, payload: bytes, head: bool = False) -> None:
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            if not head:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if not head:
                self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle  # noqa: N815 (http.server names)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
