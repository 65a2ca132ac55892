"""The `synth` command line. Catches the project's error once: one line, exit 1.

Environment variables are read here and nowhere else: SYNTH_MODEL_PATH (SMPL-family
model files) and ANNY_CACHE_DIR (Anny's build cache, default ~/.cache/anny).
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from body_models import BACKENDS, SynthError, source_from_env

DEFAULT_OUTPUTS = Path("outputs")


class SynthGroup(click.Group):
    """Turns SynthError into one red line and exit status 1, and Ctrl-C into one line and
    status 130, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SynthError as err:
            click.secho(f"error: {err}", fg="red", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.secho("interrupted: finished work is kept (a build resumes when the same command is run again)",
                        fg="yellow", err=True)
            sys.exit(130)


model_path_option = click.option("--model-path", type=click.Path(), default=None,
                                 help="SMPL-family model file or folder (default: $SYNTH_MODEL_PATH).")
anny_cache_option = click.option("--anny-cache", type=click.Path(), default=None,
                                 help="Anny build cache folder (default: $ANNY_CACHE_DIR or ~/.cache/anny).")


def _report_dir(dataset: str) -> Path:
    """Where reports on DATASET go by default: the folder itself, or for a URI a local
    folder named after its last path component."""
    from synth.storage import Store, is_uri

    if not is_uri(dataset):
        return Path(dataset)
    return DEFAULT_OUTPUTS / "reports" / Store.open(dataset).root.rsplit("/", 1)[-1]


@click.group(cls=SynthGroup)
@click.version_option(package_name="silhouette-synth")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
def main(verbose: bool) -> None:
    """Synthetic silhouette datasets and silhouette-to-body training."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.argument("job", type=click.Path(path_type=Path))
@click.option("--out", default=None,
              help="Dataset folder or filesystem URI, e.g. s3://bucket/prefix (default: outputs/<job name>).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Ray actors (default: one per core; 0 = in this process without Ray).")
@click.option("--address", default=None, help="Ray cluster address to join (default: start a local Ray).")
@click.option("--overwrite", is_flag=True, help="Replace a dataset built from a different spec.")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override a job-spec field (TOML value), e.g. --set job.subjects=64. Repeatable.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option("--people", default=None, metavar="TABLE",
              help="Build the bodies of measured people, one subject per row: a CSV with sex, stature and weight "
                   "(and any tape measurements; the dataset's label names in SI units, or ANSUR II's columns as "
                   "published) or a bundled name (ansur2). Sets shape.people and job.subjects.")
@model_path_option
@anny_cache_option
def build(job: Path, out: str | None, workers: int | None, address: str | None, overwrite: bool,
          overrides: tuple[str, ...], no_progress: bool, people: str | None, model_path: str | None,
          anny_cache: str | None) -> None:
    """Build (or resume) the dataset described by JOB (a TOML job spec)."""
    from synth.build import BuildOptions, default_workers, run_build
    from synth.config import load_spec

    if people is not None:
        from synth.population.people import load_people

        overrides = (*overrides, f"shape.people={json.dumps(people)}", f"job.subjects={len(load_people(people))}")
    spec = load_spec(job, list(overrides))
    out = out or str(DEFAULT_OUTPUTS / spec.job.name)
    source = source_from_env(model_path or spec.body_model.model_path or None, anny_cache,
                     spec.body_model.gender, spec.body_model.num_betas, spec.body_model.shape_space)
    options = BuildOptions(out=out, source=source, workers=default_workers() if workers is None else workers,
                           address=address, overwrite=overwrite, progress=not no_progress)
    summary = run_build(spec, options)
    click.echo(f"built {summary.subjects} subjects in {summary.shards} shards "
               f"({summary.shards_skipped} already done) in {summary.seconds:.1f} s: "
               f"{summary.subjects_per_second:.1f} subjects/s ({summary.steady_subjects_per_second:.1f} after the "
               f"first shard), {summary.bytes / 1e6:.1f} MB -> {out}")


@main.command()
@click.argument("dataset")
def verify(dataset: str) -> None:
    """Re-read every shard of DATASET: schema, rows, hashes, silhouettes."""
    from synth.dataset.verify import verify_dataset

    problems, checked = verify_dataset(dataset)
    for problem in problems:
        click.secho(f"BAD {problem}", fg="red", err=True)
    if problems:
        raise SynthError(f"{len(problems)} problem(s) in {dataset}")
    click.echo(f"ok: {checked} shards verified in {dataset}")


@main.command()
@click.argument("dataset")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Contact sheet PNG (default: DATASET/contact_sheet.png; for a URI, outputs/reports/<name>/).")
@click.option("--subjects", type=click.IntRange(1, 256), default=8, help="Rows in the contact sheet.")
def preview(dataset: str, out: Path | None, subjects: int) -> None:
    """Write a contact sheet (subjects x views) and print summary statistics."""
    from synth.dataset.preview import write_preview

    sheet, lines = write_preview(dataset, out or _report_dir(dataset) / "contact_sheet.png", subjects)
    for line in lines:
        click.echo(line)
    click.echo(f"contact sheet: {sheet}")


@main.command()
@click.argument("dataset")
@click.option("--reference", default=None,
              help="A table of percentiles (bundled name or CSV; default: the dataset's shape.reference, else "
                   "nhanes-2021-2023), compared marginally; or of measured people (ansur2, or a CSV with sex, stature "
                   "and weight), compared at fixed height and weight.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for population.md, population.json and population.png (default: DATASET; for a URI, "
                   "outputs/reports/<name>/).")
def population(dataset: str, reference: str | None, out: Path | None) -> None:
    """Compare DATASET's measured bodies with a reference population, per sex: table and plot
    (marginal percentiles, or circumferences at fixed size against measured people)."""
    from synth.population.report import write_population

    text, paths = write_population(dataset, reference, out or _report_dir(dataset))
    click.echo(text)
    click.echo("wrote " + ", ".join(str(p) for p in paths))


@main.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--resume", is_flag=True, help="Continue from run.out/last.pt.")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE", help="Override a config field.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@model_path_option
@anny_cache_option
def train(config: Path, resume: bool, overrides: tuple[str, ...], no_progress: bool, model_path: str | None,
          anny_cache: str | None) -> None:
    """Train a silhouettes -> body network (CONFIG: a training TOML, see jobs/train_*.toml)."""
    from synth.train.config import load_train_config
    from synth.train.loop import train as run_training

    result = run_training(load_train_config(config, list(overrides)), source_from_env(model_path, anny_cache),
                          resume=resume, progress=not no_progress)
    click.echo(f"trained {result.steps} steps: loss {result.first_loss:.3f} -> {result.last_loss:.3f}, "
               f"best val PVE-T {result.best_val_pve_t_mm:.1f} mm; checkpoints and curve in {result.out}")


@main.command("eval")
@click.option("--checkpoint", required=True, type=click.Path(path_type=Path))
@click.option("--data", "data", required=True, help="Dataset folder or URI.")
@click.option("--split", default="test", show_default=True)
@click.option("--train-split", default="train", show_default=True, help="Split the baselines are fitted on.")
@click.option("--train-data", default=None,
              help="Dataset the baselines are fitted on (default: --data), e.g. the training build when --data "
                   "is a test set built with another seed.")
@click.option("--baseline-rows", type=click.IntRange(min=0), default=4000, show_default=True,
              help="Training rows for the ridge baselines (0: mean body only).")
@click.option("--corrupt", is_flag=True,
              help="Corrupt the test inputs as in training (masks, framing, height / weight noise; seeded): "
                   "how the net holds up on real-looking masks. Writes eval_corrupted.{json,md}.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Report folder (default: next to the checkpoint).")
@model_path_option
@anny_cache_option
def evaluate(checkpoint: Path, data: str, split: str, train_split: str, train_data: str | None, baseline_rows: int,
             corrupt: bool, out: Path | None, model_path: str | None, anny_cache: str | None) -> None:
    """Errors (PVE-T, PVE-T-SC, PVE, height, circumferences in mm, body fat in points) beside
    the mean body and ridge baselines fitted on the training split."""
    from synth.train.evaluate import evaluate as run_eval
    from synth.train.evaluate import markdown, write_report

    report = run_eval(checkpoint, data, split, source_from_env(model_path, anny_cache), train_split, baseline_rows,
                      train_data, corrupt)
    paths = write_report(report, out or checkpoint.parent)
    click.echo(markdown(report))
    click.echo(f"wrote {paths[0]} and {paths[1]}")


@main.command()
@click.option("--checkpoint", required=True, type=click.Path(path_type=Path))
@click.argument("images", nargs=-1, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUTPUTS / "prediction",
              show_default=True, help="Folder for the meshes, prediction.json (and overlay.png with --photos).")
@click.option("--format", "mesh_format", type=click.Choice(["obj", "ply"]), default="obj", show_default=True)
@click.option("--height-m", type=float, default=None,
              help="The subject's standing height in meters (for checkpoints trained with model.known_height).")
@click.option("--weight-kg", type=float, default=None,
              help="The subject's body weight in kg (for checkpoints trained with model.known_weight).")
@click.option("--photos", is_flag=True,
              help="IMAGES are photos: segment the person in each (needs the [photo] extra) and check the capture.")
@model_path_option
@anny_cache_option
def predict(checkpoint: Path, images: tuple[Path, ...], out: Path, mesh_format: str, height_m: float | None,
            weight_kg: float | None, photos: bool, model_path: str | None, anny_cache: str | None) -> None:
    """Predict a 3D body from silhouette IMAGES, or with --photos from photos (one per view,
    in the checkpoint's view order, e.g. front then side)."""
    from synth.train.predict import predict as run_predict

    report = run_predict(checkpoint, list(images), out, source_from_env(model_path, anny_cache), mesh_format, height_m,
                         weight_kg, photos)
    m = report["measurements"]
    click.echo(f"height {m['height_m']:.3f} m, waist {m['waist_circumference_m']:.3f} m, "
               f"body fat {m['body_fat_pct']:.1f} % (estimate) -> {out}"
               + (f" (look at {report['overlay']})" if photos else ""))


@main.command()
@click.argument("photos", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUTPUTS / "segment", show_default=True,
              help="Folder for <photo>_silhouette.png (white person on black) per photo.")
@click.option("--view", type=click.Choice(["front", "side"]), default=None,
              help="Refuse photos not seen from this side (default: accept either, say which).")
def segment(photos: tuple[Path, ...], out: Path, view: str | None) -> None:
    """Segment the person in each of PHOTOS and check the capture (needs the [photo] extra)."""
    from synth.photo.capture import capture, write_silhouettes

    captured = capture(list(photos), [view] * len(photos))
    for photo, path in zip(captured, write_silhouettes(captured, out)):
        click.echo(f"{photo.path}: {photo.seen} view, person {photo.mask.sum()} px -> {path}")


@main.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--body-fat", "body_fat", required=True, metavar="D1,D2,...",
              help="Body-fat changes in percentage points, e.g. -10,-5,+5,+10 (with --absolute: targets in %).")
@click.option("--absolute", is_flag=True, help="Read --body-fat as absolute body-fat targets (%).")
@click.option("--subject", default=None, help="With a dataset folder as SOURCE: the subject_id (or index) to morph.")
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUTPUTS / "morph", show_default=True,
              help="Folder for the meshes, morph.json and morph.png.")
@click.option("--format", "mesh_format", type=click.Choice(["obj", "ply"]), default="obj", show_default=True)
@anny_cache_option
def morph(source: Path, body_fat: str, absolute: bool, subject: str | None, out: Path, mesh_format: str,
          anny_cache: str | None) -> None:
    """What-if bodies of SOURCE (a prediction.json, or a dataset folder with --subject) at other
    body-fat levels: same height and sex, only the body's fat direction changes."""
    from synth.morph.outputs import BODY_FAT_NOTE, write_outputs
    from synth.morph.solve import BodyFatMorpher, parse_changes
    from synth.morph.source import load_source

    values = parse_changes(body_fat)
    start = load_source(source, subject, source_from_env(None, anny_cache))
    levels = BodyFatMorpher(start.model).morph(start.shape, values, absolute)
    paths = write_outputs(levels, start.model.faces, out, start.name, mesh_format)
    for level in levels:
        m = level.measurements
        click.echo(f"{level.label:>7s}: body fat {m.body_fat_pct:5.1f} %, height {m.height_m:.3f} m, "
                   f"waist {m.waist_circumference_m:.3f} m, mass {m.mass_kg:.1f} kg"
                   + (", fat extrapolated past the body model's range" if level.extrapolated else ""))
    click.echo(f"({BODY_FAT_NOTE}) -> {paths[-1].parent}")


@main.group()
def models() -> None:
    """Body model backends."""


@models.command("list")
@model_path_option
@anny_cache_option
@click.option("--gender", default="neutral", help="SMPL-family gender to look for (neutral, female, male, mixed).")
def list_models(model_path: str | None, anny_cache: str | None, gender: str) -> None:
    """Show every backend, whether it is usable here, and why not."""
    from body_models import availability

    source = source_from_env(model_path, anny_cache, gender)
    for name in BACKENDS:
        state = availability(name, source)
        mark = click.style("usable", fg="green") if state.usable else click.style("unavailable", fg="yellow")
        click.echo(f"{name:7s} {mark}  {state.detail}")


@models.command("prepare")
@anny_cache_option
def prepare(anny_cache: str | None) -> None:
    """Build Anny's model cache for every shape space now (once, ~1-3 min), so builds and
    workers start fast."""
    from body_models import create
    from body_models.anny_backend import SHAPE_SPACES

    for space in SHAPE_SPACES:
        source = source_from_env(None, anny_cache, anny_space=space)
        model = create("anny", source)
        click.echo(f"{model.version} ({space} shape space, {model.shape_space.size} parameters) ready; "
                   f"cache at {source.anny_cache}")


@models.command("convert")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
def convert(src: Path, dst: Path) -> None:
    """Convert a SMPL-family SRC (.pkl with chumpy, or .npz) into a plain DST .npz."""
    from body_models.convert import convert_model_file

    digest = convert_model_file(src, dst)
    click.echo(f"wrote {dst} (sha256 {digest[:16]})")


if __name__ == "__main__":
    main()
