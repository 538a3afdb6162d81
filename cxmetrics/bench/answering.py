"""Survey answering under load: gunicorn on loopback, wrk (Debian's package) posting valid answers
to personal links from a second process; then the stored responses are counted against the
accepted requests (a 302 to the thank-you page), which must be equal."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from cxmetrics.settings.env import fernet_key_derived

ROOT = Path(__file__).resolve().parents[2]

LUA = r"""
local tokens = {}
local threads = {}
local method, body, detractor = "%(method)s", "%(body)s", "%(detractor)s"
local sent = 0

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines("%(tokens)s") do table.insert(tokens, line) end
  position = index + 1
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  local token = tokens[position]
  position = position + %(threads)d
  if token == nil then token = tokens[1] end
  if method ~= "POST" then return wrk.format(method, "/s/" .. token .. "/") end
  sent = sent + 1
  -- every fourth answer a detractor's, so an alert rule on detractors has work to do
  local answer = body
  if sent %% 4 == 0 then answer = detractor end
  return wrk.format(method, "/s/" .. token .. "/", nil, answer)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "errors": %%d, "seconds": %%.3f, "p50_ms": %%.2f, "p95_ms": %%.2f, ' ..
    '"p99_ms": %%.2f}\n',
    summary.requests, e.connect + e.read + e.write + e.status + e.timeout, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not start on port {port}")


def server_env(database_url: str, broker_url: str, static_root: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cxmetrics.settings.production",
        "DEBUG": "false",  # `manage.py bench` runs with local settings, which default DEBUG on
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "SECRETS_KEYS": fernet_key_derived("bench-only"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_ROOT": static_root,
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
    }


def wrk_run(
    *,
    port: int,
    tokens_file: str,
    method: str,
    body: str,
    seconds: int,
    threads: int,
    connections: int,
    detractor: str = "",
) -> dict:
    script = Path(tokens_file).with_suffix(f".{method.lower()}.lua")
    script.write_text(
        LUA % {"method": method, "body": body, "detractor": detractor, "tokens": tokens_file, "threads": threads}
    )
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


# gunicorn as the benchmark runs it by default: sync workers, 2 per core. On this 2-core machine, idle, 20 s
# runs (2026-12-01): sync × 4 answered 152-176 POST/s (GET p95 67 ms) against 93-133/s (GET p95 99-120 ms)
# for gthread 2 × 8 or 4 × 4, whose POST p95 was lower (0.4 s against 0.7-1.1 s). BENCH_GUNICORN_* to compare.
WORKERS, WORKER_CLASS, THREADS = 4, "sync", 1
WARM_UP_SECONDS = 3


def _load(
    *,
    env: dict,
    workdir: str,
    tokens: dict[str, list[str]],
    bodies: tuple[str, str],
    seconds: int,
    get_seconds: int,
    workers: int,
    connections: int,
    worker_class: str,
    threads: int,
) -> dict:
    """One load on a fresh gunicorn: page opens to warm it up, then answers for ``seconds`` (and survey
    page opens for ``get_seconds``, when given); what the server accepted against what was stored."""
    from surveys.models import Response

    files = {}
    for part, links in tokens.items():
        files[part] = Path(workdir, f"{part}.txt")
        files[part].write_text("\n".join(links) + "\n")
    before = Response.objects.count()
    port = _free_port()
    # The access log, not wrk, says which answers the server accepted: a request still in flight when
    # wrk stops is completed (and stored) by the server although wrk never sees its reply.
    access_log = Path(workdir, f"access-{port}.log")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "cxmetrics.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--threads",
            str(threads),
            "--preload",
            "--log-level",
            "warning",
            "--access-logfile",
            str(access_log),
            "--access-logformat",
            "%(m)s %(s)s",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    warm_lines = 0
    common = {"port": port, "threads": 2, "connections": connections}
    get = None
    try:
        _wait_for(port)
        # Survey pages opened for a few seconds first, not measured: every worker has its database
        # connection and has served a page before the clock starts, as in a server that has been up.
        wrk_run(tokens_file=str(files["warm"]), method="GET", body="", seconds=WARM_UP_SECONDS, **common)
        warm_lines = len(access_log.read_text().splitlines()) if access_log.exists() else 0
        post = wrk_run(
            tokens_file=str(files["post"]),
            method="POST",
            body=bodies[0],
            detractor=bodies[1],
            seconds=seconds,
            **common,
        )
        if get_seconds:
            get = wrk_run(tokens_file=str(files["get"]), method="GET", body="", seconds=get_seconds, **common)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        statuses = access_log.read_text().splitlines()[warm_lines:] if access_log.exists() else []
    post["accepted"] = statuses.count("POST 302")
    post["refused"] = sum(1 for line in statuses if line.startswith("POST ") and line != "POST 302")
    if get is not None:
        get["ok"] = statuses.count("GET 200")
    # One response per invitation is a unique constraint, so a double submit cannot store twice; any
    # difference between what was stored and what was accepted is a lost or a doubled answer.
    stored = Response.objects.count() - before
    return {
        "post": post,
        "get": get,
        "stored": stored,
        "lost": max(post["accepted"] - stored, 0),
        "doubled": max(stored - post["accepted"], 0),
        "responses_per_second": post["accepted"] / post["seconds"] if post["seconds"] else 0.0,
    }


@contextmanager
def _celery_worker(env: dict, workdir: str) -> Iterator[None]:
    """A Celery worker with its beat, as a deployment runs them beside the web servers (the Procfile's
    default of two processes)."""
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "cxmetrics",
            "worker",
            "--beat",
            "--queues",
            "celery,crm,mail,metrics",
            "--schedule",
            str(Path(workdir, "beat-schedule")),
            "--concurrency",
            "2",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env={**env, "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"},
        start_new_session=True,
    )
    try:
        time.sleep(10)  # the worker connected and beat's first round (due at start) under way
        yield
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)


def _caught_up() -> None:
    """The follow-on work of the answers already stored (the read model's refresh, the comment analysis)
    done before a load, so each load of a pair starts from the same state and pays only for its own."""
    from comments.services import comments_catch_up
    from metrics.refresh import metrics_refresh

    comments_catch_up()
    metrics_refresh()


def _alerts_caught_up(after: int, timeout: float = 240) -> float | None:
    """Seconds until the alert sweep has looked at every answer above ``after``; None if not in time."""
    from followup.models import AlertEvaluation
    from surveys.models import Response

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        stored = Response.objects.filter(pk__gt=after).count()
        if AlertEvaluation.objects.filter(response_id__gt=after).count() >= stored:
            return time.monotonic() - started
        time.sleep(2)
    return None


def _comments_analysed(after: int, timeout: float = 240) -> dict:
    """How long the comments of the answers above ``after`` waited for their analysis, the worker's sweep
    doing it: each comment's analysed time minus its answer's, once all are analysed (or at the timeout)."""
    from comments.models import CommentAnalysis
    from surveys.models import Response

    started = time.monotonic()
    commented = Response.objects.filter(pk__gt=after).exclude(comment="")
    total = commented.count()
    while time.monotonic() - started < timeout:
        if CommentAnalysis.objects.filter(response_id__gt=after).count() >= total:
            break
        time.sleep(2)
    waits = sorted(
        (analysed - submitted).total_seconds()
        for analysed, submitted in CommentAnalysis.objects.filter(response_id__gt=after).values_list(
            "analysed_at", "submitted_at"
        )
    )
    return {
        "comments": total,
        "analysed": len(waits),
        "p50_seconds": waits[len(waits) // 2] if waits else None,
        "p95_seconds": waits[int(0.95 * (len(waits) - 1))] if waits else None,
        "max_seconds": waits[-1] if waits else None,
    }


def run(
    *,
    database_url: str,
    broker_url: str,
    seconds: int = 60,
    get_seconds: int = 20,
    workers: int = WORKERS,
    connections: int = 16,
    worker_class: str = WORKER_CLASS,
    threads: int = THREADS,
    alert_pair: bool = True,
) -> dict:
    """Needs wrk on the PATH and a database seeded by seed_demo (unanswered relational invitations).

    The load alone first; then (``alert_pair``) twice more with a Celery worker and beat running, without
    and with an alert rule that opens a case and emails its owner for every detractor: the rate with the
    rule against the rate without, and how long the sweep took to look at every answer of the load."""
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    import django

    os.environ["DATABASE_URL"] = database_url
    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from followup.models import AlertFiring
    from followup.services import alert_rule_create, alert_rule_save, alerts_sweep_skip_history
    from surveys.models import Invitation, Question, Response, Survey

    survey = Survey.objects.get(slug="relational-nps")
    questions = {q.kind: q.pk for q in Question.objects.filter(survey=survey)}
    bodies = (
        urlencode({f"q{questions['nps']}": 9, f"q{questions['text']}": "Quick and friendly service."}),
        urlencode({f"q{questions['nps']}": 3, f"q{questions['text']}": "Late again and nobody called back."}),
    )
    # More than the server can take, so no token repeats; the first links warm the server up.
    sizes = {"warm": 1000 * WARM_UP_SECONDS, "post": 1500 * seconds, "get": 1000 * get_seconds}
    loads = 3 if alert_pair else 1
    # Links still valid a few minutes from now: an expired one is refused (410) and answers nothing.
    valid_from = timezone.now() + timedelta(minutes=15) - timedelta(days=survey.link_valid_days)
    links = iter(
        Invitation.objects.filter(
            survey=survey,
            status=Invitation.Status.SENT,
            responded_at__isnull=True,
            customer__status="active",
            sent_at__gte=valid_from,
        )
        .order_by("pk")
        .values_list("token", flat=True)[: loads * sum(sizes.values())]
    )
    tokens = [{part: [next(links, "") for _ in range(size)] for part, size in sizes.items()} for _ in range(loads)]
    connection.close()

    workdir = tempfile.mkdtemp(prefix="cx-bench-")
    try:
        static_root = str(Path(workdir, "static"))
        env = server_env(database_url, broker_url, static_root)
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
        )
        shape = {
            "env": env,
            "workdir": workdir,
            "bodies": bodies,
            "seconds": seconds,
            "workers": workers,
            "connections": connections,
            "worker_class": worker_class,
            "threads": threads,
        }
        result = _load(tokens=tokens[0], get_seconds=get_seconds, **shape)
        result |= {"workers": workers, "worker_class": worker_class, "threads": threads, "connections": connections}
        if alert_pair:
            owner, _created = get_user_model().objects.get_or_create(
                username="bench-alerts", defaults={"email": "bench-alerts@example.com"}
            )
            with _celery_worker(env, workdir):
                alerts_sweep_skip_history()
                _caught_up()
                without = _load(tokens=tokens[1], get_seconds=0, **shape)
                _caught_up()
                # The rule sees only its own load's answers, not those the sweep has yet to reach.
                after = alerts_sweep_skip_history()
                rule = alert_rule_create(
                    name=f"Benchmark: every detractor ({timezone.now():%Y-%m-%d %H:%M})",
                    owner=owner,
                    nps_at_most=6,
                    open_case=True,
                    email_owner=True,
                )
                try:
                    with_rule = _load(tokens=tokens[2], get_seconds=0, **shape)
                    lag = _alerts_caught_up(after)
                    comments = _comments_analysed(after)
                finally:
                    rule.active = False
                    alert_rule_save(rule=rule)
            detractors = Response.objects.filter(pk__gt=after, nps__lte=6).count()
            result["alerts"] = {
                "without": without,
                "with_rule": with_rule,
                "caught_up_seconds": lag,
                "detractors": detractors,
                "fired": AlertFiring.objects.filter(rule=rule).count(),
            }
            result["comments"] = comments
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxmetrics.settings.test")
    duration = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    # BENCH_GUNICORN_*: try other gunicorn settings on the same load (the defaults are production's).
    sys.stdout.write(
        json.dumps(
            run(
                database_url=sys.argv[1],
                broker_url=sys.argv[2],
                seconds=duration,
                workers=int(os.environ.get("BENCH_GUNICORN_WORKERS", WORKERS)),
                worker_class=os.environ.get("BENCH_GUNICORN_WORKER_CLASS", WORKER_CLASS),
                threads=int(os.environ.get("BENCH_GUNICORN_THREADS", THREADS)),
            )
        )
        + "\n"
    )
