"""Channel dependencies of a Brevitas model: which modules a conv filter / linear neuron flows
through before the next weight layer consumes it.

The model is traced with torch.fx, Brevitas layers and our scalar modules kept as leaves. From
each QuantConv2d/QuantLinear the walk follows channel-wise modules (BatchNorm, quantized
activations, pools, dropout), flattens and scalar arithmetic to the next weight layer, the
consumer. Anything else on the way (a residual add, a concat, a branch, an unknown module) is
an error naming the node: cutting channels there would break the other path silently."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codesign.errors import PruneError

if TYPE_CHECKING:
    from torch import fx, nn

FLATTENS = ("flatten", "view", "reshape")
SCALAR_OPS = (operator.mul, operator.truediv, operator.add, operator.sub, "mul", "div", "add",
              "sub", "__mul__", "__truediv__", "__add__", "__sub__")


@dataclass(frozen=True)
class ChannelGroup:
    """A prunable producer and everything its output channels pass through."""

    name: str  # module path of the producing QuantConv2d/QuantLinear
    kind: str  # "conv" | "linear"
    channels: int  # its current number of output channels / features
    followers: tuple[str, ...]  # modules between producer and consumer carrying the channels
    batchnorm: str | None  # the BatchNorm among the followers, if any
    consumer: str  # module path of the next QuantConv2d/QuantLinear
    consumer_kind: str
    features_per_channel: int  # consumer input features per producer channel (H*W after flatten)


def _weight_types() -> tuple[type, ...]:
    from brevitas.nn import QuantConv2d, QuantLinear

    return (QuantConv2d, QuantLinear)


def _channelwise_types() -> tuple[type, ...]:
    """Modules that keep channel c at channel c (per-channel or scalar behaviour)."""
    from brevitas import nn as qnn
    from torch import nn

    from codesign.models.mlp import PixelScale

    kinds: list[type] = [nn.BatchNorm1d, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d, nn.Dropout,
                         nn.Identity, nn.ReLU, nn.Hardtanh, qnn.QuantReLU, qnn.QuantIdentity,
                         qnn.QuantHardTanh, qnn.TruncAvgPool2d, PixelScale]
    try:  # BNN-PYNQ's scalar output normalisation
        from brevitas_examples.bnn_pynq.models.tensor_norm import TensorNorm

        kinds.append(TensorNorm)
    except ImportError:
        pass
    return tuple(kinds)


def _trace(model: nn.Module) -> fx.GraphModule:
    from brevitas import nn as qnn
    from torch import fx, nn

    leaves = _weight_types() + _channelwise_types() + (nn.Flatten,)

    class _Tracer(fx.Tracer):
        def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
            return isinstance(m, leaves) or m.__module__.startswith(qnn.__name__) or \
                super().is_leaf_module(m, qualname)

    try:
        graph = _Tracer().trace(model)
    except Exception as exc:
        raise PruneError(
            f"cannot trace {type(model).__name__} to find its channel dependencies "
            f"({type(exc).__name__}: {exc}); structured pruning needs a forward without "
            "data-dependent Python control flow") from exc
    return fx.GraphModule(model, graph)


def _is_scalar(arg: Any) -> bool:
    return isinstance(arg, int | float)


def _describe(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    if node.op == "call_module":
        return f"layer {node.target} ({type(modules[str(node.target)]).__name__})"
    target = getattr(node.target, "__name__", node.target)
    return f"operation {target!r} (node {node.name})"


def _walk(start: fx.Node, modules: dict[str, nn.Module], weight_types: tuple[type, ...],
          channelwise: tuple[type, ...]) -> tuple[list[str], fx.Node | None, bool]:
    """Follow `start`'s output to the next weight layer: (followers, consumer node or None when
    it reaches the model output, whether a flatten was crossed)."""
    from torch import nn

    followers: list[str] = []
    flattened = False
    node = start
    while True:
        users = list(node.users)
        if len(users) != 1:
            where = _describe(node, modules)
            raise PruneError(
                f"the output of {where} is used by {len(users)} operations "
                f"({', '.join(u.name for u in users) or 'none'}); structured pruning follows "
                "chains only (no residual adds, concats or branches)")
        user = users[0]
        if user.op == "output":
            return followers, None, flattened
        if user.op == "call_module":
            module = modules[str(user.target)]
            if isinstance(module, weight_types):
                return followers, user, flattened
            if isinstance(module, nn.Flatten):
                flattened = True
            elif not isinstance(module, channelwise):
                raise PruneError(
                    f"{_describe(user, modules)} sits between weight layers and is not a "
                    "channel-wise layer structured pruning can follow (BatchNorm, quantized "
                    "activations, pools, dropout, flatten)")
            else:
                followers.append(str(user.target))
        elif user.target in FLATTENS or getattr(user.target, "__name__", "") == "flatten":
            flattened = True
        elif user.target in SCALAR_OPS and sum(isinstance(a, type(node)) for a in user.args) == 1 \
                and all(_is_scalar(a) for a in user.args if a is not node):
            pass
        else:
            raise PruneError(
                f"{_describe(user, modules)} sits on the channel path after "
                f"{_describe(start, modules)}; structured pruning follows only channel-wise "
                "layers, flattens and scalar arithmetic (no residual add, concat or "
                "tensor-tensor operation)")
        node = user


def execution_trace(model: nn.Module, input_shape: tuple[int, int, int],
                    select: Callable[[nn.Module], bool]) -> list[tuple[str, nn.Module, tuple]]:
    """(name, module, output shape) of the selected modules, in the order one eval-mode forward
    of a zero input runs them; the model's train/eval mode is restored."""
    import torch

    trace: list[tuple[str, nn.Module, tuple]] = []
    hooks = [m.register_forward_hook(
        lambda mod, _i, out, name=name: trace.append((name, mod, tuple(out.shape))))
        for name, m in model.named_modules() if name and select(m)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *input_shape)))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return trace


def _output_shapes(model: nn.Module, input_shape: tuple[int, int, int]) -> dict[str, tuple]:
    weights = _weight_types()
    return {name: shape for name, _, shape in
            execution_trace(model, input_shape, lambda m: isinstance(m, weights))}


def _kind(module: nn.Module) -> str:
    from brevitas.nn import QuantConv2d

    return "conv" if isinstance(module, QuantConv2d) else "linear"


def _weight_nodes(model: nn.Module) -> tuple[fx.GraphModule, dict[str, nn.Module], list]:
    traced = _trace(model)
    modules = dict(traced.named_modules())
    nodes = [n for n in traced.graph.nodes if n.op == "call_module"
             and isinstance(modules[str(n.target)], _weight_types())]
    return traced, modules, nodes


def weight_layers(model: nn.Module, input_shape: tuple[int, int, int]) -> tuple[str, ...]:
    """Module paths of all QuantConv2d/QuantLinear in execution order (FINN's MVAU order)."""
    del input_shape  # the order comes from the traced graph; kept for a uniform signature
    _, _, nodes = _weight_nodes(model)
    return tuple(str(n.target) for n in nodes)


def channel_groups(model: nn.Module, input_shape: tuple[int, int, int]
                   ) -> tuple[ChannelGroup, ...]:
    """Every prunable producer in execution order; the classifier (the weight layer feeding the
    model output) is not one: its outputs are the classes."""
    _, modules, nodes = _weight_nodes(model)
    if not nodes:
        raise PruneError(f"{type(model).__name__} has no QuantConv2d/QuantLinear layer to prune")
    shapes = _output_shapes(model, input_shape)
    weight_types, channelwise = _weight_types(), _channelwise_types()
    groups: list[ChannelGroup] = []
    for node in nodes:
        name = str(node.target)
        module = modules[name]
        if getattr(module, "groups", 1) != 1:
            raise PruneError(f"layer {name} is a grouped/depthwise convolution "
                             f"(groups={module.groups}); only groups=1 can be pruned")
        followers, consumer, flattened = _walk(node, modules, weight_types, channelwise)
        if consumer is None:
            if node is not nodes[-1]:
                raise PruneError(f"layer {name} feeds the model output but is not the last "
                                 "weight layer; structured pruning needs a single classifier")
            continue
        channels = int(shapes[name][1])
        consumer_module = modules[str(consumer.target)]
        fan_in = int(consumer_module.weight.shape[1])
        if fan_in % channels:
            raise PruneError(f"layer {consumer.target} takes {fan_in} inputs, not a multiple of "
                             f"the {channels} channels of {name}; cannot map channels to inputs")
        per_channel = fan_in // channels
        if per_channel != 1 and not (flattened and _kind(consumer_module) == "linear"):
            raise PruneError(f"layer {consumer.target} sees {per_channel} inputs per channel of "
                             f"{name} without a flatten between them; unsupported reshaping")
        bns = [f for f in followers if type(modules[f]).__name__.startswith("BatchNorm")]
        groups.append(ChannelGroup(
            name=name, kind=_kind(module), channels=channels, followers=tuple(followers),
            batchnorm=bns[0] if bns else None, consumer=str(consumer.target),
            consumer_kind=_kind(consumer_module), features_per_channel=per_channel))
    return tuple(groups)
