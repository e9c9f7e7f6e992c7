"""Export speed and memory against PostgreSQL's own COPY of the same rows (the ceiling).

    .venv/bin/python benchmarks/export_bench.py --n 100000     # 1,000,000 on request

Seeds N items with one judgment each (once; re-runs reuse them), then for `pairs` and
`annotations` reports rows/s, MB/s and peak RSS, beside `COPY (SELECT json_build_object(...)) TO
STDOUT` of the same rows, two ways:
- `export_dataset` in a child process (a cold start: Django's start-up is counted);
- the API's streamed download from a running server (gunicorn, one worker, production settings),
  whose worker's peak RSS is reported.
Targets: at least half the COPY rate, and peak memory under 150 MB whatever N is.
"""

import argparse
import http.client
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _setup import ROOT, django_on_bench_db, item_lines


def slug_for(n: int) -> str:
    # One project per N: downloads are audited, and audited projects are never deleted.
    return f"export-bench-{n}"


def seed(n: int) -> str:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from labelhub.models import User
    from projects.models import Client, Project

    slug = slug_for(n)
    project = Project.objects.filter(slug=slug).first()
    if project is not None:
        if project.items.count() == n and project.annotations.count() == n:
            return slug
        raise SystemExit(f"{slug} was left half seeded: drop the benchmark database and run again")
    client, _ = Client.objects.get_or_create(slug="bench", defaults={"name": "Bench client"})
    project = Project.objects.create(
        client=client, slug=slug, name=f"Export bench {n}", codename=f"ExportBench{n}", code=f"exportbench{n}"
    )
    expert, _ = User.objects.get_or_create(username="bench-expert")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "items.jsonl"
        path.write_text("\n".join(item_lines(n)) + "\n")
        call_command("import_items", slug, str(path), stdout=io.StringIO())
    now = timezone.now()
    with connection.cursor() as cursor:  # one judgment per item, straight in (not what is measured)
        cursor.execute(
            """INSERT INTO annotations_assignment (project_id, item_id, expert_id, status, shown_left,
                   leased_at, expires_at)
               SELECT %s, id, %s, 'submitted', 0, %s, %s FROM projects_item WHERE project_id = %s""",
            [project.pk, expert.pk, now, now, project.pk],
        )
        cursor.execute(
            """INSERT INTO annotations_annotation (project_id, item_id, expert_id, assignment_id, preference,
                   strength, rationale, active_seconds, idempotency_key, submitted_at)
               SELECT a.project_id, a.item_id, a.expert_id, a.id,
                   CASE WHEN a.item_id %% 2 = 0 THEN 'a' ELSE 'b' END,
                   2, 'benchmark', 60, md5(a.id::text)::uuid, %s
               FROM annotations_assignment a WHERE a.project_id = %s""",
            [now, project.pk],
        )
        # Fresh statistics, as autovacuum would leave them (it may be off on a test machine).
        cursor.execute("ANALYZE")
    return slug


def run_export(fmt: str, url: str, slug: str) -> tuple[float, int, int, float]:
    """Seconds, rows, bytes and the child's peak RSS in MB for one export to a file."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"{fmt}.jsonl"
        env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1"}
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        command = ["export_dataset", slug, "--format", fmt, "-o", str(target)]
        done = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "_peak.py"), *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        data = target.read_bytes()
    # The child's own peak (VmHWM) where /proc has it; otherwise the largest child so far, which
    # also counts what a child forked from this (large) process inherited before it started.
    reported = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("peak-rss-kb ")]
    peak_kb = int(reported[-1]) if reported else max(peak_kb, before)
    return seconds, data.count(b"\n"), len(data), peak_kb / 1024


def serve_exports(url: str, slug: str, formats: tuple[str, ...]) -> list[tuple[str, float, int, int, float]]:
    """(format, seconds, rows, bytes, worker peak RSS MB) for the API download of each format from
    a running server, after one warm-up request."""
    from rest_framework.authtoken.models import Token
    from serve_load import Server, processes

    from labelhub.models import User

    staff, _ = User.objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
    token, _ = Token.objects.get_or_create(user=staff)
    headers = {"Authorization": f"Token {token.key}", "X-Forwarded-Proto": "https"}
    results = []
    with tempfile.TemporaryDirectory() as folder:
        server = Server(url=url, port=8792, workers=1, threads=1, folder=Path(folder))
        try:
            connection = http.client.HTTPConnection("127.0.0.1", 8792, timeout=600)
            connection.request("GET", "/api/v1/projects/", headers=headers)
            connection.getresponse().read()
            for fmt in formats:
                started = time.perf_counter()
                connection.request("GET", f"/api/v1/projects/{slug}/export?format={fmt}", headers=headers)
                response = connection.getresponse()
                if response.status != 200:
                    raise SystemExit(f"export {fmt}: {response.status} {response.read()[:300]!r}")
                rows = size = 0
                while block := response.read(1 << 16):
                    size += len(block)
                    rows += block.count(b"\n")
                seconds = time.perf_counter() - started
                workers = [pid for pid, ppid, _ in processes() if ppid == server.process.pid]
                peak_kb = max(_peak_kb(pid) for pid in workers)
                results.append((fmt, seconds, rows, size, peak_kb / 1024))
        finally:
            server.stop()
    return results


def _peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def copy_ceiling(url: str, slug: str) -> tuple[float, int, int]:
    import psycopg

    query = """COPY (SELECT json_build_object(
                  'prompt', i.prompt, 'chosen', c.content, 'rejected', r.content, 'item_id', i.external_id,
                  'strength', a.strength)
              FROM annotations_annotation a JOIN projects_item i ON i.id = a.item_id
              JOIN projects_response c ON c.item_id = i.id AND c.position = (a.preference = 'b')::int
              JOIN projects_response r ON r.item_id = i.id AND r.position = (a.preference = 'a')::int
              JOIN projects_project p ON p.id = a.project_id
              WHERE p.slug = %s ORDER BY a.item_id, a.id) TO STDOUT"""
    rows = size = 0
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        started = time.perf_counter()
        with cursor.copy(query, [slug]) as copy:
            for block in copy:
                size += len(block)
                rows += bytes(block).count(b"\n")
        return time.perf_counter() - started, rows, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="judged items to export")
    args = parser.parse_args()
    url = django_on_bench_db()
    started = time.perf_counter()
    slug = seed(args.n)
    print(f"database {url}; {args.n:,} judged items ready in {time.perf_counter() - started:.1f} s")
    copy_s, copy_rows, copy_bytes = copy_ceiling(url, slug)
    print(
        f"{'COPY json_build_object':24} {copy_rows:>9,} rows {copy_s:7.2f} s "
        f"{copy_rows / copy_s:>9,.0f} rows/s "
        f"{copy_bytes / copy_s / 1e6:7.1f} MB/s"
    )
    measured = [("export_dataset " + fmt, *run_export(fmt, url, slug)) for fmt in ("pairs", "annotations")]
    measured += [
        ("API download " + fmt, *rest) for fmt, *rest in serve_exports(url, slug, ("pairs", "annotations"))
    ]
    for what, seconds, rows, size, peak in measured:
        print(
            f"{what:26} {rows:>9,} rows {seconds:7.2f} s {rows / seconds:>9,.0f} rows/s "
            f"{size / seconds / 1e6:7.1f} MB/s  peak RSS {peak:6.0f} MB  "
            f"({rows / seconds / (copy_rows / copy_s):.2f} x COPY rows/s)"
        )


if __name__ == "__main__":
    main()
