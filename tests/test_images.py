"""Images in every mode Pillow opens, read as a person sees them: generated files of each mode
checked against Pillow's own conversions (convert, alpha_composite, ImageCms) and hand arithmetic."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from convlab.data.idx import DataError, read_idx
from convlab.data.images import as_seen, load_image, open_image

RNG = np.random.default_rng(0)
H, W = 6, 8
WHITE = (255, 255, 255, 255)


def saved(tmp_path, img, fmt, name, **kw):
    path = tmp_path / f"{name}.{fmt.lower()}"
    img.save(path, fmt, **kw)
    return path


def reopened(path):
    with Image.open(path) as im:
        im.load()
        return im.copy()


def pixels(path, channels):
    """What every reader sees: load_image at the file's own size (no resizing), (H, W[, 3])."""
    x = load_image(path, channels, (H, W))
    return x[0].numpy() if channels == 1 else x.permute(1, 2, 0).numpy()


def random_rgb():
    return Image.fromarray(RNG.integers(0, 256, (H, W, 3), dtype=np.uint8))


def test_the_16_bit_ramp_of_the_issue(tmp_path):
    ramp = np.array([[0, 16384, 32768, 49152, 65535]], dtype=np.uint16)
    path = saved(tmp_path, Image.fromarray(ramp), "PNG", "ramp")
    assert reopened(path).mode == "I;16"
    assert np.asarray(open_image(path)).tolist() == [[0, 64, 128, 192, 255]]
    assert load_image(path, 1, (1, 5)).tolist() == [[[0, 64, 128, 192, 255]]]


# --- modes without transparency: Pillow's own conversion -----------------------------------

OPAQUE = {  # name: (a Pillow image of that mode, format that keeps it)
    "1": (lambda: Image.fromarray(RNG.integers(0, 2, (H, W), dtype=np.uint8) * 255).convert("1"), "PNG"),
    "L": (lambda: random_rgb().convert("L"), "PNG"),
    "P": (lambda: random_rgb().quantize(16), "PNG"),
    "RGB": (random_rgb, "PNG"),
    "CMYK": (lambda: Image.fromarray(RNG.integers(0, 256, (H, W, 4), dtype=np.uint8), "CMYK"), "TIFF"),
    "CMYK-jpeg": (lambda: random_rgb().convert("CMYK"), "JPEG"),
    "YCbCr": (lambda: random_rgb().convert("YCbCr"), "TIFF"),
}


@pytest.mark.parametrize("name", OPAQUE)
def test_opaque_modes_read_as_pillow_converts_them(tmp_path, name):
    make, fmt = OPAQUE[name]
    path = saved(tmp_path, make(), fmt, name)
    im = reopened(path)
    assert im.mode == name.split("-")[0]
    seen = im.convert("L") if im.mode in ("1", "L") else im.convert("RGB")
    assert np.array_equal(np.asarray(open_image(path)), np.asarray(seen))
    assert np.array_equal(pixels(path, 3), np.asarray(seen.convert("RGB")))
    assert np.array_equal(pixels(path, 1), np.asarray(seen.convert("L")))


def test_lab_reads_as_little_cms_converts_it(tmp_path):
    rgb = random_rgb()
    srgb, lab = ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB")
    im = ImageCms.applyTransform(rgb, ImageCms.buildTransform(srgb, lab, "RGB", "LAB"))
    path = saved(tmp_path, im, "TIFF", "lab")
    assert reopened(path).mode == "LAB"
    back = ImageCms.applyTransform(reopened(path), ImageCms.buildTransform(lab, srgb, "LAB", "RGB"))
    assert np.array_equal(pixels(path, 3), np.asarray(back))
    assert np.abs(pixels(path, 3).astype(int) - np.asarray(rgb, dtype=int)).mean() < 3  # 8-bit Lab rounding


def test_hsv_reads_as_pillow_converts_it():
    im = random_rgb().convert("HSV")
    assert np.array_equal(np.asarray(as_seen(im)), np.asarray(im.convert("RGB")))


# --- transparency, every way a file carries it: composited on white ------------------------


def _alpha():
    a = RNG.integers(0, 256, (H, W), dtype=np.uint8)
    a[0, :3] = (0, 128, 255)  # fully transparent, half, opaque
    return a


def _rgba():
    return Image.fromarray(np.dstack([np.asarray(random_rgb()), _alpha()]), "RGBA")


def _palette(key):
    im = random_rgb().quantize(8)
    im.info["transparency"] = key
    return im


def _keyed(mode):
    im = random_rgb().convert(mode)
    im.info["transparency"] = im.getpixel((0, 0))
    return im


TRANSPARENT = {  # name: (image, format, save options)
    "RGBA": (_rgba, "PNG", {}),
    "LA": (lambda: _rgba().convert("LA"), "PNG", {}),
    "PA": (lambda: _rgba().convert("PA"), "TIFF", {}),
    "P-alpha-table": (lambda: _palette(bytes([0, 128, 255, *RNG.integers(0, 256, 5, dtype=np.uint8)])), "PNG", {}),
    "P-one-index": (lambda: _palette(3), "PNG", {}),
    "P-gif": (lambda: _palette(3), "GIF", {}),
    "L-key": (lambda: _keyed("L"), "PNG", {}),
    "RGB-key": (lambda: _keyed("RGB"), "PNG", {}),
    "RGBA-webp": (_rgba, "WEBP", {"lossless": True}),
}


@pytest.mark.parametrize("name", TRANSPARENT)
def test_transparency_is_composited_on_white(tmp_path, name):
    make, fmt, kw = TRANSPARENT[name]
    img = make()
    key = {"transparency": img.info["transparency"]} if "transparency" in img.info else {}
    path = saved(tmp_path, img, fmt, name, **key, **kw)
    im = reopened(path)
    rgba = im.convert("RGBA")
    assert rgba.getextrema()[3][0] == 0, "the file must hold transparent pixels"
    on_white = Image.alpha_composite(Image.new("RGBA", im.size, WHITE), rgba)
    gray = im.mode in ("L", "LA")
    expected = on_white.convert("L" if gray else "RGB")
    assert np.array_equal(np.asarray(open_image(path)), np.asarray(expected))
    assert np.array_equal(pixels(path, 1), np.asarray(on_white.convert("L")))
    # by hand: colour·α + white·(1 − α), to within Pillow's integer rounding
    c, a = np.asarray(rgba, dtype=float)[..., :3], np.asarray(rgba, dtype=float)[..., 3:] / 255
    assert np.abs(pixels(path, 3) - (c * a + 255 * (1 - a))).max() <= 1
    assert (pixels(path, 3)[np.asarray(rgba)[..., 3] == 0] == 255).all()


# --- deep samples: scaled over their range, never clipped ----------------------------------


@pytest.mark.parametrize(("mode", "fmt"), [("I;16", "PNG"), ("I;16B", "TIFF"), ("I;16L", "TIFF"), ("I;16", "TIFF")])
def test_16_bit_grayscale_by_its_high_byte(tmp_path, mode, fmt):
    a = RNG.integers(0, 65536, (H, W), dtype=np.uint16)
    a[0, :4] = (0, 255, 256, 65535)
    raw = a.astype(">u2" if mode == "I;16B" else "<u2").tobytes()
    path = saved(tmp_path, Image.frombytes(mode, (W, H), raw), fmt, "deep")
    assert reopened(path).mode.startswith("I;16")
    assert np.array_equal(pixels(path, 1), a >> 8)
    assert pixels(path, 1)[0, :4].tolist() == [0, 0, 1, 255]


def test_16_bit_with_a_transparent_value(tmp_path):
    a = RNG.integers(0, 65536, (H, W), dtype=np.uint16)
    path = saved(tmp_path, Image.fromarray(a), "PNG", "key", transparency=int(a[0, 0]))
    assert reopened(path).info["transparency"] == a[0, 0]
    assert np.array_equal(pixels(path, 1), np.where(a == a[0, 0], 255, a >> 8))


def test_16_bit_pgm_opens_as_mode_i_and_reads_as_16_bit(tmp_path):
    a = RNG.integers(0, 65536, (H, W), dtype=np.uint16)
    path = tmp_path / "scan.pgm"
    path.write_bytes(f"P5 {W} {H} 65535\n".encode() + a.astype(">u2").tobytes())
    assert reopened(path).mode == "I"
    assert np.array_equal(pixels(path, 1), a >> 8)


def test_32_bit_integers_outside_16_bits_are_stretched(tmp_path):
    a = RNG.integers(-1000, 1001, (H, W)).astype(np.int32)
    a[0, :3] = (-1000, 0, 1000)
    path = saved(tmp_path, Image.fromarray(a, "I"), "TIFF", "int32")
    assert reopened(path).mode == "I"
    assert pixels(path, 1)[0, :3].tolist() == [0, 128, 255]  # 127.5 rounds up
    assert np.abs(pixels(path, 1) - (a + 1000) * 255 / 2000).max() <= 0.5


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.0, 0.25, 0.5, 1.0], [0, 64, 128, 255]),  # [0, 1]: ×255
        ([0.0, 2.0, 127.5, 255.0], [0, 2, 128, 255]),  # [0, 255]: as they are
        ([-1.0, 0.0, 1.0, 3.0], [0, 64, 128, 255]),  # anything else: min–max
    ],
)
def test_float_images(tmp_path, values, expected):
    path = saved(tmp_path, Image.fromarray(np.array([values], dtype=np.float32), "F"), "TIFF", "float")
    assert reopened(path).mode == "F"
    assert np.asarray(open_image(path)).tolist() == [expected]


@pytest.mark.parametrize("fmt", ["TIFF", "PPM"])
def test_an_8_bit_picture_stored_as_float_reads_back_exactly(tmp_path, fmt):
    gray = random_rgb().convert("L")
    path = saved(tmp_path, gray.convert("F"), fmt, "float")
    assert reopened(path).mode == "F"
    assert np.array_equal(pixels(path, 1), np.asarray(gray))


def test_an_image_that_cannot_be_shown_is_refused_naming_file_and_mode(tmp_path):
    path = saved(tmp_path, Image.fromarray(np.array([[0.0, np.nan]], dtype=np.float32), "F"), "TIFF", "nan")
    with pytest.raises(DataError, match=r"nan\.tiff: image of mode F holds NaN") as e:
        load_image(path)
    assert len(str(e.value).splitlines()) == 1


def test_exif_orientation_still_applies_to_deep_images(tmp_path):
    a = RNG.integers(0, 65536, (2, 3), dtype=np.uint16)
    img = Image.fromarray(a)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = saved(tmp_path, img, "PNG", "rotated", exif=exif)
    assert np.array_equal(np.asarray(open_image(path)), np.rot90(a >> 8, k=-1))


# --- every path that reads images gives a 16-bit copy what it gives the 8-bit one ----------


@pytest.fixture
def dress(fashion_dir, tmp_path_factory):
    """The first Fashion-MNIST test dress that lenet-fashion-mnist calls a dress from its 8-bit
    PNG, written as 8-bit and as 16-bit (×257, how 8-bit pictures are widened) PNGs."""
    from convlab.checkpoint import load_checkpoint
    from convlab.predict import predict

    ck = load_checkpoint("lenet-fashion-mnist")
    x = read_idx(fashion_dir / "t10k-images-idx3-ubyte.gz")
    y = read_idx(fashion_dir / "t10k-labels-idx1-ubyte.gz")
    folder = tmp_path_factory.mktemp("dress")
    for i in torch.nonzero(y == 3).flatten()[:20].tolist():
        a = x[i].numpy()
        eight, sixteen = folder / f"dress{i}-8.png", folder / f"dress{i}-16.png"
        Image.fromarray(a).save(eight)
        if predict(ck, [eight])[0]["prediction"] == "Dress":
            Image.fromarray(a.astype(np.uint16) * 257).save(sixteen)
            assert reopened(sixteen).mode == "I;16"
            return ck, eight, sixteen
    raise AssertionError("no test dress predicted as a dress")


def test_a_16_bit_dress_is_still_a_dress(dress):
    from convlab.predict import predict, prepare

    ck, eight, sixteen = dress
    assert torch.equal(prepare(ck, sixteen).x, prepare(ck, eight).x)
    r8, r16 = predict(ck, [eight, sixteen])
    assert r16["prediction"] == r8["prediction"] == "Dress"
    assert r16["top"] == r8["top"]


def test_every_reader_sees_the_16_bit_copy_as_the_8_bit_one(dress, tmp_path):
    from convlab.checkpoint import load_checkpoint
    from convlab.demos import image_as_matrix
    from convlab.explain import load_matrix
    from convlab.predict import prepare

    _, eight, sixteen = dress
    assert torch.equal(load_matrix(str(sixteen)), load_matrix(str(eight)))  # explain
    text8 = image_as_matrix(eight, tmp_path / "a.png").split("\n", 1)[1]  # demo image
    assert image_as_matrix(sixteen, tmp_path / "b.png").split("\n", 1)[1] == text8
    digits = load_checkpoint("lenet-digits")  # the MNIST recipe (handwriting.py)
    assert torch.equal(prepare(digits, sixteen).x, prepare(digits, eight).x)
    assert torch.equal(load_image(sixteen, 3, (32, 32)), load_image(eight, 3, (32, 32)))  # image folders


def test_the_playground_reads_a_16_bit_upload_as_the_8_bit_one(dress):
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from convlab.web.app import create_app

    ck, eight, sixteen = dress
    client = TestClient(create_app(ck))
    answers = [
        client.post("/api/predict", content=p.read_bytes(), headers={"content-type": "image/png"}).json()
        for p in (eight, sixteen)
    ]
    assert answers[1]["input"] == answers[0]["input"]
    assert answers[1]["prediction"] == answers[0]["prediction"] == "Dress"
