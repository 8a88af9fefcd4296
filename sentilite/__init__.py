"""sentilite: image-sentiment models from Keras training to measured, quantized LiteRT models.

The core package holds what the four parts (train, convert, device_bench, camera_demo)
share: the preprocessing contract, labels, runtime choice, model-file I/O and the CLI.
Importing it never imports TensorFlow.
"""

__version__ = "0.1.0"
