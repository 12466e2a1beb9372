"""Run under torchrun (2 processes) by tests/test_batches.py: train every model on awkward data
sizes and record, per run, whether every process saw the same number of images per step."""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conftest import make_images
from convlab import distributed as dist
from convlab.data.dataset import ImageDataset
from convlab.evaluate import evaluate
from convlab.models import MODELS
from convlab.train import TrainConfig, fit


def main(folder: str, out: str) -> None:
    results = []
    try:
        for model in sorted(MODELS):
            for n in (17, 18):
                x, y = make_images(n, 4, seed=1)
                tx, ty = make_images(20, 4, seed=2)
                ds = ImageDataset("bars", ["a", "b", "c", "d"], x, y, tx, ty, "generated")
                shares = []
                import convlab.train as train_mod

                original = train_mod.F.cross_entropy

                def counting(logits, target, shares=shares, original=original, **kw):
                    if "label_smoothing" in kw:  # training steps only
                        shares.append(len(target))
                    return original(logits, target, **kw)

                train_mod.F.cross_entropy = counting
                try:
                    r = fit(
                        TrainConfig(model=model, epochs=1, batch_size=8, seed=0),
                        out=Path(folder) / f"{model}-{n}",
                        dataset=ds,
                        progress=False,
                        log=lambda *a: None,
                    )
                finally:
                    train_mod.F.cross_entropy = original
                mine = torch.tensor(shares)
                gathered = [torch.zeros_like(mine) for _ in range(dist.world_size())]
                torch.distributed.all_gather(gathered, mine)
                other = gathered[1 - dist.rank()]
                ev = evaluate(r.model, tx, ty, 0.0, 1.0, 4, batch_size=3)  # 20 images in uneven shares
                results.append(
                    {
                        "model": model,
                        "n": n,
                        "equal_shares": bool(torch.equal(mine, other)),
                        "finite": bool(torch.isfinite(torch.tensor(r.final["train_loss"]))),
                        "test_seen": ev["n"],
                    }
                )
        if dist.is_main():
            Path(out).write_text(json.dumps(results))
    finally:
        dist.cleanup()


if __name__ == "__main__":
    main(*sys.argv[1:3])
