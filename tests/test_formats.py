"""--data PATH: IDX folders, image folders and CSV files the tests make, and every bad input."""

import csv
import gzip

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import assert_user_error, make_images, run_here
from convlab.data import load_dataset
from convlab.data.idx import DataError, write_idx


def write_image_folder(root, classes=("cat", "dog", "owl"), per_class=6, fmt="png", size=(40, 30)):
    for k, c in enumerate(classes):
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            a = np.full((size[1], size[0], 3), 30 + 80 * k, dtype=np.uint8)
            a[:, : 5 + i] = 255
            Image.fromarray(a).save(root / c / f"{i}.{fmt}")


def write_csv(path, n=30, header=True, side=4, label_last=False):
    x, y = make_images(n, 3, size=side)
    rows = [list(map(int, px)) for px in x.reshape(n, -1).tolist()]
    lines = []
    if header:
        cols = [f"pixel{i}" for i in range(side * side)]
        lines.append(",".join([*cols, "label"] if label_last else ["label", *cols]))
    for label, px in zip(y.tolist(), rows):
        vals = [*px, label] if label_last else [label, *px]
        lines.append(",".join(map(str, vals)))
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return x, y


def test_image_folder_without_split(tmp_path):
    write_image_folder(tmp_path / "pets", fmt="jpg")
    ds = load_dataset(data=tmp_path / "pets")
    assert ds.classes == ["cat", "dog", "owl"]
    assert ds.train_x.shape[1:] == (1, 28, 28)
    assert len(ds.train_y) + len(ds.test_y) == 18 and ds.class_counts("test") == [1, 1, 1]
    assert any("stratified" in n for n in ds.notes)


@pytest.mark.parametrize("test_name", ["test", "val"])
def test_image_folder_with_split_and_rgb(tmp_path, test_name):
    write_image_folder(tmp_path / "d" / "train", fmt="png")
    write_image_folder(tmp_path / "d" / test_name, per_class=2, fmt="webp")
    ds = load_dataset(data=tmp_path / "d", channels=3, size=(32, 32))
    assert ds.train_x.shape == (18, 3, 32, 32) and ds.test_x.shape == (6, 3, 32, 32)
    assert ds.notes == []


def test_aspect_ratio_is_kept(tmp_path):
    from convlab.data.images import load_image

    a = np.zeros((20, 80), dtype=np.uint8)
    a[:, :] = 255
    Image.fromarray(a).save(tmp_path / "wide.png")
    x = load_image(tmp_path / "wide.png")  # 80×20 → 28×7 band, padded with the border colour
    assert x.shape == (1, 28, 28)
    assert (x == 255).all()  # border is white, so is the padding
    b = np.zeros((20, 80), dtype=np.uint8)
    b[5:15, 10:70] = 255
    Image.fromarray(b).save(tmp_path / "wide2.png")
    y = load_image(tmp_path / "wide2.png")[0]
    assert y[:10].max() == 0 and y[-10:].max() == 0 and y[14].max() > 200


def test_idx_folder_and_missing_test_split(tmp_path):
    x, y = make_images(50, 5)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", x[:, 0])
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", y.to(torch.uint8))
    ds = load_dataset(data=tmp_path)
    assert ds.num_classes == 5 and len(ds.train_y) == 45 and len(ds.test_y) == 5


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("digits.csv", dict()),
        ("digits.csv.gz", dict()),
        ("nohead.csv", dict(header=False)),
    ],
)
def test_csv(tmp_path, name, kwargs):
    x, _ = write_csv(tmp_path / name, **kwargs)
    ds = load_dataset(data=tmp_path / name)
    assert ds.train_x.shape[1:] == (1, 4, 4) and len(ds.train_y) + len(ds.test_y) == 30
    got = torch.cat([ds.train_x, ds.test_x]).reshape(30, -1).sum(1).sort().values
    assert torch.equal(got, x.reshape(30, -1).long().sum(1).sort().values)


def write_spreadsheet_csv(path, header=True, quoting=csv.QUOTE_ALL, bom=True, n=30, side=4):
    """A CSV as a spreadsheet saves it: "CSV UTF-8" (a byte-order mark), every field quoted, CRLF."""
    x, y = make_images(n, 3, size=side)
    rows = [[label, *px] for label, px in zip(y.tolist(), x.reshape(n, -1).tolist())]
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        w = csv.writer(f, quoting=quoting, lineterminator="\r\n")
        if header:
            w.writerow(["label", *(f"pixel {i}" for i in range(side * side))])
        w.writerows(rows)


def csv_module_rows(path, header):
    """The oracle: (label, pixels…) rows as the csv module reads the file, sorted."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))[int(header) :]
    return sorted(tuple(int(float(v)) for v in r) for r in rows)


def dataset_rows(ds):
    x = torch.cat([ds.train_x, ds.test_x]).reshape(len(ds.train_y) + len(ds.test_y), -1)
    y = torch.cat([ds.train_y, ds.test_y])
    return sorted((label, *px) for label, px in zip(y.tolist(), x.tolist()))


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("bom-header.csv", dict()),
        ("bom-no-header.csv", dict(header=False)),
        ("bom-unquoted.csv", dict(quoting=csv.QUOTE_MINIMAL)),
        ("quoted-crlf.csv", dict(bom=False)),
        ("bom-quoted.csv.gz", dict()),
    ],
)
def test_csv_as_spreadsheets_save_it(tmp_path, name, kwargs):
    path = tmp_path / name
    write_spreadsheet_csv(path, **kwargs)
    if kwargs.get("bom", True):
        raw = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
    ds = load_dataset(data=path)
    assert ds.num_classes == 3 and ds.train_x.shape[1:] == (1, 4, 4)
    assert dataset_rows(ds) == csv_module_rows(path, kwargs.get("header", True))


def test_csv_label_last(tmp_path):
    write_csv(tmp_path / "last.csv", header=False, label_last=True)
    ds = load_dataset(data=tmp_path / "last.csv", label_column="last")
    assert ds.num_classes == 3


def test_skip_bad_flag_skips_with_a_note(tmp_path):
    write_image_folder(tmp_path / "d")
    (tmp_path / "d" / "cat" / "notes.txt").write_text("not an image")
    ds = load_dataset(data=tmp_path / "d", skip_bad=True)
    assert any("notes.txt" in n for n in ds.notes)


# --- bad input through the CLI: exit 2, one line, nothing written ---------------------------


def _bad_cases(tmp):
    cases = {}
    d = tmp / "empty"
    d.mkdir()
    cases["empty folder"] = (d, "empty folder")
    d = tmp / "noimg"
    write_image_folder(d)
    (d / "zebra").mkdir()
    cases["class folder with no images"] = (d, "has no images")
    d = tmp / "junk"
    write_image_folder(d)
    (d / "dog" / "readme.png").write_text("plain text with a .png name")
    cases["non-image file"] = (d, "readme.png")
    d = tmp / "idxcount"
    d.mkdir()
    x, y = make_images(20, 2)
    write_idx(d / "train-images-idx3-ubyte.gz", x[:, 0])
    write_idx(d / "train-labels-idx1-ubyte.gz", y[:15].to(torch.uint8))
    cases["count mismatch"] = (d, "20 images but 15 labels")
    d = tmp / "idxmagic"
    d.mkdir()
    write_idx(d / "train-images-idx3-ubyte.gz", x[:, 0])
    (d / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x01\x08\x01\x00\x00\x00\x14" + bytes(20)))
    cases["wrong magic"] = (d, "not an IDX file")
    d = tmp / "idxtrunc"
    d.mkdir()
    write_idx(d / "train-images-idx3-ubyte.gz", x[:, 0])
    write_idx(d / "train-labels-idx1-ubyte.gz", y.to(torch.uint8))
    raw = (d / "train-images-idx3-ubyte.gz").read_bytes()
    (d / "train-images-idx3-ubyte.gz").write_bytes(raw[: len(raw) // 2])
    cases["truncated gzip"] = (d, "corrupt or truncated gzip")
    p = tmp / "ragged.csv"
    write_csv(p)
    lines = p.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0]
    p.write_text("\n".join(lines) + "\n")
    cases["ragged csv"] = (p, "wrong number of columns")
    p = tmp / "nonnum.csv"
    write_csv(p)
    lines = p.read_text().splitlines()
    lines[3] = lines[3].replace(",", ",x", 1)
    p.write_text("\n".join(lines) + "\n")
    cases["non-numeric csv"] = (p, "line 4")
    p = tmp / "nolabel.csv"
    p.write_text("a,b,c,d,e\n1,2,3,4,5\n")
    cases["csv without label"] = (p, "no 'label' column")
    p = tmp / "range.csv"
    p.write_text("label,p1,p2,p3,p4\n0,1,2,3,400\n1,1,2,3,4\n")
    cases["pixel out of range"] = (p, "0..255")
    d = tmp / "labels"
    d.mkdir()
    write_idx(d / "train-images-idx3-ubyte.gz", x[:, 0])
    write_idx(d / "train-labels-idx1-ubyte.gz", y.to(torch.uint8))
    write_idx(d / "t10k-images-idx3-ubyte.gz", x[:4, 0])
    write_idx(d / "t10k-labels-idx1-ubyte.gz", torch.tensor([0, 1, 7, 1], dtype=torch.uint8))
    cases["label out of range"] = (d, "labels must be in 0..1")
    cases["missing path"] = (tmp / "nowhere", "no such file")
    d = tmp / "not-understood"
    (d / "x").mkdir(parents=True)
    (d / "x" / "data.bin").write_bytes(b"\x05" * 10)
    cases["folder not understood"] = (d, "found 1 sub-folder(s) and 1 file(s) under it: 1 '.bin' file(s)")
    return cases


@pytest.mark.slow
def test_bad_data_is_a_clear_error_and_writes_nothing(tmp_path):
    for what, (path, words) in _bad_cases(tmp_path).items():
        before = sorted(p.name for p in tmp_path.rglob("*"))
        out = tmp_path / "grid.png"
        r = run_here("datasets", "show", path, "--out", out)  # (in this process: no new interpreter per case)
        assert_user_error(r, words)
        assert not out.exists(), what
        assert sorted(p.name for p in tmp_path.rglob("*")) == before, what


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    from convlab.data.images import load_image

    img = Image.new("L", (6000, 6000))
    img.save(tmp_path / "huge.png", optimize=False)
    with pytest.raises(DataError, match="at most"):
        load_image(tmp_path / "huge.png")


def test_format_is_checked_by_content(tmp_path):
    from convlab.data.images import load_image

    Image.new("L", (10, 10)).save(tmp_path / "fake.png", format="PCX")
    with pytest.raises(DataError, match="PCX images are not supported"):
        load_image(tmp_path / "fake.png")
