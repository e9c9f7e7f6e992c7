"""The simulated experts of `serve_load.py`: each keeps one HTTP/1.1 connection to the API and
loops next → think → submit, vanishing now and then when asked to (`kill`), and a client process
runs its share of them as threads (`drive`)."""

import http.client
import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

CHOICES = ("A", "A", "B", "B", "tie", "both_bad")


@dataclass
class Tally:
    """What one client process saw. Latencies are kept only inside the measured window."""

    next_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)  # "next 200", "submit 201", "submit conn", …
    errors: list[tuple[float, str]] = field(default_factory=list)  # (time.time(), "next 500")
    acked: list[tuple[str, int, str, int]] = field(default_factory=list)  # (key, assignment, user, status)
    created_in_window: int = 0
    kills: Counter = field(default_factory=Counter)
    resumed: int = 0  # replacements whose first next returned the lease their predecessor held


class Expert:
    def __init__(self, spec: dict, username: str, token: str, tally: Tally, lock: threading.Lock) -> None:
        self.spec, self.username, self.tally, self.lock = spec, username, tally, lock
        self.rng = random.Random(f"{spec['seed']}-{username}")
        self.headers = {
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "X-Forwarded-Proto": "https",  # as the TLS-terminating proxy says it
        }
        self.connection: http.client.HTTPConnection | None = None
        self.orphan: int | None = None  # the lease a vanished predecessor held

    def post(self, kind: str, path: str, body: dict, *, vanish: bool = False) -> tuple[int | str, bytes]:
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.spec["port"], timeout=60)
        started = time.perf_counter()
        try:
            self.connection.request("POST", path, json.dumps(body).encode(), self.headers)
            if vanish:  # the request is on its way; the client is gone before the answer
                self.connection.close()
                self.connection = None
                return "vanished", b""
            response = self.connection.getresponse()
            status, data = response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = None
            status, data = "conn", b""
        elapsed = (time.perf_counter() - started) * 1000
        failed = status == "conn" or (status >= 400 and status != 409)
        with self.lock:
            self.tally.statuses[f"{kind} {status}"] += 1
            if failed:  # a failure's (often quick) answer is counted, not timed
                self.tally.errors.append((time.time(), f"{kind} {status}"))
            elif started >= self.spec["measure_from"]:
                (self.tally.next_ms if kind == "next" else self.tally.submit_ms).append(elapsed)
        return status, data

    def vanish(self, how: str, assignment_id: int) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        with self.lock:
            self.tally.kills[how] += 1
        self.orphan = assignment_id if how == "mid-lease" else None
        time.sleep(self.rng.uniform(0.05, 0.5))  # then a replacement for the same expert starts

    def run(self) -> None:
        spec, rng = self.spec, self.rng
        base = f"/api/v1/label/{spec['code']}"
        key_for: dict[int, str] = {}  # a failed submit is retried with the same key
        while time.perf_counter() < spec["deadline"]:
            status, data = self.post("next", f"{base}/next", {})
            if status == 204:
                time.sleep(0.2)
                continue
            if status != 200:
                time.sleep(0.05)
                continue
            assignment_id = json.loads(data)["assignment_id"]
            if self.orphan is not None:
                with self.lock:
                    self.tally.resumed += assignment_id == self.orphan
                self.orphan = None
            if rng.random() < spec["kill"]:
                self.vanish("mid-lease", assignment_id)
                key_for.clear()
                continue
            time.sleep(rng.uniform(*spec["think"]))
            key = key_for.setdefault(assignment_id, str(uuid.uuid4()))
            choice = rng.choice(CHOICES)
            body = {
                "choice": choice,
                "strength": rng.randint(1, 3) if choice in ("A", "B") else None,
                "rationale": "Checked the arithmetic in both.",
                "active_seconds": rng.randint(20, 200),
                "idempotency_key": key,
            }
            path = f"{base}/assignments/{assignment_id}"
            vanish = rng.random() < spec["kill"] / 3
            started = time.perf_counter()
            status, data = self.post("submit", path, body, vanish=vanish)
            if status == "vanished":
                self.vanish("mid-submit", assignment_id)
                key_for.clear()
                continue
            if status in (200, 201, 409):
                key_for.clear()
            if status in (200, 201):
                with self.lock:
                    self.tally.acked.append((key, assignment_id, self.username, status))
                    if status == 201 and started >= spec["measure_from"]:
                        self.tally.created_in_window += 1
            elif status != 409:
                time.sleep(0.05)
        if self.connection is not None:
            self.connection.close()


def drive(spec: dict) -> tuple[Tally, float]:
    """Run this process's experts as threads; returns what they saw and this process's CPU seconds."""
    tally, lock = Tally(), threading.Lock()
    # perf_counter's origin differs between processes: turn the shared wall-clock start into ours.
    offset = time.perf_counter() - time.time()
    spec = {**spec, "measure_from": spec["measure_from"] + offset, "deadline": spec["deadline"] + offset}
    experts = [Expert(spec, username, token, tally, lock) for username, token in spec["tokens"]]
    threads = [threading.Thread(target=expert.run) for expert in experts]
    cpu = time.process_time()
    time.sleep(max(0.0, spec["start"] + offset - time.perf_counter()))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally, time.process_time() - cpu
