"""train/: Keras transfer learning for image sentiment.

The replication recipes (FT-F / FT-A / two-phase with the ``replication`` or ``adam-cosine``
preset), distillation into a tiny student, a streaming tf.data pipeline with an on-disk cache
of decoded images, fast frozen-backbone training on cached features, and resumable runs.

Python API, the same shape as every part's (an options object in, a result object out)::

    from sentilite.train import TrainConfig, train
    result = train(TrainConfig(data=["train.txt"], val="val.txt", backbone="student"))
    print(result.model_path, result.metrics["val"]["accuracy"])

Importing this package does not import TensorFlow; ``evaluate_model`` on a .tflite never does.
"""

from .config import TrainConfig, TrainResult


def train(config: TrainConfig) -> TrainResult:
    """Train per ``config`` into a run folder.

    Args:
        config: data, backbone, mode (FT-F / FT-A / two-phase), preset, distillation, scale...

    Returns:
        The :class:`TrainResult`: the run folder, the saved model (contract inside) and metrics.

    Raises:
        SentiliteError: a one-line problem and fix on bad input, before the run folder is made.
    """
    from .api import train_model as _train

    return _train(config)


#: the name the API had before every part's verb was named alike
train_model = train


def evaluate_model(model_path, data, root=None, json_out=None, **kwargs) -> dict:
    """Score a .keras or .tflite model on a labelled split; see :func:`train.evaluate.evaluate_model`."""
    from .evaluate import evaluate_model as _evaluate

    return _evaluate(model_path, data, root=root, json_out=json_out, **kwargs)


__all__ = ["TrainConfig", "TrainResult", "evaluate_model", "train", "train_model"]
