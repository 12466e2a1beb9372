"""Why a model decided: attribution maps the size of the input, for any model.

The methods are Captum's (PyTorch's interpretability library), used as practitioners use them:
  * saliency — |∂ score / ∂ pixel|: which pixels, nudged, change the class score most;
  * SmoothGrad — saliency averaged over copies of the image with Gaussian noise added, which
    removes much of the pixel-level noise of a single gradient;
  * Grad-CAM — at a layer's feature maps A_k, the class score's gradient averaged over positions
    gives each channel a weight α_k; ReLU(Σ_k α_k·A_k), upsampled to the input, shows which
    regions of that layer's map argue for the class;
  * occlusion — slide a patch of blank pixels over the image and record how much the class score
    drops (batched: every patch position in one forward pass).
convlab's part is what no library gives: the Grad-CAM layer chosen for you — the last feature
map that still has a spatial layout, i.e. the deepest layer before global pooling or the dense
classifier, found from the model itself and named in the result with the reason — checks that
say what is allowed, and the views (overlays in `plots`, the CLI's `why`, the playground).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .errors import UserError

METHODS = ("saliency", "smoothgrad", "gradcam", "occlusion")


@dataclass
class Attribution:
    method: str
    maps: torch.Tensor  # (B, H, W) float: higher = more evidence for the target class
    targets: list[int]  # the class each map explains
    note: str = ""  # what was computed where, true of every map (the Grad-CAM layer and why, the occlusion window)
    image_notes: list[str] = field(default_factory=list)  # what is true of one map only ("" or a sentence)

    def note_for(self, i: int) -> str:
        """The note for image i: what was computed where, and what holds for its map alone."""
        extra = self.image_notes[i] if i < len(self.image_notes) else ""
        return f"{self.note}. {extra}" if extra else self.note


@dataclass
class CamLayer:
    name: str
    module: nn.Module
    shape: tuple[int, ...]  # the feature map for one input (C, H, W)
    note: str
    on_input: bool = False  # the map is the module's input (a function's output the module reads)
    centre: tuple[float, float] | None = None  # input position of unit (0, 0)'s receptive-field centre
    jump: tuple[int, int] | None = None  # input pixels between neighbouring units


def _captum():
    try:
        from captum import attr
    except ImportError as e:
        raise UserError(f"attributions need Captum ({e.name} missing): pip install captum") from None
    return attr


def spatial_layers(model: nn.Module, input_shape: tuple[int, ...]) -> list[tuple[str, nn.Module, torch.Tensor]]:
    """[(name, module, output)] of every module whose output is a spatial feature map (1, C, H, W), in
    the order they finish: a block finishes before the container that ends with it."""
    done: list[tuple[str, nn.Module, torch.Tensor]] = []
    names = {m: n for n, m in model.named_modules() if n}
    hooks = [m.register_forward_hook(lambda mod, i, o: done.append((names[mod], mod, o))) for m in names]
    p = next(model.parameters(), None)
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_shape, dtype=p.dtype if p is not None else None))
    finally:
        for h in hooks:
            h.remove()
    return [(n, m, o) for n, m, o in done if isinstance(o, torch.Tensor) and o.dim() == 4]


MAX_JUMP = 4  # Grad-CAM's map: its units at most this many input pixels apart
OCCLUSION_BATCH = 4096  # perturbed images per forward pass (one 28×28 image's 169 patches fit in one)


def gradcam_layer(model: nn.Module, input_shape: tuple[int, ...], name: str | None = None) -> CamLayer:
    """The layer Grad-CAM uses: `name` if given (it must have a spatial output); else the deepest feature
    map whose units are at most MAX_JUMP input pixels apart — deep enough to be about the class, fine
    enough to say where. (The very last maps of the larger models are 4×4 or 2×2 at 28×28: upsampled,
    their peak can only fall near a cell's centre, up to a cell away from the evidence; measured on a
    planted-patch task, ResNet's 7×7 stage puts it inside the patch 92 % of the time, its 4×4 stage 60 %.)"""
    layers = spatial_layers(model, input_shape)
    if name is not None:
        return _named_cam_layer(model, layers, name)
    return _deepest_fine_cam_layer(model, input_shape)


def _named_cam_layer(model: nn.Module, layers, name: str) -> CamLayer:
    """The Grad-CAM layer the user named, from `layers` (spatial_layers); UserError when it has no
    spatial output or does not exist, listing the layers that have one."""
    found = next(((n, m, o) for n, m, o in layers if n == name), None)
    if found is None:
        allowed = ", ".join(n for n, _, o in layers if o.shape[2] * o.shape[3] > 1)
        why = "has no spatial (C, H, W) output" if name in dict(model.named_modules()) else "does not exist"
        raise UserError(f"Grad-CAM layer {name!r} {why}; layers with feature maps: {allowed}")
    n, m, o = found
    shape = "×".join(map(str, o.shape[1:]))
    return CamLayer(n, m, tuple(o.shape[1:]), f"Grad-CAM at {n} ({m.__class__.__name__}, {shape}), as asked")


def _deepest_fine_cam_layer(model: nn.Module, input_shape: tuple[int, ...]) -> CamLayer:
    """The deepest feature map whose units are at most MAX_JUMP input pixels apart (else the deepest
    one larger than 1×1), with the sentence saying why; UserError when the model has none."""
    from .graph import layer_graph
    from .receptive import windows

    g = layer_graph(model)
    wins = windows(g, input_shape)
    outs = g.shapes(input_shape)
    maps = [r for r, o, w in zip(g.rows, outs, wins) if len(o) == 4 and o[2] * o[3] > 1 and w is not None]
    if not maps:
        raise UserError("Grad-CAM needs a layer with a spatial feature map; this model has none larger than 1×1")
    fine = [r for r in maps if max(wins[r.index].jump) <= MAX_JUMP]  # type: ignore[union-attr]
    row = (fine or maps)[-1]
    n, m, on_input = _hookable(model, g, row)
    size = "×".join(map(str, outs[row.index][1:]))
    coarser = sorted({"×".join(map(str, outs[r.index][2:])) for r in maps if r.index > row.index})
    why = (
        f"the deepest feature map whose units are at most {MAX_JUMP} pixels apart — deep enough to be about "
        f"the class, fine enough to say where"
        + (f" (the later {', '.join(coarser)} maps are too coarse)" if coarser else "")
    )
    where = f"{n} ({m.__class__.__name__}{', its input' if on_input else ''}, {size})"
    w = wins[row.index]
    centre = (w.start[0] + (w.size[0] - 1) / 2, w.start[1] + (w.size[1] - 1) / 2) if w else None
    return CamLayer(
        n, m, tuple(outs[row.index][1:]), f"Grad-CAM at {where}: {why}", on_input, centre, w.jump if w else None
    )


def _hookable(model: nn.Module, g, row) -> tuple[str, nn.Module, bool]:
    """(name, module, on_input) where `row`'s output can be hooked: the row's own module; for a function
    row (a ReLU, an addition), the block it is the last step of (the block returns it), or else the
    module that reads it next (its input)."""
    if row.module is not None:
        return row.name, row.module, False
    later = [r for r in g.rows if r.index > row.index]
    scope = row.name.rpartition(" ")[0]
    if scope and not any(r.name.startswith(scope + ".") or r.name.startswith(scope + " ") for r in later):
        return scope, model.get_submodule(scope), False  # the last thing the block computes is what it returns
    reader = next((r for r in later if row.index in r.inputs), None)
    if reader is not None and reader.module is not None and reader.inputs == [row.index]:
        return reader.name, reader.module, True
    raise UserError(f"cannot hook layer {row.index} ({row.name}) for Grad-CAM; name a layer with --layer")


def check_targets(model: nn.Module, x: torch.Tensor, target: int | list[int] | None) -> list[int]:
    """The class each image is explained for: as given, or the predicted class."""
    with torch.no_grad():
        logits = model.eval()(x)  # (B, classes)
    k = logits.shape[1]
    if target is None:
        return logits.argmax(1).tolist()
    targets = [target] * len(x) if isinstance(target, int) else list(target)
    if len(targets) != len(x):
        raise UserError(f"give one target class per image ({len(x)}), got {len(targets)}")
    for t in targets:
        if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < k:
            raise UserError(f"class {t!r} does not exist; the model has classes 0..{k - 1}")
    return targets


def saliency(model: nn.Module, x: torch.Tensor, target=None) -> Attribution:
    """|∂ score / ∂ pixel|, the largest over channels: (B, H, W)."""
    targets = check_targets(model, x, target)
    grads = _captum().Saliency(model).attribute(x.clone().requires_grad_(), target=targets, abs=True)
    return Attribution("saliency", grads.amax(1).detach(), targets, "gradient magnitude of the class score")


def smoothgrad(model: nn.Module, x: torch.Tensor, target=None, samples: int = 16, sigma: float = 0.15) -> Attribution:
    """Saliency averaged over `samples` noisy copies (noise σ = `sigma` × each image's own value range,
    so an image's map does not depend on the others in the batch)."""
    if not 1 <= samples <= 512:
        raise UserError(f"SmoothGrad samples must be between 1 and 512, got {samples}")
    targets = check_targets(model, x, target)
    attr = _captum()
    nt = attr.NoiseTunnel(attr.Saliency(model))
    maps = []
    for xi, ti in zip(x, targets):  # one image at a time: σ is per image, and Captum takes one σ per call
        spread = float(xi.max() - xi.min()) or 1.0
        grads = nt.attribute(
            xi[None].clone().requires_grad_(), nt_type="smoothgrad", nt_samples=samples,
            nt_samples_batch_size=samples, stdevs=sigma * spread, target=ti, abs=True,
        )  # fmt: skip
        maps.append(grads.amax(1).detach()[0])
    note = f"saliency over {samples} noisy copies (noise σ = {sigma:g} × the image's value range)"
    return Attribution("smoothgrad", torch.stack(maps), targets, note)


def gradcam(model: nn.Module, x: torch.Tensor, target=None, layer: str | None = None) -> Attribution:
    """Grad-CAM at `layer` (default: chosen, see `gradcam_layer`), upsampled to the input: (B, H, W)."""
    targets = check_targets(model, x, target)
    cam_layer = gradcam_layer(model, tuple(x.shape[1:]), layer)
    attr = _captum()
    cam = attr.LayerGradCam(model, cam_layer.module).attribute(
        x, target=targets, relu_attributions=True, attribute_to_layer_input=cam_layer.on_input
    )  # (B, 1, h, w)
    size = (int(x.shape[-2]), int(x.shape[-1]))
    if cam_layer.centre is not None and cam_layer.jump is not None:
        up = to_input(cam.detach(), cam_layer.centre, cam_layer.jump, size)
    else:  # a layer named by the user, outside the graph's windows: plain bilinear upsampling
        up = F.interpolate(cam.detach(), size=size, mode="bilinear", align_corners=False)
    empty = (cam.flatten(1).amax(1) <= 0).tolist()  # per image: ReLU(Σ α_k A_k) ≤ 0 everywhere
    blank = (
        "This map is empty: no position of this layer argues for the class (the gradient-weighted sum is "
        "negative everywhere); saliency or occlusion still answer"
    )  # an honest answer, but a blank map needs saying
    notes = [blank if e else "" for e in empty]
    return Attribution("gradcam", up[:, 0].clamp_min(0), targets, cam_layer.note, notes)


def to_input(
    maps: torch.Tensor, centre: tuple[float, float], jump: tuple[int, int], size: tuple[int, int]
) -> torch.Tensor:
    """Upsample layer maps (B, 1, h, w) to the input (B, 1, H, W) with each unit's value at the centre of
    its receptive field (input position centre + unit·jump), bilinear in between, flat beyond the edge
    units. Plain resizing would put unit j at (j + ½)·H/h − ½, off by up to a jump/2 pixels."""
    b, _, h, w = maps.shape
    axes = []
    for n, c, j, m in zip(size, centre, jump, (h, w)):
        u = (torch.arange(n, dtype=maps.dtype) - c) / j  # each pixel's position in units
        axes.append(2 * u / (m - 1) - 1 if m > 1 else torch.zeros(n, dtype=maps.dtype))  # grid_sample's [-1, 1]
    gy, gx = torch.meshgrid(axes[0], axes[1], indexing="ij")
    grid = torch.stack([gx, gy], dim=-1).expand(b, *size, 2)  # (B, H, W, 2): x then y
    return F.grid_sample(maps, grid, mode="bilinear", padding_mode="border", align_corners=True)


def occlusion(
    model: nn.Module, x: torch.Tensor, target=None, window: int = 4, stride: int = 2, baseline: float = 0.0
) -> Attribution:
    """How much the class score drops when a window×window patch is set to `baseline` (the blank
    pixel, in the model's normalised units), averaged where patches overlap: (B, H, W)."""
    c, h, w = x.shape[1:]
    if not 1 <= window <= min(h, w):
        raise UserError(f"occlusion window {window} must be between 1 and the input's smaller side ({min(h, w)})")
    if not 1 <= stride <= window:
        raise UserError(f"occlusion stride {stride} must be between 1 and the window ({window})")
    targets = check_targets(model, x, target)
    positions = ((h - window) // stride + 1) * ((w - window) // stride + 1)
    per_pass = max(1, min(positions, OCCLUSION_BATCH // len(x)))  # bounded memory for many images
    drop = _captum().Occlusion(model).attribute(
        x, sliding_window_shapes=(c, window, window), strides=(c, stride, stride), baselines=baseline,
        target=targets, perturbations_per_eval=per_pass,
    )  # fmt: skip  # (B, C, H, W): up to OCCLUSION_BATCH perturbed images per forward pass
    return Attribution("occlusion", drop.mean(1).detach(), targets, f"{window}×{window} patches, stride {stride}")


def attribute(model: nn.Module, x: torch.Tensor, method: str, target=None, **options) -> Attribution:
    """One of METHODS on a batch of normalised images x (B, C, H, W)."""
    fns = {"saliency": saliency, "smoothgrad": smoothgrad, "gradcam": gradcam, "occlusion": occlusion}
    if method not in fns:
        from .errors import unknown_name

        raise unknown_name("attribution method", method, METHODS)
    model.eval()
    return fns[method](model, x, target, **options)
