"""The command line: a thin layer over the Python API (``triageparse.convert`` …)."""
from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
from pathlib import Path

from . import __version__, contracts
from .arrays import keep_pandas_out


def _cmd_convert(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from .collection import Limits, expand_inputs
    from .convert import convert, source_size
    from .sink import OutputError

    console = Console(stderr=True)
    limits = Limits(max_total_bytes=args.max_bytes) if args.max_bytes else Limits()
    if args.watch:
        return _watch(args, limits, console)
    if not args.inputs:
        console.print("[red]error:[/red] name at least one zip, folder or file to convert (or --watch DIR)")
        return 2
    try:
        total_bytes = sum(source_size(s) for s in expand_inputs([Path(p) for p in args.inputs]))
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    # One bar for the whole run: bytes of the sources, collections done, rows written, time left.
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TextColumn("{task.fields[collections]} collections, {task.fields[rows]:,} rows"),
                  TimeRemainingColumn(), console=console, transient=True, disable=args.quiet) as progress:
        task = progress.add_task("converting", total=total_bytes or None, collections=0, rows=0)

        def on_progress(path: str, i: int, total: int) -> None:
            progress.update(task, description=f"[cyan]{path[-40:]}")

        def on_collection(c) -> None:
            fields = progress.tasks[0].fields
            progress.update(task, advance=c.source_bytes, collections=fields["collections"] + 1,
                            rows=fields["rows"] + sum(c.data_tables.values()))
            if not args.quiet:
                progress.console.print(_collection_line(c))
        try:
            summary = convert(args.inputs, args.output, culture=args.culture, timezone=args.timezone,
                              limits=limits, on_progress=on_progress, jobs=args.jobs, force=args.force,
                              security_event_columns=args.security_event_columns, on_collection=on_collection)
        except (OutputError, FileNotFoundError, ValueError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            return 2
    out = Console()
    if args.quiet:
        _print_summary(summary, out)
    table = Table(title=f"written to {summary.out}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in summary.tables.items():
        table.add_row(name, f"{rows:,}")
    out.print(table)
    out.print(f"collections {len(summary.collections)}, tables {len(summary.tables)}, rows written "
              f"{summary.rows_written:,}, rows rejected {summary.rows_rejected:,}, warnings {summary.warnings:,}, "
              f"errors {summary.errors:,}")
    if summary.errors:
        out.print("[yellow]some files could not be read completely: see the ParseIssue table "
                  f"(triageparse query {summary.out} \"ParseIssue | where Severity == 'error'\")[/yellow]")
    return 0 if summary.ok else 1


def _collection_line(c) -> str:
    """What one finished collection did, in a few lines."""
    if c.skipped:
        return f"[dim]{c.name}: {c.messages[0]}[/dim]"
    if not c.collection_id:         # a source that could not be read: no collection came of it
        return f"[bold]{c.name}[/bold]  [red]error:[/red] {c.messages[0]}"
    lines = [f"[bold]{c.name}[/bold]  id={c.collection_id}  host={c.computer}  family={c.family}  "
             f"culture={c.culture}  files={c.files} (unparsed {c.unparsed})"]
    lines += [f"  [yellow]warning:[/yellow] {m}" for m in c.messages]
    lines.append(f"  {len(c.data_tables)} tables, {sum(c.data_tables.values()):,} rows, {c.rows_rejected:,} rejected, "
                 f"{c.warnings:,} warnings, {c.errors:,} errors")
    return "\n".join(lines)


def _print_summary(summary, out) -> None:
    for c in summary.collections:
        out.print(_collection_line(c))


def _watch(args, limits, console) -> int:
    from rich.console import Console

    from .convert import watch
    folder = args.watch
    console.print(f"watching {folder} for new collections every {args.interval:g} s; Ctrl-C to stop")
    try:
        watch(folder, args.output, interval=args.interval, culture=args.culture, timezone=args.timezone,
              limits=limits, jobs=args.jobs, security_event_columns=args.security_event_columns,
              on_converted=lambda s: _print_summary(s, Console()))
    except KeyboardInterrupt:
        console.print("stopped")
    return 0


def _cmd_compact(args) -> int:
    from .layout import compact
    for r in compact(args.output):
        if r.files_before > r.files_after:
            print(f"{r.table}: {r.files_before} files -> {r.files_after} ({r.rows:,} rows)")
    return 0


def _cmd_schema(args) -> int:
    chosen = contracts.all_contracts()
    if args.table:
        chosen = {t: contracts.get(t) for t in args.table}
    if args.markdown:
        print(contracts.tables_markdown() if not args.table else "\n".join(c.markdown() for c in chosen.values()))
        return 0
    if args.external_table:
        from .adx.plan import external_table_commands
        print("\n\n".join(external_table_commands(args.external_table, list(chosen))))
        return 0
    for c in chosen.values():
        print(c.kql_create_merge())
        print()
        print(c.kql_create_mapping())
        print()
    return 0


def _use_jemalloc() -> None:
    """jemalloc returns memory to the system sooner than pyarrow's default (mimalloc): a lower peak RSS
    on big logs. Process-wide, so only the command line sets it, never the library."""
    import pyarrow as pa
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except (NotImplementedError, AttributeError):
        pass


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="triageparse", description="Windows triage collections into typed, "
                                "ADX-ready Parquet tables.")
    p.add_argument("--version", action="version", version=f"triageparse {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("convert", help="convert collections (zip, nested zip, folder or file) to Parquet")
    c.add_argument("inputs", nargs="*", help="DFIR-<HOST>-<date>.zip files, folders or single artifact files")
    c.add_argument("--watch", metavar="DIR", help="keep converting new collections that land in DIR")
    c.add_argument("--interval", type=float, default=5.0, help="seconds between looks at --watch DIR")
    c.add_argument("-o", "--output", required=True, help="output folder (one dataset per table)")
    c.add_argument("--culture", help="date culture of the host (en-US, en-GB, nl-NL, de-DE, fr-FR, ISO …); "
                   "inferred when omitted")
    c.add_argument("--timezone", help="host time zone: IANA name (Europe/Amsterdam) or offset (+02:00)")
    c.add_argument("--max-bytes", type=int, help="cap on decompressed bytes per source (default 64 GiB)")
    c.add_argument("-j", "--jobs", type=int, default=None, help="worker processes (default: all cores)")
    c.add_argument("--force", action="store_true", help="convert sources again even when OUT already has them")
    c.add_argument("--security-event-columns", choices=("compact", "full"), default="compact",
                   help="compact (default): Security events into SecurityEvent, which fits a free ADX cluster; "
                   "full: into SecurityEventFull, every Sentinel SecurityEvent column (225, a paid cluster)")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=_cmd_convert)

    k = sub.add_parser("compact", help="merge the small per-collection files of every table (content unchanged)")
    k.add_argument("output", help="a triageparse output folder")
    k.set_defaults(func=_cmd_compact)

    s = sub.add_parser("schema", help="print ADX commands or docs generated from the table contracts")
    s.add_argument("--kql", action="store_true", help=".create-merge table and Parquet mapping commands (default)")
    s.add_argument("--markdown", action="store_true", help="the table reference as Markdown")
    s.add_argument("--external-table", metavar="STORAGE_URL", help=".create external table commands over Parquet "
                   "uploaded as STORAGE_URL/<Table>/<CollectionId>.parquet")
    s.add_argument("table", nargs="*", help="only these tables")
    s.set_defaults(func=_cmd_schema)
    from .kql import register as register_kql; register_kql(sub)  # query, hunt
    from .adx.cli import register as register_adx; register_adx(sub)  # ingest, drop
    return p


def main(argv: list[str] | None = None) -> int:
    if hasattr(signal, "SIGPIPE") and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # `schema --kql | head` ends quietly, as Unix tools do
    args = build_parser().parse_args(argv)
    if argv is None and args.func is _cmd_convert:
        # The command's own process (not a caller of main()) that only converts: pandas, which pyarrow
        # would import for nothing, is kept out (0.4 s of CPU, and an EVTX worker's fork waited for it).
        keep_pandas_out()
        # What is imported by now lives as long as the command: out of the cyclic collector's full passes
        # (~1 % of a conversion's CPU) and not copied into forked workers' memory when they touch it.
        gc.freeze()
    _use_jemalloc()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
