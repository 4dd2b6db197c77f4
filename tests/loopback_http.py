"""A real HTTP server on 127.0.0.1 for download tests: Range, ETag, faults on demand.

``LoopbackServer(files)`` serves ``{"/name": bytes}``. Every request is logged
(``server.requests``: method, path, headers). Faults, set per path in ``server.faults``:

* ``{"cut_after": n, "times": k}``: the first k full-body answers stop after n bytes and drop
  the connection (Content-Length still promises the whole file);
* ``{"stall_after": n, "stall_s": s}``: send n bytes, then go silent for s seconds;
* ``{"stall_headers_s": s}``: say nothing at all for s seconds;
* ``{"chunk_delay_s": d}``: pause d seconds between 16 KiB chunks (a slow link);
* ``{"ignore_range": True}``: always answer 200 with the whole file;
* ``{"content_length": "-5"}``: send this Content-Length header instead of the true one;
* ``{"endless": True}``: after the file, keep sending zeros (no Content-Length) until the
  client hangs up;
* ``{"trickle_s": d}``: send the body one byte every d seconds;
* ``{"no_validators": True}``: send neither ETag nor Last-Modified.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        server: LoopbackServer = self.server.owner
        with server.lock:
            server.requests.append({"method": "GET", "path": self.path, "headers": dict(self.headers)})
        fault = server.faults.get(self.path, {})
        if fault.get("stall_headers_s"):
            time.sleep(fault["stall_headers_s"])
        body = server.files.get(self.path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        start = 0
        match = re.match(r"bytes=(\d+)-$", self.headers.get("Range", ""))
        if_range = self.headers.get("If-Range")
        use_range = match and not fault.get("ignore_range") and (if_range is None or if_range == etag)
        if use_range:
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        if fault.get("endless"):
            self.send_header("Connection", "close")
            self.end_headers()
            self._endless(body)
            return
        self.send_header("Content-Length", fault.get("content_length", str(len(body) - start)))
        if not fault.get("no_validators"):
            self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if fault.get("trickle_s"):
            self._trickle(body[start:], fault["trickle_s"])
            return
        payload = body[start:]
        limit = len(payload)
        with server.lock:
            cut = fault.get("cut_after") if fault.get("times", 0) > 0 else None
            if cut is not None:
                fault["times"] -= 1
        if cut is not None:
            limit = min(limit, cut)
        if fault.get("stall_after") is not None:
            limit = min(limit, fault["stall_after"])
        sent = 0
        try:
            while sent < limit:
                block = payload[sent:min(sent + 16384, limit)]
                self.wfile.write(block)
                sent += len(block)
                if fault.get("chunk_delay_s"):
                    self.wfile.flush()
                    time.sleep(fault["chunk_delay_s"])
            self.wfile.flush()
            if fault.get("stall_after") is not None:
                time.sleep(fault.get("stall_s", 5))
            elif sent < len(payload):
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


    def _endless(self, body: bytes):
        self.close_connection = True
        try:
            self.wfile.write(body)
            while True:
                self.wfile.write(bytes(65536))
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass

    def _trickle(self, payload: bytes, delay: float):
        try:
            for i in range(len(payload)):
                self.wfile.write(payload[i:i + 1])
                self.wfile.flush()
                time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True


class LoopbackServer:
    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.faults: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def requests_for(self, path: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
