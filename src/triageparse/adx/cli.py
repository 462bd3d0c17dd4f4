"""``triageparse ingest`` and ``triageparse drop``: thin command lines over ``triageparse.adx``."""
from __future__ import annotations

import argparse
import sys

from .connect import AUTH_MODES, ConfigError, redact

AUTH_HELP = ("how to sign in (default az-cli). app-secret reads AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, "
             "AZURE_TENANT_ID; app-cert reads AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_CERTIFICATE_PATH (PEM "
             "with key and certificate); managed-identity uses AZURE_CLIENT_ID for a user-assigned identity; "
             "token-env reads a bearer token from TRIAGEPARSE_ADX_TOKEN; none is for local endpoints over http://")


def _add_cluster_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster", required=True, help="cluster URL, e.g. https://mycluster.westeurope.kusto.windows.net")
    p.add_argument("--database", required=True, help="database name")
    p.add_argument("--auth", choices=AUTH_MODES, default="az-cli", help=AUTH_HELP)
    p.add_argument("--ingest-url", help="ingestion (DM) endpoint; default: the cluster URL with 'ingest-' prefixed")
    p.add_argument("--dry-run", action="store_true", help="print the commands and files; send nothing")


def _say(text: str) -> None:
    print(redact(text), flush=True)


def _cmd_ingest(args) -> int:
    from . import ingest
    from .run import IngestError
    try:
        report = ingest(args.output, cluster=args.cluster, database=args.database, auth=args.auth,
                        ingest_url=args.ingest_url, tables=args.table or None, collections=args.collection or None,
                        streaming=args.streaming, wait=args.wait, verify_counts=args.verify, dry_run=args.dry_run,
                        free_cluster=args.free_cluster, backdate=not args.no_backdate, resend=args.resend,
                        timeout=args.timeout, poll=args.poll, say=_say)
    except (IngestError, ConfigError, FileNotFoundError) as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 2
    _say(f"cluster {report.engine}  ingestion endpoint {report.dm}  database {report.database}")
    if args.dry_run:
        for text in report.commands:
            _say(text)
        for f in report.files:
            _say(f"would send {f.path}  table={f.table} collection={f.collection_id} rows={f.rows} "
                 f"bytes={f.size} tags={','.join(f.tags)} ingestIfNotExists={f.ingest_by} "
                 f"creationTime={f.creation_time or '-'}")
    else:
        for text in report.commands:
            _say(f"sent: {text.splitlines()[0][:160]}")
        _say(f"files: {len(report.files)}, sent {len(report.queued)}, skipped {len(report.skipped)}")
        for f, why in report.skipped:
            _say(f"  skipped {f.table}/{f.path.name}: {why}")
    for key, (expected, found) in sorted(report.counts.items()):
        mark = "ok" if expected == found else "DIFFERS"
        _say(f"  {mark:7} {key[0]} {key[1]}: Parquet {expected}, ADX {found if found is not None else 0}")
    for note in report.notes:
        _say(f"note: {note}")
    for problem in report.problems:
        print(f"problem: {redact(problem)}", file=sys.stderr)
    if report.problems:
        print("nothing was sent: fix the problems above and run the same command again", file=sys.stderr)
    return 0 if report.ok else 1


def _cmd_drop(args) -> int:
    from . import drop
    from .run import IngestError
    try:
        report = drop(cluster=args.cluster, database=args.database, collections=args.collection or None,
                      out=args.output, auth=args.auth, ingest_url=args.ingest_url, dry_run=args.dry_run, say=_say)
    except (IngestError, ConfigError, FileNotFoundError) as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 2
    for text in report.commands:
        _say(text if args.dry_run else f"sent: {text}")
    for table, n in sorted(report.dropped.items()):
        _say(f"  {table}: {n} extent(s) dropped")
    return 0


def register(sub) -> None:
    i = sub.add_parser("ingest", help="ingest an output folder into Azure Data Explorer (idempotent)")
    i.add_argument("output", help="output folder of triageparse convert")
    _add_cluster_options(i)
    i.add_argument("--table", action="append", help="only this table (repeatable)")
    i.add_argument("--collection", action="append", help="only this CollectionId (repeatable)")
    i.add_argument("--streaming", action="store_true", help="managed streaming for files up to 4 MiB (queued "
                   "above); streamed data carries no tags. Default: queued ingestion")
    i.add_argument("--wait", action="store_true", help="wait until ADX holds every row, then verify the counts")
    i.add_argument("--verify", action="store_true", help="compare row counts per table and collection with ADX")
    i.add_argument("--timeout", type=float, default=1800.0, help="seconds --wait waits (default 1800)")
    i.add_argument("--poll", type=float, default=30.0, help="seconds between checks while waiting (default 30)")
    i.add_argument("--free-cluster", action="store_true", help="apply the free cluster's limits (100 tables, 200 "
                   "columns); detected from kvc… host names")
    i.add_argument("--no-backdate", action="store_true", help="do not set the extents' creationTime to the "
                   "collection date (backdated extents older than the retention period are deleted soon)")
    i.add_argument("--resend", action="store_true", help="ignore the local record of files queued before (ADX "
                   "still refuses duplicates through ingest-by tags)")
    i.set_defaults(func=_cmd_ingest)

    d = sub.add_parser("drop", help="drop collections from Azure Data Explorer by their drop-by tag")
    d.add_argument("output", nargs="?", help="output folder: drop all its collections (or those given)")
    _add_cluster_options(d)
    d.add_argument("--collection", action="append", help="CollectionId to drop (repeatable)")
    d.set_defaults(func=_cmd_drop)
