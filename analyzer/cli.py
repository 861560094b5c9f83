"""The `analyzer` command: a thin click layer over the library."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from analyzer import access
from analyzer.config import DB_ENV_VAR, app_path, default_db_path, sample_calls_dir, topics_path
from analyzer.errors import AnalyzerError
from analyzer.pipeline import IngestOptions, Ingestor, Outcome, collect_inputs, redaction
from analyzer.records import CALL_TYPES
from analyzer.sources import make_meta
from analyzer.speakers import parse_channel_roles
from analyzer.store import Store
from analyzer.trackers import TRACKERS_ENV_VAR, load_trackers

console = Console(stderr=True)
# Piped output gets wide rows rather than rich's 80-column default.
out = Console() if Console().is_terminal else Console(width=200)

db_option = click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"DuckDB file (default: ${DB_ENV_VAR} or ./analyzer.duckdb).",
)
trackers_option = click.option(
    "--trackers",
    "trackers_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help=f"Your tracker YAML, merged over models/trackers.yaml (or ${TRACKERS_ENV_VAR}).",
)


def _store(db: Path | None, *, create: bool = False) -> Store:
    store = Store(db or default_db_path())
    if create or store.path.exists():
        store.migrate()
    return store


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log what each stage does.")
@click.version_option(package_name="call-analyzer")
def cli(verbose: bool) -> None:
    """Call analyzer: transcribe sales and CS calls, track topics, store them in DuckDB."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV with file,call_id,rep,account,call_type,date,title (matched by file name).",
)
@click.option("--rep", help="The rep on the call(s).")
@click.option("--account", help="The customer account.")
@click.option("--call-type", type=click.Choice(CALL_TYPES), help="sales or cs.")
@click.option("--date", "call_date", help="Call date, YYYY-MM-DD.")
@click.option("--title", help="Call title.")
@click.option("--call-id", help="Id for the call (one file only); default: file name + hash.")
@click.option(
    "--model",
    default=None,
    help="faster-whisper model name or directory (default: bundled tiny.en).",
)
@click.option(
    "--channels",
    "channel_roles",
    default="rep,customer",
    show_default=True,
    help="Roles of the left,right channels of a stereo recording.",
)
@click.option("--force", is_flag=True, help="Re-ingest files already stored (same sha256).")
@click.option("--no-smart", is_flag=True, help="Keyword trackers only (no embedding model).")
@click.option(
    "--no-diarize", is_flag=True, help="Leave a mono recording's speakers unseparated (unknown)."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes ingesting side by side, each with its own models and cores/N threads.",
)
@trackers_option
@db_option
def ingest(
    paths,
    manifest,
    rep,
    account,
    call_type,
    call_date,
    title,
    call_id,
    model,
    channel_roles,
    force,
    no_smart,
    no_diarize,
    workers,
    trackers_file,
    db,
) -> None:
    """Ingest recordings or transcripts (files or folders).

    Audio: wav, mp3, m4a, ogg/opus, flac, webm, mp4 (anything FFmpeg decodes).
    Transcripts: WebVTT with speaker tags, SRT, or our JSON. A folder with a manifest.csv
    ingests the files the manifest lists. Exits 1 if any file failed.

    Example:

        analyzer ingest call.wav --rep "Priya Shah" --account "Acme Logistics" \\
            --call-type sales --date 2026-10-02
    """
    try:
        default = make_meta(
            call_id=call_id,
            rep=rep,
            account=account,
            call_type=call_type,
            date=call_date,
            title=title,
        )
        roles = parse_channel_roles(channel_roles)
        files, metas = collect_inputs(paths, manifest)
    except (AnalyzerError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    if call_id and len(files) > 1:
        raise click.ClickException("--call-id names one call; give it with a single file")
    if not files:
        raise click.ClickException("no supported files found in the given paths")
    try:
        store = _store(db, create=True)
        ingestor = Ingestor(
            store,
            load_trackers(trackers_file),
            IngestOptions(
                model=model,
                force=force,
                channel_roles=roles,
                smart=not no_smart,
                diarize=not no_diarize,
            ),
        )
    except AnalyzerError as error:
        raise click.ClickException(str(error)) from error

    if _run_batch(ingestor, files, metas, default, workers):
        sys.exit(1)


def _run_batch(ingestor: Ingestor, files, metas, default, workers: int = 1) -> int:
    """Ingest with a progress bar and a line per file; returns the number of failed files."""
    with Progress(
        TextColumn("[bold]ingest"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
    ) as progress:
        task = progress.add_task("", total=len(files))

        def report(outcome: Outcome) -> None:
            progress.advance(task)
            progress.console.print(_outcome_line(outcome), highlight=False, soft_wrap=True)

        def starting(path: Path) -> None:
            progress.update(task, description=path.name)

        summary = ingestor.ingest_many(
            files, metas, default, on_done=report, on_start=starting, workers=workers
        )
        progress.update(task, description="")
    console.print(
        f"{summary.count('ok')} ingested, {summary.count('skipped')} skipped, "
        f"{summary.count('failed')} failed -> {ingestor.store.path}",
        soft_wrap=True,
    )
    return len(summary.failed)


def _outcome_line(outcome: Outcome) -> str:
    if outcome.status == "ok":
        return (
            f"[green]ok[/]      {outcome.path}: {outcome.utterances} utterances, "
            f"{outcome.mentions} mentions ({outcome.duration_s:.0f} s) -> {outcome.call_id}"
        )
    if outcome.status == "skipped":
        return f"[yellow]skipped[/] {outcome.path}: {outcome.detail} ({outcome.call_id})"
    return f"[red]error[/]   {outcome.path}: {outcome.detail}"


@cli.command()
@trackers_option
@db_option
def retag(trackers_file, db) -> None:
    """Re-run the trackers on every stored transcript (no re-transcription).

    Example:

        analyzer retag --trackers my_trackers.yaml
    """
    try:
        store = _store(db)
        ingestor = Ingestor(store, load_trackers(trackers_file))
    except AnalyzerError as error:
        raise click.ClickException(str(error)) from error
    total = ingestor.retag()
    console.print(f"re-tagged {total} calls -> {store.path}", soft_wrap=True)


@cli.command()
@click.argument("call_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every mono call in the database.")
@db_option
def diarize(call_ids, every, db) -> None:
    """Separate the speakers of stored mono calls again, from their audio and stored words
    (no re-transcription); mentions and metrics follow the new speakers.

    Example:

        analyzer diarize globex-01
    """
    store = _store(db)
    if every:
        call_ids = [row["call_id"] for row in store.mono_calls()]
    if not call_ids:
        raise click.ClickException("name the calls to diarize, or pass --all")
    ingestor = Ingestor(store, load_trackers())
    failed = 0
    for call_id in call_ids:
        try:
            transcript = ingestor.rediarize(call_id)
        except AnalyzerError as error:
            console.print(f"[red]error[/]   {error}", highlight=False, soft_wrap=True)
            failed += 1
            continue
        voices = ", ".join(f"{v.speaker} ({v.role}, {v.talk_s:.0f} s)" for v in transcript.voices)
        console.print(
            f"[green]ok[/]      {call_id}: {voices}; roles from {transcript.roles_from}",
            highlight=False,
            soft_wrap=True,
        )
    if failed:
        sys.exit(1)


@cli.command()
@click.argument("state", required=False, type=click.Choice(["on", "off"]))
@click.option("--audio", is_flag=True, help="With on: also beep the identifiers in the audio.")
@db_option
def pii(state, audio, db) -> None:
    """Show or set PII redaction for this database (off unless turned on).

    On: emails, phone numbers, payment card numbers and US SSNs are masked ([email], [phone],
    [card], [ssn]) in transcripts, word timings and quotes, for every new call and, at once, for
    every call already stored. Masked text cannot be unmasked.

    Recordings are kept as uploaded. With --audio the app plays only a copy with a beep over
    each masked word (redacted/ beside the database), written for every stored and new
    recording; `pii on` without --audio, or `pii off`, deletes the copies.

    Example:

        analyzer pii on --audio
    """
    store = _store(db, create=True)
    if state is None:
        text, beeped = redaction(store)
        status = ("on, audio beeped" if beeped else "on") if text else "off"
        console.print(f"PII redaction is {status} for {store.path}", soft_wrap=True)
        return
    if audio and state == "off":
        raise click.UsageError("--audio goes with on")
    ingestor = Ingestor(store, load_trackers(), IngestOptions(smart=False))
    masked, beeped, missing = ingestor.set_redaction(state == "on", audio=audio)
    detail = f"; {masked} stored utterance(s) masked" if state == "on" else ""
    if audio:
        detail += f"; {beeped} recording(s) beeped"
    console.print(f"PII redaction {state} for {store.path}{detail}", soft_wrap=True)
    for call_id in missing:
        console.print(
            f"[yellow]{call_id}: recording gone, nothing to beep; the app will not play it",
            soft_wrap=True,
        )


@cli.group()
def reps() -> None:
    """Reps' voice profiles, which tell the rep apart in mono recordings."""


@reps.command()
@click.argument("name")
@click.argument("clip", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
def enroll(name, clip, db) -> None:
    """Add a recording of NAME speaking alone (10 s or more) to their voice profile.

    A rep's stereo calls add to it automatically. Mono calls of theirs whose roles were guessed
    are relabelled when the profile now recognises them.

    Example:

        analyzer reps enroll "Priya Shah" priya_intro.wav
    """
    store = _store(db, create=True)
    try:
        seconds, relabelled = Ingestor(store, load_trackers()).enroll(name, clip)
    except AnalyzerError as error:
        raise click.ClickException(str(error)) from error
    console.print(
        f"enrolled {name}: {seconds:.0f} s of speech from {clip}; "
        f"{relabelled} call(s) relabelled -> {store.path}",
        soft_wrap=True,
    )


@reps.command(name="list")
@db_option
def list_reps(db) -> None:
    """The voice profiles: seconds of speech, enrollment clips and stereo calls behind each."""
    _print_table(_store(db).voice_profile_summary(), "voice profiles")


@cli.group()
def users() -> None:
    """App logins and teams. With at least one login the app asks everyone to sign in, and
    each role sees its own calls: a rep their own, a manager their team's, a CS lead and an
    admin every call. With none, the app serves only the computer it runs on."""


@users.command(name="add")
@click.argument("username")
@click.option("--role", type=click.Choice(access.ROLES), required=True)
@click.option("--rep", help="For a rep: their name as it appears on calls.")
@click.option("--team", help="For a manager: the team they see. For a rep: the team they are in.")
@click.option("--sso", is_flag=True, help="No password: signs in through OIDC as this email.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@db_option
def add_user(username, role, rep, team, sso, password_stdin, db) -> None:
    """Add a login (or replace one of the same USERNAME); asks for its password.

    Examples:

        analyzer users add priya --role rep --rep "Priya Shah" --team East

        analyzer users add dana --role manager --team East

        analyzer users add lee@example.com --role cs_lead --sso
    """
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not sso:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = access.add_user(
            _store(db, create=True), username, role, rep=rep, team=team, password=password
        )
    except AnalyzerError as error:
        raise click.ClickException(str(error)) from error
    console.print(f"login {user.username} saved: {user.label}", soft_wrap=True)


@users.command(name="list")
@db_option
def list_users(db) -> None:
    """The logins, their roles, and the teams."""
    store = _store(db)
    _print_table(store.users(), "logins")
    _print_table(store.teams(), "teams")


@users.command(name="remove")
@click.argument("username")
@db_option
def remove_user(username, db) -> None:
    """Remove a login; a session signed in with it ends at its next click."""
    if not _store(db).remove_user(access.normalize(username)):
        raise click.ClickException(f"no login named {username!r}")
    console.print(f"login {username} removed")


@users.command(name="team")
@click.argument("team")
@click.argument("reps", nargs=-1, required=True)
@db_option
def set_team(team, reps, db) -> None:
    """Put REPS (names as on calls) in TEAM, whether or not they have a login.

    Example:

        analyzer users team East "Priya Shah" "Marcus Lee"
    """
    store = _store(db, create=True)
    store.set_team(team, reps)
    members = access.Directory.read(store).team(team)
    console.print(f"team {team}: {', '.join(members)}", soft_wrap=True)


@cli.command()
@click.option("--rep")
@click.option("--account")
@click.option("--status", type=click.Choice(["ok", "failed"]))
@click.option("--limit", default=100, show_default=True)
@db_option
def calls(rep, account, status, limit, db) -> None:
    """List stored calls, newest first.

    Example:

        analyzer calls --rep "Priya Shah"
    """
    rows = _store(db).calls(rep=rep, account=account, status=status, limit=limit)
    _print_table(rows, "calls")


@cli.command()
@click.option("--rep")
@click.option("--account")
@click.option("--category")
@click.option("--call", "call_id", help="Only this call.")
@click.option("--limit", default=200, show_default=True)
@db_option
def mentions(rep, account, category, call_id, limit, db) -> None:
    """List tracked mentions with their quotes.

    Example:

        analyzer mentions --rep "Priya Shah" --category competitor
    """
    rows = _store(db).mentions(
        rep=rep, account=account, category=category, call_id=call_id, limit=limit
    )
    _print_table(rows, "mentions")


@cli.command()
@click.option("--top", default=3, show_default=True, help="Evidence lines per account.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@db_option
def accounts(top, as_json, db) -> None:
    """Accounts by churn risk (0-100), each with the moments that raised it.

    Example:

        analyzer accounts --db demo.duckdb
    """
    from analyzer.risk import ranked
    from analyzer.store import Queries

    risks = ranked(Queries(_store(db)))
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(r) for r in risks], indent=2, default=str))
        return
    if not risks:
        console.print("no calls")
        return
    table = Table()
    for column in ("account", "risk", "calls", "last call", "top evidence"):
        table.add_column(column, overflow="fold")
    for risk in risks:
        lines = [
            f"+{e.points:.0f} {e.detail}"
            + (f" ({e.call_id} {e.call_date} @{e.second:.0f}s)" if e.call_id else "")
            + (f': "{e.quote}"' if e.quote else "")
            for e in risk.evidence[:top]
        ]
        table.add_row(risk.account, str(risk.score), str(risk.calls), str(risk.last_call),
                      "\n".join(lines) or "-")  # fmt: skip
    out.print(table)


@cli.command()
@trackers_option
def trackers(trackers_file) -> None:
    """Show the trackers in force (defaults merged with your file).

    Example:

        analyzer trackers --trackers my_trackers.yaml
    """
    try:
        tracker_set = load_trackers(trackers_file)
    except AnalyzerError as error:
        raise click.ClickException(str(error)) from error
    rows = [
        {
            "name": t.name,
            "category": t.category,
            "said_by": t.said_by,
            "phrases": ", ".join(t.phrases[:6]) + (" …" if len(t.phrases) > 6 else ""),
        }
        for t in tracker_set.trackers
    ]
    _print_table(rows, "trackers")
    click.echo(f"What each topic means: {topics_path()}")


@cli.command()
@click.argument("category", required=False)
@click.argument("value", required=False)
@click.option("--team", default=None, help="The team whose threshold to show or set.")
@trackers_option
@db_option
def thresholds(category, value, team, trackers_file, db) -> None:
    """Show or set how sure a moment must be to count, per topic (its calibrated probability).

    Without arguments, every topic's threshold in force (the team's, the workspace's, or the
    default of models/trackers.yaml). With CATEGORY VALUE, sets it for the workspace, or with
    --team for one team (VALUE "default" clears it). Stored calls change on `analyzer retag`.

    Example:

        analyzer thresholds churn_signal 0.7 --team "East"
    """
    try:
        tracker_set = load_trackers(trackers_file)
        store = _store(db, create=category is not None)
        if category is not None:
            if value is None:
                raise click.UsageError("give a VALUE between 0 and 1, or 'default'")
            chosen = None if value == "default" else _probability(value)
            store.set_threshold(category, chosen, team)
        exists = store.path.exists()
        chosen = store.thresholds(team) if exists else {}
        own = store.thresholds(team, inherit=False) if exists and team else {}
    except AnalyzerError as error:
        raise click.ClickException(str(error)) from error
    rows = [
        {
            "topic": name,
            "threshold": chosen.get(name, tracker_set.rules_for(name).threshold),
            "set by": f"team {team}" if name in own else "the workspace" if name in chosen
            else "default (models/trackers.yaml)",
        }
        for name in dict.fromkeys([*tracker_set.categories, *chosen])
    ]  # fmt: skip
    if category is not None:
        console.print("set; apply it to stored calls with: analyzer retag", soft_wrap=True)
    _print_table(rows, "thresholds")


def _probability(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:
        raise click.BadParameter(f"'{value}' is not a probability between 0 and 1")
    return number


@cli.command(name="eval")
@click.argument(
    "gold_files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "--method",
    type=click.Choice(["all", "keyword", "semantic", "combined"]),
    default="all",
    show_default=True,
    help="Which trackers to score; 'all' prints keyword, semantic and combined side by side "
    "(keyword alone before `analyzer train`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@trackers_option
@db_option
def evaluate(gold_files, method, as_json, trackers_file, db) -> None:
    """Precision, recall and F1 per category against gold labels, at utterance level.

    GOLD files are labeled calls (.json, like sample_calls/gold/*.json), scored by tagging
    the transcript stored in the database for their call_id (ASR output for audio); or
    labeled utterances (.jsonl, one {"role", "text", "labels", "competitors"} per line,
    optionally "call"), scored by tagging their text. Keyword trackers alone, smart trackers
    alone and both combined (what ingest stores) are scored side by side. A "competitor
    names" row scores the canonical names found.

    Example:

        analyzer eval tests/data/labeled_heldout.jsonl
    """
    from analyzer.combined import CombinedTagger, load_smart_tagger
    from analyzer.evaluate import NAMES_ROW, evaluate_stored, evaluate_tagger, read_any_gold
    from analyzer.tagging import KeywordTagger

    try:
        golds = [read_any_gold(path) for path in gold_files]
        calls = [gold for gold in golds if not isinstance(gold, list)]
        utterances = [u for gold in golds if isinstance(gold, list) for u in gold]
        if calls and utterances:
            raise click.ClickException("give either labeled calls (.json) or utterances (.jsonl)")
        tracker_set = load_trackers(trackers_file)
        keyword = KeywordTagger(tracker_set)
        smart = load_smart_tagger() if method != "keyword" else None
        if smart is None and method in ("semantic", "combined"):
            raise click.ClickException("no smart trackers: run `analyzer train` first")
        taggers = {
            "keyword": keyword,
            "semantic": smart,
            "combined": CombinedTagger(keyword, smart),
        }
        if method != "all":
            methods = [method]
        else:  # before `analyzer train`, keywords are all there is
            methods = ["keyword", "semantic", "combined"] if smart else ["keyword"]
        categories = sorted(
            set(taggers["combined"].categories)
            | {label for call in calls for u in call.utterances for label in u.labels}
            | {label for u in utterances for label in u.labels}
        )
        results = {}
        store = _store(db) if calls else None
        for name in methods:
            if calls:
                results[name] = evaluate_stored(
                    store, calls, categories, taggers[name], tracker_set
                )
            else:
                results[name] = evaluate_tagger(taggers[name], utterances, categories)
        count = sum(len(call.utterances) for call in calls) + len(utterances)
    except AnalyzerError as error:
        raise click.ClickException(str(error)) from error
    rows = [{"method": name, **row.as_dict()} for name, scores in results.items() for row in scores]
    if as_json:
        click.echo(json.dumps({"utterances": count, "scores": rows}, indent=2))
        return
    console.print(f"{count} gold utterances", soft_wrap=True)
    if len(results) == 1:
        _print_table([{k: v for k, v in row.items() if k != "method"} for row in rows], "scores")
        return
    side_by_side = []
    for row in results[methods[0]]:
        line = {"category": row.category, "support": row.support}
        for name in methods:
            match = next(s for s in results[name] if s.category == row.category)
            topic = "competitor" if row.category == NAMES_ROW else row.category
            covered = topic in taggers[name].categories
            line[name] = (
                f"{match.precision:.2f} / {match.recall:.2f} / {match.f1:.2f}" if covered else "–"
            )
        side_by_side.append(line)
    console.print("precision / recall / F1", soft_wrap=True)
    _print_table(side_by_side, "scores")


@cli.command()
@click.option(
    "--examples",
    "examples_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Another folder of <category>.yaml examples (one subfolder per writer, or one "
    "writer), added to models/examples/: more sentences for a category, or a new category.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the trained trackers (default: $ANALYZER_SMART_TRACKERS, else "
    "models/smart_trackers.json); a .npz of support vectors is written beside it.",
)
@click.option(
    "--tune-encoder",
    is_flag=True,
    help="Also tune the sentence encoder on the examples (LoRA adapters, saved beside the "
    "trackers as <name>_encoder/): better trackers, about 2 minutes per writer on 2 cores.",
)
@click.option(
    "--calibrate-only",
    is_flag=True,
    help="Keep the trained trackers; only refit how sure each kind of mention is, on the "
    "labeled calls in models/labeled/ (seconds).",
)
def train(examples_dirs, out, tune_encoder, calibrate_only) -> None:
    """Train the smart trackers from example sentences (models/examples/GUIDE.md).

    Each category's threshold, precision and recall come from cross-validation across
    writers. Then every kind of mention (keyword phrase, misheard name, smart tracker, reply)
    gets its calibrated probability, fitted on the labeled calls in models/labeled/. Ingest,
    retag and eval use models/smart_trackers.json, or the file named by
    $ANALYZER_SMART_TRACKERS. Without --tune-encoder the trackers read the encoder the
    trackers in force read (models/smart_encoder/).

    Example:

        analyzer train --examples my_examples/ --out mine.json
        ANALYZER_SMART_TRACKERS=mine.json analyzer retag
    """
    from analyzer import smart

    path = out or smart.default_model_path()
    try:
        if calibrate_only:
            fitted = smart.recalibrate(path)
            console.print(f"recalibrated {len(fitted.fits)} kinds of mention -> {path}")
            return
        trackers = smart.retrain(*examples_dirs, out=path, tune_encoder=tune_encoder)
    except AnalyzerError as error:
        raise click.ClickException(str(error)) from error
    _print_table(
        [
            {"category": t.category, "said by": t.said_by, "writers": t.writers,
             "positives": t.positives, "negatives": t.negatives, "threshold": t.threshold,
             "precision": t.cv_precision, "recall": t.cv_recall, "F1": t.cv_f1}
            for t in trackers
        ],
        "trackers",
    )  # fmt: skip
    console.print(
        "precision / recall / F1: cross-validated, each writer's sentences scored by a model "
        "trained without them (5-fold where a category has fewer than 3 writers)",
        soft_wrap=True,
    )
    console.print(f"saved {len(trackers)} smart trackers -> {path}", soft_wrap=True)


@cli.command()
@click.option(
    "--calls",
    "calls_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with the calls and their manifest.csv (default: the bundled sample_calls/).",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("demo.duckdb"),
    show_default=True,
    help="Demo database; built on the first run, reused after.",
)
@click.option("--port", default=8501, show_default=True, help="Port for the app.")
@click.option("--no-app", is_flag=True, help="Build the database but do not start the app.")
def demo(calls_dir, db, port, no_app) -> None:
    """Build the demo database from the sample calls (real ASR) and open the app on it.

    The first run transcribes every sample recording (a few minutes on 2 cores); later runs
    find them already ingested and start the app at once.

    Example:

        analyzer demo
    """
    calls_dir = calls_dir or sample_calls_dir()
    if not (calls_dir / "manifest.csv").is_file():
        raise click.ClickException(
            f"{calls_dir}/manifest.csv not found: run from a checkout of the repository "
            "or pass --calls FOLDER"
        )
    try:
        files, metas = collect_inputs([calls_dir])
        ingestor = Ingestor(_store(db, create=True), load_trackers())
    except AnalyzerError as error:
        raise click.ClickException(str(error)) from error
    # Two workers keep both cores busy (one process leaves them 30 % idle: bench/results.md).
    failed = _run_batch(ingestor, files, metas, make_meta(), workers=min(2, os.cpu_count() or 1))
    if failed:
        raise click.ClickException(f"{failed} sample call(s) failed to ingest; see above")
    if no_app:
        return
    app = app_path()
    console.print(f"opening the app on {db} at http://localhost:{port}", soft_wrap=True)
    os.environ[DB_ENV_VAR] = str(db.resolve())
    # No file watcher: it would watch the whole checkout (.venv included) for edits, flood
    # the log with inotify overflows, and nothing a user does needs the app to reload itself.
    # Only this computer: the demo has no logins (see `analyzer users`).
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
               "--server.address", "localhost", "--server.fileWatcherType", "none"]  # fmt: skip
    os.execv(sys.executable, command)  # the app takes over this process; Ctrl-C stops it


def _print_table(rows: list[dict], what: str) -> None:
    if not rows:
        console.print(f"no {what}")
        return
    table = Table(show_lines=False)
    for column in rows[0]:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row.values()))
    out.print(table)


def main() -> None:
    cli(prog_name="analyzer")


if __name__ == "__main__":
    main()
