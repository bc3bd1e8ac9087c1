"""Start work in several threads at once, each with its own database connection."""

import threading

from django.db import connection


def run_in_threads(work, *, count):
    """Start ``count`` threads on ``work`` at the same moment, each with its own connection."""
    barrier = threading.Barrier(count)

    def worker():
        try:
            barrier.wait()
            work()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
