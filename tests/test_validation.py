"""One validation layer (issue 16, issue 17): types and ranges for every config field, YAML that cannot amplify,
pre-run checks against the device and the data, and a mistake that leaves nothing on disk."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corenets import cli, preflight
from corenets.config import RunConfig, apply_overrides, from_dict, load_yaml, parse_override
from corenets.errors import ConfigError, CorenetsError

FAST = ["--epochs", "1", "--quiet", "--device", "cpu"]


def fails(capsys, *argv) -> str:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("corenets: error: "), err
    return lines[0]


def nothing_under(path: Path) -> bool:
    return not path.exists() or not any(path.rglob("*"))


# ----------------------------------------------------------------- ranges, through --set and the shortcuts


@pytest.mark.parametrize("setting,allowed", [
    ("train.batch_size=0", ">= 1"), ("train.batch_size=-1", ">= 1"), ("train.eval_batch_size=0", ">= 1"),
    ("train.step_size=0", ">= 1"), ("train.epochs=0", ">= 1"), ("train.epochs=-3", ">= 1"),
    ("train.lr=-1", "> 0"), ("train.lr=0", "> 0"), ("train.label_smoothing=5", "< 1"), ("train.momentum=1", "< 1"),
    ("seed=-1", ">= 0"), ("seed=99999999999999999999", "<= 4,294,967,295"), ("data.val_fraction=1", "< 1"),
    ("model.members=0", ">= 1"), ("train.ema=1", "< 1"), ("threads=-2", ">= 0"),
])
def test_out_of_range_settings_name_the_key_value_and_range(setting, allowed):
    key, _, value = setting.partition("=")
    with pytest.raises(ConfigError, match="out of range") as e:
        apply_overrides(RunConfig(), [setting])
    msg = str(e.value)
    assert msg.startswith(f"{key}={value}") and allowed in msg.split("allowed: ")[1], msg


@pytest.mark.parametrize("setting", ["train.weight_decay=nan", "train.lr=.inf", "train.grad_clip=-.inf",
                                     "train.lr=1e400"])
def test_non_finite_floats_are_refused(setting):
    with pytest.raises(ConfigError, match="expected float \\(a finite number\\)|out of range") as e:
        apply_overrides(RunConfig(), [setting])
    assert str(e.value).startswith(setting.split("=")[0] + "=")


def test_cross_field_rules():
    with pytest.raises(ConfigError, match="cv=1 is not cross-validation"):
        apply_overrides(RunConfig(), ["cv=1"])
    with pytest.raises(ConfigError, match="train.gamma=1 is out of range for schedule plateau; allowed: > 0 and < 1"):
        apply_overrides(RunConfig(), ["train.schedule=plateau", "train.gamma=1"])
    assert apply_overrides(RunConfig(), ["train.schedule=step", "train.gamma=2"]).train.gamma == 2  # step may grow
    with pytest.raises(ConfigError, match="fold=3 is out of range"):
        apply_overrides(RunConfig(), ["cv=2", "fold=3"])
    with pytest.raises(ConfigError, match="unknown op 'rotate'"):
        apply_overrides(RunConfig(), ["train.augment=rotate:3"])
    with pytest.raises(ConfigError, match="out of range; allowed: 1 to 4096 pixels"):
        apply_overrides(RunConfig(), ["train.augment=translate:100000"])


def test_builder_options_are_checked_when_the_config_is_made():
    with pytest.raises(ConfigError, match=r"unknown option model.widht; did you mean .model.width.\? valid keys are: .*width"):
        from_dict({"model": {"name": "airnet", "widht": 8}})
    with pytest.raises(ConfigError, match="unknown dataset 'nope'"):
        from_dict({"data": {"name": "nope"}})
    cfg = apply_overrides(RunConfig(), ["model.hidden=64", "train.lr=1e-3"])  # the conveniences stay
    assert cfg.model.options["hidden"] == [64] and cfg.train.lr == 0.001


@pytest.mark.parametrize("argv,message", [
    (["--epochs", "-1"], "train.epochs=-1 is out of range; allowed: >= 1"),
    (["--epochs", "0"], "train.epochs=0 is out of range"),
    (["--seed", "-1"], "seed=-1 is out of range"),
    (["--seed", "99999999999999999999"], "seed=99999999999999999999 is out of range"),
    (["--set", "train.batch_size=0"], "train.batch_size=0 is out of range; allowed: >= 1"),
    (["--set", "train.batch_size=-1"], "train.batch_size=-1 is out of range"),
    (["--set", "train.lr=-1"], "train.lr=-1 is out of range; allowed: > 0"),
    (["--cv", "1"], "cv=1 is not cross-validation"),
    (["--nproc", "0"], "--nproc 0 is out of range"),
])
def test_cli_mistakes_exit_2_with_one_line_and_no_folder(tmp_path, capsys, argv, message):
    assert message in fails(capsys, "run", "quickstart", "--out", str(tmp_path / "runs"), "--quiet", *argv)
    assert nothing_under(tmp_path / "runs")


def test_no_message_embeds_an_unbounded_value():
    for setting in ["train.lr=" + "x" * 100_000, "model.hidden=[" + "1," * 50_000 + "x]", "name=" + "a/" * 50_000,
                    "train.augment=" + "q" * 100_000, "data.name=" + "d" * 100_000, "train." + "k" * 100_000 + "=1"]:
        with pytest.raises(ConfigError) as e:
            apply_overrides(RunConfig(), [setting])
        assert len(str(e.value)) < 1000, str(e.value)[:300]


# ----------------------------------------------------------------- names, paths, --out


@pytest.mark.parametrize("name", ["../../../../tmp/x", "a/b", "..", ".", "", "a\\b", "x\x00y", " padded "])
def test_a_run_name_is_one_folder_name(tmp_path, capsys, name):
    with pytest.raises(ConfigError, match="must be one folder name"):
        from_dict({"name": name})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"name": name}))
    msg = fails(capsys, "run", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "runs"), *FAST)
    assert "one folder name" in msg
    assert nothing_under(tmp_path / "runs") and not (tmp_path.parent / "x").exists()


def test_new_run_dir_refuses_a_name_that_leaves_out(tmp_path):
    from corenets.runs import new_run_dir

    with pytest.raises(CorenetsError, match="one folder name"):
        new_run_dir(tmp_path / "runs", "../escape")
    assert not any(tmp_path.parent.glob("escape-*"))


def test_out_with_an_emoji_is_kept_as_given(tmp_path):
    out = str(tmp_path / "runs-😀-ü")
    args = cli.build_parser().parse_args(["run", "quickstart", "--out", out, "--data", "digits"])
    assert cli.resolve_config(args).out == out


def test_data_paths_become_absolute_and_config_yaml_repeats_the_run_from_anywhere(tmp_path, capsys, monkeypatch):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 2))
    (tmp_path / "work").mkdir()
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": np.where(x.sum(1) > 0, "up", "down")}).to_csv(
        tmp_path / "work" / "small.csv", index=False)
    monkeypatch.chdir(tmp_path / "work")
    runs = tmp_path / "runs-😀"  # --out as given, not re-read as YAML
    assert cli.main(["run", "--data", "csv_table", "--set", "data.path=small.csv", "data.target=y", "--out",
                     str(runs), *FAST]) == 0
    (run,) = runs.iterdir()
    saved = load_yaml(run / "config.yaml")
    assert saved.data.options["path"] == str(tmp_path / "work" / "small.csv")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert cli.main(["run", "--config", str(run / "config.yaml"), "--out", str(runs), "--quiet"]) == 0, capsys.readouterr()
    assert len(list(runs.iterdir())) == 2


# ----------------------------------------------------------------- YAML that cannot amplify


LAUGHS = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)) + "description: *i\n"


def test_yaml_anchors_aliases_and_deep_nesting_are_refused_at_once(tmp_path):
    cases = {"laughs.yaml": (LAUGHS, "anchors and aliases"), "self.yaml": ("a: &a [*a]\n", "anchors and aliases"),
             "deep.yaml": ("data: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested more than"),
             "deepmap.yaml": ("train:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(200)), "nested more than")}
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ConfigError, match=message) as e:  # refused while parsing: nothing is expanded
            load_yaml(tmp_path / name)
        assert len(str(e.value)) < 400


def test_set_values_refuse_anchors_and_aliases():
    with pytest.raises(ConfigError, match="anchors and aliases"):
        parse_override("description=[&a [1,1,1], [*a, *a, *a]]")
    with pytest.raises(ConfigError, match="nested more than"):
        parse_override("description=" + "[" * 5000 + "]" * 5000)


YAML_TEXT = st.recursive(
    st.one_of(st.sampled_from(["a", "1", "-1", "1e-3", "nan", ".inf", "~", "[", "]", "{", "}", ":", "- ", "&x", "*x", "!!python/name:os.system", "'q'", "\n", "  "]),
              st.text(max_size=6)),
    lambda inner: st.lists(inner, max_size=6).map("".join), max_leaves=30)
KEYS = st.sampled_from(["name", "seed", "out", "cv", "data", "model", "train", "description", "x"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(KEYS, YAML_TEXT), max_size=5))
def test_any_config_file_gives_a_config_or_one_config_error(tmp_path, lines):
    path = tmp_path / "fuzz.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in lines), encoding="utf-8")
    try:
        cfg = load_yaml(path)
    except ConfigError as e:
        assert "\n" not in str(e) and len(str(e)) < 1000
    else:
        assert isinstance(cfg, RunConfig)


def test_a_config_file_that_is_not_utf8_is_one_line(tmp_path, capsys):
    (tmp_path / "latin1.yaml").write_bytes("description: caf\xe9\n".encode("latin-1"))
    msg = fails(capsys, "run", "--config", str(tmp_path / "latin1.yaml"), "--out", str(tmp_path / "runs"))
    assert "is not UTF-8 text (byte 0xe9 at offset 16); save it as UTF-8" in msg


# ----------------------------------------------------------------- preflight: device and data


def bundle_like(shape, task="multiclass", **meta):
    return SimpleNamespace(input_shape=shape, task=task, num_outputs=10 if task == "multiclass" else 1,
                           meta={"dataset": "d", **meta}, facts={})


def test_preflight_precision():
    cfg = apply_overrides(RunConfig(), ["train.precision=fp16"])
    with pytest.raises(ConfigError, match="fp16 needs a CUDA GPU and this run's device is cpu; use train.precision=auto"):
        preflight.check_before_run(cfg, bundle_like((1, 8, 8)), torch.device("cpu"))


def test_preflight_refuses_emulated_bf16(monkeypatch):
    cfg = apply_overrides(RunConfig(), ["train.precision=bf16"])
    monkeypatch.setattr(preflight, "bf16_native", lambda device: False)
    with pytest.raises(ConfigError, match="no native bf16"):
        preflight.check_before_run(cfg, bundle_like((1, 8, 8)), torch.device("cpu"))
    monkeypatch.setattr(preflight, "bf16_native", lambda device: True)
    preflight.check_before_run(cfg, bundle_like((1, 8, 8)), torch.device("cpu"))


@pytest.mark.parametrize("setting,shape,meta,message", [
    ("train.augment=flip", (1, 8, 8), {"mirror_ok": False}, "mirrored d image can change its label"),
    ("train.tta=flip", (1, 8, 8), {"mirror_ok": False}, "set train.tta=none"),
    ("train.augment=translate:2", (30,), {}, "works on images and d's inputs are shaped (30,)"),
    ("train.tta=flip", (20, 4), {}, "works on images"),
    ("train.augment=cutout:9", (1, 8, 8), {}, "cutout:9 is larger than d's 8-pixel images"),
    ("train.monitor=val_rmse", (1, 8, 8), {}, "train.monitor='val_rmse' is not recorded for a multiclass task"),
    ("cv=3", (1, 8, 8), {"cv_ok": False}, "official test split"),
    ("train.loss=bce", (1, 8, 8), {}, "train.loss=bce does not fit a multiclass task; use auto or one of: cross_entropy"),
    ("train.nesterov=true", (1, 8, 8), {}, "needs optimizer sgd with momentum > 0 (got adam"),
])
def test_preflight_refuses_settings_the_data_cannot_honour(setting, shape, meta, message):
    cfg = apply_overrides(RunConfig(), [setting])
    with pytest.raises(ConfigError) as e:
        preflight.check_before_run(cfg, bundle_like(shape, **meta), torch.device("cpu"))
    assert message in str(e.value)


def test_label_smoothing_on_a_loss_that_ignores_it_is_refused():
    cfg = apply_overrides(RunConfig(), ["train.label_smoothing=0.1"])
    with pytest.raises(ConfigError, match="acts on the cross_entropy loss and this binary run uses bce"):
        preflight.check_before_run(cfg, bundle_like((30,), task="binary"), torch.device("cpu"))
    preflight.check_before_run(cfg, bundle_like((30,), task="multiclass"), torch.device("cpu"))


def test_preflight_accepts_flip_on_mirror_safe_images():
    cfg = apply_overrides(RunConfig(), ["train.augment=translate:2,flip", "train.tta=flip", "model.name=small_cnn",
                                        "train.monitor=val_accuracy"])
    preflight.check_before_run(cfg, bundle_like((1, 28, 28), mirror_ok=True), torch.device("cpu"))


def test_mirror_safety_is_a_data_fact():
    from corenets.data import load_dataset

    assert load_dataset("digits").meta["mirror_ok"] is False


def test_a_model_too_big_for_memory_says_how_much_it_needs():
    cfg = apply_overrides(RunConfig(), ["model.hidden=[100000000]"])
    with pytest.raises(ConfigError) as e:  # built on the meta device: nothing is allocated
        preflight.check_model_memory(cfg, bundle_like((64,)), torch.device("cpu"))
    msg = str(e.value)
    assert "7,500,000,010 parameters: training needs about 139.7 GiB" in msg, msg
    assert "GiB" in msg and "choose smaller model options" in msg


def test_memory_check_uses_the_free_memory(monkeypatch):
    cfg = apply_overrides(RunConfig(), ["model.hidden=[1000]"])  # 75,010 parameters: about 1.4 MiB to train
    monkeypatch.setattr(preflight, "available_bytes", lambda device: 1 << 20)
    with pytest.raises(ConfigError, match="75,010 parameters"):
        preflight.check_model_memory(cfg, bundle_like((64,)), torch.device("cpu"))
    monkeypatch.setattr(preflight, "available_bytes", lambda device: 1 << 30)
    preflight.check_model_memory(cfg, bundle_like((64,)), torch.device("cpu"))


# ----------------------------------------------------------------- defect 3, end to end: nothing on disk


@pytest.mark.parametrize("settings,message", [
    (["train.precision=fp16"], "fp16 needs a CUDA GPU"),
    (["train.augment=flip"], "a mirrored digits image can change its label"),
    (["train.tta=flip"], "set train.tta=none"),
    (["train.lr=-1"], "train.lr=-1 is out of range"),
    (["train.monitor=val_nope"], "is not recorded"),
    (["model.hidden=[100000]"], "parameters: training needs about"),
])
def test_mistakes_leave_no_folder(tmp_path, capsys, monkeypatch, settings, message):
    monkeypatch.setattr(preflight, "available_bytes", lambda device: 64 << 20)  # 64 MiB free: deterministic
    msg = fails(capsys, "run", "quickstart", "--out", str(tmp_path / "runs"), *FAST, "--set", *settings)
    assert message in msg
    assert nothing_under(tmp_path / "runs")


def test_a_model_too_big_is_refused_before_it_is_built(tmp_path, capsys, monkeypatch):
    from corenets.experiment_torch import TorchEngine

    def build(self, bundle):
        raise AssertionError("the model was built before preflight sized it")

    monkeypatch.setattr(TorchEngine, "build", build)  # hidden=[100000000] would allocate 30 GB here
    monkeypatch.setattr(preflight, "available_bytes", lambda device: 64 << 30)
    msg = fails(capsys, "run", "quickstart", "--out", str(tmp_path / "runs"), *FAST, "--set", "model.hidden=[100000000]")
    assert "parameters: training needs about" in msg and "more than the 64.0 GiB free on cpu" in msg
    assert nothing_under(tmp_path / "runs")


def test_cross_validation_mistakes_leave_no_parent_folder(tmp_path, capsys):
    msg = fails(capsys, "run", "--data", "breast_cancer", "--model", "mlp", "--cv", "2", "--out", str(tmp_path / "runs"),
                *FAST, "--set", "train.augment=flip")
    assert "works on images" in msg
    assert nothing_under(tmp_path / "runs")


def test_options_module_imports_nothing_from_corenets_but_errors():
    import ast

    import corenets.options as mod

    tree = ast.parse(Path(mod.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 0}
    assert imported == {"errors"}
    for pkg in ("data/__init__.py", "models/__init__.py"):
        assert "from ..config" not in (Path(mod.__file__).parent / pkg).read_text()
    assert os.path.basename(mod.__file__) == "options.py"
