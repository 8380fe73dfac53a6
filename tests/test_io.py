"""pairscore.io: JSONL, CSV and Parquet rows with 1-based line numbers; bad lines come back as exceptions."""

import pytest

from pairscore import io


def test_jsonl_lines_numbered_bad_lines_yielded(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\nnot json\n[1, 2]\n{"a": 2}\n')
    rows = list(io.iter_rows(path))
    assert [n for n, _ in rows] == [1, 3, 4, 5]
    assert rows[0][1] == {"a": 1} and rows[3][1] == {"a": 2}
    assert isinstance(rows[1][1], ValueError) and isinstance(rows[2][1], ValueError)


def test_csv_lines_are_file_lines(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text('premise,hypothesis,label\n"a, b",c,1\nd,e,2,extra\n')
    rows = list(io.iter_rows(path))
    assert rows[0] == (2, {"premise": "a, b", "hypothesis": "c", "label": "1"})
    assert rows[1][0] == 3 and isinstance(rows[1][1], ValueError)


def test_parquet_rows(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"question": ["q", "q"], "answer": ["x", "y"], "label": [0, 1]}), tmp_path / "rows.parquet")
    assert list(io.iter_rows(tmp_path / "rows.parquet")) == [
        (1, {"question": "q", "answer": "x", "label": 0}),
        (2, {"question": "q", "answer": "y", "label": 1}),
    ]


def test_unknown_suffix_is_named(tmp_path):
    with pytest.raises(ValueError, match="rows.txt"):
        list(io.iter_rows(tmp_path / "rows.txt"))
