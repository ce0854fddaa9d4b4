"""Channel dependencies of a Brevitas model: which modules a conv filter / linear neuron flows
through before the next weight layer consumes it.

The model is traced with torch.fx, Brevitas layers and the supported layer kinds kept as leaves.
From each QuantConv2d/QuantLinear the walk follows channel-wise modules (BatchNorm, quantized
activations, pools, dropout), flattens and scalar arithmetic to the next weight layer, the
consumer. Anything else on the way (a residual add, a concat, a branch, an unknown module) is
an error naming the node: cutting channels there would break the other path silently."""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codesign.errors import PruneError
from codesign.models.user import _supported_types

if TYPE_CHECKING:
    from torch import fx, nn

FLATTENS = ("flatten", "view", "reshape")
SCALAR_OPS = (operator.mul, operator.truediv, operator.add, operator.sub, "mul", "div", "add",
              "sub", "__mul__", "__truediv__", "__add__", "__sub__")
# Uses of a tensor that read its shape, not its values (x.view(x.size(0), -1) and the like).
SHAPE_QUERIES = ("size", "dim")
FOLLOWABLE = ("BatchNorm, quantized activations (QuantReLU, QuantIdentity, QuantHardTanh), pools, "
              "dropout, identity, flatten/view/reshape and scalar arithmetic")


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


    leaves = _weight_types() + _channelwise_types() + tuple(_supported_types()) + (nn.Flatten,)

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
    return isinstance(arg, int | float) and not isinstance(arg, bool)


def _describe(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    if node.op == "call_module":
        return f"layer {node.target} ({type(modules[str(node.target)]).__name__})"
    target = getattr(node.target, "__name__", node.target)
    return f"operation {target!r} (node {node.name})"


def _reads_shape_only(user: fx.Node) -> bool:
    if user.op == "call_method" and user.target in SHAPE_QUERIES:
        return True
    return user.op == "call_function" and user.target is getattr and \
        len(user.args) > 1 and user.args[1] == "shape"


def _is_flatten(user: fx.Node) -> bool:
    if user.op == "call_method":
        return user.target in FLATTENS
    return user.op == "call_function" and getattr(user.target, "__name__", "") in FLATTENS


def _is_scalar_op(user: fx.Node, node: fx.Node) -> bool:
    if user.op not in ("call_method", "call_function") or user.target not in SCALAR_OPS:
        return False
    others = [a for a in user.args if a is not node]
    return len(others) == len(user.args) - 1 and all(_is_scalar(a) for a in others) \
        and not user.kwargs


def _walk(start: fx.Node, modules: dict[str, nn.Module], weight_types: tuple[type, ...],
          channelwise: tuple[type, ...]) -> tuple[list[str], fx.Node | None, bool]:
    """Follow `start`'s output to the next weight layer: (followers, consumer node or None when
    it reaches the model output, whether a flatten was crossed)."""
    from torch import nn

    followers: list[str] = []
    flattened = False
    node = start
    while True:
        users = [u for u in node.users if not _reads_shape_only(u)]
        if len(users) != 1:
            raise PruneError(
                f"the output of {_describe(node, modules)} (on the channel path of "
                f"{_describe(start, modules)}) is used by {len(users)} operations "
                f"({', '.join(_describe(u, modules) for u in users) or 'none'}); structured "
                "pruning follows chains only (no residual add, concat or branch)")
        user = users[0]
        if user.op == "output":
            return followers, None, flattened
        if user.op == "call_module":
            module = modules[str(user.target)]
            if isinstance(module, weight_types):
                return followers, user, flattened
            if isinstance(module, nn.Flatten):
                flattened = True
            elif isinstance(module, channelwise):
                followers.append(str(user.target))
            else:
                raise PruneError(
                    f"{_describe(user, modules)} sits on the channel path after "
                    f"{_describe(start, modules)} and is not a layer structured pruning can "
                    f"follow; supported between weight layers: {FOLLOWABLE}")
        elif _is_flatten(user):
            flattened = True
        elif not _is_scalar_op(user, node):
            raise PruneError(
                f"{_describe(user, modules)} sits on the channel path after "
                f"{_describe(start, modules)}; structured pruning follows only {FOLLOWABLE} "
                "(no residual add, concat or tensor-tensor operation)")
        node = user


@dataclass(frozen=True)
class Executed:
    """One module call of a traced forward."""
    name: str
    module: nn.Module
    output_shape: tuple[int, ...]
    input_bits: int | None  # bit width of its first input if that is a QuantTensor
    output_bits: int | None  # bit width of its output if that is a QuantTensor


def _quant_bits(value: Any) -> int | None:
    from brevitas.quant_tensor import QuantTensor

    if isinstance(value, QuantTensor) and value.bit_width is not None:
        return int(round(float(value.bit_width)))
    return None


def execution_trace(model: nn.Module, input_shape: tuple[int, int, int],
                    select: Callable[[nn.Module], bool]) -> list[Executed]:
    """The selected modules' calls, in the order one eval-mode forward of a zero input runs
    them; every module's train/eval flag is restored."""
    import torch

    trace: list[Executed] = []

    def record(name: str) -> Callable:
        def hook(module: nn.Module, args: tuple, out: Any) -> None:
            trace.append(Executed(name, module, tuple(out.shape),
                                  _quant_bits(args[0]) if args else None, _quant_bits(out)))
        return hook

    hooks = [m.register_forward_hook(record(name))
             for name, m in model.named_modules() if name and select(m)]
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *input_shape)))
    finally:
        for module, training in modes.items():
            module.training = training
        for hook in hooks:
            hook.remove()
    return trace


def _kind(module: nn.Module) -> str:
    from brevitas.nn import QuantConv2d

    return "conv" if isinstance(module, QuantConv2d) else "linear"


def _weight_nodes(model: nn.Module) -> tuple[dict[str, nn.Module], list, Counter[str]]:
    """(modules, weight-layer nodes in execution order, calls per module path)."""
    traced = _trace(model)
    modules = dict(traced.named_modules())
    calls = Counter(str(n.target) for n in traced.graph.nodes if n.op == "call_module")
    nodes = [n for n in traced.graph.nodes if n.op == "call_module"
             and isinstance(modules[str(n.target)], _weight_types())]
    _refuse_unprunable(modules)
    for node in nodes:
        if calls[str(node.target)] > 1:
            raise PruneError(f"layer {node.target} is called more than once in the forward; "
                             "structured pruning needs each weight layer used exactly once")
    return modules, nodes, calls


def _refuse_unprunable(modules: dict[str, nn.Module]) -> None:
    """PruneError naming the first weight layer the channel surgery does not know (it would
    otherwise be left out of the groups and the hardware profile silently)."""
    from brevitas.nn import QuantConv1d

    for name, module in modules.items():
        if isinstance(module, QuantConv1d):
            raise PruneError(f"layer {name} (QuantConv1d): structured pruning handles "
                             "QuantConv2d and QuantLinear layers only, not 1-D convolutions yet; "
                             "remove the prune: section to build this model unpruned")


def _has_channel_state(module: nn.Module) -> bool:
    """Whether `module` holds a tensor with more than one entry (per-channel state)."""
    tensors = list(module.parameters()) + list(module.buffers())
    return any(t.numel() > 1 for t in tensors)


def weight_layers(model: nn.Module, input_shape: tuple[int, int, int]) -> tuple[str, ...]:
    """Module paths of all QuantConv2d/QuantLinear in execution order (FINN's MVAU order)."""
    del input_shape  # the order comes from the traced graph; kept for a uniform signature
    _, nodes, _ = _weight_nodes(model)
    return tuple(str(n.target) for n in nodes)


def channel_groups(model: nn.Module, input_shape: tuple[int, int, int]
                   ) -> tuple[ChannelGroup, ...]:
    """Every prunable producer in execution order; the classifier (the last weight layer, whose
    outputs are the classes) is not one. Shapes come from the weights: a consumer reading
    k inputs per producer channel is only legal through a flatten into a linear layer."""
    del input_shape  # channel counts and fan-ins are read off the weights
    modules, nodes, calls = _weight_nodes(model)
    if not nodes:
        raise PruneError(f"{type(model).__name__} has no QuantConv2d/QuantLinear layer to prune")
    for node in nodes:
        groups_attr = getattr(modules[str(node.target)], "groups", 1)
        if groups_attr != 1:
            raise PruneError(f"layer {node.target} is a grouped/depthwise convolution "
                             f"(groups={groups_attr}); only convolutions with groups=1 can be "
                             "pruned")
    weight_types, channelwise = _weight_types(), _channelwise_types()
    groups: list[ChannelGroup] = []
    for node in nodes[:-1]:
        name = str(node.target)
        module = modules[name]
        followers, consumer, flattened = _walk(node, modules, weight_types, channelwise)
        if consumer is None:
            raise PruneError(f"layer {name} feeds the model output but is not the last weight "
                             "layer; structured pruning needs a single classifier at the end")
        channels = int(module.weight.shape[0])
        consumer_module = modules[str(consumer.target)]
        fan_in = int(consumer_module.weight.shape[1])
        if fan_in % channels:
            raise PruneError(f"layer {consumer.target} takes {fan_in} inputs, not a multiple of "
                             f"the {channels} channels of {name}; cannot map channels to inputs")
        per_channel = fan_in // channels
        if per_channel != 1 and not (flattened and _kind(consumer_module) == "linear"):
            raise PruneError(f"layer {consumer.target} sees {per_channel} inputs per channel of "
                             f"{name} without a flatten into a linear layer between them; "
                             "unsupported reshaping")
        for follower in followers:
            if calls[follower] > 1 and _has_channel_state(modules[follower]):
                raise PruneError(
                    f"layer {follower} ({type(modules[follower]).__name__}) is called "
                    f"{calls[follower]} times in the forward and holds per-channel state; pruning "
                    f"the channels of {name} would cut it for its other uses too. Give each use "
                    "its own module instance")
        bns = [f for f in followers if type(modules[f]).__name__.startswith("BatchNorm")]
        groups.append(ChannelGroup(
            name=name, kind=_kind(module), channels=channels, followers=tuple(followers),
            batchnorm=bns[0] if bns else None, consumer=str(consumer.target),
            consumer_kind=_kind(consumer_module), features_per_channel=per_channel))
    return tuple(groups)
