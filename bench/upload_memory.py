"""Memory of one hostile upload: a 50 MB CSV that is one single line, from the request to the page.

    python bench/upload_memory.py [--mb 50] [--keep] [--database postgres://...]

Each stage runs in a fresh process on its own SQLite database (in a temporary folder; or the
PostgreSQL database given with --database, emptied first), so that each stage's peak is its own:

1. upload: the multipart POST of the file to the upload page, through Django's WSGI handler
   (middleware, sign-in, CSRF, upload handlers, the form, the view), read from a file on disk
   the way a server hands a request body over;
2. ingest: what the worker's task does with the stored upload (`intake.uploads.upload_ingest`);
3. page: the page of the message the file became, as a supervisor opens it.

For each stage it reports the growth of the resident set (peak VmHWM minus VmRSS before the
stage, from /proc) and the peak of Python allocations (tracemalloc), in MB, and what happened
(the HTTP status, the message's size on the page). DEBUG is off, as deployed (DEBUG=true to see
it on). Prints ONE JSON object.

Run it with the limits as configured (a 50 MB CSV is refused as it arrives), and with
INTAKE_MAX_CSV_BYTES=60000000 INTAKE_MAX_FILE_BYTES=60000000 to follow the file all the way.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BOUNDARY = "----tracecenterbenchboundary"
MB = 1024 * 1024


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def _reset_hwm() -> None:
    # Writing 5 to clear_refs resets the peak resident set (VmHWM) to the current one.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _setup_django(var: Path) -> None:
    os.environ["TRACECENTER_VAR_DIR"] = str(var)
    os.environ.setdefault("DATABASE_URL", "")
    os.environ["TRACECENTER_ENV"] = "local"
    os.environ["LOG_LEVEL"] = "ERROR"
    # As in production: with DEBUG on, Django keeps every query with its parameters spelt out (a
    # 50 MB blob becomes a 100 MB string of hex), which is not what a deployed process does.
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracecenter.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _measure(work: Any) -> dict[str, Any]:
    import gc

    gc.collect()
    _reset_hwm()
    before = _status_kb("VmRSS")
    tracemalloc.start()
    started = time.perf_counter()
    outcome = work()
    seconds = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    hwm = _status_kb("VmHWM")
    return {
        "rss_before_mb": round(before / 1024, 1),
        "rss_growth_mb": round((hwm - before) / 1024, 1),
        "python_peak_mb": round(peak / MB, 1),
        "seconds": round(seconds, 2),
        **outcome,
    }


def _session(user: Any) -> tuple[str, str]:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value, "bench" + "x" * 27  # a 32-character CSRF secret


def _environ(path: str, method: str, session: str, csrf: str, body: Path | None = None) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "HTTP_COOKIE": f"sessionid={session}; csrftoken={csrf}",
        "HTTP_X_CSRFTOKEN": csrf,
        "wsgi.input": open(body, "rb") if body else open(os.devnull, "rb"),  # noqa: SIM115
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(body.stat().st_size) if body else "0",
    }
    if body:
        environ["CONTENT_TYPE"] = f"multipart/form-data; boundary={BOUNDARY}"
    return environ


def _call(environ: dict[str, Any]) -> tuple[str, int]:
    from django.core.handlers.wsgi import WSGIHandler

    status: list[str] = []
    size = 0
    response = WSGIHandler()(environ, lambda s, headers, exc=None: status.append(s))
    for chunk in response:
        size += len(chunk)
    getattr(response, "close", lambda: None)()
    environ["wsgi.input"].close()
    return status[0], size


def stage(name: str, var: Path) -> dict[str, Any]:
    _setup_django(var)
    from tracecenter.accounts.models import User
    from tracecenter.intake.models import InboundMessage, IntakeBatch

    user = User.objects.get(username="bench.supervisor")
    session, csrf = _session(user)
    if name == "upload":

        def work() -> dict[str, Any]:
            status, _size = _call(_environ("/intake/", "POST", session, csrf, var / "body.multipart"))
            return {"status": status, "batches": IntakeBatch.objects.count()}

        return _measure(work)
    if name == "ingest":
        from tracecenter.intake.uploads import upload_ingest

        batch = IntakeBatch.objects.order_by("pk").last()
        if batch is None:
            return {"skipped": "the upload was refused: nothing to ingest"}

        def work() -> dict[str, Any]:
            upload_ingest(batch_id=batch.pk)
            return {"messages": InboundMessage.objects.count()}

        return _measure(work)
    message_id = InboundMessage.objects.order_by("pk").values_list("pk", flat=True).last()
    if message_id is None:
        return {"skipped": "no message was stored"}

    def work() -> dict[str, Any]:
        status, size = _call(_environ(f"/intake/messages/{message_id}/", "GET", session, csrf))
        return {"status": status, "page_mb": round(size / MB, 2)}

    return _measure(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--database", default="", help="a PostgreSQL URL instead of SQLite (that database is emptied)")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--var", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(stage(args.stage, Path(args.var))))
        return

    var = Path(tempfile.mkdtemp(prefix="tc-upload-memory-"))
    env = {
        **os.environ,
        "TRACECENTER_VAR_DIR": str(var),
        "DATABASE_URL": args.database,
        "TRACECENTER_ENV": "local",
        "LOG_LEVEL": "ERROR",
        "DEBUG": os.environ.get("DEBUG", "false"),
    }
    if args.database:
        import psycopg

        base, _sep, name = args.database.rpartition("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], env=env, cwd=ROOT, check=True)
        setup = (
            "from tracecenter.accounts.models import Jurisdiction, User; "
            "j = Jurisdiction.objects.create(name='Bench State', code='bs'); "
            "u = User(username='bench.supervisor', role='supervisor', jurisdiction=j); "
            "u.set_password('unused-bench-password'); u.save()"
        )
        subprocess.run([*manage, "shell", "-c", setup], env=env, cwd=ROOT, check=True)
        # One line of args.mb megabytes: many short cells, no line end.
        line = b"patient_last_name," * (args.mb * MB // 18)
        with open(var / "body.multipart", "wb") as body:
            body.write(
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="one-line.csv"\r\n'
                "Content-Type: text/csv\r\n\r\n".encode()
            )
            body.write(line)
            body.write(f"\r\n--{BOUNDARY}--\r\n".encode())
        result: dict[str, Any] = {"file_mb": round(len(line) / MB, 1)}
        del line
        for name in ("upload", "ingest", "page"):
            done = subprocess.run(
                [sys.executable, __file__, "--stage", name, "--var", str(var)],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                result[name] = {"error": done.stderr.strip().splitlines()[-1:] or ["?"]}
                continue
            result[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps(result))
    finally:
        if not args.keep:
            shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
