"""The fixed cost of a signed-in request (issue 18, target 2b): `/api/v1/me/` and a simple
signed-in HTML page (`/home/`), next to a bare authenticated Django view and `/healthz`
measured in the same run, over HTTP (a real gunicorn, 2 workers, production settings) and
in-process (wall and CPU per request, optionally a cProfile).

The bare view is the reference the issue names: Django's SessionMiddleware (the database
session backend, Django's default) and AuthenticationMiddleware, then a view that checks
`request.user.is_authenticated` and answers the user's id and email as JSON. It is served by
the same gunicorn workers as the app, through a second Django handler with only those two
middlewares and a bench-only urlconf (this module: gunicorn loads
`bench.request_overhead:application`, which sends `/__bare/` to that handler and every other
path to ccm.wsgi). Nothing of it is in the app's urls or settings.

Uses a small practice of its own (`ro-a`, one coordinator, seeded once) in DATABASE_URL's
database. Prints req/s, p50 and p95 at each concurrency for each path, the ratio to the bare
view, the median of RUNS runs and the load average.

    python bench/request_overhead.py [--seconds 3] [--runs 3] [--users 1,4,8] [--no-http]
        [--n 200] [--profile me|home|bare|healthz] [--sort tottime]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

BARE_PREFIX = "/__bare/"


# --- The WSGI application gunicorn serves (imported in the workers; no bench helpers here) --


def _bare_view(request: Any) -> Any:
    from django.http import HttpResponse, JsonResponse

    if not request.user.is_authenticated:
        return HttpResponse("not signed in", status=401, content_type="text/plain")
    return JsonResponse({"id": str(request.user.pk), "email": request.user.email})


def _bare_urlconf_middleware(get_response: Any) -> Any:
    def middleware(request: Any) -> Any:
        request.urlconf = __name__
        return get_response(request)

    return middleware


class BareSessionMiddleware:
    """Django's SessionMiddleware on Django's default backend (the database), whatever the
    app's SESSION_ENGINE is: the reference stays the same before and after."""

    def __new__(cls, get_response: Any) -> Any:
        from django.contrib.sessions.backends.db import SessionStore
        from django.contrib.sessions.middleware import SessionMiddleware

        middleware = SessionMiddleware(get_response)
        middleware.SessionStore = SessionStore
        return middleware


BARE_MIDDLEWARE = [
    f"{__name__}.BareSessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    f"{__name__}._bare_urlconf_middleware",
]


def _urlpatterns() -> list[Any]:
    from django.urls import path

    return [path(BARE_PREFIX.strip("/") + "/", _bare_view)]


def __getattr__(name: str) -> Any:  # the bench urlconf's `urlpatterns`, built on first use
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


def bare_handler() -> Any:
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    class BareHandler(WSGIHandler):
        def load_middleware(self, is_async: bool = False) -> None:
            saved = settings.MIDDLEWARE
            settings.MIDDLEWARE = BARE_MIDDLEWARE
            try:
                super().load_middleware(is_async)
            finally:
                settings.MIDDLEWARE = saved

    return BareHandler()


_handlers: dict[str, Any] = {}


def application(environ: dict[str, Any], start_response: Any) -> Any:
    if not _handlers:
        from ccm.wsgi import application as app

        _handlers["app"] = app
        _handlers["bare"] = bare_handler()
    key = "bare" if environ.get("PATH_INFO", "").startswith(BARE_PREFIX) else "app"
    return _handlers[key](environ, start_response)


# --- The benchmark -------------------------------------------------------------------------

PATHS = {
    "bare": BARE_PREFIX,
    "healthz": "/healthz",
    "me": "/api/v1/me/",
    "home": "/home/",
}


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _seed() -> Any:
    from ccm.models import Membership, Practice, Role, User

    practice, _ = Practice.objects.get_or_create(
        slug="ro-a", defaults={"name": "Request overhead bench", "billing_npi": "1234567893"}
    )
    user, _ = User.objects.get_or_create(email="coordinator@ro-a.bench")
    member, _ = Membership.objects.for_practice(practice).get_or_create(
        practice=practice, user=user, defaults={"role": Role.COORDINATOR}
    )
    return member.user


def _bare_cookie(user: Any) -> str:
    """A database session of `user`, as django.contrib.auth.login writes it."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "allauth.account.auth_backends.AuthenticationBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def main() -> None:
    import argparse
    import cProfile
    import io
    import pstats
    import statistics

    os.environ.setdefault("DEBUG", "0")  # as gunicorn runs it
    os.environ.setdefault("CAREMONTH_DEV_SECRET", "1")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _load  # sets Django up (and takes bench/ off the path again)
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", default="1,4,8")
    parser.add_argument("--paths", default="bare,healthz,me,home")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--n", type=int, default=200, help="in-process requests per run")
    parser.add_argument("--profile", default="", help="cProfile --n requests of this path")
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--top", type=int, default=50)
    args = parser.parse_args()
    names = [p for p in args.paths.split(",") if p]

    user = _seed()
    session = _load.sign_in(user)
    cookies = {"bare": _bare_cookie(user), "healthz": None}

    def cookie(name: str) -> str | None:
        return cookies.get(name, session.cookie)

    print(f"== load average at start: {loadavg()}")

    # In-process: this process's WSGI handlers, as a gunicorn worker runs them.
    handlers = {"app": WSGIHandler(), "bare": bare_handler()}
    factory = RequestFactory()

    def one(name: str) -> None:
        env = factory._base_environ(PATH_INFO=PATHS[name], QUERY_STRING="", REQUEST_METHOD="GET")
        if cookie(name):
            env["HTTP_COOKIE"] = cookie(name)
        status: list[str] = []
        handler = handlers["bare" if name == "bare" else "app"]
        body = handler(env, lambda s, h, exc_info=None: status.append(s))
        b"".join(body)
        if hasattr(body, "close"):
            body.close()
        if not status[0].startswith("200"):
            raise SystemExit(f"{PATHS[name]}: {status[0]}")

    wall, cpu = _load.time_in_process(one, names, args.runs, args.n)
    ref_wall, ref_cpu = statistics.median(wall["bare"]), statistics.median(cpu["bare"])
    print(f"== in-process, DEBUG=0, median of {args.runs} x {args.n} requests; load {loadavg()}")
    print(f"{'path':<9} {'wall ms':>8} {'÷ bare':>7} {'cpu ms':>8} {'÷ bare':>7}   cpu runs")
    for name in names:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        runs = " ".join(f"{v:.3f}" for v in cpu[name])
        print(f"{name:<9} {w:8.3f} {w / ref_wall:6.2f}x {c:8.3f} {c / ref_cpu:6.2f}x   ({runs})")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.n):
            one(args.profile)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(args.sort).print_stats(args.top)
        print(f"\n== cProfile of {args.n} x {PATHS[args.profile]} (sorted by {args.sort})")
        print(out.getvalue())
    if args.no_http:
        return

    users = [int(u) for u in args.users.split(",")]
    results: dict[tuple[str, int], list[Any]] = {}
    with _gunicorn() as port:
        for run in range(args.runs):
            print(f"-- HTTP run {run + 1}/{args.runs}, load {loadavg()}", flush=True)
            for u in users:
                for name in names:
                    headers = {"Cookie": cookie(name)} if cookie(name) else {}
                    factories = [_load.get(PATHS[name], None, **headers) for _ in range(u)]
                    result = _load.drive(port, factories, seconds=args.seconds)
                    if result.errors:
                        print(f"  ! {name} at {u} users: {result.errors} errors")
                    results.setdefault((name, u), []).append(result)
    print(
        f"== HTTP, gunicorn {_load.WORKERS} workers, {args.seconds:g} s per figure, median of "
        f"{args.runs} runs; load at the end {loadavg()}"
    )
    print(
        f"{'path':<9} {'users':>5} {'req/s':>8} {'÷ bare':>7} {'p50 ms':>8} {'p95 ms':>8}"
        f" {'÷ bare':>7}   req/s runs"
    )
    for u in users:
        bare_rps = statistics.median(r.rps for r in results[("bare", u)])
        bare_p95 = statistics.median(r.p95 for r in results[("bare", u)])
        for name in names:
            rs = results[(name, u)]
            rps = statistics.median(r.rps for r in rs)
            p50 = statistics.median(r.p50 for r in rs)
            p95 = statistics.median(r.p95 for r in rs)
            runs = " ".join(f"{r.rps:.0f}" for r in rs)
            print(
                f"{name:<9} {u:>5} {rps:8.1f} {rps / bare_rps:6.2f}x {p50:8.2f} {p95:8.2f}"
                f" {p95 / bare_p95:6.2f}x   ({runs})"
            )


def _gunicorn() -> Any:
    """bench/_load.py's gunicorn, serving this module's application (the app plus the bare
    view) instead of ccm.wsgi alone."""
    import _load

    return _load.gunicorn(app="bench.request_overhead:application")


if __name__ == "__main__":
    main()
