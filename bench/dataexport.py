"""Data export ("Export all data"): time and memory of building an organisation's whole
archive, against the list export of its contacts as a CSV in the same run.

    .venv/bin/python bench/dataexport.py [--rows 100000,300000]

Data: the organisations of bench/exports.py (`bench-exports-<rows>`: `rows` contacts with
custom fields, tags and company links, 2,000 companies, 10 members), made on first use.

Per size, in a fresh subprocess each (so that one's peak memory does not hide another's):
- **archive**: `apps.dataexport.archive.write_archive` to a temporary file: every CSV, the
  uploaded files, README and manifest (what the export task runs);
- **baseline**: the contacts list's CSV export (`apps.records.exporting.export_csv` over
  every contact, ordered by id), its streamed body consumed: the archive's largest file
  written the list's way.
Reported: seconds, the archive's rows (all CSVs) per second, its size, the ratio of the two
times, and peak resident memory over the process's own before the build (VmHWM, reset with
/proc/self/clear_refs): a streamed archive's peak should not grow with the rows.

Results: a markdown table on stdout. Needs a database of its own (`DATABASE_URL`), like the
other benchmarks (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from exports import Tenant, ensure_organisation, memory_mib  # noqa: E402


def child(variant: str, rows: int) -> None:
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.contacts.models import Contact
    from apps.dataexport import archive
    from apps.records.exporting import export_csv

    tenant = Tenant.objects.get(slug=f"bench-exports-{rows}")
    with schema_context(tenant.schema_name), tempfile.TemporaryDirectory() as folder:
        owner = User.objects.get(email=f"owner@{tenant.slug}.test")
        # Warm up: imports, connections, the registry.
        archive._parts()
        before = memory_mib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
        started = time.perf_counter()
        result: dict[str, float] = {}
        if variant == "archive":
            target = Path(folder) / "all.zip"
            manifest = archive.write_archive(target)
            result["rows"] = sum(item["rows"] for item in manifest["files"])
            result["bytes"] = target.stat().st_size
        else:
            response = export_csv(
                actor=owner,
                entity_key="contact",
                queryset=Contact.objects.order_by("pk"),
                query="bench",
            )
            size = 0
            for block in response.streaming_content:  # type: ignore[union-attr]  # a sync stream
                size += len(block)
            result["rows"] = rows
            result["bytes"] = size
        result["seconds"] = time.perf_counter() - started
        result["growth_mib"] = memory_mib("VmHWM") - before
    print(json.dumps(result))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="100000,300000")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "ROWS"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    sizes = [int(n) for n in args.rows.split(",")]
    print(
        "| contacts | archive rows | archive s | rows/s | zip MiB | list CSV s | ratio "
        "| archive peak +MiB | list peak +MiB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for rows in sizes:
        ensure_organisation(rows)
        found = {}
        for variant in ("baseline", "archive"):
            out = subprocess.run(  # noqa: S603 - this script, fixed arguments
                [sys.executable, __file__, "--child", variant, str(rows)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            found[variant] = json.loads(out.strip().splitlines()[-1])
        a, b = found["archive"], found["baseline"]
        print(
            f"| {rows:,} | {int(a['rows']):,} | {a['seconds']:.1f} | "
            f"{a['rows'] / a['seconds']:,.0f} | {a['bytes'] / 1048576:.1f} | "
            f"{b['seconds']:.1f} | {a['seconds'] / b['seconds']:.2f} | "
            f"{a['growth_mib']:.0f} | {b['growth_mib']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
