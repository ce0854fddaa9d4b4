"""Channel groups of a Brevitas model: which layers' channels must be pruned together, and
everything those channels flow through up to the layers that consume them.

The model is traced with torch.fx, Brevitas layers and the supported layer kinds kept as leaves,
and `codesign.prune.spaces` gives every tensor its channel space. A group is a space that weight
layers write into: in a chain one producer (QuantConv1d/2d/QuantLinear) and the next weight
layer as its consumer; in a residual network every layer writing into the same sum (stem,
second convs of the blocks, 1x1 projections), with every layer reading from it as a consumer; a
depthwise convolution's channels follow its producer's (it, its BatchNorm and its quantizers
are among the followers). A 1-D convolution is a conv like any other (FINN lowers it as 2-D
with H = 1). Spaces that hold the model input or feed the model output are not prunable."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codesign.errors import PruneError
from codesign.models.user import _supported_types
from codesign.prune.spaces import Space, channel_spaces, is_depthwise

if TYPE_CHECKING:
    from torch import fx, nn


@dataclass(frozen=True)
class ChannelGroup:
    """Layers sharing one channel set, and everything those channels pass through.

    The chain fields describe the first producer and first consumer (in execution order); the
    tuples list every member. Built by hand with the chain fields only, the tuples default to
    that one producer, consumer and BatchNorm."""
    name: str  # module path of the first producing layer: the group's name
    kind: str  # "conv" | "linear" (of the first producer; 1-D convs are "conv")
    channels: int  # the current number of channels every member keeps
    followers: tuple[str, ...]  # modules carrying the channels (BN, activations, depthwise convs)
    batchnorm: str | None  # the first BatchNorm among the followers, if any
    consumer: str  # module path of the first layer reading the channels
    consumer_kind: str
    features_per_channel: int  # its input features per channel (H*W after a flatten)
    producers: tuple[str, ...] = ()  # every layer writing the channels (a residual sum: several)
    consumers: tuple[str, ...] = ()  # every layer reading them
    consumer_features: tuple[int, ...] = ()  # per consumer: input features per channel
    batchnorms: tuple[str, ...] = ()  # every BatchNorm among the followers
    depthwise: tuple[str, ...] = ()  # depthwise convolutions among the followers

    def __post_init__(self) -> None:
        defaults = {"producers": (self.name,), "consumers": (self.consumer,),
                    "consumer_features": (self.features_per_channel,),
                    "batchnorms": (self.batchnorm,) if self.batchnorm else ()}
        for key, value in defaults.items():
            if not getattr(self, key):
                object.__setattr__(self, key, value)

    @property
    def members(self) -> tuple[str, ...]:
        """The weight layers whose output channels are this group's: producers, then depthwise."""
        return self.producers + self.depthwise

    @property
    def layers(self) -> str:
        """The members for messages: 'a' or 'a + b + c'."""
        return " + ".join(self.members)


def _weight_types() -> tuple[type, ...]:
    from brevitas.nn import QuantConv1d, QuantConv2d, QuantLinear

    return (QuantConv1d, QuantConv2d, QuantLinear)


def _channelwise_types() -> tuple[type, ...]:
    """Modules that keep channel c at channel c (per-channel or scalar behaviour)."""
    from brevitas import nn as qnn
    from torch import nn

    from codesign.models.mlp import PixelScale

    kinds: list[type] = [nn.BatchNorm1d, nn.BatchNorm2d, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d,
                         nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.Dropout,
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
            f"({type(exc).__name__}: {' '.join(str(exc).split())}); structured pruning needs "
            "a forward without data-dependent Python control flow") from exc
    return fx.GraphModule(model, graph)


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
    from brevitas.nn import QuantLinear

    return "linear" if isinstance(module, QuantLinear) else "conv"


def _weight_nodes(model: nn.Module) -> tuple[fx.GraphModule, dict[str, nn.Module], list]:
    """(traced model, modules, weight-layer nodes in execution order)."""
    traced = _trace(model)
    modules = dict(traced.named_modules())
    nodes = [n for n in traced.graph.nodes if n.op == "call_module"
             and isinstance(modules[str(n.target)], _weight_types())]
    calls = Counter(str(n.target) for n in nodes)
    for name, count in calls.items():
        if count > 1:
            raise PruneError(f"layer {name} is called more than once in the forward; "
                             "structured pruning needs each weight layer used exactly once")
    return traced, modules, nodes


def _has_channel_state(module: nn.Module) -> bool:
    """Whether `module` holds a tensor with more than one entry (per-channel state)."""
    tensors = list(module.parameters()) + list(module.buffers())
    return any(t.numel() > 1 for t in tensors)


def weight_layers(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[str, ...]:
    """Module paths of all QuantConv1d/2d/QuantLinear in execution order (FINN's MVAU/VVAU
    order)."""
    del input_shape  # the order comes from the traced graph; kept for a uniform signature
    _, _, nodes = _weight_nodes(model)
    return tuple(str(n.target) for n in nodes)


def _fan_in(module: nn.Module) -> int:
    return int(module.weight.shape[1])


def _consumer_features(space: Space, channels: int, modules: dict[str, nn.Module]
                       ) -> tuple[int, ...]:
    """Inputs per channel of every consumer: 1, or H*W when a flatten feeds a linear layer."""
    per_consumer = []
    producer = space.producers[0]
    for consumer, flattened in space.consumers:
        fan_in = _fan_in(modules[consumer])
        if fan_in % channels:
            raise PruneError(f"layer {consumer} takes {fan_in} inputs, not a multiple of the "
                             f"{channels} channels of {producer}; cannot map channels to inputs")
        per = fan_in // channels
        if per != 1 and not (flattened and _kind(modules[consumer]) == "linear"):
            raise PruneError(f"layer {consumer} sees {per} inputs per channel of {producer} "
                             "without a flatten into a linear layer between them; unsupported "
                             "reshaping")
        per_consumer.append(per)
    return tuple(per_consumer)


def _check_shared(calls: dict[str, list[Space]], modules: dict[str, nn.Module]) -> None:
    """A module with per-channel state used in two channel spaces would be cut for both."""
    for name, used_in in calls.items():
        distinct = {id(s): s for s in used_in}
        if len(distinct) > 1 and _has_channel_state(modules[name]):
            owners = [s.producers[0] for s in distinct.values() if s.producers]
            raise PruneError(
                f"layer {name} ({type(modules[name]).__name__}) is called {len(used_in)} times "
                f"in the forward and holds per-channel state; pruning the channels of "
                f"{' or '.join(owners) or 'one use'} would cut it for its other uses too. Give "
                "each use its own module instance")


def _group(space: Space, modules: dict[str, nn.Module]) -> ChannelGroup:
    channels = {p: int(modules[p].weight.shape[0]) for p in space.producers}
    if len(set(channels.values())) > 1:
        raise PruneError(f"layers {', '.join(channels)} write into one residual sum with "
                         f"different channel counts {sorted(set(channels.values()))} (a "
                         "broadcast add); structured pruning cuts a sum's channels in every "
                         "operand alike, so give them the same number of output channels")
    count = next(iter(channels.values()))
    features = _consumer_features(space, count, modules)
    bns = tuple(f for f in space.followers if type(modules[f]).__name__.startswith("BatchNorm"))
    first, (consumer, _) = space.producers[0], space.consumers[0]
    return ChannelGroup(
        name=first, kind=_kind(modules[first]), channels=count, followers=tuple(space.followers),
        batchnorm=bns[0] if bns else None, consumer=consumer,
        consumer_kind=_kind(modules[consumer]), features_per_channel=features[0],
        producers=tuple(space.producers), consumers=tuple(c for c, _ in space.consumers),
        consumer_features=features, batchnorms=bns,
        depthwise=tuple(f for f in space.followers if is_depthwise(modules[f])))


def channel_groups(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[ChannelGroup, ...]:
    """Every prunable group in execution order of its first producer. The classifier (the last
    weight layer, whose outputs are the classes) never is one, nor are layers coupled to the
    model's input channels. Shapes come from the weights."""
    del input_shape  # channel counts and fan-ins are read off the weights
    traced, modules, nodes = _weight_nodes(model)
    if not nodes:
        raise PruneError(f"{type(model).__name__} has no QuantConv1d/QuantConv2d/QuantLinear "
                         "layer to prune")
    spaces, calls = channel_spaces(traced, _weight_types(), _channelwise_types())
    _check_shared(calls, modules)
    last = str(nodes[-1].target)
    order = {str(n.target): i for i, n in enumerate(nodes)}
    groups = []
    for space in spaces:
        if not space.producers or space.model_input:
            continue
        if space.model_output:
            early = [p for p in space.producers if p != last]
            if early:
                raise PruneError(f"layer {', '.join(early)} feeds the model output but is not "
                                 "the last weight layer; structured pruning needs a single "
                                 "classifier at the end")
            continue
        if not space.consumers:
            plural = "s" if len(space.producers) > 1 else ""
            raise PruneError(f"the output of layer{plural} {', '.join(space.producers)} reaches "
                             "no weight layer and not the model output; remove the unused branch")
        groups.append(_group(space, modules))
    return tuple(sorted(groups, key=lambda g: order[g.name]))
