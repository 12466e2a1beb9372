"""Fuzzing the readers and the web API with random and mutated bytes: only clear errors,
never a crash, a hang or a huge allocation. Case counts go to artifacts/fuzz.json."""

import base64
import gzip
import io
import json
import os
import struct

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import REPO
from convlab.data.idx import DataError, read_idx
from convlab.errors import UserError

COUNTS = {}
ARTIFACTS = os.environ.get("CONVLAB_ARTIFACTS", str(REPO / "artifacts"))
FAST = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, "fuzz.json"), "w") as f:
        json.dump(COUNTS, f, indent=2)


def count(name):
    COUNTS[name] = COUNTS.get(name, 0) + 1


def _valid_idx():
    t = torch.randint(0, 255, (5, 4, 4), dtype=torch.uint8)
    body = bytes([0, 0, 8, 3]) + struct.pack(">3I", 5, 4, 4) + t.numpy().tobytes()
    return body


def mutate(data: bytes, draw_ops) -> bytes:
    b = bytearray(data)
    for kind, pos, val in draw_ops:
        if not b:
            break
        p = pos % len(b)
        if kind == 0:
            b[p] = val
        elif kind == 1:
            del b[p:]
        else:
            b[p:p] = bytes([val]) * 3
    return bytes(b)


OPS = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10_000), st.integers(0, 255)), max_size=6)


@FAST
@given(st.binary(max_size=200) | OPS.map(lambda o: mutate(_valid_idx(), o)), st.booleans())
def test_idx_reader(tmp_path_factory, data, compress):
    path = tmp_path_factory.getbasetemp() / "fuzz.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    count("idx")
    try:
        t = read_idx(path)
        assert t.numel() * t.element_size() <= len(data)  # never more than the file holds
    except DataError:
        pass


@FAST
@given(OPS)
def test_gzip_mutations(tmp_path_factory, ops):
    path = tmp_path_factory.getbasetemp() / "fuzz.idx.gz"
    path.write_bytes(mutate(gzip.compress(_valid_idx()), ops))
    count("idx_gzip")
    try:
        read_idx(path)
    except DataError:
        pass


@FAST
@given(st.text(alphabet="0123456789,.-x\n label", max_size=300))
@example("99999999999,1\n0,2\n")  # found by this test: one class name per label exhausted memory
def test_csv_reader(tmp_path_factory, text):
    from convlab.data.formats import load_csv

    path = tmp_path_factory.getbasetemp() / "fuzz.csv"
    path.write_text(text)
    count("csv")
    try:
        load_csv(path)
    except UserError:
        pass


def _png():
    buf = io.BytesIO()
    Image.new("L", (12, 9), 77).save(buf, format="PNG")
    return buf.getvalue()


@FAST
@given(OPS.map(lambda o: mutate(_png(), o)) | st.binary(max_size=100))
def test_image_reader(data):
    from convlab.data.images import load_image

    count("image")
    try:
        x = load_image(data)
        assert x.shape == (1, 28, 28)
    except UserError:
        pass


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from convlab.checkpoint import load_checkpoint
    from convlab.web.app import create_app

    return TestClient(create_app(load_checkpoint()))


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda c: (
        st.lists(c, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                ["mode", "input", "kernel", "padding", "stride", "dilation", "size", "image", "layer", "row", "col"]
            ),
            c,
            max_size=6,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["/api/explain", "/api/predict", "/api/receptive-field"]), JSONISH)
def test_web_api(client, path, body):
    count("web_json")
    r = client.post(path, json=body)
    assert r.status_code in (200, 400, 413, 415), r.text
    assert "error" in r.json() or r.status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        b'{"mode": "conv", "input": [[Infinity]], "kernel": [[1]]}',
        b'{"mode": "conv", "input": [[NaN, 1]], "kernel": [[1]]}',
        b'{"mode": "conv", "input": [[1e300, 1e300]], "kernel": [[1e300]]}',
        b"[" * 100000 + b"]" * 100000,
    ],
)
def test_web_hostile_json(client, raw):
    count("web_hostile")
    r = client.post("/api/explain", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(OPS.map(lambda o: mutate(_png(), o)))
def test_web_images(client, data):
    count("web_image")
    r = client.post("/api/predict", json={"image": base64.b64encode(data).decode()})
    assert r.status_code in (200, 400, 415)
