"""The network: one small ResNet encoder shared by every view, fused, three or four heads,
plus a linear path from the downsampled silhouettes.

The encoder keeps a `grid` x `grid` map of where along the body each feature is
(global average pooling, `grid` = 1, throws that away: a wide waist and wide hips look
alike). The linear path (`skip_pixels` > 0) adds to every output a linear function of
the silhouettes average-pooled to `skip_pixels` x `skip_pixels` and the scalar inputs:
the ridge baseline's model, so the net starts from what a closed form gets and the deep
path learns what is left.

Input: (B, V, S, S) framed silhouettes in [0, 1], and with `known_height` the subject's
standing height (B,) in meters (scale is lost when silhouettes are cropped and resized,
so phone apps ask for it), with `known_weight` the body weight (B,) in kg (apps ask for
it too; it tells fat from frame where silhouettes are ambiguous). Outputs are normalised targets (zero mean, unit std over the
training set, see `TargetStats`): shape (B, S_shape), capture pose (B, D), per-view
camera (B, V, 3) and, with `measurement_size` > 0, the measurements of
`synth.measurements.MEASUREMENT_NAMES` (B, M): circumferences and body fat regressed
directly, as measurement apps do, instead of only through the body model's mesh.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from synth.train.framing import pool_silhouettes


@dataclass(frozen=True)
class NetConfig:
    views: int
    shape_size: int
    pose_size: int
    width: int = 32
    input_size: int = 128
    known_height: bool = False
    known_weight: bool = False
    grid: int = 1
    skip_pixels: int = 0
    measurement_size: int = 0


# scalar input -> (NetConfig flag, stream batch key, fixed centre, fixed scale)
SCALAR_INPUTS: dict[str, tuple[str, str, float, float]] = {
    "height_m": ("known_height", "height_input_m", 1.7, 0.1),
    "weight_kg": ("known_weight", "weight_input_kg", 80.0, 20.0),
}


class _StridedPointwise(nn.Conv2d):
    """A 1x1 convolution with a stride, computed as the unit-stride one on every stride-th
    pixel (the same sums, the same parameters). Called directly, oneDNN's strided 1x1
    backward-weights kernel, on NHWC input with fewer channels than its block (8 with AVX2,
    16 with AVX-512), writes past its workspace: it hung the training of a width-4 net
    here, and gives wrong weight gradients elsewhere (oneDNN issue 6035)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(x[:, :, ::self.stride[0], ::self.stride[1]], self.weight, self.bias)


def _norm(channels: int) -> nn.GroupNorm:
    """GroupNorm: the same in training and inference, whatever the batch size (one
    subject at predict time), unlike BatchNorm's running statistics."""
    return nn.GroupNorm(min(8, channels), channels)


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), _norm(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), _norm(cout))
        self.skip = (nn.Identity() if stride == 1 and cin == cout
                     else nn.Sequential(_StridedPointwise(cin, cout, 1, stride, bias=False), _norm(cout)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class SilhouetteNet(nn.Module):
    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.encoder = nn.Sequential(
            nn.Conv2d(1, w, 5, 2, 2, bias=False), _norm(w), nn.ReLU(inplace=True),
            _Block(w, w, 1), _Block(w, 2 * w, 2), _Block(2 * w, 4 * w, 2), _Block(4 * w, 8 * w, 2),
            nn.AdaptiveAvgPool2d(config.grid), nn.Flatten())
        per_view = 8 * w * config.grid ** 2
        scalars = sum(getattr(config, flag) for flag, _, _, _ in SCALAR_INPUTS.values())
        self.view_embedding = nn.Parameter(torch.zeros(config.views, per_view))
        self.trunk = nn.Sequential(nn.Linear(config.views * per_view + scalars, 512), nn.ReLU(inplace=True),
                                   nn.Linear(512, 256), nn.ReLU(inplace=True))
        self.shape_head = nn.Linear(256, config.shape_size)
        self.pose_head = nn.Linear(256, config.pose_size)
        self.camera_head = nn.Linear(256, config.views * 3)
        self.measurement_head = nn.Linear(256, config.measurement_size) if config.measurement_size else None
        outputs = config.shape_size + config.pose_size + config.views * 3 + config.measurement_size
        self.linear = (nn.Linear(config.views * config.skip_pixels ** 2 + scalars, outputs)
                       if config.skip_pixels else None)
        self.to(memory_format=torch.channels_last)  # NHWC convolutions: a fifth faster on CPU

    def heads(self) -> list[nn.Linear]:
        """The deep path's output layers, in output order (shape, pose, camera, measurements)."""
        return [h for h in (self.shape_head, self.pose_head, self.camera_head, self.measurement_head) if h is not None]

    def scalars(self, height_m: torch.Tensor | None, weight_kg: torch.Tensor | None) -> list[torch.Tensor]:
        """The scalar inputs the net takes, normalised, each (B, 1); ValueError if one is given
        to a net built without it or missing for a net built with it."""
        out = []
        for (name, (flag, _, centre, scale)), value in zip(SCALAR_INPUTS.items(), (height_m, weight_kg)):
            if (value is not None) != getattr(self.config, flag):
                raise ValueError(f"{name} must be given exactly when the net was built with {flag}")
            if value is not None:
                out.append(((value - centre) / scale)[:, None])
        return out

    def linear_features(self, silhouettes: torch.Tensor, scalars: list[torch.Tensor]) -> torch.Tensor:
        """(B, F) what the linear path reads: the pooled silhouettes and the normalised scalars."""
        return torch.cat([pool_silhouettes(silhouettes, self.config.skip_pixels), *scalars], 1)

    def forward(self, silhouettes: torch.Tensor, height_m: torch.Tensor | None = None,
                weight_kg: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        b, v, s, _ = silhouettes.shape
        features = self.encoder(silhouettes.reshape(b * v, 1, s, s)).reshape(b, v, -1)
        scalars = self.scalars(height_m, weight_kg)
        hidden = self.trunk(torch.cat([(features + self.view_embedding).reshape(b, -1), *scalars], 1))
        outputs = [head(hidden) for head in self.heads()]
        if self.linear is not None:
            direct = self.linear(self.linear_features(silhouettes, scalars))
            outputs = [out + part for out, part in zip(outputs, direct.split([o.shape[1] for o in outputs], 1))]
        named = {"shape": outputs[0], "capture_pose": outputs[1], "camera": outputs[2].reshape(b, v, 3)}
        if self.measurement_head is not None:
            named["measurements"] = outputs[3]
        return named


def batch_scalars(net: SilhouetteNet, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | None]:
    """The typed height / weight of a stream batch for the scalar inputs the net takes
    (None for those it does not; see `synth.train.data.SilhouetteStream`)."""
    return {name: batch[key] if getattr(net.config, flag) else None
            for name, (flag, key, _, _) in SCALAR_INPUTS.items()}


def run_net(net: SilhouetteNet, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The net's outputs for a stream batch: its silhouettes and scalar inputs, averaged with
    those of its other framings when it holds some ("reframed", `StreamConfig.framings`)."""
    if "reframed" not in batch:
        return net(batch["silhouettes"], **batch_scalars(net, batch))
    return average_framings(net, torch.cat([batch["silhouettes"][:, None], batch["reframed"]], 1),
                            **batch_scalars(net, batch))


def average_framings(net: SilhouetteNet, frames: torch.Tensor, height_m: torch.Tensor | None = None,
                     weight_kg: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The net's outputs for (B, K, V, S, S) silhouettes, each subject framed K ways,
    averaged over the framings (test-time augmentation, see `synth.train.framing`)."""
    b, k = frames.shape[:2]
    scalars = [None if value is None else value.repeat_interleave(k) for value in (height_m, weight_kg)]
    outputs = net(frames.flatten(0, 1), *scalars)
    return {name: value.reshape(b, k, *value.shape[1:]).mean(1) for name, value in outputs.items()}
