"""corenets tune / cn.tune: refusals before any trial, pruning, validation-only trials, best.yaml, resuming."""

import json
from pathlib import Path

import pytest

import corenets as cn
from corenets import cli

pytest.importorskip("optuna")

SMALL = ["train.epochs=4", "model.hidden=[32]"]
LR = "train.lr=loguniform(1e-5,1e-1)"


def fails(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("corenets: error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("space, says", [
    ("model.nosuch=uniform(0,1)", "nosuch"),  # a key the model does not take
    ("trian.lr=uniform(0.1,1)", "trian.lr"),  # a section that does not exist
    ("train.lr=uniform(0.5,0.5)", "is empty"),
    ("train.lr=uniform(0.9,0.1)", "is empty"),
    ("train.lr=loguniform(0,1)", "LOW > 0"),
    ("train.lr=uniform(0,1)", "train.lr"),  # 0 is outside lr's range: checked at both ends, like --set
    ("train.epochs=int(1.5,3)", "whole numbers"),
    ("model.hidden=[]", "empty list"),
    ("train.lr=normal(0,1)", "not a distribution"),
])
def test_a_bad_space_is_refused_before_any_trial(tmp_path, capsys, space, says):
    line = fails(capsys, "tune", "quickstart", "--space", space, "--out", str(tmp_path), "--no-final")
    assert says in line
    assert not list(tmp_path.rglob("trials"))  # nothing trained


def test_nothing_to_tune_and_a_train_monitor_are_refused(tmp_path, capsys):
    plain = tmp_path / "plain.yaml"  # a config without a tune: block
    plain.write_text("data:\n  name: digits\nmodel:\n  name: mlp\n")
    assert "nothing to tune" in fails(capsys, "tune", "--config", str(plain), "--out", str(tmp_path))
    assert "validation metric" in fails(capsys, "tune", "quickstart", "--space", LR, "--set", "train.monitor=train_loss",
                                        "--out", str(tmp_path))


def test_an_unreachable_storage_is_refused_in_one_line(tmp_path, capsys):
    pytest.importorskip("psycopg")
    line = fails(capsys, "tune", "quickstart", "--space", LR, "--out", str(tmp_path),
                 "--storage", "postgresql://someone:secret@127.0.0.1:1/nodb")
    assert "cannot be reached" in line and "secret" not in line  # the password is never printed
    assert "not a database URL" in fails(capsys, "tune", "quickstart", "--space", LR, "--storage", "nowhere")


def test_a_study_made_by_another_recipe_is_refused(tmp_path, capsys):
    cn.tune("quickstart", trials=1, space=[LR], overrides=["train.epochs=1", "model.hidden=[8]"], study="shared",
            out=str(tmp_path), final=False)
    capsys.readouterr()
    line = fails(capsys, "tune", "breast-cancer-ann", "--space", LR, "--study", "shared", "--out", str(tmp_path))
    assert "made by recipe 'quickstart'" in line and "--study" in line
    line = fails(capsys, "tune", "quickstart", "--space", LR, "--set", "train.epochs=2", "model.hidden=[8]",
                 "--study", "shared", "--out", str(tmp_path))
    assert "another config or space" in line


def test_the_recipe_block_is_the_default_space_and_space_replaces_a_key(tmp_path):
    from corenets.tune.study import plan

    spec = plan("quickstart", out=str(tmp_path))
    assert {k: d.text() for k, d in spec.space.items()} == {
        "train.lr": "loguniform(0.0001, 0.1)", "model.dropout": "uniform(0, 0.5)",
        "train.weight_decay": "loguniform(1e-06, 0.01)"}
    spec = plan("quickstart", space=["train.lr=uniform(0.001,0.01)", "model.hidden=[[16],[32,16]]"], study="b",
                out=str(tmp_path))
    assert spec.space["train.lr"].text() == "uniform(0.001, 0.01)" and spec.space["model.hidden"].choices == ([16], [32, 16])
    assert len(spec.space) == 4


def test_cv_tunes_on_the_fold_mean(tmp_path):
    s = cn.tune("breast-cancer-ann", trials=2, space=["model.hidden=[[8]]"], overrides=["train.epochs=2"], cv=2,
                pruner="none", out=str(tmp_path), final=False)
    assert s.complete == 2
    import optuna

    study = optuna.load_study(study_name=s.study_name, storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(s.study_dir / "study.journal"))))
    for t in study.trials:
        folds = sorted(Path(t.user_attrs["run"]).glob("fold-*"))
        assert len(folds) == 2
        bests = [min(float(r.split(",")[_col(f, "val_loss")]) for r in (f / "history.csv").read_text().splitlines()[1:])
                 for f in folds]
        assert t.value == pytest.approx(sum(bests) / 2)
        assert t.intermediate_values[1] == pytest.approx(bests[0])  # the pruner saw fold 1's best, then the mean


def _col(run_dir, name):
    return (run_dir / "history.csv").read_text().splitlines()[0].split(",").index(name)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """One 10-trial study on digits (the pruner judges from the 5th), recording every run folder test was scored in."""
    import corenets.experiment as ex
    import corenets.inspect.report as learned

    out = tmp_path_factory.mktemp("tune")
    scored = []
    real, real_learned = ex.evaluate_outputs, learned.draw_learned
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ex, "evaluate_outputs", lambda o, b, run_dir: scored.append(Path(run_dir)) or real(o, b, run_dir))
        # "What it learned" predicts the test split and shows its mistakes: a test look of its own
        mp.setattr(learned, "draw_learned", lambda run_dir, b: scored.append(Path(run_dir)) or real_learned(run_dir, b))
        s = cn.tune("quickstart", trials=10, space={"train.lr": "loguniform(1e-5, 1e-1)"}, overrides=SMALL,
                    out=str(out))
    return s, scored


def test_no_trial_scores_the_test_split(study):
    s, scored = study
    trials = sorted((s.study_dir / "trials").iterdir())
    assert len(trials) == 10
    for t in trials:
        m = json.loads((t / "metrics.json").read_text())
        assert m["test"] == {} and not m.get("classical"), t
        assert any("validation only" in n for n in m["notes"])
    # the only looks at test (scores, and the "What it learned" figures): the final runs, the best config's and the
    # recipe's, each scoring once
    assert {p.parent.name for p in scored} == {"final"} and len(set(scored)) == 2
    assert set(map(str, scored)) == set(s.final.values())


def test_pruning_stops_trials_early(study):
    s, _ = study
    assert s.pruned >= 1 and s.complete + s.pruned == 10
    assert s.epochs < 10 * 4  # pruned trials trained fewer than the 4 epochs
    rows = [t for t in (s.study_dir / "trials").iterdir() if len((t / "history.csv").read_text().splitlines()) - 1 < 4]
    assert len(rows) >= s.pruned


def test_best_yaml_repeats_the_best_trial(study, tmp_path, capsys):
    s, _ = study
    import yaml

    best = yaml.safe_load(s.best_yaml.read_text())
    assert best["train"]["lr"] == pytest.approx(s.best_params["train.lr"])
    assert best["name"] == "quickstart" and best["train"]["epochs"] == 4
    assert cli.main(["run", "--config", str(s.best_yaml), "--out", str(tmp_path), "--quiet"]) == 0
    again = next(tmp_path.glob("quickstart-*"))
    trial = Path(s.best_run)
    val = lambda d: [line.split(",")[:3] for line in (d / "history.csv").read_text().splitlines()]  # noqa: E731
    head = (trial / "history.csv").read_text().splitlines()[0].split(",")
    i = head.index("val_loss")
    col = lambda d: [r.split(",")[i] for r in (d / "history.csv").read_text().splitlines()[1:]]  # noqa: E731
    assert col(again) == col(trial)  # the same validation losses, epoch by epoch
    assert json.loads((again / "metrics.json").read_text())["test"]["accuracy"] > 0.5
    del val


def test_the_report_has_the_figures_and_the_table(study):
    s, _ = study
    page = s.report.read_text()
    for title in ("Optimisation history", "fANOVA", "Parallel coordinates", "Slices"):
        assert title in page
    assert page.count("data:image/png;base64,") >= 4 and "http" not in page.split("<body>")[1].split("file://")[0]
    assert page.count("<tr class=pruned>") == s.pruned and page.count("<tr class=complete>") == s.complete


def test_the_same_command_resumes_the_study(study):
    s, _ = study
    more = cn.tune("quickstart", trials=12, space={"train.lr": "loguniform(1e-5, 1e-1)"}, overrides=SMALL,
                   out=str(s.study_dir.parent), final=False)
    assert more.complete + more.pruned == 12
    assert len(list((s.study_dir / "trials").iterdir())) == 12  # two more trials, the first ten kept


def _judge(pruner, curves, candidate):
    """Steps at which `pruner` stops `candidate` (a val_loss curve) after `curves` completed in an in-memory study."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(pruner=pruner, direction="minimize")
    for c in curves:
        t = study.ask()
        for step, v in enumerate(c, 1):
            t.report(v, step)
        study.tell(t, min(c))
    t = study.ask()
    stopped = []
    for step, v in enumerate(candidate, 1):
        t.report(v, step)
        stopped += [step] if t.should_prune() else []
    return stopped


def test_the_median_pruner_waits_for_four_trials_and_20_percent_of_the_epochs():
    from corenets.tune.pruning import make_pruner, warmup_steps

    assert [warmup_steps(n) for n in (1, 2, 5, 10, 40)] == [1, 1, 1, 2, 8]  # 10 epochs -> judged from epoch 2 on
    assert make_pruner("median", 60, folds=5)._n_warmup_steps == 1  # folds do not cross: judged from fold 1 on
    done = [[1.0, 0.5, 0.3, 0.2, 0.15, 0.12, 0.1, 0.09, 0.08, 0.08]] * 4
    slow = [1.5, 0.45, 0.25, 0.12, 0.08, 0.06, 0.05, 0.04, 0.03, 0.03]  # the best trial, behind after epoch 1
    bad = [1.5, 0.9, 0.6, 0.5, 0.45, 0.4, 0.4, 0.4, 0.4, 0.4]
    # the old setting (3 startup trials, judged from epoch 1) stopped the eventual best trial after epoch 1
    import optuna

    assert _judge(optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1), done[:3], slow)[:1] == [1]
    assert _judge(make_pruner("median", 10), done, slow) == []
    assert _judge(make_pruner("median", 10), done, bad)[:1] == [2]  # a laggard still stops at 20%
    assert _judge(make_pruner("median", 10), done[:3], bad) == []  # too few finished trials to judge by
