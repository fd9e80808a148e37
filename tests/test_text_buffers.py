"""A block's text buffer goes back to the workers only after its records are written.

The pandas drop-in's ColumnWriter keeps the text it is given and gathers from it in
``append``; a worker that took that buffer again before then parsed the next block's text
over it, and rows came back with other rows' strings (no error).  Here ``append`` is made
slow (the real writer, after a pause) so that workers run ahead of it, as they do by chance
on a busy machine, and every value is compared with pandas' own reading of the file.
"""

from __future__ import annotations

import random
import string
import time

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

import fastetl.dropin.pandas as fp  # noqa: E402
from fastetl.dropin.pandas_columns import ColumnWriter  # noqa: E402


def test_text_survives_workers_running_ahead_of_the_writer(tmp_path, monkeypatch):
    rng = random.Random(7)
    letters = string.ascii_letters
    path = tmp_path / "names.csv"  # past fastetl.pandas' small-input size: read in blocks
    with open(path, "w", newline="") as f:
        f.write("id,name\n")
        f.writelines(
            f"{i},{''.join(rng.choices(letters, k=rng.randint(5, 40)))}\n" for i in range(200_000)
        )
    assert path.stat().st_size > fp.SMALL_INPUT
    monkeypatch.setattr(fp, "_workers", lambda size: 4)
    real_append = ColumnWriter.append

    def slow_append(self, records):
        time.sleep(0.005)  # the workers parse on into the buffers they are given back
        real_append(self, records)

    monkeypatch.setattr(ColumnWriter, "append", slow_append)
    want = pd.read_csv(path)
    got = fp.read_csv(path)
    assert len(got) == len(want)
    a = np.asarray(got["name"].astype(str))
    b = np.asarray(want["name"].astype(str))
    assert (a == b).all(), f"{int((a != b).sum())} names differ, first at row {np.argmax(a != b)}"
