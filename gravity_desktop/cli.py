"""The `gravity` command: a thin layer over the core, so that anything the app does can be scripted.

Errors caused by input are printed as one line naming the file or field, with a non-zero exit code
(2 for bad input, 1 for a failed verification); never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from gravity_desktop import __version__
from gravity_desktop.app_context import opened
from gravity_desktop.errors import UserError
from gravity_desktop.training.config import TrainConfig

# The worker's start event names its number formats (dpo_worker.number_formats).
NUMBER_FORMATS = {
    "bf16": "bf16 base",
    "fp32": "float32 base",
    "mixed": "float32 base, bf16 arithmetic",
}


class GravityGroup(click.Group):
    """Turns a `UserError` from any subcommand into one line on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"gravity: error: {exc}", err=True)
            ctx.exit(exc.exit_code)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _print_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.group(cls=GravityGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gravity")
def cli() -> None:
    """GRAVITY Desktop: personalized book descriptions, learned on this computer."""


@cli.group()
def models() -> None:
    """The model registry, downloads and imports."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models_list(as_json: bool) -> None:
    """List registry and imported models and whether they are installed."""
    from gravity_desktop.llm.registry import list_models

    with opened() as ctx:
        statuses = list_models(ctx.paths, ctx.conn)
    if as_json:
        _print_json([s.as_json() for s in statuses])
        return
    for status in statuses:
        flags = ("installed" if status.installed else "not installed") + (
            ", default" if status.entry.default else ""
        )
        size = f"{status.size / 1e6:.0f} MB" if status.size else "size unknown"
        click.echo(f"{status.entry.id:34} {status.entry.name:34} {size:>12}  {flags}")


@models.command("verify")
@click.argument("model_id", required=False)
def models_verify(model_id: str | None) -> None:
    """Check a model file's sha256 (the default model when ID is omitted)."""
    from gravity_desktop.llm.model_files import verify_model
    from gravity_desktop.llm.registry import find_model

    with opened() as ctx:
        model = find_model(ctx.paths, ctx.conn, model_id)
    digest = verify_model(model)
    click.echo(f"{model.entry.id}: OK (sha256 {digest})")


@models.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--id", "model_id", help="Id to register it under (default: from the file name).")
@click.option(
    "--weights",
    type=click.Path(path_type=Path),
    help="The Hugging Face safetensors folder the GGUF was made from; training uses it directly.",
)
def models_import(path: Path, model_id: str | None, weights: Path | None) -> None:
    """Import a local GGUF model after checking its header."""
    from gravity_desktop.llm.model_files import import_model

    with opened() as ctx:
        record = import_model(ctx.paths, ctx.conn, path, model_id, weights)
    click.echo(f"imported {record.id}: {record.name} ({record.arch}, {record.size} bytes)")


@models.command("download")
@click.argument("model_id")
def models_download(model_id: str) -> None:
    """Download a registry model from Hugging Face (resumable, sha256-verified)."""
    from gravity_desktop.llm.model_files import download_model
    from gravity_desktop.llm.registry import find_model

    def show(done: int, total: int) -> None:
        if total:
            click.echo(f"\r{done / 1e6:8.1f} / {total / 1e6:.1f} MB", nl=False, err=True)

    with opened() as ctx:
        model = find_model(ctx.paths, ctx.conn, model_id)
        record = download_model(ctx.paths, ctx.conn, model, progress=show)
    click.echo("", err=True)
    click.echo(f"downloaded {record.id} to {record.path} (sha256 {record.sha256})")


@cli.command()
@click.argument("prompt")
@click.option("--model", "model_id", help="Model id (default: the served model).")
@click.option("--adapter", type=click.Path(path_type=Path), help="A LoRA adapter GGUF.")
@click.option("--adapter-scale", type=float, default=1.0, show_default=True)
@click.option("--max-tokens", type=click.IntRange(1, 4096), default=256, show_default=True)
@click.option("--temperature", type=click.FloatRange(0.0, 2.0), default=0.7, show_default=True)
@click.option("--seed", type=int, help="Fix the sampling seed: same seed, same text.")
@click.option("--stream", is_flag=True, help="Print the reply as it is generated.")
def generate(
    prompt: str,
    model_id: str | None,
    adapter: Path | None,
    adapter_scale: float,
    max_tokens: int,
    temperature: float,
    seed: int | None,
    stream: bool,
) -> None:
    """Answer PROMPT with a local model."""
    from gravity_desktop.llm.engine import GenerationSettings
    from gravity_desktop.llm.serving import load_engine

    with opened() as ctx:
        engine = load_engine(ctx, model_id, adapter=adapter, adapter_scale=adapter_scale)
    settings = GenerationSettings(max_tokens=max_tokens, temperature=temperature, seed=seed)
    messages = [{"role": "user", "content": prompt}]
    if stream:
        for piece in engine.stream_chat(messages, settings):
            click.echo(piece, nl=False)
        click.echo()
    else:
        click.echo(engine.chat(messages, settings).text)
    engine.close()


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the items as JSON.")
def questionnaire(as_json: bool) -> None:
    """Show the onboarding questionnaire."""
    from gravity_desktop.profile.instruments import SECTION_ORDER, load_questionnaire

    q = load_questionnaire()
    if as_json:
        _print_json([item.as_json() for item in q.items])
        return
    for name in SECTION_ORDER:
        instrument = q.instruments[name]
        click.echo(f"\n== {instrument.title} ==\n{instrument.intro}\n")
        for item in instrument.items:
            low, high = item.scale.labels[0], item.scale.labels[-1]
            scale = f"{item.scale.min}={low} .. {item.scale.max}={high}"
            click.echo(f"  [{item.id}] {item.text}  ({scale})")
        for spec in instrument.fields:
            options = f"  options: {', '.join(spec.options)}" if spec.options else ""
            click.echo(f"  [{name}.{spec.id}] {spec.text}{options}")


@cli.group()
def profile() -> None:
    """The reader's profile."""


def _echo_profile(data: dict, as_json: bool) -> None:
    if as_json:
        _print_json(data)
        return
    click.echo(data["summary"])
    click.echo("\nOCEAN (0-100): " + ", ".join(f"{k} {_fmt(v)}" for k, v in data["ocean"].items()))
    click.echo(
        "Schwartz (centered): "
        + ", ".join(f"{k} {_fmt(v, '+.2f')}" for k, v in data["schwartz"].items())
    )
    click.echo(
        "Hofstede (person / country / blended): "
        + ", ".join(
            f"{k} {_fmt(v['person'])}/{_fmt(v['country'])}/{_fmt(v['blended'])}"
            for k, v in data["hofstede"].items()
        )
    )
    click.echo(
        "WVS (person / country): "
        + ", ".join(
            f"{k} {_fmt(v['person'], '+.2f')}/{_fmt(v['country'], '+.2f')}"
            for k, v in data["wvs"].items()
        )
    )


def _fmt(value: float | None, spec: str = ".0f") -> str:
    return "?" if value is None else format(value, spec)


@profile.command("score")
@click.argument("answers_file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def profile_score(answers_file: Path, as_json: bool) -> None:
    """Score ANSWERS.json without storing anything."""
    from gravity_desktop.profile.answers import read_answers_file
    from gravity_desktop.profile.profile import build_profile

    _echo_profile(build_profile(read_answers_file(answers_file)).as_json(), as_json)


@profile.command("show")
@click.option("--json", "as_json", is_flag=True)
@click.option("--version", "version", type=int, help="An earlier profile version.")
def profile_show(as_json: bool, version: int | None) -> None:
    """Show the current profile (or an earlier version)."""
    from gravity_desktop.profile.service import current_profile, profile_version

    with opened() as ctx:
        shown = profile_version(ctx.conn, version) if version else current_profile(ctx.conn)
    if shown is None:
        raise UserError("no profile yet: run `gravity onboard --answers ANSWERS.json` or the app")
    _echo_profile(shown.as_json(), as_json)


@profile.command("versions")
@click.option("--json", "as_json", is_flag=True)
def profile_versions(as_json: bool) -> None:
    """List the profile versions (each onboarding or retaken section makes one)."""
    from gravity_desktop.store.profiles import all_versions

    with opened() as ctx:
        versions = all_versions(ctx.conn)
    if as_json:
        _print_json(
            [
                {"version": v.version, "created_at": v.created_at, "reason": v.reason}
                for v in versions
            ]
        )
        return
    for v in versions:
        click.echo(f"{v.version:4}  {v.created_at}  {v.reason}")


@cli.command()
@click.option(
    "--answers",
    "answers_file",
    required=True,
    type=click.Path(path_type=Path),
    help="ANSWERS.json (format in docs/questionnaire.md).",
)
@click.option("--json", "as_json", is_flag=True)
def onboard(answers_file: Path, as_json: bool) -> None:
    """Store answers and make them the current profile."""
    from gravity_desktop.profile.answers import read_answers_file
    from gravity_desktop.profile.service import onboard as store_onboarding

    answers = read_answers_file(answers_file)
    with opened() as ctx:
        stored = store_onboarding(ctx.conn, answers)
    if as_json:
        _print_json(stored.as_json())
    else:
        click.echo(f"Profile version {stored.version} stored.\n")
        _echo_profile(stored.as_json(), False)


@cli.group()
def books() -> None:
    """The library: the bundled catalog, imported books and reading history."""


def _echo_books(found: list, as_json: bool) -> None:
    if as_json:
        _print_json([book.as_json() for book in found])
        return
    for book in found:
        year = f", {book.year}" if book.year else ""
        click.echo(f"{book.id:40} {book.title} — {book.author}{year}")


@books.command("list")
@click.option("--json", "as_json", is_flag=True)
def books_list(as_json: bool) -> None:
    """List every book in the library."""
    from gravity_desktop.store.books import all_books

    with opened() as ctx:
        _echo_books(all_books(ctx.conn), as_json)


@books.command("search")
@click.argument("query")
@click.option("--json", "as_json", is_flag=True)
def books_search(query: str, as_json: bool) -> None:
    """Find books by title, author, genre, theme or words of the synopsis."""
    from gravity_desktop.catalog.library import search

    with opened() as ctx:
        _echo_books(search(ctx.conn, query), as_json)


@books.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["goodreads", "storygraph", "calibre"]),
    help="Detected from the file when omitted.",
)
@click.option("--json", "as_json", is_flag=True)
def books_import(file: Path, fmt: str | None, as_json: bool) -> None:
    """Import a Goodreads or StoryGraph CSV export, or a Calibre library (read-only)."""
    from gravity_desktop.catalog.importers import import_file

    with opened() as ctx:
        report = import_file(ctx.conn, file, fmt)
    if as_json:
        _print_json(report.as_json())
        return
    click.echo(
        f"{file} ({report.format}): imported {report.imported}, updated {report.updated},"
        f" unchanged {report.unchanged}, skipped {len(report.skipped)}"
    )
    for problem in report.skipped:
        click.echo(f"  skipped {problem}")


@books.command("mark")
@click.argument("book")
@click.argument(
    "status", type=click.Choice(["liked", "disliked", "read", "reading", "to-read", "none"])
)
def books_mark(book: str, status: str) -> None:
    """Record what you think of a book (BOOK is an id or a title); "none" forgets it."""
    from gravity_desktop.catalog.library import find_book, set_status

    with opened() as ctx:
        found = find_book(ctx.conn, book)
        set_status(ctx.conn, found.id, None if status == "none" else status)
    click.echo(f"{found.title}: {status}")


@books.command("embed")
def books_embed() -> None:
    """Compute the sentence embeddings that refine recommendations (needs the training extra)."""
    from gravity_desktop.recommend.embeddings import compute_embeddings

    def show(done: int, total: int) -> None:
        click.echo(f"\rembedded {done} of {total} books", nl=False, err=True)

    with opened() as ctx:
        database = ctx.paths.database
    done = compute_embeddings(database, progress=show)
    click.echo("", err=True)
    click.echo(f"{done} books embedded")


@cli.command()
@click.option("-n", "count", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def recommend(count: int, as_json: bool) -> None:
    """Recommend unread books for your profile and reading history, with reasons."""
    from gravity_desktop.profile.service import current_profile
    from gravity_desktop.recommend.ranking import recommend as rank
    from gravity_desktop.store.books import reading_history

    with opened() as ctx:
        profile = current_profile(ctx.conn)
        if profile is None and not reading_history(ctx.conn):
            raise UserError(
                "nothing to go on yet: onboard (gravity onboard --answers FILE, or the app)"
                " or import your reading history (gravity books import FILE)"
            )
        ranked = rank(ctx.conn, profile, count)
    if as_json:
        _print_json([r.as_json() for r in ranked])
        return
    for position, item in enumerate(ranked, start=1):
        click.echo(f"{position:2}. {item.book.title} — {item.book.author}  ({item.score:.2f})")
        for reason in item.reasons:
            click.echo(f"      · {reason}")


@cli.group()
def pairs() -> None:
    """Preference pairs: synthesize, inspect, export and import."""


@pairs.command("generate")
@click.option("--books", "book_count", type=click.IntRange(1, 1000), default=8, show_default=True)
@click.option("--scenarios-per-book", type=click.IntRange(1, 20), default=4, show_default=True)
@click.option(
    "--method", type=click.Choice(["gravity", "naive", "sft"]), default="gravity", show_default=True
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--teacher", "teacher", help="A registry model with the teacher role.")
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
def pairs_generate(
    book_count: int,
    scenarios_per_book: int,
    method: str,
    seed: int,
    teacher: str | None,
    as_json: bool,
) -> None:
    """Synthesize pairs for the current profile; the same options resume an interrupted run."""
    from gravity_desktop.gravity.synthesis import SynthesisRequest, synthesize
    from gravity_desktop.llm.serving import load_teacher
    from gravity_desktop.profile.service import current_profile

    def show(p) -> None:
        eta = f", about {p.eta_seconds:.0f} s left" if p.eta_seconds is not None else ""
        click.echo(
            f"\r[{p.done}/{p.total}] kept {p.kept}, rejected {p.rejected}{eta}   ",
            nl=False,
            err=True,
        )

    request = SynthesisRequest(method, book_count, scenarios_per_book, seed)
    with opened() as ctx:
        profile = current_profile(ctx.conn)
        teacher_id, engine = load_teacher(ctx, teacher, lambda text: click.echo(text, err=True))
        try:
            report = synthesize(ctx.conn, engine, teacher_id, profile, request, progress=show)
        finally:
            engine.close()
    click.echo("", err=True)
    if as_json:
        _print_json(report.as_json())
        return
    if report.resumed:
        click.echo(
            f"resumed run {report.run_id}: {report.already_done} of"
            f" {report.total_units} units were already done"
        )
    click.echo(
        f"kept {_count(report.kept, 'pair')} from {_count(report.settled, 'unit')}"
        f" ({report.pass_rate:.0%}), {_count(sum(report.reasons.values()), 'text')} rejected,"
        f" in {report.seconds:.0f} s = {report.pairs_per_minute:.1f} pairs/minute"
    )
    for reason, count in report.reasons.items():
        click.echo(f"  rejected {count}: {reason}")
    if report.stopped:
        click.echo("stopped before the end; run the same command again to resume")


@pairs.command("list")
@click.option("--method", type=click.Choice(["gravity", "naive", "sft", "feedback"]))
@click.option("--json", "as_json", is_flag=True)
def pairs_list(method: str | None, as_json: bool) -> None:
    """List stored pairs with their provenance."""
    from gravity_desktop.gravity.pairs_io import pair_record
    from gravity_desktop.store.pairs import pairs as stored

    with opened() as ctx:
        found = stored(ctx.conn, method=method)
    if as_json:
        _print_json([pair_record(p) for p in found])
        return
    for pair in found:
        facets = ", ".join(pair.facets) or "-"
        click.echo(f"#{pair.id} {pair.method}/{pair.source} {pair.book_id} [{facets}]")
        click.echo(f"   chosen:   {pair.chosen[:150]}")
        if pair.rejected is not None:
            click.echo(f"   rejected: {pair.rejected[:150]}")


@pairs.command("stats")
@click.option("--json", "as_json", is_flag=True)
def pairs_stats(as_json: bool) -> None:
    """Counts of pairs by method and source, and why candidates were rejected."""
    from gravity_desktop.gravity.synthesis import pair_stats

    with opened() as ctx:
        data = pair_stats(ctx.conn)
    if as_json:
        _print_json(data)
        return
    for kind, count in data["pairs"].items():
        click.echo(f"{kind:24} {count}")
    for method, count in data["rejected_candidates"].items():
        click.echo(f"rejected candidates ({method}): {count}")
    for reason, count in data["rejection_reasons"].items():
        click.echo(f"  {count:4}  {reason}")


@pairs.command("export")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--method", type=click.Choice(["gravity", "naive", "sft", "feedback"]))
def pairs_export(file: Path, method: str | None) -> None:
    """Write pairs as JSONL in TRL's conversational format (SFT data as prompt/completion)."""
    from gravity_desktop.gravity.pairs_io import export_pairs
    from gravity_desktop.store.pairs import pairs as stored

    with opened() as ctx:
        count = export_pairs(stored(ctx.conn, method=method), file)
    click.echo(f"wrote {count} pairs to {file}")


@pairs.command("import")
@click.argument("file", type=click.Path(path_type=Path))
def pairs_import(file: Path) -> None:
    """Read pairs from JSONL (TRL conversational format); bad lines are reported and skipped."""
    from gravity_desktop.gravity.pairs_io import import_pairs

    with opened() as ctx:
        result = import_pairs(ctx.conn, file)
    click.echo(
        f"{file}: imported {result.imported}, already present {result.duplicates},"
        f" skipped {len(result.skipped)}"
    )
    for problem in result.skipped:
        click.echo(f"  skipped {problem}")


@cli.command()
@click.argument("book_id")
@click.option("--up", "verdict", flag_value="up", help="You liked the latest description.")
@click.option("--down", "verdict", flag_value="down", help="You did not like it.")
@click.option("--text", "rewrite", help="What you would prefer (with --down).")
@click.option(
    "--description",
    "description_id",
    type=int,
    help="Which description (default: the latest of this book).",
)
def feedback(
    book_id: str, verdict: str | None, rewrite: str | None, description_id: int | None
) -> None:
    """Thumbs up or down on a description; real pairs come from it."""
    from gravity_desktop.gravity.feedback import give_feedback

    if verdict is None:
        raise UserError("say --up or --down")
    with opened() as ctx:
        result = give_feedback(ctx.conn, book_id, verdict, rewrite, description_id)
    click.echo(result.message)


@cli.command()
@click.argument("book")
@click.option(
    "--method",
    type=click.Choice(["base", "prompt"]),
    default="base",
    show_default=True,
    help="prompt: put the profile card in the prompt.",
)
@click.option("--seed", type=int)
@click.option("--stream", is_flag=True)
@click.option("--no-adapter", is_flag=True, help="Use the base model without the active adapter.")
def describe(book: str, method: str, seed: int | None, stream: bool, no_adapter: bool) -> None:
    """Write a description of a catalog book (title or id) and keep it for feedback."""
    from gravity_desktop.catalog.library import find_book
    from gravity_desktop.gravity.describe import describe as write
    from gravity_desktop.llm.serving import load_engine, serving_adapter, serving_model_id
    from gravity_desktop.profile.service import current_profile

    with opened() as ctx:
        found = find_book(ctx.conn, book)
        profile = current_profile(ctx.conn)
        adapter = None if no_adapter else serving_adapter(ctx)
        engine = load_engine(ctx, adapter=adapter.path if adapter else None)
        try:
            written = write(
                ctx.conn,
                engine,
                serving_model_id(ctx),
                found,
                profile,
                method=method,
                adapter_id=adapter.id if adapter else None,
                seed=seed,
                on_piece=(lambda piece: click.echo(piece, nl=False)) if stream else None,
            )
        finally:
            engine.close()
    click.echo("" if stream else written.text)
    click.echo(
        f"(description {written.description_id} of {found.id}; give feedback with"
        f" gravity feedback {found.id} --up/--down)",
        err=True,
    )


def _layer_count(value: str) -> int | None:
    """--layers: a whole number of decoder layers from the top, or "all" (None)."""
    if value == "all":
        return None
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise click.BadParameter(f"{value!r} is not a number of layers (1 or more) or 'all'")


@cli.command()
@click.option(
    "--method", type=click.Choice(["gravity", "naive", "sft"]), default="gravity", show_default=True
)
@click.option("--epochs", type=click.IntRange(1, 50), default=TrainConfig.epochs, show_default=True)
@click.option("--max-pairs", type=click.IntRange(6, 100_000))
@click.option("--learning-rate", type=float, default=TrainConfig.learning_rate, show_default=True)
@click.option("--rank", type=click.IntRange(1, 256), default=TrainConfig.rank, show_default=True)
@click.option("--beta", type=float, default=TrainConfig.beta, show_default=True)
@click.option(
    "--layers",
    "lora_layers",
    metavar="N|all",
    default=str(TrainConfig.lora_layers or "all"),
    show_default=True,
    callback=lambda ctx, param, value: _layer_count(value),
    help="LoRA on the top N decoder layers, or 'all': fewer layers train faster on a CPU.",
)
@click.option(
    "--gradient-checkpointing/--no-gradient-checkpointing",
    default=TrainConfig.gradient_checkpointing,
    show_default=True,
    help="Recompute activations in the backward pass: less memory, about 1.2x the time.",
)
@click.option("--json-progress", is_flag=True, help="Print the worker's JSON progress lines.")
@click.option("--helper", "helper_url", metavar="URL", help="Train on this GPU helper.")
def train(
    method: str,
    epochs: int,
    max_pairs: int | None,
    learning_rate: float,
    rank: int,
    beta: float,
    lora_layers: int | None,
    gradient_checkpointing: bool,
    json_progress: bool,
    helper_url: str | None,
) -> None:
    """Fine-tune a LoRA on your pairs (DPO, or SFT) in a worker process and activate it."""
    from gravity_desktop.training.job import reference_note, run_training

    config = TrainConfig(
        method=method,
        epochs=epochs,
        max_pairs=max_pairs,
        learning_rate=learning_rate,
        rank=rank,
        alpha=2.0 * rank,
        beta=beta,
        lora_layers=lora_layers,
        gradient_checkpointing=gradient_checkpointing,
    )

    def show(event: dict) -> None:
        if json_progress:
            click.echo(json.dumps(event))
            return
        kind = event.get("event")
        if kind == "progress":
            accuracy = event.get("reward_accuracy")
            extra = f", reward accuracy {accuracy:.2f}" if isinstance(accuracy, float) else ""
            click.echo(
                f"\rstep {event['step']}/{event['max_steps']}, loss {event['loss']:.4f}"
                f"{extra}, about {event['eta_seconds']:.0f} s left   ",
                nl=False,
                err=True,
            )
        elif kind == "base_ready":
            click.echo("trainable base ready", err=True)
        elif kind == "reference":
            click.echo(reference_note(event), err=True)
        elif kind == "uploading":
            click.echo(f"sending the base model ({event['bytes'] / 1e6:.0f} MB)", err=True)
        elif kind == "uploading_weights":
            click.echo(
                f"sending the model's Hugging Face weights ({event['bytes'] / 1e6:.0f} MB)",
                err=True,
            )
        elif kind == "accepted":
            click.echo(f"the helper took job {event['job']} ({event['pairs']} pairs)", err=True)
        elif kind == "start" and event.get("device"):
            processes = int(event.get("processes") or 1)
            spread = f" ({processes} processes, data-parallel)" if processes > 1 else ""
            formats = NUMBER_FORMATS.get(str(event.get("precision")))
            numbers = f", {formats}" if formats else ""
            click.echo(f"training on {event['device']}{numbers}{spread}", err=True)
        elif kind == "downloading":
            click.echo("\nfetching the adapter from the helper", err=True)
        elif kind == "resume":
            click.echo(f"resuming from {event['checkpoint']}", err=True)
        elif kind == "restart":
            click.echo(f"starting clean: {event['reason']}", err=True)
        elif kind == "evaluating":
            click.echo(
                f"\nchecking the adapter on {event['heldout_pairs']} held-out pairs", err=True
            )

    with opened() as ctx:
        result = run_training(ctx, config, on_event=show, helper=helper_url)
    click.echo("", err=True)
    click.echo(result.message)


@cli.group()
def adapters() -> None:
    """Trained adapters: list, activate, roll back."""


@adapters.command("list")
@click.option("--json", "as_json", is_flag=True)
def adapters_list(as_json: bool) -> None:
    """List the adapters, newest last; the active one is marked."""
    from gravity_desktop.store import adapters as store

    with opened() as ctx:
        found = store.all_adapters(ctx.conn)
        current = store.active(ctx.conn)
    rows = [a.as_json(current is not None and a.id == current.id) for a in found]
    if as_json:
        _print_json(rows)
        return
    for row in rows:
        mark = "*" if row["active"] else " "
        accuracy = row["heldout_accuracy"]
        shown = f"{accuracy:.2f}" if accuracy is not None else "?"
        click.echo(
            f"{mark} {row['id']:28} {row['method']:8} {row['pairs']:5} pairs,"
            f" held-out accuracy {shown}  {row['note']}"
        )


@adapters.command("activate")
@click.argument("adapter_id")
def adapters_activate(adapter_id: str) -> None:
    """Make ADAPTER_ID the active adapter ("none" serves the base model alone)."""
    from gravity_desktop.training.job import activate_adapter

    with opened() as ctx:
        activate_adapter(ctx, None if adapter_id == "none" else adapter_id)
    click.echo(f"active adapter: {adapter_id}")


@adapters.command("rollback")
def adapters_rollback() -> None:
    """Go back to the adapter that was active before the current one."""
    from gravity_desktop.training.job import rollback

    with opened() as ctx:
        restored = rollback(ctx)
    click.echo(f"active adapter: {restored or 'none (base model)'}")


@cli.group()
def data() -> None:
    """Your data: export it to one archive, or delete all of it."""


@data.command("export")
@click.argument("file", type=click.Path(path_type=Path))
def data_export(file: Path) -> None:
    """Write answers, profiles, reading history, pairs, feedback and adapters to FILE.zip."""
    from gravity_desktop.data_archive import export_data, format_size

    with opened() as ctx:
        report = export_data(ctx.paths, ctx.conn, file)
    counts = ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in report.counts.items())
    click.echo(f"wrote {report.path} ({format_size(report.size)}): {counts}")
    click.echo("model weights are not included; they can be downloaded or imported again")


@data.command("delete")
@click.option("--yes", is_flag=True, help="Delete without asking.")
def data_delete(yes: bool) -> None:
    """Delete everything in the data folder: answers, history, pairs, adapters, models."""
    from gravity_desktop.config import Paths, data_root
    from gravity_desktop.data_archive import data_entries, delete_data
    from gravity_desktop.training.helper_access import forget_remembered_token

    where = Paths(data_root())  # not paths(): that would create folders only to delete them
    entries = data_entries(where.root)
    if not entries:
        click.echo(f"nothing to delete in {where.root}")
        return
    click.echo(f"This deletes everything in {where.root}:")
    for entry in entries:
        click.echo(f"  {entry.describe()}")
    if not yes:
        click.confirm("Delete all of it? This cannot be undone", abort=True)
    # The GPU helper's token lives in the system keyring, outside the folder.
    left_behind = forget_remembered_token(where)
    for entry in delete_data(where):
        click.echo(f"removed {entry.describe()}")
    if left_behind:
        click.echo(left_behind.strip(), err=True)


@cli.group()
def helper() -> None:
    """The opt-in GPU helper: train on another machine (docs/gpu-helper.md)."""


def _remembered_ca_cert(url: str, ca_cert: Path | None) -> Path | None:
    from gravity_desktop.config import Settings, paths
    from gravity_desktop.training.helper_access import ca_cert_for

    return ca_cert or ca_cert_for(Settings.load(paths()), url)


@helper.command("test")
@click.argument("url")
@click.option("--ca-cert", type=click.Path(path_type=Path), help="Trust this certificate.")
def helper_test(url: str, ca_cert: Path | None) -> None:
    """Check that the helper at URL answers and accepts the stored token."""
    from gravity_desktop.training.helper_access import load_token
    from gravity_desktop.training.helper_client import check_connection

    report = check_connection(url, load_token(url), _remembered_ca_cert(url, ca_cert))
    click.echo(f"OK: {report.describe()}")


@helper.command("login")
@click.argument("url")
@click.option("--token-file", type=click.Path(path_type=Path), help="Read the token from a file.")
@click.option(
    "--ca-cert", type=click.Path(path_type=Path), help="Trust this (self-signed) certificate."
)
def helper_login(url: str, token_file: Path | None, ca_cert: Path | None) -> None:
    """Test the helper at URL, keep its token in the system keyring and opt in to it."""
    from gravity_desktop.config import Settings, paths
    from gravity_desktop.training.helper_access import (
        WHAT_IS_SENT,
        remember_helper,
        store_token,
    )
    from gravity_desktop.training.helper_client import check_connection

    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{token_file}: cannot read the token ({exc})") from exc
    else:
        token = click.prompt("Token", hide_input=True).strip()
    report = check_connection(url, token, ca_cert)
    store_token(url, token)
    where = paths()
    choice = remember_helper(where, Settings.load(where), url, enabled=True, ca_cert=ca_cert)
    click.echo(f"OK: {report.describe()}")
    click.echo(f"token kept in the keyring; train there with: gravity train --helper {choice.url}")
    click.echo(WHAT_IS_SENT)


@helper.command("logout")
@click.argument("url")
def helper_logout(url: str) -> None:
    """Forget the helper at URL: its token in the keyring and the opt-in."""
    from gravity_desktop.config import Settings, paths
    from gravity_desktop.training.helper_access import (
        forget_helper,
        forget_token,
        helper_choice,
        normalize_url,
    )

    had_token = forget_token(url)
    where = paths()
    settings = Settings.load(where)
    choice = helper_choice(settings)
    if choice is not None and choice.url == normalize_url(url):
        forget_helper(where, settings)
    done = "token removed" if had_token else "no token was stored"
    click.echo(f"{normalize_url(url)}: {done}")


@cli.group()
def pack() -> None:
    """The training pack that installed apps use for personalization (docs/installers.md)."""


@pack.command("status")
@click.option("--json", "as_json", is_flag=True)
def pack_status(as_json: bool) -> None:
    """Say whether training can run here, and with what."""
    from gravity_desktop import packs

    found = packs.installed_pack()
    here = not packs.frozen() or packs.training_stack_here()
    if as_json:
        _print_json({
            "frozen": packs.frozen(), "training_stack_here": here,
            "pack": found.as_json() if found else None, "expected": packs.archive_name(),
        })  # fmt: skip
    elif found:
        click.echo(f"training pack {found.version} ({found.platform}) in {found.root}")
    elif here:
        click.echo("training runs with this Python environment (make install-train)")
    else:
        click.echo(packs.missing_pack_message())


@pack.command("install")
@click.argument("archive", type=click.Path(path_type=Path))
def pack_install(archive: Path) -> None:
    """Unpack the training pack ARCHIVE (.tar.gz or .zip) into the data folder."""
    from gravity_desktop import packs

    installed = packs.install_pack(archive)
    click.echo(f"training pack {installed.version} installed in {installed.root}")


@pack.command("remove")
def pack_remove() -> None:
    """Delete the installed training pack (adapters and other data stay)."""
    from gravity_desktop import packs

    click.echo("training pack removed" if packs.remove_pack() else "no training pack installed")


@cli.command("eval")
@click.option("--users", type=click.IntRange(1, 100_000), default=400, show_default=True)
@click.option("--countries", default="US,BR,JP,IN", show_default=True, help="ISO codes.")
@click.option("--books-per-user", type=click.IntRange(1, 50), default=2, show_default=True)
@click.option(
    "--methods", default="base,prompt,sft,naive,gravity", show_default=True, help="Comma list."
)
@click.option(
    "--judge",
    "judges",
    multiple=True,
    help="embedding or llm:MODEL_ID, repeatable [default: embedding and llm:<default model>].",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--adapters",
    type=click.Choice(["country", "reader", "all"]),
    default="country",
    show_default=True,
    help="One adapter per country cohort, per reader, or for all readers.",
)
@click.option("--pairs-per-adapter", type=click.IntRange(6, 100_000), default=6, show_default=True)
@click.option("--scenarios-per-book", type=click.IntRange(1, 20), default=4, show_default=True)
@click.option("--epochs", type=click.IntRange(1, 50), default=1, show_default=True)
@click.option("--helper", "helper_url", metavar="URL", help="Train the adapters on a GPU helper.")
@click.option(
    "--threads",
    type=click.IntRange(0, 256),
    default=0,
    show_default=True,
    help="llama.cpp threads for generating and judging (0: the cores free at each request).",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder.")
def evaluate(
    users: int,
    countries: str,
    books_per_user: int,
    methods: str,
    judges: tuple[str, ...],
    seed: int,
    adapters: str,
    pairs_per_adapter: int,
    scenarios_per_book: int,
    epochs: int,
    helper_url: str | None,
    threads: int,
    out: Path,
) -> None:
    """Evaluate the methods on simulated readers (resumable: rerun the same command)."""
    import sys
    import time

    from gravity_desktop.evaluation import options as eval_options
    from gravity_desktop.evaluation.progress import progress_line
    from gravity_desktop.evaluation.runner import interrupt_cancels, run_evaluation
    from gravity_desktop.llm.engine import CancelToken

    use_embedding, model_ids = eval_options.parse_judges(
        list(judges) or eval_options.default_judges()
    )
    options = eval_options.EvalOptions(
        users=users,
        countries=tuple(c.strip().upper() for c in countries.split(",") if c.strip()),
        books_per_user=books_per_user,
        methods=tuple(m.strip() for m in methods.split(",") if m.strip()),
        seed=seed,
        adapters=adapters,
        pairs_per_adapter=pairs_per_adapter,
        scenarios_per_book=scenarios_per_book,
        epochs=epochs,
    )
    terminal = sys.stderr.isatty()
    last = {"stage": "", "at": 0.0}

    def show(progress) -> None:
        line = progress_line(progress)
        if terminal:
            click.echo(f"\r{line[:160]:160}", nl=False, err=True)
        elif progress.stage != last["stage"] or time.monotonic() - last["at"] > 30:
            click.echo(line, err=True)  # a log gets stage changes and a line every 30 s
            last["stage"], last["at"] = progress.stage, time.monotonic()

    cancel = CancelToken()
    with interrupt_cancels(cancel):
        outcome = run_evaluation(
            out,
            options,
            use_embedding=use_embedding,
            llm_models=eval_options.resolve_llm_judges(model_ids),
            progress=show,
            cancel=cancel,
            helper=eval_options.helper_target(helper_url) if helper_url else None,
            threads=threads,
        )
    click.echo("", err=True)
    if outcome.stopped:
        click.echo(f"stopped; run the same command again to resume ({outcome.out}/state.json)")
        raise SystemExit(130)
    for line in outcome.headline:
        click.echo(line)
    click.echo(f"report: {outcome.out / 'report.md'}")


main = cli
