"""corenets inspect: the views registry, the page per input kind, the test-split views and the report section."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

pytest.importorskip("captum")

from tiny_runs import image_run, series_run, table_run, text_run  # noqa: E402

from corenets.cli import main  # noqa: E402
from corenets.inspect.core import subject_of  # noqa: E402
from corenets.inspect.kinds import views_of  # noqa: E402
from corenets.inspect.views import VIEWS, views_for  # noqa: E402
from corenets.runs import load_run  # noqa: E402


def _views(path):
    from corenets.inspect.api import run_subject

    return views_of(run_subject(load_run(path)))


def test_each_kind_gets_its_views_by_class(tmp_path):
    from corenets.data.vision import ImagePreprocessing

    got = {name: type(_views(p)).__name__ for name, p in {
        "cnn": image_run(tmp_path), "rows": image_run(tmp_path, "lstm", options={"hidden_size": 4}),
        "text": text_run(tmp_path), "table": table_run(tmp_path), "series": series_run(tmp_path)}.items()}
    assert got == {"cnn": "ImageViews", "rows": "RowViews", "text": "TextViews", "table": "TableViews",
                   "series": "SeriesViews"}
    with pytest.raises(ValueError, match="already registered"):
        views_for(ImagePreprocessing)(VIEWS[ImagePreprocessing])


def test_inspect_on_image_files_writes_a_page_with_grad_cam_filters_and_feature_maps(tmp_path, capsys):
    from PIL import Image

    run = image_run(tmp_path / "r")
    img = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (28, 28), dtype=np.uint8)).save(img)
    bad = tmp_path / "b.png"
    bad.write_text("not an image")
    code = main(["inspect", str(run), str(img), str(bad), "--out", str(tmp_path / "page")])
    out, err = capsys.readouterr()
    assert code == 1 and "b.png" in err  # the unreadable file is named; the other is explained
    assert f"inspect: {tmp_path / 'page' / 'index.html'}" in out
    page = (tmp_path / "page" / "index.html").read_text()
    for png in ("attributions.png", "filters.png", "feature_maps.png"):
        assert (tmp_path / "page" / png).read_bytes()[:4] == b"\x89PNG" and f'src="{png}"' in page
    assert "Grad-CAM" in page


def test_inspect_colours_words_and_shows_gates_for_text(tmp_path, capsys):
    run = text_run(tmp_path, "gru")
    assert main(["inspect", str(run), "a good film", "dull and long", "--out", str(tmp_path / "p")]) == 0
    page = (tmp_path / "p" / "index.html").read_text()
    assert len(re.findall(r'class="attr-word"', page)) == 3 + 3
    assert "Gate activations per word" in page and (tmp_path / "p" / "gates.png").is_file()


def test_inspect_tables_and_series_on_their_inputs(tmp_path, capsys):
    t = table_run(tmp_path)
    csv = tmp_path / "rows.csv"
    csv.write_text("age,income,city\n30,2,oslo\n50,4,rome\n")
    assert main(["inspect", str(t), str(csv), "--out", str(tmp_path / "t")]) == 0
    assert (tmp_path / "t" / "features.png").is_file()
    s = series_run(tmp_path)
    prices = tmp_path / "prices.csv"
    prices.write_text("Date,Close\n" + "".join(f"2020-01-{d + 1:02d},{50 + d * 0.5}\n" for d in range(15)))
    assert main(["inspect", str(s), str(prices), "--out", str(tmp_path / "s")]) == 0
    assert "Persistence" in (tmp_path / "s" / "index.html").read_text() and (tmp_path / "s" / "window.png").is_file()


def test_explain_json_answers_the_attribution_per_input(tmp_path):
    from corenets.inspect.api import explain_json

    img = explain_json(load_run(image_run(tmp_path)), np.zeros((2, 28, 28), np.uint8))
    assert len(img) == 2 and img[0]["method"] == "grad-cam" and np.array(img[0]["attribution"]).shape == (28, 28)
    import base64

    assert base64.b64decode(img[0]["png"])[:4] == b"\x89PNG"
    txt = explain_json(load_run(text_run(tmp_path)), ["a good film and more"])
    assert txt[0]["tokens"] == ["a", "good", "film", "and", "<unk>"] and len(txt[0]["attribution"]) == 5


def _subject(tmp_path, run):
    from corenets.inspect.api import run_subject

    return run_subject(load_run(run))


def test_test_split_views_pick_mistakes_first_and_draw_the_overview(tmp_path):
    from corenets.inspect.api import test_sections

    subject = _subject(tmp_path, image_run(tmp_path))
    views = views_of(subject)
    x = torch.randn(40, 1, 28, 28)
    pred = subject.proba(x).argmax(1)
    y = pred.copy()
    y[:5] = (pred[:5] + 1) % 4  # five mistakes
    picked = views.pick(y, subject.proba(x))
    assert set(picked[:4]) <= set(range(5)) and len(picked) == 4 + len(set(pred[5:]))
    titles = [s.title for s in test_sections(subject, views, x, y)]
    assert titles[:1] == ["Why the model answered as it did"]
    for t in ("First-layer filters", "Feature maps", "Most-confused pairs", "What the last hidden layer sees"):
        assert t in titles


def test_permutation_importance_finds_the_feature_the_model_reads(tmp_path):
    from corenets.inspect.tables import permutation

    subject = _subject(tmp_path, table_run(tmp_path))
    net = subject.scored
    with torch.no_grad():  # a model that reads feature 1 only
        for m in net.modules():
            if isinstance(m, torch.nn.Linear):
                m.weight.zero_(), m.bias.zero_()
        lin = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
        lin[0].weight[0, 1] = 1.0
        for a in lin[1:-1]:
            a.weight[0, 0] = 1.0
        lin[-1].weight[0, 0] = 5.0
    x = torch.randn(200, 5)
    y = (subject.outputs(x).numpy().reshape(-1) > 0).astype(int)
    mean, _, metric = permutation(subject, x, y)
    assert metric == "accuracy" and int(np.argmax(mean)) == 1 and mean[1] > 0.2
    assert np.abs(np.delete(mean, 1)).max() == 0


def test_report_section_and_its_switch(tmp_path):
    from corenets.config import load_yaml  # noqa: F401 - the key is a typed field
    from corenets.config import RunConfig
    from corenets.evaluate.report import build_report
    from corenets.inspect.report import draw_learned

    assert RunConfig().report.inspect is True
    run = image_run(tmp_path)
    (run / "plots").mkdir(exist_ok=True)

    class Bundle:
        class test:
            x = torch.randn(30, 1, 28, 28)
            y = torch.arange(30) % 4

    draw_learned(run, Bundle)
    index = json.loads((run / "plots" / "learned.json").read_text())
    assert [s["title"] for s in index["sections"]][:2] == ["Why the model answered as it did", "First-layer filters"]
    (run / "plots" / "curves.png").write_bytes((run / "plots" / "learned_filters.png").read_bytes())
    build_report(run)
    html = (run / "report.html").read_text()
    assert "What it learned" in html and "First-layer filters" in html
    md = (run / "report.md").read_text()
    assert "plots/learned_filters.png" in md
    assert md.index("## What it learned") > md.index("## Plots") and md.count("learned_filters.png") == 1


def test_report_inspect_is_a_typed_switch():
    from corenets.config import RunConfig, apply_overrides
    from corenets.errors import ConfigError

    assert apply_overrides(RunConfig(), ["report.inspect=false"]).report.inspect is False
    with pytest.raises(ConfigError):
        apply_overrides(RunConfig(), ["report.inspect=maybe"])


def test_a_run_draws_what_it_learned_once_unless_switched_off(tmp_path, capsys):
    for flag, want in (([], True), (["--set", "report.inspect=false"], False)):
        out = tmp_path / str(want)
        assert main(["run", "quickstart", "--epochs", "1", "--out", str(out), "--quiet", *flag]) == 0
        run = next(out.iterdir())
        assert (run / "plots" / "learned.json").is_file() == want
        assert ("What it learned" in (run / "report.html").read_text()) == want
    assert main(["inspect", str(run)]) == 0  # no inputs: the test split's mistakes and the overview
    page = (run / "inspect" / "index.html").read_text()
    assert 'src="attributions.png"' in page and "What the last hidden layer sees" in page
    assert f"inspect: {run / 'inspect' / 'index.html'}" in capsys.readouterr().out


def test_without_captum_inspect_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    import sys

    run = image_run(tmp_path)
    monkeypatch.setitem(sys.modules, "captum", None)  # `import captum` raises ImportError
    assert main(["inspect", str(run)]) == 2
    assert "pip install 'corenets[inspect]'" in capsys.readouterr().err
    from corenets.inspect.report import draw_learned

    (run / "plots").mkdir(exist_ok=True)
    draw_learned(run, None)  # a finished run still gets its report, which says why the section is missing
    assert "Captum is not installed" in (run / "plots" / "learned_failed.txt").read_text()


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_the_projection_keeps_separate_classes_apart(method):
    from corenets.inspect.embedding import project

    rng = np.random.default_rng(0)
    feats = np.concatenate([rng.normal(0, 1, (40, 16)), rng.normal(8, 1, (40, 16))])
    xy = project(feats, method)
    assert xy.shape == (80, 2)
    a, b = xy[:40].mean(0), xy[40:].mean(0)
    spread = max(xy[:40].std(0).max(), xy[40:].std(0).max())
    assert np.linalg.norm(a - b) > 3 * spread
