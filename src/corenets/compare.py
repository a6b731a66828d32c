"""`corenets compare`: several runs side by side (metrics, parameters, time) and overlaid curves."""

from __future__ import annotations

from pathlib import Path

from .errors import RunFolderError
from .evaluate import baselines
from .evaluate import metrics as M
from .evaluate.plots import overlay_curves
from .files import atomic_write_text, read_history
from .record import Metrics, is_finished, read_metrics


def _cell(v) -> str:
    if isinstance(v, dict):
        return f"{v['mean']:.4f} ± {v['std']:.4f}"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def compare_runs(run_dirs: list[Path], out: Path | None = None) -> str:
    """A Markdown table of the finished runs; writes compare.md and compare_<metric>.png into `out`.

    Folders without metrics.json (interrupted or failed runs) are named and skipped, not an error, so
    `corenets compare runs/quickstart-*` works beside an unfinished run.
    """
    for r in run_dirs:
        if not Path(r).is_dir():
            raise RunFolderError(f"{r} is not a folder; compare takes run folders such as runs/quickstart-20260101-120000")
    unfinished = [r for r in run_dirs if not is_finished(r)]
    run_dirs = [r for r in run_dirs if is_finished(r)]
    if not run_dirs:
        raise RunFolderError(f"none of these runs finished (no metrics.json in {', '.join(str(r) for r in unfinished)}); "
                             "compare takes finished run folders")
    infos: dict[Path, Metrics] = {r: read_metrics(r) for r in run_dirs}
    tasks = list(dict.fromkeys(m.task for m in infos.values()))
    keys = list(dict.fromkeys(k for t in tasks for k in M.HEADLINE[t]))  # every task's columns, blank where none
    header = ["run", "model", "parameters", "train s", "s/epoch", "epochs", *keys, "classical baseline"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r, m in infos.items():
        epochs = m.epochs_run
        row = [r.name, _model_name(r), m.parameters or "", f"{m.train_seconds:.1f}",
               f"{m.train_seconds / epochs:.2f}" if epochs else "", epochs or ""]
        row += [_cell(m.test.get(k, "")) for k in keys] + [baselines.cell(m.classical)]
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    lines.append("")
    lines += baseline_lines(infos)
    if unfinished:
        lines.append(f"skipped, unfinished (no metrics.json): {', '.join(r.name for r in unfinished)}")
    series = {r.name: read_history(r / "history.csv") for r in run_dirs}  # read (and refused) before any write
    out = out or run_dirs[0].parent
    out.mkdir(parents=True, exist_ok=True)
    for val_key in dict.fromkeys("val_accuracy" if t != "regression" else "val_rmse" for t in tasks):
        shown = {name: rows for name, rows in series.items() if any(val_key in row for row in rows)}
        if shown:
            lines.append(f"curves: {overlay_curves(shown, val_key, out / f'compare_{val_key}.png')}")
    text = "\n".join(lines)
    atomic_write_text(out / "compare.md", text + "\n")
    return text


def _dataset(m: Metrics) -> str:
    return str(m.data.get("dataset", "?"))


def _baseline(m: Metrics) -> str:
    base = m.test.get("baseline", {})
    return f"{base.get('name', '?')}: " + ", ".join(
        f"{k} {base[k]:.4f}" for k in M.HEADLINE[m.task] if isinstance(base.get(k), float))


def baseline_lines(infos: dict[Path, Metrics]) -> list[str]:
    """One baseline line when every run shares it; otherwise each run beside its own, and why they differ.

    Runs of different datasets or tasks are said to be so: their scores do not compare with one another.
    """
    datasets = list(dict.fromkeys(_dataset(m) for m in infos.values()))
    tasks = list(dict.fromkeys(m.task for m in infos.values()))
    shown = {r: _baseline(m) for r, m in infos.items()}
    if len(datasets) == 1 and len(tasks) == 1 and len(set(shown.values())) == 1:
        first = next(iter(infos.values()))
        base = first.test.get("baseline", {})
        return [f"baseline ({base.get('name', '?')}): " + ", ".join(
            f"{k} {base[k]:.4f}" for k in M.HEADLINE[first.task] if isinstance(base.get(k), float))]
    out = []
    if len(datasets) > 1 or len(tasks) > 1:
        what = [f"different datasets ({', '.join(datasets)})"] if len(datasets) > 1 else []
        what += [f"different tasks ({', '.join(tasks)})"] if len(tasks) > 1 else []
        out.append(f"these runs use {' and '.join(what)}: their scores do not compare with one another; "
                   "read each beside its own baseline")
    out += [f"baseline of {r.name} ({_dataset(infos[r])}, {infos[r].task}): {text}" for r, text in shown.items()]
    return out


def _model_name(run: Path) -> str:
    cfg = run / "config.yaml"
    if not cfg.is_file():
        return "?"
    from .config import load_yaml
    from .errors import CorenetsError

    try:  # the checked reader: anchors refused, types and ranges checked (a bare yaml.safe_load could amplify)
        model = load_yaml(cfg).model
    except CorenetsError:
        return "? (config.yaml is invalid)"  # only the model column is lost: the metrics come from metrics.json
    extras = str(dict(model.options)) if model.options else ""
    return model.name + (f" {extras[:80]}" if extras else "")
