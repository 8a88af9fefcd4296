"""train/: Keras transfer learning for image sentiment.

The replication recipes (FT-F / FT-A / two-phase with the ``replication`` or ``adam-cosine``
preset), distillation into a tiny student, a streaming tf.data pipeline with an on-disk cache
of decoded images, fast frozen-backbone training on cached features, and resumable runs.

Python API (``train.api``)::

    from sentilite.train import TrainConfig, train_model, evaluate_model
    result = train_model(TrainConfig(data=["train.txt"], val="val.txt", backbone="student"))
    print(result.model_path, result.metrics["val"]["accuracy"])

Importing this package does not import TensorFlow; ``evaluate_model`` on a .tflite never does.
"""

from .config import TrainConfig, TrainResult


def train_model(config: TrainConfig) -> TrainResult:
    """Train per ``config`` into a run folder; see :func:`train.api.train_model`."""
    from .api import train_model as _train

    return _train(config)


def evaluate_model(model_path, data, root=None, json_out=None, **kwargs) -> dict:
    """Score a .keras or .tflite model on a labelled split; see :func:`train.evaluate.evaluate_model`."""
    from .evaluate import evaluate_model as _evaluate

    return _evaluate(model_path, data, root=root, json_out=json_out, **kwargs)


__all__ = ["TrainConfig", "TrainResult", "train_model", "evaluate_model"]
