"""The IDX reader and writer: round trips and every corruption, on files the tests make."""

import gzip
import struct

import numpy as np
import pytest
import torch

from convlab.data.idx import DataError, read_header, read_idx, write_idx


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.float32, torch.float64])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_round_trip(tmp_path, dtype, name):
    t = (torch.randn(5, 3, 4) * 50).to(dtype)
    write_idx(tmp_path / name, t)
    back = read_idx(tmp_path / name)
    assert back.dtype == dtype and torch.equal(back, t)
    assert read_header(tmp_path / name)[1] == (5, 3, 4)
    assert (tmp_path / name).read_bytes()[:2] == (b"\x1f\x8b" if name.endswith(".gz") else b"\0\0")


def test_reads_the_official_layout_byte_for_byte(tmp_path):
    raw = bytes([0, 0, 8, 1]) + struct.pack(">I", 3) + bytes([7, 8, 9])
    (tmp_path / "labels").write_bytes(raw)
    assert read_idx(tmp_path / "labels").tolist() == [7, 8, 9]


def _labels(tmp_path, n=100):
    path = tmp_path / "labels.gz"
    write_idx(path, torch.arange(n, dtype=torch.uint8))
    return path


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda raw: raw[: len(raw) // 2], "corrupt or truncated gzip"),
        (lambda raw: raw[:10] + bytes(b ^ 0xFF for b in raw[10:30]) + raw[30:], "corrupt or truncated gzip"),
        (lambda raw: gzip.compress(b"\x00\x00\x42\x01" + struct.pack(">I", 3) + b"abc"), "not an IDX file"),
        (lambda raw: gzip.compress(b"\x89PNG\r\n\x1a\n"), "not an IDX file"),
        (lambda raw: gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 100) + bytes(50)), "truncated IDX file"),
        (lambda raw: gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 3) + bytes(5)), "trailing bytes"),
        (
            lambda raw: gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">3I", 60000, 60000, 60000)),
            "more than convlab reads",
        ),
        (lambda raw: b"", "truncated IDX file"),
    ],
)
def test_corruptions_are_named(tmp_path, mutate, words):
    path = _labels(tmp_path)
    path.write_bytes(mutate(path.read_bytes()))
    with pytest.raises(DataError, match=words) as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_checksum_of_contents(tmp_path):
    path = _labels(tmp_path)
    import hashlib

    digest = hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
    assert read_idx(path, sha256=digest).numel() == 100
    with pytest.raises(DataError, match="SHA-256"):
        read_idx(path, sha256="0" * 64)


def test_refuses_unstorable_dtype(tmp_path):
    with pytest.raises(DataError, match="cannot store dtype"):
        write_idx(tmp_path / "x.idx", np.zeros(3, dtype=np.complex64))
