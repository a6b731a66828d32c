import os
from typing import Literal

import pytest

from corenets.config import (RunConfig, apply_overrides, coerce, dump_yaml, from_dict, load_yaml, parse_override,
                             to_dict)
from corenets.errors import ConfigError
from corenets.recipes import load_recipe, recipe_names


@pytest.mark.parametrize("value,tp,expected", [
    (3, int, 3), (3.0, int, 3), (2, float, 2.0), ("x", str, "x"), (True, bool, True),
    (64, list[int], [64]), ([64, 32], list[int], [64, 32]), ("relu", Literal["relu", "tanh"], "relu"),
    (None, int | None, None), (5, int | None, 5),
])
def test_coerce_accepts(value, tp, expected):
    assert coerce(value, tp, "k") == expected


@pytest.mark.parametrize("value,tp", [
    ("abc", float), (1.5, int), (True, int), ("yes", bool), ("gelu", Literal["relu", "tanh"]), (["a"], list[int]),
])
def test_coerce_rejects_with_key_and_type(value, tp):
    with pytest.raises(ConfigError, match=r"^k=.* is not valid; expected"):
        coerce(value, tp, "k")


def test_ranges_ride_on_the_type():
    from typing import Annotated

    from corenets.options import Range

    positive = Annotated[int, Range(ge=1)]
    assert coerce(3, positive, "k") == 3 and coerce([2, 3], Annotated[list[int], Range(ge=1)], "k") == [2, 3]
    with pytest.raises(ConfigError, match=r"^k=0 is out of range; allowed: >= 1$"):
        coerce(0, positive, "k")
    with pytest.raises(ConfigError, match=r"^k=\[2, 0\] is out of range"):
        coerce([2, 0], Annotated[list[int], Range(ge=1)], "k")
    with pytest.raises(ConfigError, match="is not valid; expected int"):
        coerce("3", positive, "k")  # strict: a string is not a number, except for floats (1e-3)
    assert coerce("1e-3", float, "k") == 0.001


def test_parse_override_reads_yaml_values():
    assert parse_override("train.lr=0.01") == (["train", "lr"], 0.01)
    assert parse_override("model.hidden=[64, 32]") == (["model", "hidden"], [64, 32])
    assert parse_override("deterministic=true") == (["deterministic"], True)
    assert parse_override("data.path=my file.csv") == (["data", "path"], "my file.csv")
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("train.lr")
    with pytest.raises(ConfigError, match="empty"):
        parse_override(".lr=1")


def test_overrides_are_type_checked_and_unknown_keys_list_valid_ones():
    cfg = load_recipe("quickstart")
    new = apply_overrides(cfg, ["train.lr=0.01", "seed=3", "model.hidden=[32]"])
    assert (new.train.lr, new.seed, new.model.options["hidden"]) == (0.01, 3, [32])
    assert cfg.train.lr != 0.01  # the original is untouched
    with pytest.raises(ConfigError, match=r"unknown key train.lrr; did you mean 'train.lr'\? valid keys are: .*lr"):
        apply_overrides(cfg, ["train.lrr=1"])
    with pytest.raises(ConfigError, match="unknown key 'colour'"):
        apply_overrides(cfg, ["colour=red"])
    with pytest.raises(ConfigError, match="expected float"):
        apply_overrides(cfg, ["train.lr=fast"])
    with pytest.raises(ConfigError, match="SECTION.KEY"):
        apply_overrides(cfg, ["train.a.b=1"])


def test_changing_the_dataset_drops_the_old_datasets_options():
    cfg = apply_overrides(RunConfig(), ["data.name=csv_table", "data.path=x.csv", "data.target=y"])
    assert cfg.data.options == {"path": os.path.abspath("x.csv"), "target": "y"}  # saved so it repeats from anywhere
    cfg2 = apply_overrides(cfg, ["data.name=digits"])
    assert cfg2.data.options == {}


def test_yaml_round_trip(tmp_path):
    cfg = apply_overrides(load_recipe("quickstart"), ["train.epochs=3", "seed=7"])
    path = tmp_path / "config.yaml"
    path.write_text(dump_yaml(cfg))
    again = load_yaml(path)
    assert to_dict(again) == to_dict(cfg)
    assert again.train.epochs == 3 and again.seed == 7


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_yaml(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(bad)
    with pytest.raises(ConfigError, match="must be a mapping"):
        from_dict({"train": [1, 2]})


def test_every_shipped_recipe_loads():
    assert "quickstart" in recipe_names()
    for name in recipe_names():
        cfg = load_recipe(name)
        assert cfg.name == name
    with pytest.raises(ConfigError, match="unknown recipe 'nope'; choose one of: .*quickstart"):
        load_recipe("nope")


def test_repeated_set_flags_add_up():
    from corenets.cli import build_parser, resolve_config

    args = build_parser().parse_args(["run", "quickstart", "--set", "train.lr=0.01", "--set", "seed=4", "model.hidden=[8]"])
    cfg = resolve_config(args)
    assert (cfg.train.lr, cfg.seed, cfg.model.options["hidden"]) == (0.01, 4, [8])


def test_switching_model_name_keeps_the_options_the_new_model_takes():
    from corenets.recipes import load_recipe

    cfg = apply_overrides(load_recipe("sst2-gru"), ["model.name=lstm"])
    assert cfg.model.name == "lstm"  # the same embedding and sizes, another cell
    assert cfg.model.options == load_recipe("sst2-gru").model.options
    mlp = apply_overrides(load_recipe("sst2-gru"), ["model.name=mlp", "model.hidden=[8]"])
    assert "vocab_size" not in mlp.model.options and mlp.model.options["hidden"] == [8]  # an mlp has no embedding
