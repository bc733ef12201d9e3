"""A worker process for the crash tests: the real worker, plus a subscriber that sends a text.

Run as `python -m tracecenter.core.tests.crash_worker`. With HANG_AFTER_SEND set to a file
path, the subscriber hangs right after the first text leaves (and before its success is
recorded) once that file is absent, so the test can SIGKILL the worker at that moment.
"""

from __future__ import annotations

import os
import time

import django

WELCOME = "test.crash.welcome"


def welcome(event: object) -> None:
    from tracecenter.core import effects, outbound

    case_id = event.case_id  # type: ignore[attr-defined]
    channel = outbound.RecordingChannel()

    def send(key: str) -> dict[str, object]:
        receipt = channel.send(key=key, to="+16175550100", body=f"Please call us back ({case_id})")
        marker = os.environ.get("HANG_AFTER_SEND", "")
        if marker and not os.path.exists(marker):
            with open(marker, "w") as f:
                f.write(str(os.getpid()))
            time.sleep(600)  # the test kills us here: the text is out, its success not yet recorded
        return receipt

    effects.perform_once(effects.key_for("text"), send)


def register() -> None:
    from tracecenter.cases.events import CaseOpened
    from tracecenter.core import events

    events.subscribe(CaseOpened, welcome, atomic=False, name=WELCOME)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracecenter.settings")
    django.setup()
    register()
    from tracecenter.core.worker import Worker

    worker = Worker(worker_id=os.environ.get("WORKER_ID") or None, batch=int(os.environ.get("WORKER_BATCH", "0")) or None)
    print(f"worker {worker.id} started", flush=True)
    worker.run()


if __name__ == "__main__":
    main()
