"""Choosing the TFLite interpreter: ai_edge_litert -> tflite_runtime -> tensorflow.lite.

LiteRT (``ai-edge-litert``) is the maintained runtime. ``tflite-runtime`` stopped at 2.14 and
breaks with NumPy 2, so it is only a fallback for old devices; TensorFlow's own interpreter is
the last resort. ``SENTILITE_RUNTIME`` (a name or comma-separated list) overrides the order.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence, Union

from .errors import ModelFormatError, RuntimeMissingError

#: (name shown to users, module to import, attribute path of the Interpreter class)
_CANDIDATES: dict[str, tuple[str, str]] = {
    "ai-edge-litert": ("ai_edge_litert.interpreter", "Interpreter"),
    "tflite-runtime": ("tflite_runtime.interpreter", "Interpreter"),
    "tensorflow": ("tensorflow", "lite.Interpreter"),
}
DEFAULT_ORDER: tuple[str, ...] = tuple(_CANDIDATES)


@dataclass(frozen=True)
class Runtime:
    """What runs a model: a TFLite interpreter implementation, or Keras (``interpreter_class`` None)."""

    name: str
    version: str
    interpreter_class: Optional[Callable[..., Any]]
    module: Any

    def describe(self) -> str:
        return f"{self.name} {self.version}"


def _version_of(name: str, module: Any) -> str:
    for attr in ("__version__", "VERSION"):
        v = getattr(module, attr, None)
        if isinstance(v, str):
            return v
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # noqa: BLE001 - a missing version must not stop inference
        return "unknown"


def _load(name: str) -> Runtime:
    module_name, attr_path = _CANDIDATES[name]
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attr_path.split("."):
        obj = getattr(obj, part)
    top = importlib.import_module(module_name.split(".")[0])
    return Runtime(name=name, version=_version_of(name, top), interpreter_class=obj, module=module)


def runtime_order(preference: Optional[Union[str, Sequence[str]]] = None) -> tuple[str, ...]:
    """The order in which runtimes are tried (argument, then $SENTILITE_RUNTIME, then default)."""
    pref = preference if preference is not None else os.environ.get("SENTILITE_RUNTIME")
    if not pref:
        return DEFAULT_ORDER
    names = [p.strip() for p in (pref.split(",") if isinstance(pref, str) else pref) if p.strip()]
    unknown = [n for n in names if n not in _CANDIDATES]
    if unknown:
        raise RuntimeMissingError(f"Unknown runtime {', '.join(unknown)}.", f"choose from {', '.join(DEFAULT_ORDER)}")
    return tuple(names)


def select_runtime(preference: Optional[Union[str, Sequence[str]]] = None) -> Runtime:
    """Import the first available runtime in :func:`runtime_order` and say which one it is."""
    tried = []
    for name in runtime_order(preference):
        try:
            return _load(name)
        except (ImportError, AttributeError) as exc:
            tried.append(f"{name} ({type(exc).__name__}: {exc})")
    raise RuntimeMissingError(
        "No TFLite runtime could be imported; tried " + "; ".join(tried) + ".",
        "pip install ai-edge-litert (on an old device without a LiteRT wheel: pip install tflite-runtime 'numpy<2')",
    )


#: kernel library -> LiteRT OpResolverType member (None: the default resolver, XNNPACK where it applies).
#: The same table as the device runner's (sentilite.device_bench.measure.KERNELS; a test keeps them equal).
KERNELS: dict[str, Optional[str]] = {
    "xnnpack": None,
    "builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
    "reference": "BUILTIN_REF",
}


def op_resolver(rt: Runtime, kernels: str) -> Any:
    """The ``experimental_op_resolver_type`` value that selects ``kernels`` in runtime ``rt`` (None: default)."""
    if kernels not in KERNELS:
        raise RuntimeMissingError(f"Unknown kernels {kernels!r}.", f"choose from {', '.join(KERNELS)}")
    member = KERNELS[kernels]
    if member is None:
        return None
    holder = rt.module if rt.name != "tensorflow" else getattr(rt.module.lite, "experimental", None)
    resolver = getattr(holder, "OpResolverType", None)
    if resolver is None:
        raise RuntimeMissingError(
            f"{rt.describe()} cannot choose its kernels (no OpResolverType).", "pip install ai-edge-litert"
        )
    return getattr(resolver, member)


_FD2_LOCK = threading.Lock()
#: what LiteRT prints on every interpreter it makes: news to nobody, so kept off the console
_BANNERS = ("INFO: Created TensorFlow Lite XNNPACK delegate", "INFO: Initialized TensorFlow Lite runtime")


@contextlib.contextmanager
def _quiet_native_log() -> Iterator[Any]:
    """Capture what native code prints while an interpreter is made; pass on all but LiteRT's
    banners when the block ends (``SENTILITE_DEBUG``, which ``--debug`` sets, passes all)."""
    from .probe import CaptureStderr

    cap = CaptureStderr(passthrough=bool(os.environ.get("SENTILITE_DEBUG")))
    try:
        # fd 2 is the process's: two threads redirecting it at once would leave it pointing at a
        # temporary file (serve's workers each make an interpreter)
        with _FD2_LOCK, cap:
            yield cap
    finally:
        rest = [ln for ln in cap.text.splitlines() if ln.strip() and not ln.startswith(_BANNERS)]
        if rest:
            sys.stderr.write("\n".join(rest) + "\n")


def make_interpreter(
    model: Union[str, os.PathLike, bytes],
    num_threads: Optional[int] = 1,
    runtime: Optional[Runtime] = None,
    allocate: bool = True,
    kernels: str = "xnnpack",
) -> tuple[Any, Runtime]:
    """Create (and allocate) an interpreter for a .tflite path or flatbuffer bytes, running on
    ``kernels``: ``xnnpack`` (LiteRT's default), ``builtin`` (its optimized kernels without the
    default delegate) or ``reference`` (its reference kernels)."""
    rt = runtime or select_runtime()
    kwargs: dict[str, Any] = {"num_threads": num_threads}
    resolver = op_resolver(rt, kernels)
    if resolver is not None:
        kwargs["experimental_op_resolver_type"] = resolver
    if isinstance(model, (bytes, bytearray)):
        kwargs["model_content"] = bytes(model)
        label = "<in-memory model>"
    else:
        kwargs["model_path"] = os.fspath(model)
        label = os.fspath(model)
        if not Path(label).is_file():
            raise ModelFormatError(f"Model file not found: {label}.", "check the path")
    with _quiet_native_log() as cap:
        try:
            interp = rt.interpreter_class(**kwargs)
            if allocate:
                interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            load_error: Optional[BaseException] = exc
        else:
            load_error = None
    if load_error is not None:
        exc = load_error
        native = [ln.strip() for ln in cap.text.splitlines() if "error" in ln.lower()][:2]
        raise ModelFormatError(
            f"{rt.name} {rt.version} cannot load {label}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
            + (f" [{'; '.join(native)}]" if native else "")
            + ".",
            "make sure the file is a complete .tflite model built for this runtime "
            "(re-run `sentilite convert`; a model using Flex/SELECT_TF_OPS needs the TensorFlow runtime)",
        ) from None
    return interp, rt
