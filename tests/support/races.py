"""Run status changes at once, each held just after its check until the others have checked."""

import contextlib
import threading

from django.core.exceptions import ValidationError
from django.db import connection


def race(monkeypatch, module, actions, check_name="locked_transition"):
    """``actions``: name -> callable. Returns name -> "done" or the refusal message."""
    barrier = threading.Barrier(len(actions))
    real_check = getattr(module, check_name)

    def check_then_wait(*args, **kwargs):
        result = real_check(*args, **kwargs)
        # With the row lock the others are still waiting for it: the barrier
        # times out and this change commits first, as it should.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=2)
        return result

    monkeypatch.setattr(module, check_name, check_then_wait)
    outcomes = {}

    def run(name, action):
        try:
            action()
            outcomes[name] = "done"
        except ValidationError as exc:
            outcomes[name] = exc.messages[0]
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in actions.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes
