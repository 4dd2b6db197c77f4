"""Download manager figures: loopback throughput, resume cost, and how fast "offline" is reported.

    python benchmarks/bench_downloads.py [--mb 200]

Prints:
* throughput of a full download of a synthetic file from a loopback server (hashing included);
* the same download interrupted half-way and resumed (the part file is re-hashed on resume);
* reuse of an installed file (no request; the record beside it avoids re-hashing);
* time to fail for every catalogue entry's real URL on this machine (offline here: the figure
  to compare with the 2 s goal), and for a refused connection.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from loopback_http import LoopbackServer, closed_port  # noqa: E402

from stylepaint.catalogue import ModelStore, Timeouts, download_file, load_catalogue  # noqa: E402
from stylepaint.errors import DownloadError  # noqa: E402


def timed(job):
    start = time.perf_counter()
    last = None
    for last in job:
        pass
    return time.perf_counter() - start, last


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200, help="size of the synthetic file")
    args = parser.parse_args()
    data = os.urandom(args.mb * 1_000_000)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STYLEPAINT_HOME"] = tmp
        for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
            os.environ.pop(var, None)
        with LoopbackServer({"/f.bin": data}) as server:
            dest = Path(tmp) / "full.bin"
            seconds, _ = timed(download_file(server.url("/f.bin"), dest))
            print(f"full download, {args.mb} MB over loopback: {seconds:.2f} s ({args.mb / seconds:.0f} MB/s)")
            seconds, final = timed(download_file(server.url("/f.bin"), dest))
            print(f"reuse of the installed file: {seconds * 1000:.1f} ms, reused={final['reused']}, "
                  f"requests so far={len(server.requests)}")

            server.faults["/f.bin"] = {"cut_after": len(data) // 2, "times": 1}
            dest = Path(tmp) / "resumed.bin"
            start = time.perf_counter()
            try:
                for _ in download_file(server.url("/f.bin"), dest, retries=0):
                    pass
            except DownloadError:
                pass
            first = time.perf_counter() - start
            seconds, _ = timed(download_file(server.url("/f.bin"), dest))
            ok = dest.read_bytes() == data
            print(f"interrupted at 50 %: first run {first:.2f} s, resume {seconds:.2f} s "
                  f"(re-hash of the part included), byte-identical={ok}")

        store = ModelStore(load_catalogue())
        worst = 0.0
        for entry in store.catalogue:
            start = time.perf_counter()
            job = store.download(entry.name, timeouts=Timeouts())
            try:
                outcome = "?"
                for progress in job:
                    if progress["stage"] == "downloading":  # online: stop at the first bytes
                        outcome = "reachable (this machine is online; stopped after the first bytes)"
                        break
            except DownloadError as exc:
                outcome = str(exc)[:110] + "…"
            finally:
                job.close()
            elapsed = time.perf_counter() - start
            worst = max(worst, elapsed)
            print(f"  {entry.name:16s} {elapsed * 1000:7.0f} ms  {outcome}")
        print(f"catalogue URLs from this machine: slowest failure {worst * 1000:.0f} ms (goal < 2000 ms offline)")
        start = time.perf_counter()
        try:
            for _ in download_file(f"http://127.0.0.1:{closed_port()}/x", Path(tmp) / "x"):
                pass
        except DownloadError:
            pass
        print(f"connection refused: {(time.perf_counter() - start) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
