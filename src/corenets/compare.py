"""`corenets compare`: several runs side by side (metrics, parameters, time) and overlaid curves."""

from __future__ import annotations

from pathlib import Path

from .errors import RunFolderError
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
    tasks = {m.task for m in infos.values()}
    if len(tasks) > 1:
        raise RunFolderError(f"these runs solve different tasks ({', '.join(sorted(tasks))}); compare runs of one kind")
    task = tasks.pop()
    keys = M.HEADLINE[task]
    header = ["run", "model", "parameters", "train s", "s/epoch", "epochs", *keys]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r, m in infos.items():
        epochs = m.epochs_run
        row = [r.name, _model_name(r), m.parameters or "", f"{m.train_seconds:.1f}",
               f"{m.train_seconds / epochs:.2f}" if epochs else "", epochs or ""]
        row += [_cell(m.test.get(k, "")) for k in keys]
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    first = next(iter(infos.values()))
    base = first.test.get("baseline", {})
    lines.append("")
    lines.append(f"baseline ({base.get('name', '?')}): " + ", ".join(
        f"{k} {base[k]:.4f}" for k in keys if isinstance(base.get(k), float)))
    if unfinished:
        lines.append(f"skipped, unfinished (no metrics.json): {', '.join(r.name for r in unfinished)}")
    out = out or run_dirs[0].parent
    out.mkdir(parents=True, exist_ok=True)
    val_key = "val_accuracy" if task != "regression" else "val_rmse"
    series = {r.name: read_history(r / "history.csv") for r in run_dirs}
    if any(series.values()):
        png = overlay_curves(series, val_key, out / f"compare_{val_key}.png")
        lines.append(f"curves: {png}")
    text = "\n".join(lines)
    atomic_write_text(out / "compare.md", text + "\n")
    return text


def _model_name(run: Path) -> str:
    cfg = run / "config.yaml"
    if not cfg.is_file():
        return "?"
    import yaml

    raw = yaml.safe_load(cfg.read_text()) or {}
    model = raw.get("model", {})
    extras = {k: v for k, v in model.items() if k != "name"}
    return f"{model.get('name', '?')}" + (f" {extras}" if extras else "")
