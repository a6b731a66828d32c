"""The study report: one offline HTML page (figures inlined) with Optuna's matplotlib visualisations: the
optimisation history, fANOVA parameter importances, parallel coordinates, slices, and the table of trials."""

from __future__ import annotations

import base64
import html
import io
import json
import warnings
from pathlib import Path

from ..runs import atomic_write_text

FIGURES = (("Optimisation history", "plot_optimization_history", {}),
           ("Parameter importances (fANOVA)", "plot_param_importances", {}),
           ("Parallel coordinates", "plot_parallel_coordinate", {}),
           ("Slices", "plot_slice", {}),
           ("Intermediate values (what the pruner saw)", "plot_intermediate_values", {}))


def _figure(study, fn: str, kw: dict) -> str:
    """One visualisation as an inline <img>, or a line saying why it could not be drawn."""
    from ..evaluate.plots import _figure as headless

    plt = headless()[0]
    import optuna.visualization.matplotlib as vm

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning on every matplotlib visualisation
            if fn == "plot_param_importances":
                from optuna.importance import FanovaImportanceEvaluator

                kw = {"evaluator": FanovaImportanceEvaluator(seed=0)}
            ax = getattr(vm, fn)(study, **kw)
        fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
        fig.set_size_inches(max(fig.get_size_inches()[0], 7), max(fig.get_size_inches()[1], 4))
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tight_layout on Optuna's colour-bar axes
            fig.tight_layout()
        fig.savefig(buf, format="png", dpi=90)
        plt.close("all")
    except Exception as e:  # too few finished trials, one parameter, ...: the page says so
        plt.close("all")
        return f"<p class=note>not drawn: {html.escape(str(e).splitlines()[0][:200] if str(e) else type(e).__name__)}</p>"
    return f"<img alt='' src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'>"


def _table(study) -> str:
    rows = []
    for t in study.get_trials(deepcopy=False):
        params = json.loads(t.user_attrs.get("config", "{}"))
        cls = t.state.name.lower()
        value = "" if t.value is None else f"{t.value:.4f}"
        run = html.escape(str(t.user_attrs.get("run", "")))
        rows.append(f"<tr class={cls}><td>{t.number}</td><td>{t.state.name.lower()}</td><td>{value}</td>"
                    f"<td>{t.user_attrs.get('epochs', '')}</td><td>{html.escape(json.dumps(params))}</td>"
                    f"<td>{html.escape(str(t.user_attrs.get('worker', '')))}</td><td>{run}</td></tr>")
    head = "<tr><th>trial</th><th>state</th><th>value</th><th>epochs</th><th>values</th><th>worker</th><th>run folder</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def write_report(spec, study, summary) -> Path:
    """<study>/report.html; returns its path."""
    best = ("no trial completed" if summary.best_value is None else
            f"best {summary.monitor} {summary.best_value:.4f} ({summary.direction}) with "
            f"{html.escape(json.dumps(summary.best_params))}; best.yaml repeats it: "
            f"<code>corenets run --config {html.escape(str(summary.best_yaml))}</code>")
    final = "" if not summary.final else "<h2>Scored on test, once each</h2><ul>" + "".join(
        f"<li>{k}: <a href='{html.escape(Path(v).resolve().as_uri())}/report.html'>{html.escape(v)}</a>"
        f"{html.escape(_test_line(v))}</li>" for k, v in summary.final.items()) + "</ul>"
    figures = "".join(f"<h2>{title}</h2>{_figure(study, fn, kw)}" for title, fn, kw in FIGURES)
    page = f"""<!doctype html><html><head><meta charset=utf-8><title>{html.escape(spec.study_name)}</title><style>
body{{font-family:sans-serif;max-width:1100px;margin:2em auto}} img{{max-width:100%}} table{{border-collapse:collapse;font-size:90%}}
td,th{{border:1px solid #ccc;padding:2px 6px}} tr.pruned{{color:#888}} tr.fail{{color:#b00}} .note{{color:#666}}
</style></head><body><h1>Study {html.escape(spec.study_name)}: {html.escape(spec.cfg.name)}</h1>
<p>{summary.complete} complete, {summary.pruned} pruned, {summary.failed} failed trials; {summary.epochs} training epochs
in all. Every trial was scored on validation ({html.escape(summary.monitor)}) only; no trial saw the test split.</p>
<p>{best}</p>{final}{figures}<h2>Trials</h2><p class=note>pruned trials in grey, failed in red</p>{_table(study)}
</body></html>"""
    path = spec.study_dir / "report.html"
    atomic_write_text(path, page)
    return path


def _test_line(run_dir: str) -> str:
    try:
        from ..experiment import summary_line

        return " " + summary_line(Path(run_dir)).splitlines()[0]
    except Exception:
        return ""
