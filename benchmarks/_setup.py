"""Shared set-up for the benchmarks: a throwaway PostgreSQL database and generated items."""

import os
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/labelhub_bench"


def django_on_bench_db(url: str | None = None) -> str:
    """Point Django at the benchmark database (created and migrated if needed); returns its URL."""
    url = url or os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin_url, "-qc", f"CREATE DATABASE {name}"], capture_output=True)
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="labelhub.settings", DEBUG="1")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def text(rng: random.Random, length: int) -> str:
    words = [
        "model",
        "answer",
        "patient",
        "contract",
        "interest",
        "function",
        "proof",
        "risk",
        "data",
        "because",
        "however",
        "therefore",
        "the",
        "a",
        "of",
        "to",
        "and",
        "is",
        "in",
        "that",
    ]
    out, size = [], 0
    while size < length:
        word = rng.choice(words)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)[:length]


def item_lines(n: int, seed: int = 7) -> list[str]:
    """JSONL items like the peer workload: a ~300-character prompt and two ~1,500-character responses."""
    import json

    rng = random.Random(seed)
    return [
        json.dumps(
            {
                "id": f"b-{i}",
                "prompt": text(rng, 300),
                "responses": [
                    {"content": text(rng, 1500), "model": "m-a"},
                    {"content": text(rng, 1500), "model": "m-b"},
                ],
            }
        )
        for i in range(n)
    ]
