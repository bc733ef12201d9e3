"""manage.py serve: the web server (HTTP and the live WebSocket), and on the embedded default the workers too."""

from __future__ import annotations

import fcntl
import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection


class Command(BaseCommand):
    help = (
        "Serve TraceCenter with uvicorn. Without REDIS_URL (the embedded default) the live updates' channel layer "
        "lives in this process, so the workers run here too; with Redis, run `manage.py worker` processes beside "
        "any number of `serve` processes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
        parser.add_argument(
            "--worker",
            choices=["auto", "yes", "no"],
            default="auto",
            help="run workers inside this process: auto = only without Redis (default)",
        )
        parser.add_argument(
            "--processes",
            type=int,
            default=1,
            help="web processes sharing the port (default 1). Python runs one page at a time per process: a machine "
            "with more cores serves more pages at once with more processes. More than one needs REDIS_URL and runs no "
            "workers inside (run `manage.py worker` beside them)",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=2,
            help="workers inside this process (default 2: a long task such as a big upload never holds up the events)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        import uvicorn

        from tracecenter.core.worker import start_in_thread

        if not 0 < options["port"] < 65536:
            raise CommandError("--port must be between 1 and 65535.")
        if not 1 <= options["threads"] <= 16:
            raise CommandError("--threads must be between 1 and 16.")
        if settings.DEBUG and not is_loopback(options["host"]):
            # Debug pages show settings, code and data to whoever reaches them: only this machine may.
            raise CommandError(
                f"DEBUG is on: refusing to serve on {options['host']}, beyond this machine. "
                "Serve on 127.0.0.1 (or ::1), or turn DEBUG off (unset it, or DEBUG=false)."
            )
        embedded = not settings.REDIS_URL
        inside = options["worker"] == "yes" or (options["worker"] == "auto" and embedded)
        processes = options["processes"]
        if not 1 <= processes <= 64:
            raise CommandError("--processes must be between 1 and 64.")
        if processes > 1 and (embedded or inside):
            # Without Redis each process would hear only its own live updates; workers run once, beside the servers.
            raise CommandError("--processes above 1 needs REDIS_URL and --worker no (run `manage.py worker` beside them).")
        self.stdout.write(f"TraceCenter is at http://{options['host']}:{options['port']}/ (stop with Ctrl-C)")
        self.stdout.write(f"  database: {_database()}")
        live = "in this process (no REDIS_URL)" if embedded else f"Redis at {_where(settings.REDIS_URL)}"
        self.stdout.write(f"  live updates: {live}")
        if not settings.DEBUG:
            # WhiteNoise serves the collected files: collected here, so that a new release never serves old ones.
            # Several servers started at once on one machine take turns, rather than copy over each other.
            with (Path(settings.STATIC_ROOT).parent / ".collectstatic.lock").open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                call_command("collectstatic", "--no-input", verbosity=0)
        workers = [start_in_thread() for _ in range(options["threads"])] if inside else []
        here = f"{len(workers)} inside this process" if workers else "none here; run `manage.py worker` beside it"
        self.stdout.write(f"  workers: {here}")
        if embedded and not inside:
            self.stdout.write("  (without Redis, pushes made by workers elsewhere reach this server through the database)")
        self.stdout.flush()
        config = uvicorn.Config(
            "tracecenter.asgi:application",
            host=options["host"],
            port=options["port"],
            ws="websockets-sansio",
            ws_max_size=64 * 1024,  # a browser of ours sends a few bytes; nothing needs more
            lifespan="off",
            workers=processes,
        )
        try:
            if processes > 1:
                from uvicorn.supervisors import Multiprocess

                self.stdout.write(f"  web processes: {processes}")
                self.stdout.flush()
                Multiprocess(config, sockets=[config.bind_socket()]).run()
            else:
                uvicorn.Server(config).run()
        finally:
            for worker in workers:
                worker.shutdown()
            for worker in workers:
                worker.thread.join(timeout=30)  # type: ignore[attr-defined]


def is_loopback(host: str) -> bool:
    """Whether binding `host` serves this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def _where(url: str) -> str:
    """host:port/path of a URL, without a password that may be in it."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or ''}{parts.path}"


def _database() -> str:
    if connection.vendor == "sqlite":
        return f"SQLite at {connection.settings_dict['NAME']}"
    return f"{connection.vendor} at {connection.settings_dict.get('HOST') or 'localhost'}/{connection.settings_dict['NAME']}"
