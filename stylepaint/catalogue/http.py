"""Opening a URL for download: separate connect and read timeouts, proxies from the environment.

The standard library's ``urllib`` does the HTTP; this module adds what it lacks for large
downloads on flaky or absent networks:

* a bounded host-name lookup (``getaddrinfo`` ignores socket timeouts, and a resolver that
  cannot reach its server can hang for many seconds), so "no network" is reported quickly;
* a connect timeout separate from the read timeout (a stalled transfer is noticed after
  ``read_timeout`` seconds without data, however long the whole file takes);
* proxies from ``http_proxy``/``https_proxy``/``no_proxy`` (urllib's ``ProxyHandler``);
* one-sentence ``DownloadError`` messages instead of urllib's exception zoo.
"""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request

from stylepaint import limits
from stylepaint.errors import DownloadError

USER_AGENT = "stylepaint-downloader/1"


class Timeouts:
    """Seconds allowed for each phase of a request, and the slowest transfer accepted: after
    ``grace`` seconds the average rate must stay above ``min_rate`` bytes/s (a server that
    trickles a byte now and then never trips ``read``, which only notices silence)."""

    def __init__(self, resolve: float = 1.5, connect: float = 4.0, read: float = 30.0,
                 min_rate: float = limits.DOWNLOAD_MIN_RATE, grace: float = limits.DOWNLOAD_GRACE_S):
        self.resolve = resolve
        self.connect = connect
        self.read = read
        self.min_rate = min_rate
        self.grace = grace


def _resolve(host: str, port: int, timeout: float):
    """getaddrinfo with a deadline: the lookup runs in a daemon thread we stop waiting for."""
    box: dict = {}

    def lookup():
        try:
            box["result"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            box["error"] = exc

    thread = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise socket.timeout(f"looking up {host} took longer than {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["result"]


def _connector(timeouts: Timeouts):
    """A replacement for ``socket.create_connection`` honouring our three timeouts."""

    def create_connection(address, timeout=None, source_address=None, *args, **kwargs):
        host, port = address
        last_error: OSError | None = None
        for family, socktype, proto, _name, sockaddr in _resolve(host, port, timeouts.resolve):
            sock = socket.socket(family, socktype, proto)
            try:
                sock.settimeout(timeouts.connect)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                sock.settimeout(timeouts.read)
                return sock
            except OSError as exc:
                last_error = exc
                sock.close()
        raise last_error or OSError(f"no address found for {host}")

    return create_connection


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, timeouts: Timeouts, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _connector(timeouts)


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, timeouts: Timeouts, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _connector(timeouts)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, timeouts: Timeouts):
        super().__init__()
        self.timeouts = timeouts

    def http_open(self, req):
        return self.do_open(_HTTPConnection, req, timeouts=self.timeouts)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, timeouts: Timeouts):
        super().__init__()
        self.timeouts = timeouts

    def https_open(self, req):
        return self.do_open(_HTTPSConnection, req, context=self._context, timeouts=self.timeouts)


def open_url(url: str, headers: dict | None = None, timeouts: Timeouts | None = None):
    """Send a GET and return the response (status 200 or 206); raise ``DownloadError`` otherwise.

    Redirects are followed (request headers such as ``Range`` go along). Proxies come from
    the environment each call, so a changed ``https_proxy`` takes effect without a restart.
    """
    timeouts = timeouts or Timeouts()
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler(),  # reads *_proxy / no_proxy from the environment
        _HTTPHandler(timeouts),
        _HTTPSHandler(timeouts),
    )
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        return opener.open(request, timeout=timeouts.read)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:
            return exc  # "range not satisfiable": the caller decides what that means
        exc.close()
        raise DownloadError(f"{url}: the server answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        proxy = proxy_for(url)
        via = f" through the proxy {proxy}" if proxy else ""
        raise DownloadError(f"{url}: {describe_network_error(exc, proxy or url)}{via}") from None


def proxy_for(url: str) -> str | None:
    """The proxy urllib will use for ``url`` (from *_proxy / no_proxy), or None."""
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or (parts.hostname and urllib.request.proxy_bypass(parts.hostname)):
        return None
    return proxy


def describe_network_error(exc: BaseException, url: str) -> str:
    """A short human reason for a failed connection or transfer."""
    reason = getattr(exc, "reason", exc)
    host = urllib.parse.urlsplit(url).hostname or url
    if isinstance(reason, socket.gaierror):
        return f"could not look up {host} (no network, or the name is wrong)"
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return f"timed out ({reason})" if str(reason) else "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return f"connection refused by {host}"
    if isinstance(reason, ConnectionResetError):
        return "the connection was reset"
    if isinstance(reason, OSError) and reason.strerror:
        return f"could not connect to {host} ({reason.strerror})"
    return f"could not connect to {host} ({reason})"
