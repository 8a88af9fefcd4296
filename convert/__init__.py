"""convert/: Keras -> TFLite in every useful variant, each validated against its Keras parent.

Python API, the same shape as every part's (an options object in, a result object out)::

    from sentilite.convert import ConvertOptions, convert
    result = convert("model.keras", ConvertOptions(variants="float32,int8"),
                     calib="train.txt", eval="val.txt", out="runs/convert")
    print(result.recommended, result.report_md)

Importing this package does not import TensorFlow; :func:`convert` does.
"""

from __future__ import annotations

import os
from typing import Callable, Optional, Union

from .options import ConvertOptions
from .result import ConversionResult

PathLike = Union[str, os.PathLike]


def convert(
    model: PathLike,
    options: Optional[ConvertOptions] = None,
    *,
    calib: Optional[PathLike],
    eval: PathLike,  # noqa: A002 - mirrors the --eval flag
    out: PathLike,
    root: Optional[PathLike] = None,
    log: Optional[Callable[[str], None]] = None,
) -> ConversionResult:
    """Convert ``model`` (.keras) to each variant, validate all on ``eval``, write the report.

    Args:
        model: the .keras file (its preprocessing contract inside, or ``options.contract``).
        options: what to make and how to check it (default: :class:`ConvertOptions`'s defaults).
        calib: labelled images for full-integer calibration (the training split); None when no
            full-integer variant is asked for.
        eval: labelled images every variant and the Keras model are scored on.
        out: the output folder, written whole or not at all.
        root: folder the split files' image paths are relative to.
        log: receives progress lines.

    Returns:
        The :class:`ConversionResult`: the files, the report rows, warnings and the recommendation.

    Raises:
        SentiliteError: a one-line problem and fix on bad input; nothing is left in ``out``.
    """
    from .api import convert_model

    return convert_model(model, calib=calib, eval=eval, out=out, root=root, options=options, log=log)


__all__ = ["ConversionResult", "ConvertOptions", "convert"]
