"""User-facing errors: each names the problem and the fix, and the CLI prints them as one line."""

from __future__ import annotations


class SentiliteError(Exception):
    """An error the user can act on. ``problem`` says what is wrong, ``fix`` what to do."""

    exit_code = 2
    #: leave at once after reporting it (``os._exit``): for errors raised while native threads are
    #: stuck on something gone (TensorFlow collectives to a dead peer), whose teardown at normal
    #: interpreter exit can abort the process (SIGABRT) and lose the exit code.
    exit_at_once = False

    def __init__(self, problem: str, fix: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem} Fix: {self.fix}" if self.fix else self.problem


class InputFileError(SentiliteError):
    """A file or folder given on the command line is missing or unusable."""


class ModelFormatError(SentiliteError):
    """A model file is not what it was expected to be (not a .tflite, not a Keras model...)."""


class RuntimeMissingError(SentiliteError):
    """No TFLite/LiteRT interpreter (or TensorFlow, where it is needed) is installed."""


class ImageReadError(SentiliteError):
    """An image cannot be decoded (missing, truncated, corrupt or not an image)."""


class DatasetFormatError(SentiliteError):
    """A split file, CSV or folder tree has malformed lines or unknown labels."""


class ContractError(SentiliteError):
    """A model's preprocessing contract is missing, invalid or does not match the model."""


class ConversionError(SentiliteError):
    """Keras -> TFLite conversion failed."""


class DeviceError(SentiliteError):
    """A benchmark device (SSH host, adb device) is unreachable or unsuitable."""
