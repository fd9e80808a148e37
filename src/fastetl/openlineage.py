"""OpenLineage RunEvents of one conversion (``--openlineage FILE``).

The events follow the OpenLineage spec 2-0-2 (``spec/OpenLineage.json`` in the
OpenLineage repository): a run sends a ``START`` event when it begins and a terminal
one (``COMPLETE``, ``FAIL`` or ``ABORT``) when it ends, both with the same
``run.runId`` (the UUID of the sidecar's lineage entry), ``eventTime``, ``job``
(namespace ``$OPENLINEAGE_NAMESPACE``, else the host name, else ``fastetl``; name the
output's absolute path), the input and the output as datasets (namespace and name;
local files are namespace ``file``, name the absolute path, as the spec's naming
conventions say; stdin and file objects are named per run), the output's ``schema``
dataset facet and ``outputStatistics`` output facet (row count, size), ``producer``
and ``schemaURL``.

They are written, never sent, as the OpenLineage client's file transport writes
them with ``append: true``: JSON Lines, one event per line -- the START line when
the run begins, START and the terminal line when it ends (the file is replaced
through a temporary file in the same folder, so it is always whole).  A lineage
server ingests each line (e.g. POST it to Marquez's ``/api/v1/lineage``).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import OutputError

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


def input_dataset(src: Any, run_id: str) -> dict[str, Any]:
    """The input ``src`` (a path, ``"-"``, a file object or bytes) as a dataset: a file
    by its absolute path; stdin and the rest by what they are and the run (two runs
    reading stdin read two different datasets: ``stdin:RUN-ID``)."""
    if isinstance(src, (str, os.PathLike)) and src != "-":
        return _dataset(os.fspath(src), "")
    if src == "-":
        what = "stdin"
    else:
        what = str(getattr(src, "name", None) or type(src).__name__)
        if what.startswith("<") and what.endswith(">"):  # sys.stdin is "<stdin>"
            what = what[1:-1]
    return {"namespace": DEFAULT_NAMESPACE, "name": f"{what}:{run_id}"}


def input_datasets(src: Any, run_id: str) -> list[dict[str, Any]]:
    """The inputs as datasets: each file of a list (a Dask conversion's), else ``src``."""
    if isinstance(src, (list, tuple)):
        return [input_dataset(s, run_id) for s in src]
    return [input_dataset(src, run_id)]


def job_namespace(host: bool = True) -> str:
    """``$OPENLINEAGE_NAMESPACE``, else the host name (unless ``host`` is False: the
    run records no host), else ``fastetl``."""
    given = os.environ.get("OPENLINEAGE_NAMESPACE")
    if given:
        return given
    if host:
        try:
            return socket.gethostname() or DEFAULT_NAMESPACE
        except OSError:  # pragma: no cover - no host name to be had
            return DEFAULT_NAMESPACE
    return DEFAULT_NAMESPACE


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
    input_ds: dict[str, Any] | list[dict[str, Any]],
    output: str,
    schema: dict[str, Any] | None,
    rows: int | None,
    size: int | None,
    error: str | None = None,
    host: bool = True,
) -> dict[str, Any]:
    """The RunEvent as a JSON-ready dict (``input_ds``: the input, or a list of them)."""
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
        "job": {"namespace": job_namespace(host), "name": job_name},
        "inputs": input_ds if isinstance(input_ds, list) else [input_ds],
        "outputs": [out_ds],
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_URL,
    }


def start_event(
    run_id: str, time: str, src: Any, output: str | os.PathLike[str], host: bool = True
) -> dict[str, Any]:
    """The START event of a conversion of ``src`` (or of a list of files) into ``output``."""
    return run_event(
        event_type="START",
        event_time=time,
        run_id=run_id,
        job_name=job_name(output),
        input_ds=input_datasets(src, run_id),
        output=str(output),
        schema=None,
        rows=None,
        size=None,
        host=host,
    )


def failed_event(
    run_id: str, time: str, src: Any, output: str, error: BaseException, host: bool = True
) -> dict[str, Any]:
    """The FAIL event (ABORT when interrupted) of a conversion of ``src`` (a path,
    ``"-"``, a file object or bytes) that stopped with ``error``."""
    text = str(error)
    return run_event(
        event_type="ABORT" if isinstance(error, KeyboardInterrupt) else "FAIL",
        event_time=time,
        run_id=run_id,
        job_name=job_name(output),
        input_ds=input_datasets(src, run_id),
        output=output,
        schema=None,
        rows=None,
        size=None,
        error=text.splitlines()[0] if text else type(error).__name__,
        host=host,
    )


def job_name(output: str | os.PathLike[str]) -> str:
    """The OpenLineage job: converting into this output, named by its absolute path
    (two outputs of the same name in different folders are two jobs)."""
    return str(Path(output).resolve())


def check_destination(path: str | os.PathLike[str]) -> None:
    """``OutputError`` (one line) unless ``path`` can be the events file: its folder
    exists and it is not itself a folder.  Checked before a conversion starts."""
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"--openlineage {path} is a directory; give the path of a file to write")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write --openlineage {path}: folder {folder} does not exist")


def write_events(path: str | os.PathLike[str], events: list[dict[str, Any]]) -> None:
    """Write ``events`` as JSON Lines (one compact event per line), replacing the file
    through a temporary file in its folder (made as the output's are)."""
    from .outset import create_temp

    final = Path(path)
    tmp, fd = create_temp(final, events[0]["run"]["runId"])
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for ev in events:
                f.write(json.dumps(ev, ensure_ascii=False) + "\n")
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
