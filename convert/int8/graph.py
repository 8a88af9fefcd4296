"""The Keras model as one flat graph: nested functional models inlined, each layer's readers known.

Quantisation-aware fine-tuning (:mod:`convert.int8.qat`) re-traces the model through it, and
cross-layer equalisation (:mod:`convert.int8.equalize`) and output-aware rounding
(:mod:`convert.int8.rounding`) find the layer patterns they rewrite with it.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Iterator

from sentilite.core.errors import ConversionError

if TYPE_CHECKING:
    import keras

#: the pixel-in normalisation layer's weights are exact constants: no rewrite or fine-tuning touches them
FROZEN_LAYERS = ("normalize_in_graph",)


def layer_classes(keras: ModuleType) -> dict[str, tuple[type, ...]]:
    """The layer kinds the int8 rewrites care about."""
    L = keras.layers
    return {
        "weighted": (L.Conv2D, L.DepthwiseConv2D, L.Dense),
        "bn": (L.BatchNormalization,),
        "activation": (L.ReLU, L.Activation, L.ELU, L.LeakyReLU, L.PReLU),
        "same_range": (
            L.ZeroPadding2D,
            L.Dropout,
            L.Reshape,
            L.Flatten,
            L.Identity,
            L.MaxPooling2D,
            L.Cropping2D,
            L.SpatialDropout2D,
            L.InputLayer,
        ),
    }


def is_softmax(layer: keras.Layer, keras: ModuleType) -> bool:
    """True for a Softmax layer or a layer with a softmax activation."""
    return (
        isinstance(layer, keras.layers.Softmax)
        or getattr(getattr(layer, "activation", None), "__name__", "") == "softmax"
    )


def trace_flat(model: keras.Model, inputs: Any, call: Callable[..., Any]) -> Any:
    """Run ``model``'s graph on ``inputs`` with nested functional models inlined; every layer is
    applied through ``call(layer, *args, **kwargs)``."""
    from keras.src.models.functional import Functional

    def op_fn(op: Any) -> Callable[..., Any]:
        if isinstance(op, Functional):
            return lambda *a, **k: trace_flat(op, a[0] if len(a) == 1 else list(a), call)
        return lambda *a, **k: call(op, *a, **k)

    if not hasattr(model, "_run_through_graph"):
        raise ConversionError(
            "This int8 repair (equalisation, rounding or quantisation-aware fine-tuning) needs a functional "
            "Keras model; this one is subclassed.",
            "rebuild the model with the functional API, or rely on the other repairs (calibration, I/O type, mixed, "
            "int16x8)",
        )
    return model._run_through_graph(inputs, operation_fn=op_fn)


def consumers(model: keras.Model, keras: ModuleType) -> tuple[list[Any], dict[int, list[Any]]]:
    """(the layers of the flattened graph in call order, id(layer) -> the layers that read its output)."""
    made: dict[int, Any] = {}
    readers: dict[int, list[Any]] = {}
    called: list[Any] = []

    def record(layer: keras.Layer, *args: Any, **kwargs: Any) -> Any:
        for t in keras.tree.flatten((args, kwargs)):
            if id(t) in made:
                readers.setdefault(id(made[id(t)]), []).append(layer)
        out = layer(*args, **kwargs)
        called.append(layer)
        for t in keras.tree.flatten(out):
            made[id(t)] = layer
        return out

    trace_flat(model, keras.Input(model.inputs[0].shape[1:]), record)
    return called, readers


def sources(layers: list[Any], readers: dict[int, list[Any]]) -> dict[int, list[Any]]:
    """id(layer) -> the layers whose outputs it reads (the inverse of :func:`consumers`' readers)."""
    out: dict[int, list[Any]] = {}
    for layer in layers:
        for reader in readers.get(id(layer), []):
            out.setdefault(id(reader), []).append(layer)
    return out


def is_linear(layer: keras.Layer) -> bool:
    """True when ``layer`` applies no activation (or has none)."""
    return getattr(getattr(layer, "activation", None), "__name__", "linear") == "linear"


def is_depthwise(layer: keras.Layer) -> bool:
    return type(layer).__name__ == "DepthwiseConv2D"


def rewritable(layer: keras.Layer, keras: ModuleType) -> bool:
    """A Conv2D / DepthwiseConv2D / Dense whose kernel the int8 rewrites may change: not grouped,
    no depth multiplier, not the pixel-in normalisation."""
    if (
        not isinstance(layer, layer_classes(keras)["weighted"])
        or getattr(layer, "groups", 1) != 1
        or layer.name in FROZEN_LAYERS
    ):
        return False
    return not is_depthwise(layer) or layer.depth_multiplier == 1


def called_once(layers: list[Any]) -> bool:
    """True when no layer of the flattened graph is called twice (sharing its weights between two
    places, which a rewrite of those weights would change in both)."""
    return len({id(layer) for layer in layers}) == len(layers)


def probe_batches(
    model: keras.Model, keras: ModuleType, layers: list[Any], inputs: Any, batch: int, what: str = "output"
) -> Iterator[list[Any]]:
    """Run ``model`` over ``inputs`` a batch at a time; yield, per batch, the outputs (or, with
    ``what="input"``, the first inputs) of ``layers`` in the flattened graph, as a list."""
    wanted = {id(layer) for layer in layers}
    seen: dict[int, Any] = {}

    def call(layer: keras.Layer, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("training", None)
        out = layer(*args, **kwargs)
        if id(layer) in wanted:
            seen[id(layer)] = out if what == "output" else keras.tree.flatten(args)[0]
        return out

    inp = keras.Input(model.inputs[0].shape[1:])
    trace_flat(model, inp, call)
    net = keras.Model(inp, [seen[id(layer)] for layer in layers])
    for s in range(0, len(inputs), batch):
        out = net(inputs[s : s + batch], training=False)
        yield list(out) if isinstance(out, (list, tuple)) else [out]  # Keras unwraps a one-output list
