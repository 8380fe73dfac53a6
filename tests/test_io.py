"""pairscore.io: JSONL, CSV/TSV and Parquet rows with 1-based line numbers; bad lines come back as exceptions, text
that does not decode stops the reading (file, line, byte, offset); file slices read without `datasets`."""

from io import BytesIO

import pytest

from pairscore import io, specs


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


def test_a_byte_order_mark_is_dropped_csv_and_jsonl(tmp_path):
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfsentence1,sentence2\ncaf\xc3\xa9,x\n")
    (tmp_path / "bom.jsonl").write_bytes(b'\xef\xbb\xbf{"a": "caf\xc3\xa9"}\n')
    assert list(io.iter_rows(tmp_path / "bom.csv")) == [(2, {"sentence1": "café", "sentence2": "x"})]
    assert list(io.iter_rows(tmp_path / "bom.jsonl")) == [(1, {"a": "café"})]


@pytest.mark.parametrize("name", ["rows.csv", "rows.jsonl"])
def test_bytes_that_are_not_utf8_stop_the_reading_with_file_line_byte_and_offset(tmp_path, name):
    path = tmp_path / name
    first = b"a,b\n" if name.endswith(".csv") else b'{"a": "x"}\n'
    second = b"caf\xe9,b\n" if name.endswith(".csv") else b'{"a": "caf\xe9"}\n'
    path.write_bytes(first + second)
    offset = len(first) + second.index(b"\xe9")
    with pytest.raises(io.DecodeError) as raised:
        list(io.iter_rows(path))
    assert str(raised.value).startswith(f"{path}:2: not UTF-8 (byte 0xe9 at offset {offset}); pass --encoding")
    with pytest.raises(io.DecodeError, match=rf"{name}:2: not UTF-8"):
        io.check_text(path)
    expected = {"a": "café", "b": "b"} if name.endswith(".csv") else {"a": "café"}
    assert list(io.iter_rows(path, text=io.text_format("cp1252")))[-1] == (2, expected)  # nothing lost


def test_a_byte_cut_off_at_the_end_of_the_file_is_named_too(tmp_path):
    path = tmp_path / "cut.jsonl"
    path.write_bytes(b'{"a": "x"}\n{"a": "\xc3')
    with pytest.raises(io.DecodeError, match=r"cut.jsonl:2: not UTF-8 \(byte 0xc3 at offset 18\)"):
        list(io.iter_rows(path))


def test_other_encodings_read_as_told(tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_text("text_a,text_b\nnaïve,café\nx,y\n", encoding="utf-16")
    rows = list(io.iter_rows(path, text=io.text_format("utf-16")))
    assert rows == [(2, {"text_a": "naïve", "text_b": "café"}), (3, {"text_a": "x", "text_b": "y"})]
    with pytest.raises(ValueError, match="encoding 'utf-9': unknown"):
        io.text_format("utf-9")


def test_tab_separated_files_by_suffix_by_their_header_or_by_flag(tmp_path):
    tsv = "sentence1\tsentence2\tlabel\na, b\tc\t1\n"
    expected = [(2, {"sentence1": "a, b", "sentence2": "c", "label": "1"})]
    (tmp_path / "rows.tsv").write_text(tsv)
    (tmp_path / "tabs.csv").write_text(tsv)  # named .csv, tab-separated: the header has tabs and no commas
    (tmp_path / "semi.csv").write_text(tsv.replace("\t", ";"))
    assert list(io.iter_rows(tmp_path / "rows.tsv")) == expected
    assert list(io.iter_rows(tmp_path / "tabs.csv")) == expected
    assert list(io.iter_rows(tmp_path / "semi.csv", text=io.text_format(delimiter=";"))) == expected
    assert list(io.iter_rows(tmp_path / "tabs.csv", text=io.text_format(delimiter="tab"))) == expected
    with pytest.raises(ValueError, match="delimiter ':'"):
        io.text_format(delimiter=":")


SLICES = ["[:-100]", "[-100:]", "[:10%]", "[-10%:]", "[10%:50]", "[5:-5]", "[-3:-1]", "[:0]", "[50%:-1%]", "[200:]"]


@pytest.mark.parametrize("rows", [0, 7, 100, 333])
def test_file_slices_take_the_rows_datasets_takes_without_it(rows):
    """pairscore.specs reads `my.csv[-100:]` itself (the serving install has no `datasets`), row for row as
    `datasets` reads a split slice."""
    datasets = pytest.importorskip("datasets")
    for text in SLICES:
        (expected,) = datasets.ReadInstruction.from_spec(f"rows{text}").to_absolute({"rows": rows})
        assert specs.slice_of(text, rows) == slice(expected.from_, expected.to), text


@pytest.mark.parametrize("text", ["[1:2:3]", "[abc:]", "[:101%]", "[5]"])
def test_a_slice_it_cannot_read_is_named(text):
    with pytest.raises(ValueError, match="slice"):
        specs.slice_of(text, 10)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 64, io.BLOCK])
def test_lines_and_the_bad_bytes_place_do_not_depend_on_how_the_file_is_read(size):
    """Multi-byte characters and the bad byte fall across block edges at every block size."""
    good = "\ufeffnaïve\ncafé crème\n\nœuvre"
    assert list(io.text_lines(io.blocks(BytesIO(good.encode()), size), "f")) == [
        (1, "naïve\n"),
        (2, "café crème\n"),
        (3, "\n"),
        (4, "œuvre"),
    ]
    bad = "naïve\ncafé crème\n".encode() + b"cr\xe8me\n"
    with pytest.raises(io.DecodeError, match=rf"^f:3: not UTF-8 \(byte 0xe8 at offset {bad.index(0xE8)}\)"):
        list(io.text_lines(io.blocks(BytesIO(bad), size), "f"))
