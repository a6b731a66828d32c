"""The generated reference (corenets.reference): every option and every command argument documented, one source
for `corenets list options` and the site; and "did you mean" for mistyped names and keys."""

from __future__ import annotations

import dataclasses

import pytest

from corenets import reference
from corenets.cli import _load_plugins, build_parser, main
from corenets.config import SECTIONS, RunConfig, apply_overrides
from corenets.data import datasets
from corenets.errors import ConfigError
from corenets.models import models
from corenets.options import suggest
from corenets.recipes import load_recipe


def _every_key() -> set[tuple[str, str]]:
    """(key, builder) for every config field and every builder option, read from the code independently."""
    keys = {(f.name, "") for f in dataclasses.fields(RunConfig) if f.name not in SECTIONS}
    for section, cls in SECTIONS.items():  # data, model, train, and any section added since
        keys |= {(f"{section}.{f.name}", "") for f in dataclasses.fields(cls) if f.name != "options"}
    keys.add(("data.as_sequence", ""))
    keys |= {(f"data.{k}", n) for n in datasets().names() for k in datasets().options(n, skip=1)}
    keys |= {(f"model.{k}", n) for n in models().names() for k in models().options(n, skip=2)}
    return keys


def test_every_option_is_in_the_reference_with_a_type_a_default_and_a_description():
    opts = reference.options()
    assert {(o.key, o.builder) for o in opts} == _every_key()
    undocumented = [f"{o.key} ({o.builder})" if o.builder else o.key for o in opts if not o.doc.strip()]
    assert not undocumented, f"options without a description (a comment beside the field or OPTION_HELP): {undocumented}"
    assert all(o.type and o.default for o in opts)
    page = reference.config_markdown()
    for o in opts:
        assert f"| `{o.key}` |" in page, o.key


def test_the_reference_reads_types_ranges_defaults_and_comments_from_the_code():
    by_key = {(o.key, o.builder): o for o in reference.options()}
    lr = by_key[("train.lr", "")]
    assert (lr.type, lr.default) == ("float, > 0 and <= 100", "0.001")
    assert by_key[("train.early_stopping", "")].doc == "patience in epochs; 0 = off"
    assert by_key[("train.optimizer", "")].type == "one of 'sgd', 'adam', 'adamw', 'rmsprop'"
    refit = by_key[("train.refit", "")].doc  # a comment of two lines above the field
    assert refit.startswith("after choosing the epoch on validation") and refit.endswith("stay fitted on training")
    hidden = by_key[("model.hidden", "mlp")]
    assert (hidden.type, hidden.default) == ("a list of int", "[128, 64]")
    assert by_key[("model.readout", "lstm")].type == "one of 'last', 'mean', 'max'"


def test_every_command_argument_is_documented_in_the_cli_reference():
    _load_plugins()
    parser = build_parser()
    cmds = reference.commands(parser)
    assert {"run", "list", "predict", "evaluate", "compare", "serve", "export"} <= set(cmds)
    page = reference.cli_markdown(parser)
    for name, (_, actions) in cmds.items():
        assert f"## corenets {name}" in page
        for a in actions:
            assert reference.argument_help(a).strip(), f"corenets {name} {a.option_strings or a.dest} has no help"
            assert f"`{', '.join(a.option_strings) or a.dest}`" in page
    epochs = next(a for a in cmds["run"][1] if a.dest == "epochs")  # no help of its own: the field's
    assert reference.argument_help(epochs) == "shortcut for --set train.epochs=...: passes over the training rows"


def test_list_options_prints_each_option_with_type_default_and_description(capsys):
    assert main(["list", "options", "train"]) == 0
    out = capsys.readouterr().out
    assert "train.early_stopping" in out and "patience in epochs; 0 = off" in out and "train.grad_clip" in out
    assert "data." not in out and "model." not in out
    assert main(["list", "options", "--model", "lstm"]) == 0
    out = capsys.readouterr().out
    assert "model.hidden_size" in out and "model.members" in out and "model.widths" not in out  # cnn_bn's
    assert "train.lr" not in out
    assert main(["list", "options"]) == 0
    out = capsys.readouterr().out
    assert all(o.key in out for o in reference.options())


@pytest.mark.parametrize("argv, message", [
    (["list", "options", "--data", "fashion_mnst"], "unknown dataset 'fashion_mnst'; did you mean 'fashion_mnist'?"),
    (["list", "options", "train", "--model", "lstm"], "--model names a model's options"),
    (["list", "recipes", "--data", "digits"], "go with `corenets list options`"),
    (["list", "options", "trian"], "unknown section 'trian'; did you mean 'train'?"),
])
def test_list_options_mistakes_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, message", [
    (["run", "quikstart"], "unknown recipe 'quikstart'; did you mean 'quickstart'?"),
    (["run", "Quickstart"], "did you mean 'quickstart'?"),
    (["run", "--data", "fashion-mnist", "--model", "mlp"], "did you mean 'fashion_mnist'?"),
    (["run", "quickstart", "--model", "lstn"], "unknown model 'lstn'; did you mean 'lstm'?"),
    (["run", "quickstart", "--set", "model.hiden=[3]"], "unknown option model.hiden; did you mean 'model.hidden'?"),
    (["run", "quickstart", "--set", "train.learning_rate=0.1"], "did you mean 'train.lr'?"),
    (["run", "quickstart", "--set", "sed=3"], "unknown key 'sed'; did you mean 'seed'?"),
])
def test_a_mistyped_name_or_key_gets_a_suggestion(argv, message, capsys, tmp_path):
    assert main(argv + ["--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_no_suggestion_when_nothing_is_close():
    assert suggest("xyzzy", ["lr", "epochs"]) == ""
    with pytest.raises(ConfigError) as e:
        apply_overrides(load_recipe("quickstart"), ["train.xyzzy=1"])
    assert "did you mean" not in str(e.value) and "valid keys are:" in str(e.value)
    assert suggest("patience", ["early_stopping", "lr"]) == "did you mean 'early_stopping'? "
    assert suggest("patience", ["lr"]) == ""  # an alias is offered only where it exists


def _hook(name: str):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "docs" / "hooks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_error_page_lists_the_messages_raised_in_the_code(tmp_path):
    from pathlib import Path

    pages = _hook("error_pages")
    pkg = tmp_path / "corenets"
    pkg.mkdir()
    (pkg / "errors.py").write_text("class CorenetsError(Exception): pass\nclass ConfigError(CorenetsError): pass\n"
                                   "class MyError(ConfigError): pass\n")
    (pkg / "mod.py").write_text("def f(x):\n    if x:\n        raise MyError(f'bad {x}; use --set a=1')\n"
                                "    raise ConfigError('plain' + ' joined')\n    raise ValueError('not ours')\n")
    assert pages.collect(pkg) == {"corenets.mod": [("MyError", "bad …; use --set a=1"), ("ConfigError", "plain joined")]}
    real = pages.errors_markdown(Path(__file__).resolve().parents[1] / "src" / "corenets")
    assert "give a recipe name or --config, not both" in real  # cli.py
    assert "`InputError`" in real and real.count("\n- `") > 200


def test_a_tutorial_renders_as_a_page_of_text_and_code(tmp_path):
    gen = _hook("generate")
    nb = tmp_path / "01_x.py"
    nb.write_text('# ---\n# jupyter:\n#   jupytext:\n#     text_representation:\n#       extension: .py\n'
                  '#       format_name: percent\n# ---\n\n# %% [markdown]\n# # Title\n#\n# Some *text*.\n\n'
                  '# %% tags=["parameters"]\nFAST = True\n\n# %%\nprint(1)\n')
    page, images = gen.tutorial_markdown(nb)
    assert page.startswith("# Title\n\nSome *text*.\n\n```python\nFAST = True\n```\n\n```python\nprint(1)\n```")
    assert "jupyter:" not in page and images == {} and "Run it to see" in page
    import jupytext
    import nbformat

    ran = jupytext.read(nb)
    ran.cells[1].source = "FAST = False"  # the parameters cell may differ
    ran.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n"),
                            nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})]
    nbformat.write(ran, str(tmp_path / "01_x.ipynb"))
    page, images = gen.tutorial_markdown(nb, tmp_path / "01_x.ipynb")
    assert "```python\nprint(1)\n```\n\n```text\n1\n```\n\n![output 1](img/01_x-1.png)" in page
    assert images == {"img/01_x-1.png": b"\x89PNG\r\n\x1a\n"}
    ran.cells[2].source = "print(2)"  # stale outputs (the code changed since the run) are not shown
    nbformat.write(ran, str(tmp_path / "01_x.ipynb"))
    assert gen.tutorial_markdown(nb, tmp_path / "01_x.ipynb")[1] == {}


def test_the_readme_is_short_defines_the_seed_models_and_links_only_to_files_that_exist():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150
    for internal in ("flock", ".ci/", "../shared", "/tmp/", "/work/"):
        assert internal not in readme, internal
    first = readme.lower().index("seed")
    assert readme[first - 4:first + 11].lower() == "the seed models"  # defined where first named
    assert "Keras and PyTorch teaching notebooks" in readme
    links = [t for t in re.findall(r"\]\(([^)#\s]+)", readme) if "://" not in t]
    assert links and all((root / t).exists() for t in links), [t for t in links if not (root / t).exists()]
