"""The in-memory loader: every image once per epoch, seeded order, shards, batched augmentation."""

import torch
import torch.nn.functional as F

from convlab.data.loader import Augment, Loader, random_flip, random_shift


def _ids(n=103):
    x = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous()
    return x, torch.arange(n)


def test_each_image_once_per_epoch_and_order_is_seeded():
    x, y = _ids()
    a = Loader(x, y, 16, 0.0, 1.0, shuffle=True, seed=3)
    epoch0 = torch.cat([yb for _, yb in a])
    assert sorted(epoch0.tolist()) == list(range(103)) and len(a) == 7
    b = Loader(x, y, 16, 0.0, 1.0, shuffle=True, seed=3)
    assert torch.equal(torch.cat([yb for _, yb in b]), epoch0)
    a.set_epoch(1)
    assert not torch.equal(torch.cat([yb for _, yb in a]), epoch0)
    for xb, yb in b:  # images travel with their labels, normalised
        assert torch.equal(xb[:, 0, 0, 0] * 255, yb.float())


def test_shards_partition_every_batch():
    x, y = _ids()
    whole = [yb for _, yb in Loader(x, y, 20, 0.0, 1.0, shuffle=True, seed=1)]
    parts = [[yb for _, yb in Loader(x, y, 20, 0.0, 1.0, shuffle=True, seed=1, shard=(r, 3))] for r in range(3)]
    for i, batch in enumerate(whole):
        got = torch.cat([p[i] for p in parts])
        assert sorted(got.tolist()) == sorted(batch.tolist())


def test_random_shift_matches_a_per_image_reference():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 255, (9, 2, 7, 6), dtype=torch.uint8)
    out = random_shift(x, 2, g)
    g = torch.Generator().manual_seed(0)
    dy, dx = torch.randint(0, 5, (9,), generator=g), torch.randint(0, 5, (9,), generator=g)
    for i in range(9):
        ref = F.pad(x[i], (2, 2, 2, 2))[:, dy[i] : dy[i] + 7, dx[i] : dx[i] + 6]
        assert torch.equal(out[i], ref)


def test_random_flip_flips_about_half():
    x = torch.arange(4 * 5, dtype=torch.uint8).view(1, 1, 4, 5).repeat(1000, 1, 1, 1)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    assert ((out == x).flatten(1).all(1) | flipped).all() and 400 < flipped.sum() < 600


def test_augmented_loader_keeps_labels_and_shapes():
    x, y = _ids(40)
    loader = Loader(x, y, 8, 0.5, 0.5, shuffle=True, augment=Augment(shift=1, flip=True))
    for xb, yb in loader:
        assert xb.shape == (len(yb), 1, 2, 2) and xb.dtype == torch.float32
