"""Brevitas's own MobileNet-v1 (`brevitas_examples.imagenet_classification.models.mobilenetv1`),
the network finn-examples deploys as `mobilenetv1-w4a4`, brought as a user brings it: the
class itself, with its W4A4 quantizers (8-bit first and last layers, per-channel weight scales,
per-channel activation scales in front of every depthwise conv), narrowed and shortened for
28x28 grey images. `flows/brevitas_mobilenet_v1_w4a4_fashion_pruned.yaml` trains, prunes and
builds it through `model: {module: models/brevitas_mobilenet_v1.py:make}`.

Two settings differ from the ImageNet model, both for FINN or for the input size:
- `round_average_pool=False`: FINN's average pool truncates its sum; Brevitas's default rounds
  and codesign refuses it with that fix (finn-examples trains with the truncating pool too);
- a 4x4 final pool (the 28x28 input is 13x13 after the stem, 4x4 after two stride-2 stages).
Inputs are the dataset's raw 0..255 pixels, as FINN's UINT8 input stream carries them; the
stem's BatchNorm absorbs their scale."""

from __future__ import annotations

from brevitas_examples.imagenet_classification.models.mobilenetv1 import MobileNet

# stem 32, then stages of depthwise-separable units (stride 2 at each stage's first unit after
# the first stage), as ImageNet's [[32], [64], [128, 128], [256, 256], [512] * 6, [1024] * 2]
CHANNELS = [[32], [64], [64, 64], [128, 128]]


def make(num_classes: int = 10) -> MobileNet:
    return MobileNet(channels=CHANNELS, first_stage_stride=False, act_bit_width=4,
                     weight_bit_width=4, round_average_pool=False, avg_pool_kernel_size=4,
                     in_channels=1, num_classes=num_classes)
