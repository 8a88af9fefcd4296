"""Model Explorer's per-node data files (its ``node_data_builder`` format), written without it.

Google's Model Explorer (``ai-edge-model-explorer``, the graph viewer of the LiteRT ecosystem)
colours a graph's nodes from a JSON file of ``{"name", "results": {node id: {"value"}},
"gradient"}``. For a .tflite file its node ids are the op indices in execution order, so a
value per op index is all a file needs. ``sentilite profile`` writes one for per-op latency,
``sentilite convert`` one for the per-op int8 error; ``sentilite explore`` opens them. Written
here (standard library only) because the viewer is an extra that a device never installs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping, Union

#: low values pale, high values dark red: "where it hurts" reads at a glance
GRADIENT = ({"stop": 0, "bgColor": "#fff5f0"}, {"stop": 0.5, "bgColor": "#fb6a4a"}, {"stop": 1, "bgColor": "#99000d"})


def node_data(name: str, values: Mapping[int, float]) -> dict[str, object]:
    """The node-data record for one graph: ``values`` maps op index -> number (kept to 4 significant
    digits: the viewer prints them whole)."""
    return {
        "name": name,
        "results": {str(int(k)): {"value": float(f"{float(v):.4g}")} for k, v in sorted(values.items())},
        "gradient": [dict(g) for g in GRADIENT],
    }


def write_node_data(path: Union[str, os.PathLike], name: str, values: Mapping[int, float]) -> Path:
    """Write the node-data file for ``values`` (op index -> number) to ``path``."""
    out = Path(path)
    out.write_text(json.dumps(node_data(name, values), indent=1) + "\n")
    return out


def read_node_data(path: Union[str, os.PathLike]) -> dict[str, object]:
    """A node-data file, checked to be one (a clear error names what is wrong)."""
    from .errors import InputFileError

    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise InputFileError(
            f"{p} is not readable JSON ({exc}).", "pass a .nodedata.json written by sentilite"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise InputFileError(
            f"{p} is not a Model Explorer node-data file (no 'results').",
            "pass latency.nodedata.json from `sentilite profile` or int8_error.nodedata.json from `sentilite convert`",
        )
    return data
