"""Import speed: items per second through `import_items`, on PostgreSQL.

    .venv/bin/python benchmarks/import_bench.py --n 20000

Prints the figures; the target is at least 20,000 items/s.
"""

import argparse
import io
import tempfile
import time
from pathlib import Path

from _setup import django_on_bench_db, item_lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="items to import")
    args = parser.parse_args()
    url = django_on_bench_db()
    from django.core.management import call_command

    from projects.models import Client, Project

    client, _ = Client.objects.get_or_create(slug="bench", defaults={"name": "Bench client"})
    Project.objects.filter(slug="import-bench").delete()
    Project.objects.create(
        client=client, slug="import-bench", name="Import bench", codename="ImportBench", code="importbench"
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "items.jsonl"
        path.write_text("\n".join(item_lines(args.n)) + "\n")
        size_mb = path.stat().st_size / 1e6
        started = time.perf_counter()
        call_command("import_items", "import-bench", str(path), stdout=io.StringIO())
        seconds = time.perf_counter() - started
    print(f"database: {url}")
    print(
        f"import_items: {args.n:,} items ({size_mb:.1f} MB) in {seconds:.2f} s = "
        f"{args.n / seconds:,.0f} items/s"
    )


if __name__ == "__main__":
    main()
