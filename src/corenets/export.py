"""Export a run's model to ONNX (checked with onnxruntime) or TorchScript, with its preprocessing as JSON.

    corenets export runs/<run> --format onnx [--out model.onnx]

The batch dimension is dynamic, and so is the sequence length of text models. After
export the file is run on a real batch of the run's test data (or, when that data
cannot be loaded, a batch of the right shape and type) and compared with PyTorch;
the largest absolute difference is printed and must be <= 1e-4.

ONNX uses torch's newer exporter (torch.export, dynamo=True) first and falls back to
the TorchScript-based one (dynamo=False) where it fails or does not match. Text models
pack their padded sequences (pack_padded_sequence), which neither exporter
supports; they are exported through `UnpackedRecurrent`, the same computation without
packing, and the parity check compares it with the original packed model. An exported file whose
batch or sequence axis came out fixed is refused by name; torch 2.13's torch.export fixes it for a
vanilla text RNN (it has a while-loop form of GRU and LSTM only), which "auto" then exports the TorchScript way.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import CorenetsError
from .models.recurrent import mean_of_pieces

TOLERANCE = 1e-4
FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}


class ExportError(CorenetsError):
    """The model could not be exported, or the exported file does not match PyTorch."""


@dataclass
class ExportResult:
    path: Path
    preprocessing: Path  # the JSON beside the model
    exporter: str  # "dynamo", "torchscript-onnx" or "torchscript"
    max_abs_diff: float
    checked_on: str  # what the parity batch was
    shapes: list[tuple[int, ...]]  # the input shapes compared (batch, one row, a shorter sequence)


# ------------------------------------------------------------------ text models without packing


class UnpackedRecurrent(nn.Module):
    """A RecurrentNet with an embedding front, computed without pack_padded_sequence.

    Same numbers as the packed original: the real tokens are moved to the front of each
    row (a scatter, not a sort), every layer runs over the whole padded row, and the
    backward direction runs over each row's real tokens reversed (a gather), so neither
    direction ever reads a pad before a real token. Outputs past a row's length are
    zeroed as pad_packed_sequence does. Stacked and bidirectional layers are split into
    single-layer, single-direction copies of the original weights.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        rnn = net.rnn
        self.embed, self.head, self.readout, self.dirs = net.embed, net.head, net.readout, net.dirs
        self.grams = net.grams  # character n-grams (model.subwords), or None
        self.hidden = rnn.hidden_size
        extra = {"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}
        self.cells = nn.ModuleList()
        for layer in range(rnn.num_layers):
            for d in range(self.dirs):
                size = rnn.input_size if layer == 0 else rnn.hidden_size * self.dirs
                cell = type(rnn)(size, rnn.hidden_size, num_layers=1, bias=rnn.bias, batch_first=True, **extra)
                sfx = "_reverse" if d else ""
                with torch.no_grad():
                    for name in ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if rnn.bias else ()):
                        getattr(cell, f"{name}_l0").copy_(getattr(rnn, f"{name}_l{layer}{sfx}"))
                self.cells.append(cell)
        self.eval()

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        real = (ids if self.grams is None else ids[..., 0]) != 0  # (B, T); pad id 0
        ones = real.long()  # int64 before cumsum: ONNX CumSum takes no booleans
        n_real = ones.sum(1, keepdim=True)  # (B, 1)
        # stable compaction: real token k goes to k, pads after them
        pos = torch.where(real, ones.cumsum(1) - 1, n_real + (1 - ones).cumsum(1) - 1)
        ids = torch.zeros_like(ids).scatter(1, pos if self.grams is None else pos.unsqueeze(-1).expand_as(ids), ids)
        lengths = n_real.clamp(min=1)  # an empty row reads one pad step, as the packed model does
        t = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)  # (1, T)
        valid = t < lengths  # (B, T)
        rev = torch.where(valid, lengths - 1 - t, t)  # reverses the first `length` steps of each row
        x = self.embed(ids) if self.grams is None else mean_of_pieces(self.embed, self.grams, ids)  # (B, T, E)
        for layer in range(len(self.cells) // self.dirs):
            fwd, _ = self.cells[layer * self.dirs](x)  # (B, T, H)
            outs = [fwd]
            if self.dirs == 2:
                idx = rev.unsqueeze(-1).expand(-1, -1, x.shape[-1])
                bwd, _ = self.cells[layer * self.dirs + 1](x.gather(1, idx))
                outs.append(bwd.gather(1, rev.unsqueeze(-1).expand(-1, -1, bwd.shape[-1])))  # back to time order
            x = torch.cat(outs, -1) * valid.unsqueeze(-1).to(x.dtype)  # (B, T, D*H), zeros past length
        h = self.hidden
        if self.readout == "last":
            last = x.gather(1, (lengths - 1).unsqueeze(-1).expand(-1, 1, x.shape[-1])).squeeze(1)  # (B, D*H)
            feats = last if self.dirs == 1 else torch.cat([last[:, :h], x[:, 0, h:]], -1)  # backward ends at t=0
        elif self.readout == "mean":
            feats = x.sum(1) / lengths.to(x.dtype)
        else:
            feats = x.masked_fill(~valid.unsqueeze(-1), float("-inf")).amax(1)
        return self.head(feats)


def exportable(model: nn.Module) -> nn.Module:
    """The module exporters are given: the model itself, or its unpacked twin for token-id recurrent nets."""
    from .models.ensemble import Ensemble

    if isinstance(model, Ensemble):  # the same average over each member's exportable form
        return Ensemble([exportable(m) for m in model.members], model.task).eval()
    if getattr(model, "embed", None) is not None and hasattr(model, "rnn"):
        return UnpackedRecurrent(model)
    return model


# ------------------------------------------------------------------ parity batches


def parity_batch(run, n: int = 32) -> tuple[torch.Tensor, str]:
    """A real batch: the first `n` test inputs of the run's data; else a synthetic one of the right shape."""
    try:
        from .experiment import load_data

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x = load_data(run.config).test.x[:n]
        return x, f"{len(x)} test inputs of {run.spec.get('meta', {}).get('dataset')}"
    except (CorenetsError, OSError) as e:
        g = torch.Generator().manual_seed(0)
        shape = (n, *run.spec["input_shape"])
        options = {**run.spec["model"]["options"], **(run.spec.get("facts") or {})}  # facts: the data's, saved
        if options.get("vocab_size", 0) > 0:
            x = torch.randint(1, options["vocab_size"], shape, generator=g)
            if len(shape) == 3:  # word ids, then n-gram buckets 0..subwords
                x[..., 1:] = torch.randint(0, options.get("subwords", 0) + 1, (*shape[:2], shape[2] - 1), generator=g)
            x[::2, shape[1] // 2:] = 0  # half the rows padded
        else:
            x = torch.randn(shape, generator=g)
        return x, f"{n} synthetic inputs (the test data could not be loaded: {str(e)[:100]})"


def _variants(x: torch.Tensor, seq: bool) -> list[torch.Tensor]:
    """The batch, one row of it, and for text a shorter sequence: the dynamic axes must all work."""
    out = [x, x[:1]]
    if seq and x.shape[1] > 2:
        out.append(x[:, : max(2, x.shape[1] // 2)].contiguous())
    return out


def _max_diff(run_fn, module: nn.Module, xs: list[torch.Tensor]) -> float:
    worst = 0.0
    with torch.inference_mode():
        for x in xs:
            ref = module(x).float().numpy()
            got = np.asarray(run_fn(x), dtype=np.float32)
            if got.shape != ref.shape:
                raise ExportError(f"the exported model returned shape {got.shape} for input {tuple(x.shape)}, PyTorch {ref.shape}")
            worst = max(worst, float(np.abs(got - ref).max()))
    return worst


# ------------------------------------------------------------------ exporters


# torch.onnx's dynamo exporter swaps a while-loop GRU/LSTM (one that keeps the sequence axis dynamic) into these ops'
# py_kernels for the length of an export, but does not clear the op's Python dispatch cache. After a process's first
# export the cache holds the unrolled decomposition, the next export traces that instead, torch.export specialises the
# sequence length, and the exporter silently fixes it (sequence = the parity batch's length). Clearing the cache on
# the way in and out makes every export in a process see what the first one saw (torch 2.13).
_RNN_OPS = ("gru", "lstm")


@contextlib.contextmanager
def _fresh_rnn_dispatch():
    def clear():
        for name in _RNN_OPS:
            cache = getattr(getattr(torch.ops.aten, name).input, "_dispatch_cache", None)
            if cache is not None:
                cache.clear()

    clear()
    try:
        yield
    finally:
        clear()


def _onnx_export(module: nn.Module, x: torch.Tensor, path: Path, dynamo: bool, seq: bool) -> None:
    import logging

    kw: dict[str, Any] = {"input_names": ["input"], "output_names": ["output"]}
    log = logging.getLogger("torch.onnx")
    level = log.level
    log.setLevel(logging.ERROR)  # the exporter logs its progress and the torchvision ops it skips
    quiet = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            warnings.simplefilter("ignore")
            if dynamo:
                from torch.export import Dim

                shapes = {0: Dim("batch", min=1, max=65536)}
                if seq:
                    shapes[1] = Dim("sequence", min=2, max=65536)
                with _fresh_rnn_dispatch():
                    torch.onnx.export(module, (x,), str(path), dynamo=True, external_data=False,
                                      dynamic_shapes=(shapes,), verbose=False, **kw)
            else:
                axes = {0: "batch", 1: "sequence"} if seq else {0: "batch"}
                torch.onnx.export(module, (x,), str(path), dynamo=False, opset_version=17,
                                  dynamic_axes={"input": axes, "output": {0: "batch"}}, **kw)
    finally:
        log.setLevel(level)


def _onnx_runner(path: Path, seq: bool = False):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name, shape = sess.get_inputs()[0].name, sess.get_inputs()[0].shape
    for axis, what in [(0, "batch"), (1, "sequence")][: 1 + seq]:
        if isinstance(shape[axis], int):  # an exporter that specialised a dynamic axis says so, not onnxruntime later
            raise ExportError(f"the exported model fixed the {what} axis at {shape[axis]}; it must stay dynamic")
    return lambda x: sess.run(None, {name: x.numpy()})[0]


def _torchscript_export(module: nn.Module, x: torch.Tensor, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated upstream but still the simplest file C++ can load
        traced = torch.jit.trace(module, (x,), check_trace=False)
        torch.jit.save(traced, str(path))


def _torchscript_runner(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = torch.jit.load(str(path), map_location="cpu")
    return lambda x: m(x).detach().numpy()


def check_target(path: Path, suffix: str = ".onnx") -> None:
    """--out must be a regular file (replaced) or a new path whose existing folders are folders: never a folder, a
    link, or a device such as /dev/full (an atomic replace would swap the device node itself for the model)."""
    import stat

    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    except OSError as e:
        raise ExportError(f"--out {path} cannot be checked ({e.strerror or e}); choose another path") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise ExportError(f"--out {path} is a folder; give a file path, e.g. --out {path / ('model' + suffix)}")
    if mode is not None and not stat.S_ISREG(mode):
        what = "a symbolic link" if stat.S_ISLNK(mode) else "a device or special file"
        raise ExportError(f"--out {path} is {what}, not a regular file; give a new file path or an existing file")
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise ExportError(f"--out {path} is under {parent}, which is not a folder; choose another path")
            break


def export_run(run_dir: str | Path, fmt: str = "onnx", out: str | Path | None = None, exporter: str = "auto",
               batch: int = 32) -> ExportResult:
    """Export a run folder's model and check it against PyTorch.

    Args:
        run_dir: a folder made by `corenets run`.
        fmt: "onnx" or "torchscript".
        out: the model file (default <run>/model.onnx or <run>/model.torchscript.pt); the preprocessing JSON
            is written beside it as <stem>.preprocessing.json.
        exporter: for ONNX, "auto" (dynamo, then the TorchScript-based exporter), "dynamo" or "torchscript".
        batch: rows in the parity batch.
    Returns:
        An ExportResult with the paths, the exporter used and the max abs difference.
    """
    from .data import datasets
    from .runs import load_run

    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt}'; choose one of: {', '.join(FORMATS)}")
    if exporter not in ("auto", "dynamo", "torchscript"):
        raise ExportError(f"unknown exporter '{exporter}'; choose one of: auto, dynamo, torchscript")
    if fmt == "onnx":
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise ExportError("ONNX export needs the [export] extra: pip install 'corenets[export]'") from None
    datasets()  # registers every Preprocessing kind before model.pt names one
    run = load_run(run_dir)
    path = Path(out) if out else run.path / f"model{SUFFIX[fmt]}"
    check_target(path, SUFFIX[fmt])
    path.parent.mkdir(parents=True, exist_ok=True)
    x, checked_on = parity_batch(run, batch)
    seq = not x.is_floating_point() and x.ndim in (2, 3)  # token ids (and n-grams): the sequence length is dynamic too
    from .record import scorer, tta_of

    tta = tta_of(run.spec, run.path)
    module = scorer(exportable(run.model.eval()).eval(), tta).eval()  # flip TTA inside the graph, as predict scores
    xs = _variants(x, seq)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tries = {"onnx": {"auto": ["dynamo", "torchscript-onnx"], "dynamo": ["dynamo"], "torchscript": ["torchscript-onnx"]}[exporter],
             "torchscript": ["torchscript"]}[fmt]
    failures = []
    try:
        for name in tries:
            try:
                if name == "torchscript":
                    _torchscript_export(module, x, tmp)
                    runner = _torchscript_runner(tmp)
                else:
                    _onnx_export(module, x, tmp, dynamo=name == "dynamo", seq=seq)
                    runner = _onnx_runner(tmp, seq)
                # the reference is the run's scorer (the original model, TTA included), so the unpacked twin is checked too
                diff = _max_diff(runner, run.scorer, xs)
            except Exception as e:  # noqa: BLE001 - exporters raise many kinds; the next one is tried
                failures.append(f"{name}: {type(e).__name__}: {str(e).strip().splitlines()[0][:200] if str(e).strip() else ''}")
                continue
            if diff <= TOLERANCE:
                os.replace(tmp, path)
                pre = _write_preprocessing(run, path, fmt, seq, runner, x, tta)
                return ExportResult(path, pre, name, diff, checked_on, [tuple(v.shape) for v in xs])
            failures.append(f"{name}: max abs difference {diff:.3g} > {TOLERANCE:g}")
    finally:
        tmp.unlink(missing_ok=True)
    raise ExportError(f"could not export {run.path.name} ({run.spec['model']['name']}) to {fmt}: " + "; ".join(failures))


def _write_preprocessing(run, model_path: Path, fmt: str, seq: bool, runner, x: torch.Tensor, tta: str) -> Path:
    """The export document beside the model (export_document.py): one file for both formats, whose inputs and
    outputs are the same: model.onnx -> model.preprocessing.json."""
    from .export_document import write

    out = model_path.with_name(model_path.name.removesuffix(SUFFIX[fmt]).removesuffix(model_path.suffix) + ".preprocessing.json")
    return write(run, out, seq, runner, x, tta)
