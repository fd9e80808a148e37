"""An OpenLineage RunEvent for one conversion (``--openlineage FILE``).

The event follows the OpenLineage spec 2-0-2 (``spec/OpenLineage.json`` in the
OpenLineage repository): a ``RunEvent`` with ``eventType`` COMPLETE or FAIL,
``eventTime``, ``run.runId`` (the UUID of the sidecar's lineage entry), ``job``
(namespace and name), the input and the output as datasets (namespace and name;
local files are namespace ``file``, name the absolute path, as the spec's naming
conventions say), the output's ``schema`` dataset facet and ``outputStatistics``
output facet (row count, size), ``producer`` and ``schemaURL``.  It is written
to a file, never sent: a lineage server ingests the file (e.g. POST it to
Marquez's ``/api/v1/lineage``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ._version import __version__

SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
RUN_EVENT_URL = SPEC + "#/$defs/RunEvent"
SCHEMA_FACET_URL = (
    "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
)
STATS_FACET_URL = (
    "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json"
    "#/$defs/OutputStatisticsOutputDatasetFacet"
)
ERROR_FACET_URL = (
    "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json"
    "#/$defs/ErrorMessageRunFacet"
)
PRODUCER = f"https://pypi.org/project/fastetl/{__version__}"
DEFAULT_NAMESPACE = "fastetl"


def _dataset(path: str | None, name: str) -> dict[str, Any]:
    """A dataset: a local file is namespace ``file`` and its absolute path; anything
    else (stdin, a file object, bytes) is named as fastetl names it."""
    if path is not None:
        return {"namespace": "file", "name": str(Path(path).resolve())}
    return {"namespace": DEFAULT_NAMESPACE, "name": name}


def _fields(schema: dict[str, Any]) -> list[dict[str, str]]:
    """The output's fields (what the records hold: skipped columns are not stored)."""
    out = []
    for col in schema.get("columns", []):
        if col.get("type") == "skip":
            continue
        out.append({"name": col["name"], "type": str(col["type"])})
    for flag in schema.get("flags", []):
        out.append({"name": flag["name"], "type": flag.get("type", "uint8")})
    return out


def run_event(
    *,
    event_type: str,
    event_time: str,
    run_id: str,
    job_name: str,
    source_path: str | None,
    source_name: str,
    output: str,
    schema: dict[str, Any] | None,
    rows: int | None,
    size: int | None,
    error: str | None = None,
) -> dict[str, Any]:
    """The RunEvent as a JSON-ready dict."""
    facet = {"_producer": PRODUCER}
    out_ds = _dataset(output, output)
    if schema is not None:
        out_ds["facets"] = {
            "schema": {**facet, "_schemaURL": SCHEMA_FACET_URL, "fields": _fields(schema)}
        }
    if rows is not None:
        stats: dict[str, Any] = {**facet, "_schemaURL": STATS_FACET_URL, "rowCount": rows}
        if size is not None:
            stats["size"] = size
        out_ds["outputFacets"] = {"outputStatistics": stats}
    run: dict[str, Any] = {"runId": run_id}
    if error is not None:
        run["facets"] = {
            "errorMessage": {
                **facet,
                "_schemaURL": ERROR_FACET_URL,
                "message": error,
                "programmingLanguage": "python",
            }
        }
    return {
        "eventType": event_type,
        "eventTime": event_time,
        "run": run,
        "job": {
            "namespace": os.environ.get("OPENLINEAGE_NAMESPACE") or DEFAULT_NAMESPACE,
            "name": job_name,
        },
        "inputs": [_dataset(source_path, source_name)],
        "outputs": [out_ds],
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_URL,
    }


def failed_event(
    run_id: str, time: str, src: Any, output: str, error: BaseException
) -> dict[str, Any]:
    """The FAIL event (ABORT when interrupted) of a conversion of ``src`` (a path,
    ``"-"``, a file object or bytes) that stopped with ``error``."""
    is_path = isinstance(src, (str, os.PathLike)) and src != "-"
    if is_path:
        name = os.fspath(src)
    elif src == "-":
        name = "<stdin>"
    else:
        name = str(getattr(src, "name", None) or f"<{type(src).__name__}>")
    text = str(error)
    return run_event(
        event_type="ABORT" if isinstance(error, KeyboardInterrupt) else "FAIL",
        event_time=time,
        run_id=run_id,
        job_name=job_name(output),
        source_path=os.fspath(src) if is_path else None,
        source_name=name,
        output=output,
        schema=None,
        rows=None,
        size=None,
        error=text.splitlines()[0] if text else type(error).__name__,
    )


def job_name(output: str | os.PathLike[str]) -> str:
    """The OpenLineage job: converting into this output."""
    return f"convert:{Path(output).name}"


def write_event(path: str | os.PathLike[str], event: dict[str, Any]) -> None:
    """Write the event as one JSON document (replacing the file)."""
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
