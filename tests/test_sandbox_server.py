"""The sandbox's HTTP server: each response leaves in one write, never before the floor.

Both keep the aws provider's SDK out of the race that made it send calls
twice (docs/sandbox.md, "Calls sent twice").
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import make_server

from regionguard.sandbox.server import ResponseFloor, SandboxApp, SandboxRequestHandler


class CountingSocket(socket.socket):
    """A socket that records the size of every send."""

    sends: list[int]

    def send(self, data: Any, flags: int = 0) -> int:
        sent = super().send(data, flags)
        self.sends.append(sent)
        return sent

    def sendall(self, data: Any, flags: int = 0) -> None:
        super().sendall(data, flags)
        self.sends.append(len(data))


def counting(handler: type[MotoRequestHandler], sends: list[int]) -> type[MotoRequestHandler]:
    """``handler`` on a CountingSocket that appends to ``sends``."""

    class Counting(handler):  # type: ignore[misc,valid-type]
        def setup(self) -> None:
            plain: socket.socket = self.request  # type: ignore[has-type]
            sock = CountingSocket(plain.family, plain.type, plain.proto, fileno=plain.detach())
            sock.sends = sends
            self.request = sock
            super().setup()

        def finish(self) -> None:
            super().finish()
            self.request.close()

    return Counting


@contextmanager
def served(app: Any, handler: type[MotoRequestHandler]) -> Iterator[int]:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def post(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body=b"{}", headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_response_leaves_in_one_write(sandbox_server: tuple[SandboxApp, str]) -> None:
    app, _ = sandbox_server
    sends: list[int] = []
    with served(app, counting(SandboxRequestHandler, sends)) as port:
        status, body = post(port, "/list-landingzones")
    assert status == 200
    assert json.loads(body)["landingZones"]
    assert len(sends) == 1
    assert sends[0] > len(body)  # status line, headers and body together


def test_werkzeug_alone_writes_the_headers_and_the_body_apart(
    sandbox_server: tuple[SandboxApp, str],
) -> None:
    # What the sandbox did before: two writes, so a client could read the
    # headers while the body was still on its way.
    app, _ = sandbox_server
    sends: list[int] = []
    with served(app, counting(MotoRequestHandler, sends)) as port:
        status, body = post(port, "/list-landingzones")
    assert status == 200
    assert len(sends) == 2
    assert sends[1] == len(body)


def test_no_answer_leaves_before_the_floor(sandbox_server: tuple[SandboxApp, str]) -> None:
    app, _ = sandbox_server
    with served(ResponseFloor(app, 0.25), SandboxRequestHandler) as port:
        start = time.monotonic()
        status, _ = post(port, "/list-landingzones")
        elapsed = time.monotonic() - start
    assert status == 200
    assert elapsed >= 0.25
