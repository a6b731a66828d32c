"""`corenets explain TOPIC`: the lessons, step by step, with every number computed by the scratch engine.

Each topic is a function `(**options) -> str`; TOPICS maps its name to it and
`explain(topic, **options)` checks both. Numbers are formatted from engine
tensors, never typed in, so a change to the engine shows up here (and in
tests/scratch/test_explain.py, which compares them with the seeds' values).
"""

from __future__ import annotations

import inspect
import math
from typing import Callable

import numpy as np

from ..errors import ConfigError
from . import functional as F
from . import losses, optim
from .engine import Tensor
from .nn import Linear, Parameter
from .recurrent import gru_step, lstm_step


def _f(x, digits: int = 4) -> str:
    """A number (or a 1-element tensor) rounded to `digits` decimals, trailing zeros dropped: 2.5, 0.9241, 4."""
    v = np.asarray(x.data if isinstance(x, Tensor) else x, dtype=float).item()
    text = f"{v:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _floats(text: str | float | list) -> list[float]:
    if isinstance(text, (int, float)):
        return [float(text)]
    if isinstance(text, (list, tuple)):
        return [float(t) for t in text]
    return [float(t) for t in str(text).split(",") if t.strip()]


# ---------------------------------------------------------------- forward-backward

def forward_backward(hours: float = 2.0, sleep: float = 5.0, w1: float = 0.4, w2: float = 0.3, b: float = 0.2,
                     target: float = 0.0, lr: float = 0.1) -> str:
    """The seeds' student: will they pass? One neuron, sigmoid output, one gradient-descent step."""
    x = Tensor([hours, sleep])
    w, bias = Parameter([w1, w2]), Parameter(b)
    z = (x * w).sum() + bias
    p = z.sigmoid()
    bce = losses.binary_cross_entropy(p.reshape(1), [target])
    se = (p - target) ** 2
    p_seed = Tensor(round(p.item(), 2))  # the seed rounds p to 0.92 before squaring
    se_seed, bce_seed = (p_seed - target) ** 2, -(1 - p_seed).log() if target == 0 else -p_seed.log()
    bce.backward()  # the engine keeps every intermediate gradient (p.grad, z.grad) for the printout
    lines = [
        "Forward and backward propagation: one neuron, the seeds' student example",
        "",
        f"Inputs: hours studied x1 = {_f(x.data[0])}, hours of sleep x2 = {_f(x.data[1])}; "
        f"true answer y = {_f(target)} ({'fail' if target == 0 else 'pass'})",
        f"Weights w1 = {_f(w.data[0])}, w2 = {_f(w.data[1])}, bias b = {_f(bias)}",
        "",
        "1. Forward: weighted sum, then activation",
        f"   z = w1*x1 + w2*x2 + b = {_f(x.data[0] * w.data[0])} + {_f(x.data[1] * w.data[1])} + {_f(bias)}"
        f" = {_f(z)}",
        f"   p = sigmoid(z) = 1 / (1 + e^-z) = {_f(p)}  (about {_f(p, 3)}: the model says 'pass' with "
        f"{_f(p.item() * 100, 1)}% confidence)",
        "",
        "2. Loss: how wrong is that?",
        f"   squared error (p - y)^2 = {_f(se)} exactly; the seed rounds p to {_f(p_seed, 2)} first: "
        f"({_f(p_seed, 2)} - {_f(target)})^2 = {_f(se_seed)}",
        f"   binary cross-entropy -[y log p + (1-y) log(1-p)] = {_f(bce, 3)} exactly; with p = {_f(p_seed, 2)} "
        f"(the seed's rounding): -log({_f(1 - p_seed.item() if target == 0 else p_seed.item(), 2)}) = {_f(bce_seed, 3)}",
        "",
        "3. Backward: the chain rule, from the loss back to each weight (binary cross-entropy)",
        f"   dL/dp = {_f(p.grad)}      (= -(y/p) + (1-y)/(1-p))",
        f"   dp/dz = p(1-p) = {_f(p.item() * (1 - p.item()))}",
        f"   dL/dz = dL/dp * dp/dz = {_f(z.grad)}      (= p - y: sigmoid and cross-entropy cancel neatly)",
        f"   dL/dw1 = dL/dz * x1 = {_f(w.grad[0])}",
        f"   dL/dw2 = dL/dz * x2 = {_f(w.grad[1])}",
        f"   dL/db  = dL/dz * 1  = {_f(bias.grad)}",
        "",
        f"4. One gradient-descent step, learning rate {_f(lr)}: w <- w - lr * dL/dw",
    ]
    old = [w.data.copy(), bias.data.copy()]
    optim.SGD([w, bias], lr=lr).step()
    lines += [
        f"   w1 = {_f(old[0][0])} - {_f(lr)} * {_f(w.grad[0])} = {_f(w.data[0])}",
        f"   w2 = {_f(old[0][1])} - {_f(lr)} * {_f(w.grad[1])} = {_f(w.data[1])}",
        f"   b  = {_f(old[1])} - {_f(lr)} * {_f(bias.grad)} = {_f(bias)}",
    ]
    z2 = (x * w).sum() + bias
    p2 = z2.sigmoid()
    bce2 = losses.binary_cross_entropy(p2.reshape(1), [target])
    lines += [
        "",
        "5. Forward again with the new weights",
        f"   z = {_f(z2)}, p = sigmoid(z) = {_f(p2)}, loss = {_f(bce2, 3)} (was {_f(bce, 3)}): "
        f"the prediction moved towards y = {_f(target)}",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- activations

def activations(points: str = "-3,-2,3,5", negative_slope: float = 0.01) -> str:
    """ReLU, leaky ReLU, sigmoid, tanh (value and slope) at a few points, and softmax over them."""
    xs = _floats(points)
    rows = []
    for name, fn in [("relu", lambda t: t.relu()), ("leaky_relu", lambda t: t.leaky_relu(negative_slope)),
                     ("sigmoid", lambda t: t.sigmoid()), ("tanh", lambda t: t.tanh())]:
        x = Parameter(xs)
        y = fn(x)
        y.sum().backward()  # slope of each element, by the engine
        rows.append((name, y.data, x.grad))
    width = max(8, *(len(_f(v)) + 2 for v in xs))
    head = "x".ljust(12) + "".join(_f(v).rjust(width) for v in xs)
    lines = ["Activations: value (and slope, as backpropagation sees it)", "", head]
    for name, vals, slopes in rows:
        lines.append(name.ljust(12) + "".join(_f(v).rjust(width) for v in vals))
        lines.append("  slope".ljust(12) + "".join(_f(v).rjust(width) for v in slopes))
    sm = F.softmax(Tensor(xs))
    lines += [
        "softmax".ljust(12) + "".join(_f(v).rjust(width) for v in sm.data) + f"   (sums to {_f(sm.sum())})",
        "",
        "When to use each:",
        "  relu        hidden layers by default: cheap, slope 1 for x > 0 so gradients do not fade; 0 for x < 0",
        f"  leaky_relu  like relu, but a small slope ({negative_slope}) for x < 0 so no unit 'dies'",
        "  sigmoid     the output of a yes/no (binary) classifier: squashes to (0, 1); its slope is at most 0.25,"
        " so deep stacks of it make gradients vanish",
        "  tanh        zero-centred squashing to (-1, 1): RNN/LSTM/GRU hidden states",
        "  softmax     the output of a multiclass classifier: turns scores into probabilities that sum to 1",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- losses

def losses_(confidence: float = 0.99) -> str:
    """MSE, BCE and CCE on small examples; a confident wrong answer costs far more than a hesitant one."""
    pred, true = Tensor([2.5, 0.0, 2.1, 7.8]), Tensor([3.0, -0.5, 2.0, 7.0])
    lines = ["Loss functions (mean over the examples)", "",
             "Mean squared error, for regression: mean((prediction - truth)^2)",
             f"   predictions {pred.data.tolist()}, truths {true.data.tolist()}",
             f"   squared errors {', '.join(_f(v) for v in ((pred - true) ** 2).data)} -> MSE = {_f(losses.mse_loss(pred, true))}",
             "", "Binary cross-entropy, for yes/no: -[y log p + (1 - y) log(1 - p)]  (truth y = 1)"]
    for p, note in [(0.9, "confident and right"), (0.6, "unsure"), (0.1, "wrong"), (1 - confidence, "confident and wrong")]:
        loss = losses.binary_cross_entropy(Tensor([p]), [1.0])
        lines.append(f"   p = {p:.2f}  ->  BCE = {_f(loss)}   ({note})")
    lines += ["", "Categorical cross-entropy, for one of K classes: -log softmax(scores)[true class]"]
    for scores, note in [([2.0, 1.0, 0.1], "right class scores highest"), ([0.1, 1.0, 2.0], "wrong class highest"),
                         ([-3.0, 0.0, 5.0], "confidently wrong")]:
        logits = Tensor([scores])
        probs = F.softmax(logits).data[0]
        loss = losses.cross_entropy(logits, [0])
        lines.append(f"   scores {scores} -> probabilities {', '.join(f'{v:.3f}' for v in probs)}, true class 0"
                     f" -> CCE = {_f(loss)}   ({note})")
    lines += ["", "Why cross-entropy for classifiers: it grows without bound as a confident answer gets more wrong,",
              "and after a sigmoid/softmax its gradient is simply (p - y), so learning never stalls."]
    return "\n".join(lines)


# ---------------------------------------------------------------- conv

def conv(size: int = 28, kernel: int = 3, padding: int = 0, stride: int = 1, channels: int = 1, filters: int = 32) -> str:
    """The seeds' edge filter on a 3x3 patch, max pooling, and the output shape for your numbers."""
    patch = Tensor([[[[255.0, 255, 0], [255, 0, 0], [0, 0, 0]]]])  # (N=1, C=1, 3, 3)
    edge = Tensor([[[[1.0, 0, -1], [1, 0, -1], [1, 0, -1]]]])  # (F=1, C=1, 3, 3): bright left, dark right
    response = F.conv2d(patch, edge)
    image = Tensor(np.tile([255.0, 255, 255, 0, 0, 0], (6, 1))[None, None])  # a vertical edge in a 6x6 image
    feature_map = F.conv2d(image, edge)
    pooled = F.max_pool2d(Tensor([[[[1.0, 3], [2, 4]]]]), 2)
    out_h = F.conv_output_size(size, kernel, stride, padding)
    lines = [
        "Convolution: slide a filter over the image, multiply element by element, add up", "",
        "The patch            The vertical-edge filter",
    ]
    for r in range(3):
        lines.append("  " + " ".join(f"{v:4.0f}" for v in patch.data[0, 0, r]) + "        "
                     + " ".join(f"{v:3.0f}" for v in edge.data[0, 0, r]))
    lines += [
        "sum(patch * filter) = " + " + ".join(f"{_f(a)}*{_f(b)}" for a, b in zip(patch.data.ravel(), edge.data.ravel())
                                              if a * b) + f" (every other product is 0) = {_f(response)}: a large value, so this patch has an edge (bright on the left)",
        "",
        "The same filter over a 6x6 image whose left half is 255 and right half 0 -> a 4x4 feature map:",
        *["  " + " ".join(f"{v:5.0f}" for v in row) for row in feature_map.data[0, 0]],
        "It responds only where the edge is.",
        "",
        f"Max pooling 2x2 of [[1, 3], [2, 4]] keeps the largest value: {_f(pooled)}",
        "",
        f"Output size = floor((input + 2*padding - kernel) / stride) + 1 = "
        f"floor(({size} + 2*{padding} - {kernel}) / {stride}) + 1 = {out_h}",
    ]
    if out_h < 1:
        lines.append(f"The kernel {kernel} does not fit an input of {size} with padding {padding}: pick a smaller kernel.")
        return "\n".join(lines)
    if size <= 256:  # check the formula on the engine itself
        y = F.conv2d(Tensor(np.zeros((1, channels, size, size))), Tensor(np.zeros((filters, channels, kernel, kernel))),
                     stride=stride, padding=padding)
        lines.append(f"The engine agrees: input (1, {channels}, {size}, {size}) with {filters} filters of "
                     f"{kernel}x{kernel} gives {y.shape}")
    lines.append(f"Parameters of that layer: {filters} x ({channels} x {kernel} x {kernel} + 1 bias) = "
                 f"{filters * (channels * kernel * kernel + 1)}")
    return "\n".join(lines)


# ---------------------------------------------------------------- epochs

def epochs(samples: int = 1000, batch_size: int = 100, epochs: int = 5) -> str:
    """Epoch, batch and iteration: counted by running the scratch fit loop on a dataset of that size."""
    from .train import fit

    if min(samples, batch_size, epochs) < 1:
        raise ConfigError(f"samples={samples}, batch_size={batch_size}, epochs={epochs} must all be >= 1")
    per_epoch = math.ceil(samples / batch_size)
    lines = ["Epochs, batches and iterations", "",
             f"A dataset of {samples} examples, batches of {batch_size}, {epochs} epochs:",
             f"  iterations per epoch = ceil({samples} / {batch_size}) = {per_epoch}"]
    if samples % batch_size:
        lines.append(f"  (the last batch of each epoch holds only {samples % batch_size} examples)")
    if samples * epochs <= 2_000_000:
        model = Linear(1, 1, rng=np.random.default_rng(0))
        opt = optim.SGD(model.parameters(), lr=0.01)
        count = {"steps": 0}
        step = opt.step
        opt.step = lambda: (count.__setitem__("steps", count["steps"] + 1), step())[1]  # count the updates
        x = np.random.default_rng(0).normal(size=(samples, 1))
        fit(model, losses.mse_loss, opt, x, 2 * x, epochs=epochs, batch_size=batch_size)
        lines.append(f"  total iterations = {per_epoch} x {epochs} = {count['steps']} "
                     "(counted: the scratch fit loop made that many weight updates)")
    else:
        lines.append(f"  total iterations = {per_epoch} x {epochs} = {per_epoch * epochs}")
    lines += ["", "One iteration = one batch forward, one backward, one weight update.",
              "One epoch = every training example seen once. Smaller batches: more, noisier updates per epoch."]
    return "\n".join(lines)


# ---------------------------------------------------------------- gates

def gates(inputs: str = "0.5,-1.0", hidden: str = "0.1,-0.2", seed: int = 0) -> str:
    """One LSTM step and one GRU step on a tiny input, every gate printed (gate order i,f,g,o and r,z,n)."""
    x, h = Tensor([_floats(inputs)]), Tensor([_floats(hidden)])
    n_in, n_h = x.shape[1], h.shape[1]
    rng = np.random.default_rng(seed)
    weights = lambda k: [Tensor(rng.uniform(-0.5, 0.5, s)) for s in  # noqa: E731
                         ((k * n_h, n_in), (k * n_h, n_h), (k * n_h,), (k * n_h,))]
    c = Tensor(np.zeros((1, n_h)))
    h1, c1, g = lstm_step(x, h, c, *weights(4))
    vec = lambda t: "[" + ", ".join(f"{v:.4f}" for v in t.data.ravel()) + "]"  # noqa: E731
    lines = [f"Recurrent gates: input x = {vec(x)}, previous hidden state h = {vec(h)}, "
             f"seeded random weights (seed {seed})", "",
             "LSTM (cell state c starts at 0)",
             f"  i = sigmoid(W_i [x, h] + b_i) = {vec(g['i'])}   input gate: how much new to write",
             f"  f = sigmoid(W_f [x, h] + b_f) = {vec(g['f'])}   forget gate: how much old cell to keep",
             f"  g = tanh   (W_g [x, h] + b_g) = {vec(g['g'])}   candidate values",
             f"  o = sigmoid(W_o [x, h] + b_o) = {vec(g['o'])}   output gate: how much cell to show",
             f"  c' = f * c + i * g = {vec(c1)}",
             f"  h' = o * tanh(c') = {vec(h1)}", ""]
    h2, gg = gru_step(x, h, *weights(3))
    lines += ["GRU",
              f"  r = sigmoid(W_r [x, h] + b_r) = {vec(gg['r'])}   reset gate: how much past to use in n",
              f"  z = sigmoid(W_z [x, h] + b_z) = {vec(gg['z'])}   update gate: how much old h to keep",
              f"  n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) = {vec(gg['n'])}   candidate state",
              f"  h' = (1 - z) * n + z * h = {vec(h2)}", "",
              "Gate rows are stacked in PyTorch's order (LSTM i,f,g,o; GRU r,z,n), so torch weights copy 1:1."]
    return "\n".join(lines)


# ---------------------------------------------------------------- optimizers

def _bowl(p: Tensor) -> Tensor:
    """f(x, y) = x^2 + 10 y^2: a long narrow valley, minimum 0 at (0, 0)."""
    return p[0] ** 2 + 10 * p[1] ** 2


OPTIMIZERS: dict[str, Callable] = {
    "sgd": lambda ps, lr: optim.SGD(ps, lr=lr or 0.04),
    "momentum": lambda ps, lr: optim.SGD(ps, lr=lr or 0.04, momentum=0.8),
    "rmsprop": lambda ps, lr: optim.RMSprop(ps, lr=lr or 0.3),
    "adam": lambda ps, lr: optim.Adam(ps, lr=lr or 0.2),
}


def optimizer_paths(steps: int = 30, start: str = "-4,2", lr: float = 0.0) -> dict[str, np.ndarray]:
    """Each optimiser's (steps + 1, 2) path on the bowl from `start`; lr 0 = each one's default."""
    paths = {}
    for name, make in OPTIMIZERS.items():
        p = Parameter(_floats(start))
        opt, path = make([p], lr), [p.data.copy()]
        for _ in range(steps):
            opt.zero_grad()
            _bowl(p).backward()
            opt.step()
            path.append(p.data.copy())
        paths[name] = np.array(path)
    return paths


def optimizers(steps: int = 30, start: str = "-4,2", lr: float = 0.0) -> str:
    """SGD, momentum, RMSProp and Adam on the same 2-D bowl f(x, y) = x^2 + 10 y^2."""
    paths = optimizer_paths(steps, start, lr)
    show = sorted({1, 2, 3, 5, 10, steps // 2, steps} - {0})
    show = [s for s in show if s <= steps]
    lines = [f"Optimisers on the bowl f(x, y) = x^2 + 10 y^2 from ({start}), {steps} steps "
             f"(learning rates: {'each default' if not lr else lr})", ""]
    lines.append("step".ljust(6) + "".join(name.rjust(30) for name in paths))
    for s in [0, *show]:
        cells = []
        for path in paths.values():
            x, y = path[s]
            cells.append(f"({x:7.3f},{y:7.3f}) f={x * x + 10 * y * y:7.3f}".rjust(30))
        lines.append(str(s).ljust(6) + "".join(cells))
    lines += ["", "Each cell: (x, y) and f. Plain SGD crawls along the flat x direction; momentum builds up speed",
              "(and overshoots); RMSProp and Adam divide each direction by its running gradient size, so x and y",
              "move at a similar pace; Adam adds momentum on top, so it too overshoots and circles back."]
    return "\n".join(lines)


TOPICS: dict[str, Callable[..., str]] = {
    "forward-backward": forward_backward,
    "activations": activations,
    "losses": losses_,
    "conv": conv,
    "epochs": epochs,
    "gates": gates,
    "optimizers": optimizers,
}


def options(topic: str) -> dict[str, object]:
    """A topic's options and their defaults."""
    return {k: v.default for k, v in inspect.signature(TOPICS[topic]).parameters.items()}


def explain(topic: str, **kwargs) -> str:
    """The lesson for `topic` as text. Raises ConfigError for an unknown topic or option (listing the choices)."""
    if topic not in TOPICS:
        raise ConfigError(f"unknown topic {topic!r}; choose one of: {', '.join(TOPICS)}")
    allowed = options(topic)
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ConfigError(f"explain {topic}: unknown option(s) {', '.join(unknown)}; choose from: "
                          + ", ".join(f"{k} (default {v})" for k, v in allowed.items()))
    return TOPICS[topic](**kwargs)
