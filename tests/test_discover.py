"""--data FOLDER as people download it: IDX files found by magic number and shape wherever they sit
and however they are named, paired into splits; a folder still not understood says what it holds."""

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import make_images
from convlab.data import load_dataset
from convlab.data.idx import DataError, write_idx

X, Y = make_images(60, 3, seed=1)
SPLITS = {"train": (X[:48, 0], Y[:48].to(torch.uint8)), "t10k": (X[48:, 0], Y[48:].to(torch.uint8))}


def write_split(folder, name_of, compress=False):
    """Write the train and t10k pairs under `folder`, at the paths name_of(split, kind) gives."""
    for split, (x, y) in SPLITS.items():
        for kind, t in (("images", x), ("labels", y)):
            path = folder / name_of(split, kind)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_idx(path, t, compress=compress)


def assert_is_the_written_data(ds):
    assert torch.equal(ds.train_x[:, 0], SPLITS["train"][0]) and torch.equal(ds.train_y, SPLITS["train"][1].long())
    assert torch.equal(ds.test_x[:, 0], SPLITS["t10k"][0]) and torch.equal(ds.test_y, SPLITS["t10k"][1].long())


def test_kaggle_archive_each_file_in_a_folder_of_its_name(tmp_path):
    """Kaggle's MNIST archive: archive/train-images-idx3-ubyte/train-images-idx3-ubyte, and the
    same file again beside it as train-images.idx3-ubyte."""
    idx = {"images": "idx3", "labels": "idx1"}
    write_split(tmp_path / "archive", lambda s, k: f"{s}-{k}-{idx[k]}-ubyte/{s}-{k}-{idx[k]}-ubyte")
    write_split(tmp_path / "archive", lambda s, k: f"{s}-{k}.{idx[k]}-ubyte")
    ds = load_dataset(data=tmp_path / "archive")
    assert_is_the_written_data(ds)
    assert sum("not read" in n for n in ds.notes) == 4  # the copies beside the folders


NAMINGS = {
    "prefix": lambda s, k: f"emnist-digits-{s}-{k}-idx{3 if k == 'images' else 1}-ubyte",
    "suffix": lambda s, k: f"{s}-{k}-idx-ubyte.bin",
    "dots": lambda s, k: f"{s}.{k}.idx",
    "underscores": lambda s, k: f"{'test' if s == 't10k' else s}_{k}",
    "capitals": lambda s, k: f"{s.upper()}-{k.upper()}",
    "split folders": lambda s, k: f"{'testing' if s == 't10k' else 'training'}/{k}.idx",
    "deep": lambda s, k: f"mnist/raw/{s}-{k}-idx-ubyte",
}


@pytest.mark.parametrize("naming", NAMINGS)
@pytest.mark.parametrize("compress", [False, True])
def test_idx_files_however_named(tmp_path, naming, compress):
    write_split(tmp_path / "d", NAMINGS[naming], compress)
    assert_is_the_written_data(load_dataset(data=tmp_path / "d"))


def test_names_that_say_no_split_pair_by_count(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    write_idx(d / "a.idx", SPLITS["t10k"][0])
    write_idx(d / "b.idx", SPLITS["train"][1])
    write_idx(d / "c.idx", SPLITS["train"][0])
    write_idx(d / "d.idx", SPLITS["t10k"][1])
    assert_is_the_written_data(load_dataset(data=d))  # 48 images with 48 labels: the larger pair trains


def test_only_a_training_pair_gets_a_held_out_split(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    write_idx(d / "pictures", X[:, 0])
    write_idx(d / "classes", Y.to(torch.uint8))
    ds = load_dataset(data=d)
    assert len(ds.train_y) + len(ds.test_y) == 60 and any("held out" in n for n in ds.notes)


def test_images_without_labels_say_what_was_found(tmp_path):
    d = tmp_path / "d"
    write_split(d, lambda s, k: f"{s}-{k}-idx3-ubyte")
    for f in d.glob("*labels*"):
        f.unlink()
    with pytest.raises(DataError, match=r"found IDX files \(t10k-images-idx3-ubyte images \[12, 28, 28\]") as e:
        load_dataset(data=d)
    assert "train-images-idx3-ubyte images [48, 28, 28]" in str(e.value)


def test_two_different_training_image_files_are_refused(tmp_path):
    d = tmp_path / "d"
    write_split(d, lambda s, k: f"{s}-{k}")
    write_idx(d / "train-images-extra", X[:10, 0])
    with pytest.raises(DataError, match="more than one IDX file of train images with different shapes"):
        load_dataset(data=d)


# --- a folder that is not understood says what it holds ------------------------------------


def test_a_folder_of_no_images_says_what_it_holds_not_skip_bad(tmp_path):
    d = tmp_path / "d"
    (d / "a").mkdir(parents=True)
    (d / "b").mkdir()
    np.save(d / "a" / "x.npy", np.zeros(3))
    (d / "b" / "notes.txt").write_text("hello")
    (d / "b" / "blob").write_bytes(b"\x01\x02\x03")
    for skip_bad in (False, True):
        with pytest.raises(DataError) as e:
            load_dataset(data=d, skip_bad=skip_bad)
        msg = str(e.value)
        assert "skip-bad" not in msg and len(msg.splitlines()) == 1
        assert "2 sub-folder(s) and 3 file(s)" in msg and "'.npy'" in msg and "'.txt'" in msg, msg


def test_a_folder_with_a_csv_says_to_pass_the_file(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "train.csv").write_text("label,a\n1,2\n")
    with pytest.raises(DataError, match=r"1 CSV file\(s\).*pass the file itself"):
        load_dataset(data=tmp_path / "d")


def test_one_bad_file_among_images_still_suggests_skip_bad(tmp_path):
    for c in ("cat", "dog"):
        (tmp_path / "d" / c).mkdir(parents=True)
        Image.new("L", (8, 8), 200).save(tmp_path / "d" / c / "0.png")
    (tmp_path / "d" / "dog" / "1.png").write_text("not a picture")
    with pytest.raises(DataError, match="skip-bad"):
        load_dataset(data=tmp_path / "d")
