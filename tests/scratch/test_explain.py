"""`explain`: the printed numbers are the seeds' values, computed by the engine; options change them."""

from __future__ import annotations

import re

import numpy as np
import pytest

from corenets.errors import ConfigError
from corenets.scratch.explain import TOPICS, explain, optimizer_paths


def _number_after(text: str, label: str) -> float:
    match = re.search(re.escape(label) + r"\s*(-?[0-9.]+)", text)
    assert match, f"{label!r} not in:\n{text}"
    return float(match.group(1))


def test_forward_backward_reproduces_the_student_example():
    text = explain("forward-backward")
    assert "0.8 + 1.5 + 0.2 = 2.5" in text
    assert _number_after(text, "p = sigmoid(z) = 1 / (1 + e^-z) =") == pytest.approx(0.924, abs=5e-4)
    assert _number_after(text, "(0.92 - 0)^2 =") == pytest.approx(0.8464, abs=1e-4)  # the seed's rounding
    assert _number_after(text, "squared error (p - y)^2 =") == pytest.approx(0.8540, abs=1e-4)  # exact
    assert _number_after(text, "-log(0.08) =") == pytest.approx(2.526, abs=1e-3)
    p = 1 / (1 + np.exp(-2.5))
    assert _number_after(text, "dL/dw1 = dL/dz * x1 =") == pytest.approx(2 * p, abs=1e-4)
    assert _number_after(text, "dL/dw2 = dL/dz * x2 =") == pytest.approx(5 * p, abs=1e-4)
    new_w1, new_w2, new_b = 0.4 - 0.1 * 2 * p, 0.3 - 0.1 * 5 * p, 0.2 - 0.1 * p
    assert _number_after(text, f"w1 = 0.4 - 0.1 * {2 * p:.4f} =") == pytest.approx(new_w1, abs=1e-4)
    z2 = 2 * new_w1 + 5 * new_w2 + new_b
    assert _number_after(text, "5. Forward again with the new weights\n   z =") == pytest.approx(z2, abs=1e-4)
    assert _number_after(text, ", p = sigmoid(z) =") == pytest.approx(1 / (1 + np.exp(-z2)), abs=1e-4)


def test_forward_backward_options_change_the_numbers():
    text = explain("forward-backward", hours=4, w1=0.5, lr=0.5)
    assert "= 2 + 1.5 + 0.2 = 3.7" in text
    assert "w1 = 0.5 - 0.5 *" in text


def test_activations_match_the_seed_table():
    text = explain("activations")
    table = text.split("When to use")[0]
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()
            if line.split() and line.split()[0] in {"x", "relu", "sigmoid", "tanh", "leaky_relu"}}
    assert rows["x"] == ["-3", "-2", "3", "5"]
    assert rows["relu"][0] == "0"
    assert float(rows["sigmoid"][2]) == pytest.approx(0.95, abs=0.005)
    assert float(rows["tanh"][1]) == pytest.approx(-0.96, abs=0.005)
    assert "when to use" in text.lower()


def test_losses_punish_a_confident_wrong_answer_most():
    text = explain("losses")
    assert _number_after(text, "MSE =") == pytest.approx(0.2875)
    right, wrong = _number_after(text, "p = 0.90  ->  BCE ="), _number_after(text, "p = 0.01  ->  BCE =")
    assert right == pytest.approx(-np.log(0.9), abs=1e-4) and wrong == pytest.approx(-np.log(0.01), abs=1e-4)
    assert _number_after(text, "true class 0 -> CCE =") == pytest.approx(0.417, abs=1e-3)


def test_conv_edge_filter_pooling_and_output_shape():
    text = explain("conv")
    assert "= 510" in text
    assert "keeps the largest value: 4" in text
    text = explain("conv", size=32, kernel=5, padding=2, stride=2, channels=3, filters=8)
    assert "floor((32 + 2*2 - 5) / 2) + 1 = 16" in text
    assert "gives (1, 8, 16, 16)" in text
    assert "= 608" in text  # 8 x (3*5*5 + 1)


@pytest.mark.parametrize("kwargs,per_epoch,total", [({}, 10, 50), ({"samples": 1050, "epochs": 3}, 11, 33),
                                                     ({"samples": 64, "batch_size": 64, "epochs": 2}, 1, 2)])
def test_epochs_counts_iterations(kwargs, per_epoch, total):
    text = explain("epochs", **kwargs)
    assert _number_after(text, "iterations per epoch = ceil(") is not None
    assert re.search(rf"= {per_epoch}\n", text)
    assert f"= {total} (counted" in text


def test_gates_print_every_gate():
    text = explain("gates")
    for gate in ["i = sigmoid", "f = sigmoid", "g = tanh", "o = sigmoid", "c' =", "r = sigmoid", "z = sigmoid",
                 "n = tanh", "h' = (1 - z)"]:
        assert gate in text
    assert explain("gates", seed=1) != text


def test_optimizers_all_descend_the_bowl():
    paths = optimizer_paths(steps=30)
    assert set(paths) == {"sgd", "momentum", "rmsprop", "adam"}
    f = lambda p: p[0] ** 2 + 10 * p[1] ** 2  # noqa: E731
    for name, path in paths.items():
        assert path.shape == (31, 2)
        assert f(path[-1]) < 0.1 * f(path[0]), name
    assert "rmsprop" in explain("optimizers", steps=5)


def test_unknown_topic_lists_the_topics():
    with pytest.raises(ConfigError) as info:
        explain("backprop")
    for topic in TOPICS:
        assert topic in str(info.value)


def test_unknown_option_lists_the_options():
    with pytest.raises(ConfigError, match="samples.*batch_size.*epochs"):
        explain("epochs", size=3)
