"""The `mlscan` command. Exit codes: 0 scan ran, 1 policy (fail-under) not met, 2 usage or config error."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional, Tuple

import click

from mlscan import __version__

FORMATS = ("terminal", "json", "sarif", "markdown", "github", "html")
EXIT_OK, EXIT_POLICY, EXIT_USAGE = 0, 1, 2


class DefaultToScan(click.Group):
    """`mlscan PATH` means `mlscan scan PATH`."""

    def parse_args(self, ctx: click.Context, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["scan", *args]
        elif not args:
            args = ["scan"]
        return super().parse_args(ctx, args)


def _fail(message: str) -> "click.exceptions.Exit":
    click.echo(f"mlscan: error: {message}", err=True)
    return click.exceptions.Exit(EXIT_USAGE)


_QUICK_EXIT = False   # set by `scan`, `history` and `fleet` once their output is out: nothing is left to clean up


def _exit_without_teardown(code) -> None:
    """Exit at once: tearing the interpreter down (a full garbage collection over every fact
    still alive) cost about 2 CPU seconds after a large scan. Falls back to a normal exit."""
    code = 0 if code is None else code
    if not isinstance(code, int):
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        return
    os._exit(code)


def main() -> None:
    """Console entry point: an unexpected error exits 2 (as usage errors do), never 1 (policy)."""
    try:
        # not standalone: click would turn Ctrl-C into "Aborted!" and exit 1, which means "policy not met"
        code = cli.main(standalone_mode=False)
    except SystemExit as exc:
        if _QUICK_EXIT:
            _exit_without_teardown(exc.code)
        raise
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("mlscan: interrupted", err=True)
        sys.exit(130)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:  # an mlscan bug: say so plainly, keep exit 1 meaning "policy not met"
        import traceback
        click.echo(f"mlscan: internal error: {exc.__class__.__name__}: {exc}", err=True)
        if __import__("os").environ.get("MLSCAN_DEBUG"):
            traceback.print_exc()
        sys.exit(EXIT_USAGE)
    code = code if isinstance(code, int) else 0
    if _QUICK_EXIT:
        _exit_without_teardown(code)
    sys.exit(code)


@click.group(cls=DefaultToScan, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlscan")
def cli() -> None:
    """mlscan: how mature is this ML repo, and what should we fix next?

    Reads the repository statically (it never runs, imports or installs its code) and reports
    evidence for ML engineering practices, a maturity level per lifecycle stage, and next steps.
    """


def _split_ids(values: Tuple[str, ...]) -> Tuple[str, ...]:
    return tuple(x.strip() for v in values for x in v.split(",") if x.strip())


@cli.command()
@click.argument("path", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="terminal", show_default=True,
              help="Report format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report to FILE.")
@click.option("--base", metavar="REF", help="Compare against a base commit (e.g. origin/main) and report the delta.")
@click.option("--fail-under", metavar="N|STAGE=N,...", help="Exit 1 if the overall level (or a stage's) is below N.")
@click.option("--select", multiple=True, metavar="IDS", help="Only these practices or rules (comma-separated).")
@click.option("--ignore", multiple=True, metavar="IDS", help="Skip these practices or rules (comma-separated).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Leave out paths matching a gitignore-style pattern.")
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=Path),
              help="A maturity model YAML file to use instead of the built-in one.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Read [tool.mlscan] from this TOML file instead of PATH/pyproject.toml.")
@click.option("--history-depth", type=click.IntRange(min=0), help="Read at most N commits of history (0: none).")
@click.option("--jobs", type=click.IntRange(min=0), default=0, help="Worker processes for parsing (0: free cores).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep per-file facts here (default: the user cache folder, or $MLSCAN_CACHE_DIR).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the fact cache.")
@click.option("-v", "--verbose", is_flag=True, help="Show all evidence and diagnostics in terminal output.")
@click.option("--no-progress", is_flag=True, help="Never show progress on stderr.")
def scan(path: Path, fmt: str, output: Optional[Path], base: Optional[str], fail_under: Optional[str],
         select: Tuple[str, ...], ignore: Tuple[str, ...], exclude: Tuple[str, ...], model_path: Optional[Path],
         config_path: Optional[Path], history_depth: Optional[int], jobs: int, cache_dir: Optional[Path], no_cache: bool, verbose: bool,
         no_progress: bool) -> None:
    """Scan PATH (default: the current folder) and report its ML maturity."""
    from mlscan.config import load_config, merge, parse_fail_under
    from mlscan.errors import UsageError
    if not path.exists():
        raise _fail(f"path {str(path)!r} does not exist")
    if not path.is_dir():
        raise _fail(f"path {str(path)!r} is not a folder")
    try:
        if fmt == "html":  # before the scan: a missing extra should not cost a scan
            from mlscan.report.html import check_available
            check_available()
        commit = _bare_head(path)
        if commit is not None and base:
            raise UsageError(f"{str(path)!r} is a bare repository: --base compares a work tree with a commit; "
                             "scan a checkout, or scan the bare repository without --base (its HEAD is read)")
        if commit is not None and config_path is None:
            from mlscan.config import load_config_at_commit
            cfg = load_config_at_commit(path, commit)
        else:
            cfg = load_config(path, config_path)
        ignore_ids = dict(cfg.ignore)
        ignore_ids.update({i: "ignored on the command line" for i in _split_ids(ignore)})
        cfg = merge(cfg, select=_split_ids(select) or None, ignore=ignore_ids,
                    exclude=(cfg.exclude + tuple(exclude)) if exclude else None,
                    history_depth=history_depth, model=model_path.resolve() if model_path else None,
                    fail_under=parse_fail_under(fail_under, "--fail-under") if fail_under else None)
        progress = _progress_printer(no_progress)
        cache = "off" if no_cache else (str(cache_dir) if cache_dir is not None else None)
        # One scan (or a head and its base), then this process exits: no cyclic garbage collection
        # at all. The scan pauses it while facts are built anyway, and each resumption walked every
        # fact made meanwhile (~0.5-1 CPU-s on diffusers); its few cycles are freed on exit. (With
        # --base too: peak RSS measured the same with and without, 561 MB on diffusers.)
        __import__("gc").disable()
        try:
            if base:
                from mlscan.delta import scan_with_base
                report = scan_with_base(path, base, cfg, progress=progress, jobs=jobs, cache_dir=cache)
            else:
                from mlscan.engine import scan as run_scan
                report = run_scan(path, cfg, progress=progress, jobs=jobs, cache_dir=cache, commit=commit)
        finally:
            if progress:
                progress(None)
    except UsageError as exc:
        raise _fail(str(exc))
    policy_ok = True
    if cfg.fail_under is not None:
        from mlscan.policy import apply_fail_under
        policy_ok = apply_fail_under(report, cfg.fail_under)
    text = render(report, fmt, verbose=verbose, to_file=output is not None, output=output)
    if output is not None:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise _fail(f"cannot write {output}: {exc.strerror or exc}")
    elif text is not None:
        sys.stdout.write(text)
    global _QUICK_EXIT
    _QUICK_EXIT = True
    if not policy_ok:
        click.echo(f"mlscan: policy not met: {report.policy.get('fail_under', {}).get('message', '')}", err=True)
        sys.exit(EXIT_POLICY)


def _bare_head(path: Path):
    """A bare repository has no work tree: its HEAD commit, read from git objects (as `mlscan fleet`
    and `mlscan history` read commits); None for any other folder."""
    from mlscan.fleet.sources import BARE, git_kind
    if git_kind(path) != BARE:
        return None
    from mlscan.facts.repo import CommitTree
    from mlscan.fleet.repos import resolve_commit
    return CommitTree(path.resolve(), resolve_commit(path, "HEAD"))


def render(report, fmt: str, verbose: bool = False, to_file: bool = False,
           output: Optional[Path] = None) -> Optional[str]:
    if fmt == "json":
        from mlscan.report.json_out import render_json
        return render_json(report)
    if fmt == "sarif":
        from mlscan.report.sarif import render_sarif
        return render_sarif(report)
    if fmt == "markdown":
        from mlscan.report.markdown import render_markdown
        return render_markdown(report)
    if fmt == "github":
        from mlscan.report.github import render_github
        return render_github(report)
    if fmt == "html":  # evidence links lead from the page's folder to the scanned files
        from mlscan.report.html import files_base, render_scan
        return render_scan(report, files=files_base(report.root, output.resolve().parent if output else None))
    from mlscan.report.terminal import render_terminal
    if to_file:
        import io
        buf = io.StringIO()
        render_terminal(report, file=buf, verbose=verbose, width=120)
        return buf.getvalue()
    render_terminal(report, verbose=verbose)
    return None


def _progress_printer(disabled: bool):
    if disabled or not sys.stderr.isatty():
        return None
    from rich.console import Console
    console = Console(stderr=True)
    status = console.status("scanning…")
    status.start()

    def update(msg: Optional[str]) -> None:
        if msg is None:
            status.stop()
        else:
            status.update(f"mlscan: {msg}")
    return update


@cli.command()
@click.argument("path", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--select", multiple=True, metavar="IDS", help="Only the fixes for these practices or rules (comma-separated).")
@click.option("--diff", "mode", flag_value="diff", default=True, help="Print the changes as a unified diff (the default).")
@click.option("--write", "mode", flag_value="write", help="Apply the changes to the files.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Read [tool.mlscan] from this TOML file instead of PATH/pyproject.toml.")
@click.option("--jobs", type=click.IntRange(min=0), default=0, help="Worker processes for parsing (0: free cores).")
def fix(path: Path, select: Tuple[str, ...], mode: str, config_path: Optional[Path], jobs: int) -> None:
    """Turn the scan's next steps into patches: print them as a diff, or apply them with --write.

    Only fixes that a rescan of a temporary copy confirms are offered; what cannot be changed
    safely is listed on stderr with the reason.
    """
    from mlscan.config import load_config
    from mlscan.errors import UsageError
    if not path.is_dir():
        raise _fail(f"path {str(path)!r} is not a folder")
    try:
        from mlscan.fix.engine import plan_fixes, render_diff, summary_lines, write_plan
        plan = plan_fixes(path, load_config(path, config_path), _split_ids(select), jobs=jobs)
        if mode == "write":
            written = write_plan(plan)
            for rel in written:
                click.echo(f"mlscan fix: wrote {rel}", err=True)
        else:
            sys.stdout.write(render_diff(plan))
    except UsageError as exc:
        raise _fail(str(exc))
    for line in summary_lines(plan):
        click.echo(line, err=True)


@cli.command("history")
@click.argument("path", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--commits", type=click.IntRange(min=1), help="The newest N commits of the first-parent line "
              "(default 20 when --since is not given).")
@click.option("--since", metavar="DATE", help="Commits since DATE (anything `git log --since` reads).")
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Scan every K-th commit (HEAD always).")
@click.option("--format", "fmt", type=click.Choice(("terminal", "json")), default="terminal", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep per-file facts here (default: the user cache folder, or $MLSCAN_CACHE_DIR).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the fact cache.")
@click.option("--scheduler", metavar="ADDRESS", help="Scan the commits on Dask (needs mlscan[fleet]): a scheduler "
              "address such as tcp://host:8786, or `local` for an embedded cluster sized to the free cores.")
@click.option("--no-progress", is_flag=True, help="Never show progress on stderr.")
def history_cmd(path: Path, commits: Optional[int], since: Optional[str], every: int, fmt: str,
                output: Optional[Path], cache_dir: Optional[Path], no_cache: bool, scheduler: Optional[str],
                no_progress: bool) -> None:
    """Levels and practice statuses at each sampled commit of PATH's first-parent line, read from
    git objects (nothing is checked out), with the commits where a practice arrived or regressed."""
    from mlscan.config import load_config
    from mlscan.errors import UsageError
    from mlscan.fleet.commits import history, render_history_json, render_history_terminal
    if commits is not None and since is not None:
        raise _fail("give --commits or --since, not both")
    if scheduler is not None:
        from mlscan.fleet import missing_extra
        problem = missing_extra()
        if problem:
            raise _fail(problem.replace("`mlscan fleet`", "`mlscan history --scheduler`"))
    cache = "off" if no_cache else (str(cache_dir.resolve()) if cache_dir is not None else None)
    progress = _progress_printer(no_progress)
    try:
        doc = history(path, load_config(path, None), commits=commits or (None if since else 20), since=since,
                      every=every, cache_dir=cache, progress=progress, scheduler=scheduler)
    except UsageError as exc:
        raise _fail(str(exc))
    finally:
        if progress:
            progress(None)
    text = render_history_json(doc) if fmt == "json" else render_history_terminal(doc)
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise _fail(f"cannot write {output}: {exc.strerror or exc}")
    else:
        sys.stdout.write(text)
    if scheduler is None:  # its forked processes are done and its git readers need no goodbye
        global _QUICK_EXIT
        _QUICK_EXIT = True


@cli.command("render")
@click.argument("report_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="terminal", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE.")
def render_cmd(report_file: Path, fmt: str, output: Optional[Path]) -> None:
    """Render a saved JSON report (`mlscan scan --format json`) in another format, without rescanning.

    A fleet or history JSON (told apart by its shape) renders as an HTML page."""
    import json
    from mlscan.errors import UsageError
    from mlscan.report.model import document_kind, report_from_json
    try:
        data = json.loads(report_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _fail(f"{report_file} is not a readable mlscan JSON report ({exc.__class__.__name__}: {exc})")
    kind = document_kind(data)
    if fmt == "html":
        from mlscan.report.html import check_available, render_saved
        try:
            check_available()
        except UsageError as exc:
            raise _fail(str(exc))
        if kind != "report":
            try:
                text = render_saved(data, report_file.resolve(), output.resolve().parent if output else Path.cwd())
            except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
                raise _fail(f"{report_file} is not a readable mlscan {kind} JSON ({exc.__class__.__name__}: {exc})")
            _write_or_print(text, output)
            return
    elif kind != "report":
        raise _fail(f"{report_file} is a {kind} JSON; it renders only with --format html")
    try:
        report = report_from_json(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise _fail(f"{report_file} is not a readable mlscan JSON report ({exc.__class__.__name__}: {exc})")
    text = render(report, fmt, to_file=output is not None, output=output)
    _write_or_print(text, output)


def _write_or_print(text: Optional[str], output: Optional[Path]) -> None:
    if output is not None:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text or "", encoding="utf-8")
        except OSError as exc:
            raise _fail(f"cannot write {output}: {exc.strerror or exc}")
    elif text is not None:
        sys.stdout.write(text)


@cli.command()
@click.argument("path", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(("json", "dot")), default="json", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
def graph(path: Path, fmt: str, output: Optional[Path]) -> None:
    """Export the dependency graph mlscan builds (modules, functions, entry points, artefacts)."""
    from mlscan.facts.repo import Facts
    from mlscan.report.graph_out import render_graph
    text = render_graph(Facts(path).graph, fmt)
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@cli.command("rules")
@click.option("--format", "fmt", type=click.Choice(("terminal", "json", "markdown")), default="terminal")
def rules_cmd(fmt: str) -> None:
    """List the practice catalogue: practice, stage, level and the rules that detect it."""
    from mlscan.docs import catalogue_json, catalogue_markdown, print_catalogue, print_plugin_problems
    print_plugin_problems()
    if fmt == "json":
        import json
        sys.stdout.write(json.dumps(catalogue_json(), indent=2) + "\n")
    elif fmt == "markdown":
        sys.stdout.write(catalogue_markdown())
    else:
        print_catalogue()


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for reports/, fleet.json, fleet.parquet, fleet.csv and index.html.")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Run on this Dask scheduler (default: $DASK_SCHEDULER_ADDRESS, else an embedded cluster).")
@click.option("--workers", type=click.IntRange(min=1),
              help="Workers of the embedded cluster, each with one scan process (default: free cores).")
@click.option("--timeout", type=click.FloatRange(min=1), default=600, show_default=True,
              help="Seconds per repository before its scan is stopped and reported as timed out.")
@click.option("--clone", "allow_clone", is_flag=True, help="Allow URL sources: clone them (this uses the network).")
@click.option("--no-resume", is_flag=True, help="Rescan repositories already reported in OUT at the same commit.")
@click.option("--select", multiple=True, metavar="IDS", help="Only these practices or rules (comma-separated).")
@click.option("--ignore", multiple=True, metavar="IDS", help="Skip these practices or rules (comma-separated).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Leave out paths matching a gitignore-style pattern.")
@click.option("--model", "model_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A maturity model YAML file to use instead of the built-in one.")
@click.option("--history-depth", type=click.IntRange(min=0), help="Read at most N commits of history (0: none).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Share per-file facts here (default: the user cache folder, or $MLSCAN_CACHE_DIR); "
                   "workers on several machines share it when it is on a shared filesystem.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the fact cache.")
@click.option("--no-progress", is_flag=True, help="Never show progress on stderr.")
def fleet(sources: Tuple[str, ...], out: Path, scheduler: Optional[str], workers: Optional[int], timeout: float,
          allow_clone: bool, no_resume: bool, select: Tuple[str, ...], ignore: Tuple[str, ...],
          exclude: Tuple[str, ...], model_path: Optional[Path], history_depth: Optional[int],
          cache_dir: Optional[Path], no_cache: bool, no_progress: bool) -> None:
    """Scan many repositories on Dask and write one report each plus fleet-wide tables into OUT.

    SOURCES are git checkouts, bare repos, folders of checkouts, or text files listing them (one a
    line, # comments); each may end in @REF. URLs are cloned only with --clone.
    """
    from mlscan.errors import UsageError
    from mlscan.fleet import missing_extra
    problem = missing_extra()
    if problem:
        raise _fail(problem)
    from mlscan.fleet.repos import ScanSettings, run_fleet
    settings = ScanSettings(select=_split_ids(select), ignore=_split_ids(ignore), exclude=tuple(exclude),
                            history_depth=history_depth, model=str(model_path.resolve()) if model_path else None,
                            cache_dir="off" if no_cache else (str(cache_dir.resolve()) if cache_dir else None))
    try:
        from mlscan.engine import validate_ids
        from mlscan.config import Config
        validate_ids(Config(select=settings.select, ignore={i: "" for i in settings.ignore}))
        document = run_fleet(sources, out, settings=settings, allow_clone=allow_clone, scheduler=scheduler,
                             workers=workers, timeout=timeout, resume=not no_resume,
                             progress=None if no_progress else _fleet_progress)
    except UsageError as exc:
        raise _fail(str(exc))
    except KeyboardInterrupt:   # click would call this "Aborted!" and exit 1, which means "policy not met"
        click.echo(f"mlscan fleet: interrupted; finished reports are in {out}", err=True)
        global _QUICK_EXIT   # OUT is written and the engine closed: no teardown of Dask, pyarrow and
        _QUICK_EXIT = True   # matplotlib, which an interrupt in the middle of their loading can crash
        sys.exit(130)
    summary = document["summary"]
    by_status = {}
    for r in document["repos"]:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    counts = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
    click.echo(f"mlscan fleet: {summary['repos']} repositories ({counts}); wrote {out / 'fleet.json'}", err=True)
    _QUICK_EXIT = True   # the engine is closed and OUT written: Dask's exit hooks and the teardown
    # of Dask, pyarrow and matplotlib took 0.3-0.7 s


def _fleet_progress(total: int):
    """A progress bar on stderr (a line per repository when stderr is not a terminal)."""
    if not sys.stderr.isatty():
        done = [0]

        def line(name: str, status: str) -> None:
            done[0] += 1
            click.echo(f"mlscan fleet: [{done[0]}/{total}] {name}: {status}", err=True)
        return line
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    bar = Progress(TextColumn("mlscan fleet"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.description}"), console=Console(stderr=True), transient=False)
    task = bar.add_task("", total=total)
    bar.start()

    def advance(name: str, status: str) -> None:
        bar.update(task, advance=1, description=f"{name}: {status}")
        if bar.finished:
            bar.stop()
    return advance


@cli.command()
@click.argument("rule_or_practice_id")
def explain(rule_or_practice_id: str) -> None:
    """Explain one practice or rule: what it looks for, why it matters and how to add it."""
    from mlscan.docs import explain_text
    text = explain_text(rule_or_practice_id)
    if text is None:
        raise _fail(f"no practice or rule {rule_or_practice_id!r}; `mlscan rules` lists them")
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
