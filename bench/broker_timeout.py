"""How long enqueueing a task blocks when Redis is frozen (accepts, never answers) or down.

style.md §6: a frozen broker must give a clear error within seconds, not hang a request for
30 s or more. Starts a local TCP listener that accepts and never replies, then, in a child
process configured by REDIS_URL exactly as production is, times `.delay()` until it raises.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

CHILD = "--child"


def frozen_server() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held = []

    def accept_forever() -> None:
        while True:
            conn, _ = sock.accept()
            held.append(conn)  # keep it open, never answer

    threading.Thread(target=accept_forever, daemon=True).start()
    return sock.getsockname()[1]


def child() -> None:
    import _setup  # noqa: F401  (configures Django from REDIS_URL)

    from ccm.tasks import ping, sessions_clear_expired

    task = ping if "--with-result" in sys.argv else sessions_clear_expired
    start = time.perf_counter()
    try:
        task.delay() if task is sessions_clear_expired else task.delay("bench")
        outcome = "queued (unexpected)"
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {' '.join(str(exc).split())[:70]}"
    print(f"{time.perf_counter() - start:.2f} {outcome}")


def main() -> None:
    port = frozen_server()
    here = Path(__file__).resolve().parent
    for label, url, extra in [
        ("frozen Redis, plain task", f"redis://127.0.0.1:{port}/0", []),
        ("frozen Redis, task with a result", f"redis://127.0.0.1:{port}/0", ["--with-result"]),
        ("Redis down (connection refused)", "redis://127.0.0.1:1/0", []),
    ]:
        env = {**os.environ, "REDIS_URL": url}
        out = subprocess.run(
            [sys.executable, str(here / "broker_timeout.py"), CHILD, *extra],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        seconds, outcome = (out.stdout.strip().splitlines() or ["? no-output"])[-1].split(" ", 1)
        print(f"{label:<34} enqueue gave up after {seconds:>5} s: {outcome}")


if __name__ == "__main__":
    child() if CHILD in sys.argv else main()
