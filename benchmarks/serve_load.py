"""Serving under load: simulated experts labelling through the API of gunicorn on PostgreSQL.

    .venv/bin/python benchmarks/serve_load.py                    # 64 experts for 30 s, overlap 2
    .venv/bin/python benchmarks/serve_load.py --kill             # clients vanish, PostgreSQL restarts once

Builds a throwaway database (`labelhub_serve`, dropped and made afresh on every run): a pairwise
project with `--items` items of the export benchmark's size, and `--experts` vetted experts, each
a member with an API token. Starts the app under gunicorn with production settings (DEBUG off,
behind a TLS proxy as far as Django knows) on a loopback port, then each simulated expert keeps
one HTTP/1.1 connection and loops: POST …/next → think for a moment → POST the judgment.
The experts run as threads in `--clients` processes of their own, whose CPU is measured.

With `--kill`, clients vanish at random while they hold a lease (and some while their submit is
in flight); a replacement for the same expert reconnects a moment later and resumes with next.
PostgreSQL is restarted once, halfway through. Failed requests are errors, counted by status.

At the end the database is checked: no item past its overlap (annotations plus live leases), no
expert with two leases or two annotations on an item, no idempotency key stored twice, and every
acknowledged submission present. The last line printed is a JSON object with every figure.
Targets with 64 experts on two cores: p95 next <= 25 ms, p95 submit <= 40 ms, >= 300 labels/s.

The per-user API rate limit is lifted for the run (API_RATE_USER): a simulated expert labels
hundreds of times faster than a person, and the limit is not what is measured.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _experts import Tally, drive
from _setup import ROOT, django_on_bench_db, item_lines

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/labelhub_serve"
SLUG = "serve-load"
CODE = "serveload"


# --- the world: database, project, items, experts, tokens ---------------------------------------


def fresh_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin_url, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=True)
    django_on_bench_db(url)  # creates and migrates it


def seed(*, experts: int, items: int, overlap: int) -> tuple[int, dict[str, str]]:
    """The project's id and {username: API token key} of its experts."""
    import io

    from django.core.management import call_command
    from django.db import connection, transaction

    from labelhub.models import User
    from labelhub.services import api_token_create, expert_profile_for, expert_vet
    from projects.models import Client, Membership, Project
    from projects.services import guideline_publish, membership_grant

    staff = User.objects.create_user("serve-staff", is_staff=True)
    client = Client.objects.create(slug="serve-client", name="Serve client")
    project = Project.objects.create(
        client=client, slug=SLUG, name="Serve load", codename="ServeLoad", code=CODE, labels_per_item=overlap
    )
    with transaction.atomic():
        guideline_publish(project=project, body="# Prefer the correct answer\n", author=staff)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "items.jsonl"
        path.write_text("\n".join(item_lines(items)) + "\n")
        call_command("import_items", SLUG, str(path), stdout=io.StringIO())
    tokens = {}
    for n in range(experts):
        user = User.objects.create_user(f"serve-expert-{n:03}")
        expert_vet(profile=expert_profile_for(user=user), by=staff)
        membership_grant(project=project, user=user, role=Membership.Role.EXPERT, granted_by=staff)
        tokens[user.username] = api_token_create(user=user).key
    # Statistics as autovacuum would soon have them: straight after the import the planner
    # thinks the project has a handful of items and scans all of them on every request.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return project.pk, tokens


# --- the server ----------------------------------------------------------------------------------


def proc_cpu(pid: int) -> float:
    """User plus system CPU seconds of a process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            out.append((int(entry.name), ppid, cmdline))
    return out


class Server:
    """gunicorn serving the app on 127.0.0.1:`port`, with its access and error logs in `folder`."""

    def __init__(self, *, url: str, port: int, workers: int, threads: int, folder: Path) -> None:
        self.port, self.folder = port, folder
        static = folder / "static"
        static.mkdir()
        env = {
            key: value for key, value in os.environ.items() if key not in ("DEBUG", "DJANGO_SETTINGS_MODULE")
        }
        env.update(
            DATABASE_URL=url,
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS="127.0.0.1",
            STATIC_ROOT=str(static),
            API_RATE_USER="10000000/min",
            LOG_LEVEL="WARNING",
        )
        gunicorn = Path(sys.executable).with_name("gunicorn")
        command = [str(gunicorn), "labelhub.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
        if threads > 1:
            command += ["--worker-class", "gthread", "--threads", str(threads)]
        # A proxy in front keeps connections open; gunicorn's default (2 s) would close them
        # between a slow expert's requests. %(p)s names the worker, %(L)s is the time taken.
        command += ["--keep-alive", "75", "--backlog", "2048"]
        command += ["--access-logfile", str(folder / "access.log")]
        command += ["--access-logformat", '%(p)s %(s)s %(L)s "%(r)s"']
        self.errors = (folder / "error.log").open("w")
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.errors, stderr=self.errors)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited:\n{(folder / 'error.log').read_text()[-3000:]}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/api/schema/", headers={"X-Forwarded-Proto": "https"})
                connection.getresponse().read()
                connection.close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("gunicorn did not answer within 30 s")

    def cpu_seconds(self) -> float:
        pids = [self.process.pid] + [pid for pid, ppid, _ in processes() if ppid == self.process.pid]
        return sum(proc_cpu(pid) for pid in pids)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.errors.close()


def postgres_cpu_seconds(database: str) -> float:
    """CPU of the PostgreSQL backends serving `database` (their titles name it)."""
    return sum(
        proc_cpu(pid) for pid, _, cmd in processes() if cmd.startswith("postgres:") and database in cmd
    )


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def restart_postgres() -> tuple[str, float]:
    """Restart the local cluster; returns its name and how long the restart took."""
    version = sorted(Path("/etc/postgresql").iterdir(), key=lambda p: int(p.name))[-1]
    cluster = sorted(version.iterdir())[0]
    started = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version.name, cluster.name, "restart"],
        check=True,
        capture_output=True,
    )
    return f"{version.name}/{cluster.name}", time.monotonic() - started


# --- the checks ----------------------------------------------------------------------------------


def violations(url: str, project_id: int, overlap: int, acked: list[tuple[str, int, str, int]]) -> dict:
    """Counts of what must never happen, read from the database after the run."""
    import psycopg

    checks = {
        # More judgments plus live leases on an item than it wants.
        "double_assignment": """SELECT count(*) FROM projects_item i WHERE i.project_id = %(p)s AND
               (SELECT count(*) FROM annotations_annotation a WHERE a.item_id = i.id)
             + (SELECT count(*) FROM annotations_assignment s WHERE s.item_id = i.id
                AND s.status = 'active' AND s.expires_at > now()) > %(overlap)s""",
        "leased_twice_to_one_expert": """SELECT count(*) FROM (SELECT 1 FROM annotations_assignment
               WHERE project_id = %(p)s GROUP BY item_id, expert_id HAVING count(*) > 1) t""",
        "two_live_leases_for_one_expert": """SELECT count(*) FROM (SELECT 1 FROM annotations_assignment
               WHERE project_id = %(p)s AND status = 'active' GROUP BY expert_id HAVING count(*) > 1) t""",
        "over_overlap": """SELECT count(*) FROM (SELECT 1 FROM annotations_annotation
               WHERE project_id = %(p)s GROUP BY item_id HAVING count(*) > %(overlap)s) t""",
        "duplicate_expert_item": """SELECT count(*) FROM (SELECT 1 FROM annotations_annotation
               WHERE project_id = %(p)s GROUP BY item_id, expert_id HAVING count(*) > 1) t""",
        "duplicate_key": """SELECT count(*) FROM (SELECT 1 FROM annotations_annotation
               WHERE project_id = %(p)s GROUP BY idempotency_key HAVING count(*) > 1) t""",
        "annotation_on_unsubmitted_assignment": """SELECT count(*) FROM annotations_annotation a
               JOIN annotations_assignment s ON s.id = a.assignment_id
               WHERE a.project_id = %(p)s AND s.status <> 'submitted'""",
        # 201: the judgment sent is stored under its key, on that assignment, as that expert.
        "lost_created": """SELECT count(*) FROM acked k WHERE k.status = 201 AND NOT EXISTS (
               SELECT 1 FROM annotations_annotation a JOIN labelhub_user u ON u.id = a.expert_id
               WHERE a.idempotency_key = k.key AND a.assignment_id = k.assignment_id
               AND u.username = k.username)""",
        # 200: "already stored", perhaps under the key of a predecessor that vanished mid-submit.
        "lost_retried": """SELECT count(*) FROM acked k WHERE k.status = 200 AND NOT EXISTS (
               SELECT 1 FROM annotations_annotation a JOIN labelhub_user u ON u.id = a.expert_id
               WHERE a.assignment_id = k.assignment_id AND u.username = k.username)""",
    }
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE acked (key uuid, assignment_id bigint, username text, status int)")
        with cursor.copy("COPY acked FROM STDIN") as copy:
            for row in acked:
                copy.write_row(row)
        found = {}
        for name, query in checks.items():
            cursor.execute(query, {"p": project_id, "overlap": overlap})
            found[name] = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*), count(DISTINCT item_id) FROM annotations_annotation WHERE project_id = %s",
            [project_id],
        )
        stored, items_touched = cursor.fetchone()
    return {"found": found, "stored": stored, "items_labelled": items_touched}


def server_log_summary(folder: Path) -> dict:
    """5xx answers per worker (access log) and the exception that ended each (error log)."""
    per_worker: Counter = Counter()
    served: dict[str, list[float]] = {"next": [], "submit": []}
    for line in (folder / "access.log").read_text().splitlines():
        pid, status, seconds, request = line.split(" ", 3)
        if status.startswith("5"):
            per_worker[pid.strip("<>")] += 1
        elif status.startswith("2"):
            served["next" if "/next " in request else "submit"].append(float(seconds) * 1000)
    # Django logs "Internal Server Error: <path>" and the traceback; its last exception line is
    # what was raised (the lines before it are the chain that led there).
    exceptions: Counter = Counter()
    last = None
    for line in [*(folder / "error.log").read_text().splitlines(), "Internal Server Error: end"]:
        if line.startswith("Internal Server Error:"):
            if last:
                exceptions[last] += 1
            last = None
        elif match := re.match(r"^([a-z_]+\.[\w.]+): (.{0,110})", line):
            last = f"{match[1]}: {match[2]}"
    return {
        "5xx_per_worker": dict(per_worker),
        "exceptions": dict(exceptions.most_common(10)),
        # Time inside gunicorn, from the request read to the answer written: the rest of what the
        # client measures is waiting for a worker.
        "in_server_ms": {
            kind: {"p50": round(percentile(ms, 50), 1), "p95": round(percentile(ms, 95), 1)}
            for kind, ms in served.items()
        },
    }


# --- the run -------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experts", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30, help="measured time, after the warm-up")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of load before measuring")
    parser.add_argument("--overlap", type=int, default=2, help="labels per item")
    parser.add_argument("--items", type=int, help="items in the project (default: enough for 600 labels/s)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (gthread); 1 = sync")
    parser.add_argument("--clients", type=int, default=1, help="client processes the experts share")
    parser.add_argument("--think", type=float, nargs=2, default=(0.0, 0.02), metavar=("MIN", "MAX"))
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--kill", action="store_true", help="vanishing clients and a PostgreSQL restart")
    parser.add_argument("--kill-rate", type=float, default=0.03, help="share of leases whose client vanishes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", default=os.environ.get("SERVE_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()
    items = args.items or int(600 * (args.seconds + args.warmup) / args.overlap) + args.experts

    started = time.perf_counter()
    fresh_database(args.url)
    project_id, tokens = seed(experts=args.experts, items=items, overlap=args.overlap)
    from django.db import connection

    connection.close()  # the restart in --kill must not find this process holding a connection
    print(
        f"database {args.url}: {items:,} items, {args.experts} experts, overlap {args.overlap} "
        f"ready in {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    folder = Path(tempfile.mkdtemp(prefix="serve-load-"))
    server = Server(url=args.url, port=args.port, workers=args.workers, threads=args.threads, folder=folder)
    database = args.url.rsplit("/", 1)[1]
    try:
        start = time.time() + 1.0
        measure_from, deadline = start + args.warmup, start + args.warmup + args.seconds
        spec = {
            "port": args.port,
            "code": CODE,
            "think": tuple(args.think),
            "kill": args.kill_rate if args.kill else 0.0,
            "seed": args.seed,
            "start": start,
            "measure_from": measure_from,
            "deadline": deadline,
        }
        users = sorted(tokens.items())
        specs = [{**spec, "tokens": users[n :: args.clients]} for n in range(args.clients)]
        pool = multiprocessing.get_context("spawn").Pool(args.clients)
        pending = pool.map_async(drive, specs)
        time.sleep(max(0.0, measure_from - time.time()))
        cpu_before = server.cpu_seconds(), postgres_cpu_seconds(database), machine_busy()
        restart = None
        if args.kill:
            time.sleep(args.seconds / 2)
            at = time.time()
            cluster, took = restart_postgres()
            restart = {"cluster": cluster, "at": at, "seconds": round(took, 2)}
            print(f"restarted PostgreSQL {cluster} in {took:.2f} s", flush=True)
        time.sleep(max(0.0, deadline - time.time()))
        cpu_after = server.cpu_seconds(), postgres_cpu_seconds(database), machine_busy()
        results = pending.get()
        pool.close()
        pool.join()
    finally:
        server.stop()

    tally = Tally()
    client_cpu = 0.0
    for part, cpu in results:
        tally.next_ms += part.next_ms
        tally.submit_ms += part.submit_ms
        tally.statuses.update(part.statuses)
        tally.errors += part.errors
        tally.acked += part.acked
        tally.created_in_window += part.created_in_window
        tally.kills.update(part.kills)
        tally.resumed += part.resumed
        client_cpu += cpu
    checked = violations(args.url, project_id, args.overlap, tally.acked)
    logs = server_log_summary(folder)
    shutil.rmtree(folder)

    busy = (cpu_after[2][0] - cpu_before[2][0]) / max(1, cpu_after[2][1] - cpu_before[2][1])
    errors = Counter(kind for _, kind in tally.errors)
    five_xx = [at for at, kind in tally.errors if kind.split()[1].startswith("5")]
    summary = {
        "n_experts": args.experts,
        "seconds": args.seconds,
        "overlap": args.overlap,
        "items": items,
        "server": f"{args.workers} workers x {args.threads} threads"
        if args.threads > 1
        else f"{args.workers} sync",
        "client_processes": args.clients,
        "think_ms": [t * 1000 for t in args.think],
        "kill": args.kill,
        "next_p50_ms": round(percentile(tally.next_ms, 50), 1),
        "next_p95_ms": round(percentile(tally.next_ms, 95), 1),
        "next_p99_ms": round(percentile(tally.next_ms, 99), 1),
        "submit_p50_ms": round(percentile(tally.submit_ms, 50), 1),
        "submit_p95_ms": round(percentile(tally.submit_ms, 95), 1),
        "submit_p99_ms": round(percentile(tally.submit_ms, 99), 1),
        "labels_per_s": round(tally.created_in_window / args.seconds, 1),
        "requests_per_s": round((len(tally.next_ms) + len(tally.submit_ms)) / args.seconds, 1),
        "acknowledged": len({key for key, *_ in tally.acked}),
        "stored": checked["stored"],
        "items_labelled": checked["items_labelled"],
        "violations": sum(checked["found"].values()),
        "violations_by_kind": checked["found"],
        "statuses": dict(sorted(tally.statuses.items())),
        "errors_by_status": dict(sorted(errors.items())),
        "5xx": len(five_xx),
        "5xx_span_s": round(max(five_xx) - min(five_xx), 2) if five_xx else 0,
        "server_5xx_per_worker": logs["5xx_per_worker"],
        "server_exceptions": logs["exceptions"],
        "in_server_ms": logs["in_server_ms"],
        "cpu_s_per_s": {
            "gunicorn": round((cpu_after[0] - cpu_before[0]) / args.seconds, 2),
            "postgres_backends": round((cpu_after[1] - cpu_before[1]) / args.seconds, 2),
            "client": round(client_cpu / (args.seconds + args.warmup), 2),
            "machine_busy_share": round(busy, 2),
        },
        # Less noisy than labels/s when neighbours share the machine: what one label costs.
        "cpu_ms_per_label": {
            "gunicorn": round((cpu_after[0] - cpu_before[0]) * 1000 / max(1, tally.created_in_window), 1),
            "postgres_backends": round(
                (cpu_after[1] - cpu_before[1]) * 1000 / max(1, tally.created_in_window), 1
            ),
        },
    }
    if args.kill:
        summary["kills"] = dict(tally.kills)
        summary["resumed_after_mid_lease_kill"] = tally.resumed
        summary["pg_restart"] = restart
        if five_xx and restart:
            summary["5xx_from_restart_s"] = [
                round(min(five_xx) - restart["at"], 2),
                round(max(five_xx) - restart["at"], 2),
            ]

    print(
        f"next   p50 {summary['next_p50_ms']:6.1f}  p95 {summary['next_p95_ms']:6.1f}  "
        f"p99 {summary['next_p99_ms']:6.1f} ms  ({len(tally.next_ms):,} requests)"
    )
    print(
        f"submit p50 {summary['submit_p50_ms']:6.1f}  p95 {summary['submit_p95_ms']:6.1f}  "
        f"p99 {summary['submit_p99_ms']:6.1f} ms  ({len(tally.submit_ms):,} requests)"
    )
    print(f"labels/s {summary['labels_per_s']}; CPU s/s {summary['cpu_s_per_s']}")
    print(f"CPU ms per label {summary['cpu_ms_per_label']}; in server {summary['in_server_ms']}")
    print(f"errors {summary['errors_by_status'] or 'none'}; violations {checked['found']}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
