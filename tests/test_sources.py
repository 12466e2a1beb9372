"""Known datasets: discovery order, downloads against a local HTTP server, the real Fashion-MNIST."""

import dataclasses
import gzip
import hashlib

import pytest
import torch

from conftest import make_images
from convlab.data import load_dataset, sources
from convlab.data.idx import DataError, write_idx


@pytest.fixture
def tiny_mnist(tmp_path, http_server, monkeypatch):
    """`mnist` redirected to two local mirrors serving a tiny generated copy."""
    files = {}
    x, y = make_images(60, 10)
    tx, ty = make_images(20, 10, seed=1)
    for name, t in zip(sources.FILES, (x[:, 0], y.to(torch.uint8), tx[:, 0], ty.to(torch.uint8))):
        write_idx(tmp_path / name, t)
        files[name] = (tmp_path / name).read_bytes()
    md5 = {k: hashlib.md5(v).hexdigest() for k, v in files.items()}
    info = dataclasses.replace(
        sources.KNOWN["mnist"], md5=md5, system_dirs=(), mirrors=(http_server.url + "/a/", http_server.url + "/b/")
    )
    monkeypatch.setitem(sources.KNOWN, "mnist", info)
    monkeypatch.setenv("CONVLAB_DATA", str(tmp_path / "cache"))
    return files


def test_download_tries_mirrors_and_verifies(tiny_mnist, http_server, tmp_path):
    for name, body in tiny_mnist.items():
        http_server.routes["/a/" + name] = ("error", b"")
        http_server.routes["/b/" + name] = ("ok", body)
    ds = load_dataset("mnist", progress=False)
    assert (len(ds.train_y), len(ds.test_y), ds.num_classes) == (60, 20, 10)
    target = tmp_path / "cache" / "mnist"
    assert sorted(p.name for p in target.iterdir()) == sorted(tiny_mnist)  # no leftover temporary files
    n = len(http_server.log)
    load_dataset("mnist", progress=False)
    assert len(http_server.log) == n  # present now: no network access at all


def test_checksum_mismatch_removes_the_bad_file(tiny_mnist, http_server, tmp_path):
    for name, body in tiny_mnist.items():
        for m in "ab":
            http_server.routes[f"/{m}/{name}"] = ("ok", body[:-1] + bytes([body[-1] ^ 1]))
    with pytest.raises(DataError, match="checksum mismatch") as e:
        load_dataset("mnist", progress=False)
    assert "looked in" in str(e.value)
    target = tmp_path / "cache" / "mnist"
    assert not target.exists() or not any(target.iterdir())


def test_interrupted_transfer_then_server_error(tiny_mnist, http_server, tmp_path):
    for name, body in tiny_mnist.items():
        http_server.routes["/a/" + name] = ("truncate", body)
        http_server.routes["/b/" + name] = ("error", b"")
    with pytest.raises(DataError, match="interrupted") as e:
        load_dataset("mnist", progress=False)
    assert "server error" in str(e.value).lower() or "500" in str(e.value)
    target = tmp_path / "cache" / "mnist"
    assert not target.exists() or not any(target.iterdir())


def test_data_dir_comes_first(tiny_mnist, tmp_path, http_server):
    mine = tmp_path / "mine"
    mine.mkdir()
    for name, body in tiny_mnist.items():
        (mine / name).write_bytes(gzip.decompress(body))  # unpacked files are found too
    assert sources.locate("mnist", mine) == mine
    ds = load_dataset("mnist", data_dir=mine, progress=False)
    assert ds.source == str(mine) and http_server.log == []


@pytest.mark.parametrize("layout", ["{n}/{n}", "{d}"])
def test_a_known_dataset_in_kaggles_layout_is_found(tiny_mnist, tmp_path, http_server, layout):
    """Kaggle's MNIST archive: each unpacked file in a folder of its own name, or with dots for dashes."""
    archive = tmp_path / "archive"
    for name, body in tiny_mnist.items():
        n = name.removesuffix(".gz")
        path = archive / layout.format(n=n, d=n.replace("-idx", ".idx"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.decompress(body))
    assert sources.locate("mnist", archive) == archive
    ds = load_dataset("mnist", data_dir=archive, progress=False)
    assert len(ds.train_y) == 60 and len(ds.test_y) == 20 and http_server.log == []


def test_unknown_dataset_suggests():
    with pytest.raises(ValueError, match="did you mean 'fashion-mnist'"):
        load_dataset("fashion_mnist")


def test_real_fashion_mnist(fashion_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("CONVLAB_DATA", str(tmp_path))  # an empty cache: the system folder must be found
    assert sources.locate("fashion-mnist") == fashion_dir
    ds = load_dataset("fashion-mnist", progress=False)
    assert (len(ds.train_y), len(ds.test_y), ds.num_classes) == (60000, 10000, 10)
    assert ds.train_x.shape == (60000, 1, 28, 28) and ds.train_x.dtype == torch.uint8
    assert ds.train_y[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert ds.test_y[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert ds.class_counts() == [6000] * 10 and ds.flips


def test_datasets_command_finds_the_system_copy(fashion_dir, cli, tmp_path):
    r = cli("datasets", env={"CONVLAB_DATA": str(tmp_path)})
    assert r.returncode == 0
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("fashion-mnist"))
    assert str(fashion_dir) in line and "60000 train / 10000 test" in line
