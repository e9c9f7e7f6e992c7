"""Where a labelling request's time goes: queries, database time and Python CPU per step.

    .venv/bin/python benchmarks/serve_load.py --seconds 5     # leaves labelhub_serve seeded
    .venv/bin/python benchmarks/serve_profile.py [--pairs 200] [--sql]

Drives next + submit in-process (Django's test client, production settings, token auth) as the
experts of serve_load.py's database, one request at a time, and prints per request: wall time,
Python CPU, database time and query count; then the CPU of the main steps per next+submit pair.
`--sql` lists one next's and one submit's statements.
"""

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable

from _setup import ROOT
from serve_load import CODE, DEFAULT_URL

STEPS: dict[str, list[float]] = {}


def timed(owners: object | tuple[object, ...], name: str, label: str) -> None:
    """Wrap `name` in each of `owners` (the modules that call it) so that its CPU time adds up
    under `label`."""
    STEPS[label] = []
    for owner in owners if isinstance(owners, tuple) else (owners,):
        original: Callable = getattr(owner, name)

        def wrapper(*args, original=original, **kwargs):
            started = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                STEPS[label].append(time.process_time() - started)

        setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200, help="next + submit pairs to time")
    parser.add_argument("--sql", action="store_true", help="print the statements of one pair")
    parser.add_argument("--url", default=os.environ.get("SERVE_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()
    os.environ.pop("DEBUG", None)
    os.environ.update(
        DATABASE_URL=args.url,
        DJANGO_SETTINGS_MODULE="labelhub.settings",
        SECRET_KEY="profile-only-" + uuid.uuid4().hex,
        ALLOWED_HOSTS="testserver",
        API_RATE_USER="10000000/min",
        STATIC_ROOT=str(ROOT / "var" / "static"),
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token

    import annotations.api
    import annotations.services
    import projects.permissions
    from annotations.services import serving, submission
    from labelhub.authentication import TokenAuthentication

    timed(TokenAuthentication, "authenticate", "token authentication")
    timed(annotations.api, "project_for", "project_for (the project, then its permissions)")
    timed(projects.permissions, "_granted", "  of which the permissions")
    # The views call the services through the package; the steps, where their module calls them.
    timed(annotations.services, "assignment_next", "assignment_next")
    timed(serving, "next_open_item", "  of which next_open_item (find and lock)")
    timed(serving, "_lease", "  of which _lease")
    timed(annotations.services, "annotation_submit", "annotation_submit")
    timed(submission, "_locked_with_project", "  of which the assignment, locked, with its project")
    timed(submission, "insert", "  of which the annotation's INSERT")
    timed((serving, submission), "expert_eligible_domains", "expert_eligible_domains (both)")
    timed((serving, submission), "item_has_room", "item_has_room")

    keys = Token.objects.filter(user__username__startswith="serve-expert").values_list("key", flat=True)[:8]
    clients = [Client(HTTP_AUTHORIZATION=f"Token {key}", HTTP_X_FORWARDED_PROTO="https") for key in keys]
    if not clients:
        raise SystemExit("no experts: run benchmarks/serve_load.py first")
    base = f"/api/v1/label/{CODE}"
    database = [0.0]

    def count_database(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            database[0] += time.perf_counter() - started

    figures: dict[str, list[tuple[float, float, float, int]]] = defaultdict(list)

    def post(kind: str, client: Client, path: str, body: dict, n: int) -> dict:
        before, wall, cpu = database[0], time.perf_counter(), time.process_time()
        with CaptureQueriesContext(connection) as queries:
            response = client.post(path, json.dumps(body), content_type="application/json")
        figures[kind].append(
            (time.perf_counter() - wall, time.process_time() - cpu, database[0] - before, len(queries))
        )
        if args.sql and n == 0:
            print(f"{kind}: {len(queries)} statements")
            for query in queries.captured_queries:
                print(f"  {float(query['time']) * 1000:6.1f} ms  {query['sql'][:160]}")
        assert response.status_code in (200, 201), (response.status_code, response.content[:300])
        return response.json()

    with connection.execute_wrapper(count_database):
        for n in range(args.pairs + 8):
            if n == 8:  # the first requests of each expert warm caches up
                for seconds in STEPS.values():
                    seconds.clear()
                figures.clear()
            client = clients[n % len(clients)]
            leased = post("next", client, f"{base}/next", {}, n)
            judgment = {"choice": "A", "strength": 2, "rationale": "", "idempotency_key": str(uuid.uuid4())}
            post("submit", client, f"{base}/assignments/{leased['assignment_id']}", judgment, n)

    print(f"median per request over {args.pairs} pairs:")
    for kind, rows in figures.items():
        wall, cpu, db, queries = (statistics.median(column) for column in zip(*rows, strict=True))
        print(
            f"  {kind:7} wall {wall * 1000:6.1f} ms  Python CPU {cpu * 1000:6.1f} ms  "
            f"database {db * 1000:6.1f} ms in {queries:.0f} queries"
        )
    print("Python CPU per next + submit pair, by step:")
    for label, seconds in STEPS.items():
        print(f"  {label:52} {sum(seconds) / args.pairs * 1000:6.2f} ms")


if __name__ == "__main__":
    main()
