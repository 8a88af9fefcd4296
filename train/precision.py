"""What trains the model: the devices TensorFlow sees, and the numeric precision it trains in.

``mixed_float16`` / ``mixed_bfloat16`` compute in 16 bits and keep float32 variables (Keras'
dtype policies). Two details make it right: the final logits are computed in float32 (the
head's last Dense and the softmax get a float32 policy, so the loss and the probabilities are
not rounded to 16 bits), and float16 training scales the loss (Keras' ``LossScaleOptimizer``,
dynamic: gradients that overflow skip the step and lower the scale). The saved model.keras is
always float32, so conversion and every consumer see the same network as after float32 training.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def describe_devices(tf: ModuleType) -> list[dict[str, Any]]:
    """Every physical device TensorFlow can use (type, name, and for a GPU its model and compute capability)."""
    out = []
    for dev in tf.config.list_physical_devices():
        if dev.device_type not in ("CPU", "GPU", "TPU"):
            continue
        entry: dict[str, Any] = {"type": dev.device_type, "name": dev.name}
        if dev.device_type == "GPU":
            try:
                details = tf.config.experimental.get_device_details(dev)
            except (RuntimeError, ValueError):  # a driver without details: keep the name
                details = {}
            entry["model"] = details.get("device_name")
            if details.get("compute_capability"):
                entry["compute_capability"] = ".".join(map(str, details["compute_capability"]))
        out.append(entry)
    return out


def devices_line(devices: list[dict[str, Any]]) -> str:
    gpus = [d for d in devices if d["type"] == "GPU"]
    if not gpus:
        return "training on CPU (no GPU visible to TensorFlow; `pip install 'sentilite[gpu]'` on a CUDA machine)"
    names = ", ".join(
        f"{d.get('model') or d['name']}" + (f" (cc {d['compute_capability']})" if d.get("compute_capability") else "")
        for d in gpus
    )
    return f"training on {len(gpus)} GPU(s): {names}"


def set_policy(keras: ModuleType, precision: str) -> None:
    """Make ``precision`` the global dtype policy for the layers built next (float32 resets it)."""
    keras.mixed_precision.set_dtype_policy(precision)


def wrap_optimizer(keras: ModuleType, optimizer: keras.optimizers.Optimizer, precision: str) -> Any:
    """float16 needs loss scaling (bfloat16 has float32's exponent range, so it does not)."""
    if precision == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def scaled(optimizer: keras.optimizers.Optimizer, loss: tf.Tensor) -> Any:
    """The loss to differentiate: scaled up under a LossScaleOptimizer (it unscales the gradients)."""
    scale = getattr(optimizer, "scale_loss", None)
    return scale(loss) if scale is not None else loss


def _rewrite_policies(config: Any, policy: str) -> Any:
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and isinstance(config.get("config"), dict):
            return {**config, "config": {**config["config"], "name": policy}}
        return {k: _rewrite_policies(v, policy) for k, v in config.items()}
    if isinstance(config, list):
        return [_rewrite_policies(v, policy) for v in config]
    return config


def with_policy(keras: ModuleType, model: keras.Model, policy: str, keep_float32: tuple[str, ...] = ()) -> Any:
    """A copy of a functional ``model`` whose layers compute in ``policy``, with the same weights.

    A model loaded from a file keeps the policy it was saved with, whatever the global policy
    says; this is how a --backbone-file joins mixed-precision training, and how the trained
    network is saved as float32. Layers named in ``keep_float32`` stay float32.
    """
    config = _rewrite_policies(model.get_config(), policy)
    if keep_float32:
        for layer in config.get("layers", []):
            if layer.get("config", {}).get("name") in keep_float32:
                layer["config"] = _rewrite_policies(layer["config"], "float32")
    clone = model.__class__.from_config(config)
    clone.set_weights(model.get_weights())
    return clone
