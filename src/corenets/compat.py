"""Which model families can read which data: the one owner of that rule.

A model declares the input forms it reads when it registers (``@MODELS.register(reads=("image",))``).
A dataset's form follows from its inputs alone, one example's dtype and shape:

    image     float (C, H, W)            digits, mnist, fashion_mnist, cifar10, image_folder
    sequence  float (T, F)               images read as rows, table rows read as features, price windows
    tokens    int64 (T,) or (T, 1 + K)   token ids, with K hashed character n-grams: text_csv, sst2
    features  float (F,)                 table rows: csv_table, breast_cancer

The experiment calls `check_model_fits` before it builds the model and before the run folder exists,
so a pair that cannot work stops with one line naming models that fit, and leaves nothing on disk.
Whether an image is large enough for a CNN depends on the model's options; its builder checks that.
"""

from __future__ import annotations

from .errors import ConfigError, CorenetsError

FORMS = {"image": "images (C, H, W)", "sequence": "float sequences (T, F)", "tokens": "token ids (T,)",
         "features": "feature rows (F,)"}
# The data.as_sequence view that turns a form into (T, F) sequences (data/sequence.py)
AS_SEQUENCE = {"image": "rows", "features": "features"}


def input_form(bundle) -> str:
    """The form of `bundle`'s inputs: image, sequence, tokens or features (see the module docstring)."""
    if not bundle.train.x.is_floating_point():
        return "tokens"
    return {1: "features", 2: "sequence", 3: "image"}.get(len(bundle.input_shape), f"{len(bundle.input_shape)}-d arrays")


def reads(model_name: str) -> tuple[str, ...]:
    """The forms a registered model reads; a model that declares none is not checked here."""
    from .models import models

    return tuple(models().info(model_name).get("reads", FORMS))


def describe_data(bundle) -> str:
    """e.g. 'breast_cancer gives table rows of 30 features', 'digits read as rows gives sequences of 8 steps x 8'."""
    name = str(bundle.meta.get("dataset", "the data"))
    if bundle.meta.get("as_sequence"):
        name += f" read as {bundle.meta['as_sequence']}"
    shape = tuple(bundle.input_shape)
    form = input_form(bundle)
    what = {"image": f"images {shape}", "tokens": f"token ids {shape}", "features": f"table rows of {_n(shape[0], 'feature')}",
            "sequence": f"sequences of {_n(shape[0], 'step')} x {_n(shape[-1], 'feature')}"}.get(form, f"inputs shaped {shape}")
    return f"{name} gives {what}"


def fitting_models(bundle) -> list[str]:
    """Registered models that read `bundle`'s form and, at their default options, its shape (sorted)."""
    from .models import models

    form = input_form(bundle)
    return [m for m in models().names() if form in reads(m) and _builds(m, bundle)]


def check_model_fits(model_name: str, bundle) -> None:
    """Raise ConfigError, naming models that fit, when `model_name` cannot read `bundle`'s inputs.

    Args:
        model_name: a registered model (an unknown name is an error listing the choices).
        bundle: the loaded DataBundle (its input shape and dtype decide the form).
    """
    wants = reads(model_name)
    form = input_form(bundle)
    if form in wants:
        return
    fits = [m for m in fitting_models(bundle) if m != model_name]
    fix = f"use {_either(fits)}" if fits else "no registered model reads this data"
    if "sequence" in wants and form in AS_SEQUENCE:
        fix += f", or keep {model_name} and set data.as_sequence={AS_SEQUENCE[form]}"
    viewed_from = {v: f for f, v in AS_SEQUENCE.items()}.get(bundle.meta.get("as_sequence"))
    if viewed_from in wants:  # e.g. a CNN on images read as rows: the images themselves would do
        fix += f", or keep {model_name} and leave out data.as_sequence"
    raise ConfigError(f"{model_name} reads {_either([FORMS[f] for f in wants])}, but {describe_data(bundle)}; {fix}")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _either(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _builds(model_name: str, bundle) -> bool:
    """Whether the builder accepts the data's shape at default options; on the meta device, so nothing is allocated."""
    import torch

    from .models import build_model

    try:
        with torch.device("meta"):
            build_model(model_name, bundle.input_shape, bundle.num_outputs, {}, task=bundle.task, facts=bundle.facts)
    except CorenetsError:
        return False
    return True

