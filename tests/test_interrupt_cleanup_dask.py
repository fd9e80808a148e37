"""A second interrupt during the clean-up of an interrupted Dask conversion (Ctrl-C twice,
or SIGTERM after SIGINT): the run's temporary folder is removed all the same, and the
``Interrupted`` says what the dataset holds, as after one interrupt."""

from __future__ import annotations

import pytest

pytest.importorskip("distributed")

import fastetl  # noqa: E402
import fastetl.dask as fdask  # noqa: E402
from reference import interrupt_at  # noqa: E402
from test_dask import SCHEMA, _csv, _dataset_records, _local, _rows, client  # noqa: E402,F401

# the statements of the clean-up (in fastetl.dask._convert_locked): a second Ctrl-C just
# before each one
# Before the handler's first call (``to_the_end``) a second interrupt escapes it: the
# files are left as a kill at that point leaves them, and the next run reads them right.
WINDOW = "late = outset.to_the_end(wind_up)"
CLEANUP = [
    WINDOW,
    "if not whole:",
    "whole.append(out.is_dir() and not tmp.exists())",
    "if whole[0]:",
    "                land()",
    "shutil.rmtree(tmp, ignore_errors=True)",
    "if late is not None and",
]


def _raise_after(monkeypatch, name):
    """Make ``fastetl.dask.name`` raise KeyboardInterrupt after its real call returned."""
    real = getattr(fdask, name)

    def patched(*args):
        real(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(fdask, name, patched)


def _a_dataset_and_a_new_input(tmp_path, client, seed):  # noqa: F811
    """A dataset converted from ``in.csv``, then ``in.csv`` rewritten: (input, dataset,
    the dataset's records)."""
    src = tmp_path / "in.csv"
    src.write_bytes(_csv(_rows(300, seed)))
    out = tmp_path / "ds"
    fdask.convert(src, out, SCHEMA, client=client)
    old = _dataset_records(out)
    src.write_bytes(_csv(_rows(500, seed + 1)))
    return src, out, old


def _left(folder):
    """The names in ``folder`` but the output's lock, sorted."""
    return sorted(p.name for p in folder.iterdir() if "fastetl-lock" not in p.name)


@pytest.mark.parametrize("marker", CLEANUP)
@pytest.mark.parametrize("first", ["_check_unchanged", "_commit"])
def test_a_second_interrupt_in_the_clean_up_leaves_no_temporary_folder(
    client, tmp_path, monkeypatch, first, marker  # noqa: F811
):
    """Ctrl-C before the dataset's commit (as the inputs are checked again) or after it,
    then Ctrl-C again at each statement of the clean-up: the dataset is the old one or the
    new one, whole, as ``Interrupted`` says, and no temporary folder is left."""
    src, out, old = _a_dataset_and_a_new_input(tmp_path, client, 51)
    _raise_after(monkeypatch, first)
    with interrupt_at(fdask._convert_locked, marker) as raised:
        with pytest.raises(KeyboardInterrupt) as e:
            fdask.convert(src, out, SCHEMA, client=client)
    monkeypatch.undo()
    assert type(e.value) is fastetl.Interrupted
    committed = first == "_commit"
    assert e.value.committed is committed
    assert raised or (marker == "                land()" and not committed)  # (not run)
    want = _local(src, tmp_path) if committed else old
    assert _dataset_records(out).tobytes() == want.tobytes()
    left = _left(tmp_path)
    if marker == WINDOW and not committed:  # (as a kill there leaves it: the next run
        # into the dataset removes it)
        assert [p for p in left if p.endswith(".dataset")]
        fdask.convert(src, out, SCHEMA, client=client)
        left = _left(tmp_path)
    assert left == ["ds", "in.csv"] + (["local.npy", "local.npy.json"] if committed else [])


@pytest.mark.parametrize("second", ["put back", "old removed"])
def test_a_second_interrupt_in_the_commit_keeps_one_whole_dataset(
    client, tmp_path, monkeypatch, second  # noqa: F811
):
    """The commit moves the old dataset aside, renames the new one in, then removes the
    old one's copy.  Ctrl-C just after the old one was moved aside, then again as it is
    put back; or Ctrl-C during the copy's removal: the dataset is the old one (the first
    case) or the new one, whole, as ``Interrupted`` says, and no copy is left (review RE:
    the dataset was missing, or a half-removed copy was left)."""
    import os
    import shutil

    src, out, old = _a_dataset_and_a_new_input(tmp_path, client, 53)
    calls: list[str] = []
    if second == "put back":
        real = os.replace

        def replace(a, b):
            calls.append(str(b))
            if len(calls) == 1:  # the old dataset moved aside, then Ctrl-C
                real(a, b)
                raise KeyboardInterrupt
            if len(calls) == 2:  # Ctrl-C again, as it is put back
                raise KeyboardInterrupt
            real(a, b)

        monkeypatch.setattr(fdask.os, "replace", replace)
    else:
        real_rmtree = shutil.rmtree

        def rmtree(path, *args, **kwargs):
            calls.append(str(path))
            if len(calls) == 1:  # half of it removed, then Ctrl-C
                first = sorted(os.listdir(path))[0]
                os.remove(os.path.join(path, first))
                raise KeyboardInterrupt
            real_rmtree(path, *args, **kwargs)

        monkeypatch.setattr(fdask.shutil, "rmtree", rmtree)
    with pytest.raises(KeyboardInterrupt) as e:
        fdask.convert(src, out, SCHEMA, client=client)
    monkeypatch.undo()
    assert type(e.value) is fastetl.Interrupted
    committed = second == "old removed"
    assert e.value.committed is committed
    want = _local(src, tmp_path) if committed else old
    assert _dataset_records(out).tobytes() == want.tobytes()
    left = _left(tmp_path)
    assert left == ["ds", "in.csv"] + (["local.npy", "local.npy.json"] if committed else [])
