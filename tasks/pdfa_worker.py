"""PDF/A conversions in worker processes of their own, beside the flow's process.

Why: custody, not speed. A conversion reads what a page drew; one that fails, needs too much
memory or time, or crashes its process must cost that capture its archival PDF and nothing else.
Here it runs under a memory ceiling and a time limit, in an environment without credentials or
service addresses (it reads and writes local files only), and the flow's process, which holds the
browser, never loads the PDF libraries. (It was also meant to keep the conversion's CPU off the
flow's interpreter lock; measured, that made no difference to the captures' pace: README,
Benchmarks.)

Protocol: one ConversionJob as a JSON line in, one Converted as a JSON line out, over the worker's
stdin and a private copy of its stdout (fd 1 itself is pointed at stderr, so a library that prints
cannot break the protocol). A worker that dies mid-job fails that job (recorded in the capture's
record, like any failed conversion) and is replaced for the next.

Usage::

    with ConversionProcesses(2) as processes:
        converted = processes.run(job)
"""

from __future__ import annotations

import os
import queue
import select
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

from tasks.pdfa_job import ConversionJob, Converted

__all__ = ["ConversionProcesses", "WorkerDied", "serve"]

_ROOT = Path(__file__).resolve().parent.parent  # the folder holding this copy of the tasks package
_PASSED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "HOME")


class WorkerDied(Exception):
    """The worker process could not be started, or ended (killed, out of memory) before answering."""


class _Worker:
    """One worker process and its pipes."""

    def __init__(self, memory_mb: int) -> None:
        env = {key: os.environ[key] for key in _PASSED_ENV if key in os.environ}
        env["PYTHONPATH"] = str(_ROOT)  # the same code as the flow's, wherever the flow was started from
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tasks.pdfa_worker", str(memory_mb)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            cwd=str(_ROOT), env=env, text=True, encoding="utf-8", bufsize=1)

    def run(self, job: ConversionJob, timeout_s: float) -> Converted:
        try:
            self.process.stdin.write(job.to_json() + "\n")
            self.process.stdin.flush()
            # nothing is ever left in stdout's buffer between jobs (one answer per job), so the pipe
            # itself says whether the answer has begun to come
            ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
            if not ready:
                self.process.kill()
                raise WorkerDied(f"the PDF/A conversion did not finish within {timeout_s:g} s "
                                 "(SOMEARKIV_PDFA_TIMEOUT_S); its process was ended")
            line = self.process.stdout.readline()
        except (OSError, ValueError) as exc:  # a broken pipe; a pipe closed by close() meanwhile
            raise WorkerDied(self._ended()) from exc
        if not line:
            raise WorkerDied(self._ended())
        try:
            return Converted.from_json(line)
        except (ValueError, KeyError, TypeError) as exc:
            self.process.kill()  # out of step with its answers: not to be asked again
            raise WorkerDied(f"the PDF/A conversion process answered something else than an answer: {exc}") from exc

    def _ended(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        return f"the PDF/A conversion process ended before answering (exit code {code})"

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()


class ConversionProcesses:
    """Up to *size* worker processes, started when first needed (or by warm()); run() takes a free one
    (or waits), the one that ran last first, so a second is started only for a second conversion at once.
    Each conversion may use *memory_mb* of private memory more than its worker holds between jobs,
    and *timeout_s* seconds (then its worker is ended and the conversion fails)."""

    def __init__(self, size: int, memory_mb: int = 2048, timeout_s: float = 600.0) -> None:
        self.size, self.memory_mb, self.timeout_s = size, memory_mb, timeout_s
        self._free: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        for _ in range(size):
            self._free.put(None)  # a place for a worker not started yet
        self._all: list[_Worker] = []
        self._lock = threading.Lock()

    def run(self, job: ConversionJob) -> Converted:
        """Convert *job* in a worker; WorkerDied when the worker ended before answering (it is replaced)."""
        worker = self._free.get()
        try:
            worker = self._running(worker)
            try:
                return worker.run(job, self.timeout_s)
            except WorkerDied:
                self._forget(worker)
                worker = None
                raise
        finally:
            self._free.put(worker)

    def warm(self) -> None:
        """One worker started now if none is free and running, so its start (a Python and the PDF
        libraries: about 0.6 CPU-seconds, several on a busy machine) overlaps the first page's load
        instead of coming after it, before the round's first filing. Returns at once."""
        try:
            worker = self._free.get_nowait()
        except queue.Empty:
            return  # every place is converting: nothing to warm
        try:
            worker = self._running(worker)
        except WorkerDied:
            worker = None  # the first conversion tries again and records why
        finally:
            self._free.put(worker)

    def pids(self) -> list[int]:
        """The running workers' process ids."""
        with self._lock:
            return [w.process.pid for w in self._all if w.process.poll() is None]

    def _running(self, worker: _Worker | None) -> _Worker:
        """*worker* while its process runs; else a new worker in its place (the ended one forgotten)."""
        if worker is not None and worker.process.poll() is None:
            return worker
        if worker is not None:
            self._forget(worker)
        try:
            worker = _Worker(self.memory_mb)
        except OSError as exc:
            raise WorkerDied(f"the PDF/A conversion process could not be started: {exc}") from exc
        with self._lock:
            self._all.append(worker)
        return worker

    def _forget(self, worker: _Worker) -> None:
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        worker.close()

    def close(self) -> None:
        """End every worker (each finishes the job it has first)."""
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.close()

    def __enter__(self) -> ConversionProcesses:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(memory_mb: int) -> None:
    """The worker's loop: a job per line on stdin, its outcome per line on the private stdout copy.

    Each job runs under a ceiling of *memory_mb* more private memory (RLIMIT_DATA, see
    tasks.pdfcheck.ceiling): a page whose conversion would need more fails alone, with a finding
    that says so, instead of the machine swapping or the kernel killing the browser or the flow.
    """
    from somearkiv.memory import keep_large_buffers_off_the_heap
    from tasks.archival_pdf import convert  # here only: the flow's process never loads the PDF libraries
    from tasks.pdfcheck.ceiling import memory_ceiling

    keep_large_buffers_off_the_heap()  # as in the flow's process: freed page buffers leave the process
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # whatever a library prints goes to stderr, never into the answers
    for line in sys.stdin:
        with memory_ceiling(memory_mb << 20) as reached:
            try:
                converted = convert(ConversionJob.from_json(line))
            except Exception as exc:  # noqa: BLE001 - answered, so the flow records it; the worker goes on
                converted = Converted(error=f"{type(exc).__name__}: {exc}")
        if converted.error is not None and reached():
            converted = replace(converted, error=f"the conversion needed more than {memory_mb} MB of memory "
                                                 f"(SOMEARKIV_PDFA_MEMORY_MB): {converted.error}")
        answers.write(converted.to_json() + "\n")


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 2048)
