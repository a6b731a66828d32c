"""`corenets export RUN --format onnx|torchscript [--out FILE]`: a checked, portable copy of the model."""

from __future__ import annotations

from ..cli import subcommand, with_arguments


def _arguments(p):
    p.add_argument("run", help="a run folder made by `corenets run`")
    p.add_argument("--format", choices=["onnx", "torchscript"], default="onnx", dest="fmt",
                   help="onnx (checked with onnxruntime; extra [export]) or torchscript")
    p.add_argument("--out", help="the model file (default: <run>/model.onnx or <run>/model.torchscript.pt)")
    p.add_argument("--exporter", choices=["auto", "dynamo", "torchscript"], default="auto",
                   help="ONNX only: auto tries torch.export (dynamo) first, then the TorchScript-based exporter")


@subcommand("export", "export a run's model to ONNX or TorchScript, checked against PyTorch, with its preprocessing as JSON")
@with_arguments(_arguments)
def cmd_export(args) -> int:
    from ..export import TOLERANCE, export_run

    r = export_run(args.run, args.fmt, args.out, args.exporter)
    print(f"wrote {r.path} ({r.path.stat().st_size / 2**20:.2f} MB, exporter: {r.exporter})")
    print(f"wrote {r.preprocessing} (what to do before and after the model)")
    shapes = ", ".join("x".join(map(str, s)) for s in r.shapes)
    print(f"checked on {r.checked_on} (input shapes {shapes}): max abs difference vs PyTorch {r.max_abs_diff:.2e} "
          f"(limit {TOLERANCE:g})")
    return 0
