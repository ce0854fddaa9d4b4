"""Channel spaces of a traced Brevitas model: which tensors must keep the same channel set.

One pass over the torch.fx graph gives every tensor a channel space. A weight layer (groups=1)
consumes its input's space and opens a new one; channel-wise modules (BatchNorm, quantized
activations, pools, dropout), flattens, scalar arithmetic and depthwise convolutions keep their
input's space; a tensor-tensor add/sub joins its operands' spaces into one (a residual sum: every
layer writing into it keeps the same channels); whatever is done to the model's input before the
first weight layer keeps to the input's space, whose channels are never cut, and reading a
tensor's shape, device or dtype is no use of its channels. Each space records its producers,
the modules it passes through (each listed once, however often it is called, so a Brevitas
quantizer shared by both operands of an add is cut once and stays shared), and its consumers
(whether they read it through a flatten). Concats, grouped convolutions, a weight layer called
twice, a per-channel module used in two spaces and any other operation on a channel path are a
PruneError naming the node: cutting channels there would break the other path silently.

Why our own walk and not Torch-Pruning's DependencyGraph (torch-pruning 1.6.1; measured by
benchmarks/prune_group_discovery.py on the zoo's resnet-small, mobilenet-small and a 2-conv
cnn1d, W4A4, per-tensor and per-channel quantizers): both find the same groups (same layer and
BatchNorm sets in 6/6 cases) and both are fast (median 0.01-0.02 s here, 0.03-0.10 s for
Torch-Pruning). But Torch-Pruning keeps Brevitas quantizers outside its groups ("unwrapped
parameters": 0 of the 3-8 per-channel quantizer tensors per model are group members), and its
own pruning of the same channels gave: with per-tensor quantizers a classifier cut with the
wrong number of inputs after the flatten (forward fails, 3/3 families); with per-channel
quantizers state dicts that no longer load (injector shapes left alone, 3/3) and on mobilenet
outputs off by 0.84 from the zeroed reference. With this walk the pruned model equals the zeroed
one (max |diff| <= 6e-8) and reloads in 6/6. Taking only the discovery from Torch-Pruning
would add a dependency and a second graph to keep in step with the fx trace the rest of
codesign.prune uses (weight_layers, the layer order FINN sees), for no gain in correctness."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from codesign.errors import PruneError

if TYPE_CHECKING:
    from torch import fx, nn

FLATTENS = ("flatten", "view", "reshape")
# by name: x * 2, x / 255.0 (operator.truediv), torch.mul / div / true_divide, x.add(1), ...
SCALAR_OPS = ("mul", "multiply", "truediv", "div", "divide", "true_divide", "add", "sub",
              "__mul__", "__truediv__", "__add__", "__sub__")
JOINS = ("add", "sub", "iadd", "__add__", "__sub__", "__iadd__", "add_")  # by name, as SCALAR_OPS
CONCATS = ("cat", "concat", "concatenate", "stack", "hstack", "vstack")
# Uses of a tensor that read its shape, not its values (x.view(x.size(0), -1) and the like).
SHAPE_QUERIES = ("size", "dim")
# Attributes that describe a tensor, not its values (x.shape[0], device=x.device).
METADATA = ("shape", "device", "dtype", "ndim")
FOLLOWABLE = ("BatchNorm, quantized activations (QuantReLU, QuantIdentity, QuantHardTanh), pools, "
              "dropout, identity, depthwise convolutions, flatten/view/reshape, scalar arithmetic "
              "and residual adds")


@dataclass
class Space:
    """One set of channels that every tensor in it shares (mutable while the graph is walked)."""
    producers: list[str] = field(default_factory=list)
    followers: list[str] = field(default_factory=list)
    consumers: list[tuple[str, bool]] = field(default_factory=list)  # (layer, through flatten)
    joins: list[str] = field(default_factory=list)  # fx node names of the residual adds
    model_input: bool = False
    model_output: bool = False

    def absorb(self, other: Space) -> None:
        for mine, theirs in ((self.producers, other.producers), (self.followers, other.followers),
                             (self.consumers, other.consumers), (self.joins, other.joins)):
            mine.extend(x for x in theirs if x not in mine)  # type: ignore[attr-defined]
        self.model_input |= other.model_input
        self.model_output |= other.model_output


def describe(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    if node.op == "call_module":
        return f"layer {node.target} ({type(modules[str(node.target)]).__name__})"
    target = getattr(node.target, "__name__", node.target)
    return f"operation {target!r} (node {node.name})"


def is_depthwise(module: nn.Module) -> bool:
    groups = getattr(module, "groups", 1)
    return groups > 1 and groups == module.in_channels == module.out_channels


def _is_scalar(arg: Any) -> bool:
    return isinstance(arg, int | float) and not isinstance(arg, bool)


def _name(node: fx.Node) -> str:
    return str(getattr(node.target, "__name__", node.target))


def _reads_shape_only(node: fx.Node) -> bool:
    if node.op == "call_method" and node.target in SHAPE_QUERIES:
        return True
    return node.op == "call_function" and node.target is getattr and \
        len(node.args) > 1 and node.args[1] in METADATA


def _is_value_access(node: fx.Node) -> bool:
    """QuantTensor.value: the same channels as a plain tensor."""
    return node.op == "call_function" and node.target is getattr and \
        len(node.args) > 1 and node.args[1] == "value"


def _is_flatten(node: fx.Node) -> bool:
    return node.op in ("call_method", "call_function") and _name(node) in FLATTENS


class _Walk:
    def __init__(self, traced: fx.GraphModule, weight_types: tuple[type, ...],
                 channelwise: tuple[type, ...]) -> None:
        self.modules = dict(traced.named_modules())
        self.graph = traced.graph
        self.weight_types, self.channelwise = weight_types, channelwise
        self.parent: dict[int, int] = {}
        self.spaces: dict[int, Space] = {}
        self.of: dict[fx.Node, int] = {}  # tensor node -> space id
        self.flat: dict[fx.Node, bool] = {}  # whether a flatten lies between producer and node
        self.uses: dict[str, list[fx.Node]] = {}  # module path -> the nodes calling it

    def new(self, **flags: bool) -> int:
        sid = len(self.parent)
        self.parent[sid], self.spaces[sid] = sid, Space(**flags)
        return sid

    def root(self, sid: int) -> int:
        while self.parent[sid] != sid:
            self.parent[sid] = self.parent[self.parent[sid]]
            sid = self.parent[sid]
        return sid

    def union(self, a: int, b: int) -> int:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            ra, rb = min(ra, rb), max(ra, rb)
            self.parent[rb] = ra
            self.spaces[ra].absorb(self.spaces.pop(rb))
        return ra

    def space(self, node: fx.Node) -> Space:
        return self.spaces[self.root(self.of[node])]

    def keep(self, node: fx.Node, source: fx.Node, flattened: bool = False) -> None:
        self.of[node] = self.of[source]
        self.flat[node] = self.flat[source] or flattened

    def follow(self, node: fx.Node, source: fx.Node) -> None:
        self.keep(node, source)
        name = str(node.target)
        if name not in self.space(source).followers:
            self.space(source).followers.append(name)

    def refuse(self, node: fx.Node, why: str) -> PruneError:
        return PruneError(f"{describe(node, self.modules)} {why}; supported between weight "
                          f"layers: {FOLLOWABLE}")

    def module_call(self, node: fx.Node, source: fx.Node) -> None:
        name = str(node.target)
        module = self.modules[name]
        self.uses.setdefault(name, []).append(node)
        if isinstance(module, self.weight_types):
            if len(self.uses[name]) > 1:
                raise PruneError(f"layer {name} is called more than once in the forward; "
                                 "structured pruning needs each weight layer used exactly once")
            if is_depthwise(module):
                self.follow(node, source)
            elif getattr(module, "groups", 1) != 1:
                raise PruneError(f"layer {name} is a grouped convolution (groups="
                                 f"{module.groups}, not depthwise); only convolutions with "
                                 "groups=1 or groups = channels (depthwise) can be pruned")
            else:
                self.space(source).consumers.append((name, self.flat[source]))
                self.of[node], self.flat[node] = self.new(), False
                self.space(node).producers.append(name)
        elif type(module).__name__ == "Flatten":
            self.keep(node, source, flattened=True)
        elif isinstance(module, self.channelwise):
            self.follow(node, source)
        else:
            raise self.refuse(node, "sits on a channel path and is not a layer structured "
                              "pruning can follow")

    def step(self, node: fx.Node) -> None:
        if node.op == "placeholder":
            self.of[node], self.flat[node] = self.new(model_input=True), False
            return
        inputs = [a for a in node.all_input_nodes if a in self.of]
        if node.op == "output":
            for arg in inputs:
                self.space(arg).model_output = True
            return
        if not inputs or _reads_shape_only(node):
            return  # shape arithmetic, constants
        source = inputs[0]
        if node.op == "call_module":
            self.module_call(node, source)
        elif all(self.space(a).model_input for a in inputs):
            # before the first weight layer: the model's input channels are never cut, so any
            # preprocessing (2 * x - torch.tensor([1.0]), a reshape) keeps to the input's space
            self.keep(node, source, flattened=_is_flatten(node))
        elif _name(node) in CONCATS:
            layers = [describe(a, self.modules) for a in inputs]
            raise PruneError(f"{describe(node, self.modules)} concatenates channels "
                             f"({', '.join(layers)}); structured pruning cannot split a channel "
                             "concat; remove the prune: section or add the branches instead")
        elif len(inputs) == 2 and _name(node) in JOINS:
            if self.flat[inputs[0]] != self.flat[inputs[1]]:
                raise self.refuse(node, "adds a flattened tensor to an unflattened one")
            self.of[node] = self.union(self.of[inputs[0]], self.of[inputs[1]])
            self.flat[node] = self.flat[inputs[0]]
            self.space(node).joins.append(node.name)
        elif len(inputs) == 1 and (_is_flatten(node) or _is_value_access(node)):
            self.keep(node, source, flattened=_is_flatten(node))
        elif len(inputs) == 1 and _name(node) in SCALAR_OPS and not node.kwargs and \
                all(_is_scalar(a) for a in node.args if a is not source):
            self.keep(node, source)
        else:
            raise self.refuse(node, f"sits on the channel path of {describe(source, self.modules)}")


def channel_spaces(traced: fx.GraphModule, weight_types: tuple[type, ...],
                   channelwise: tuple[type, ...]) -> tuple[list[Space], dict[str, list[Space]]]:
    """(spaces in order of creation, module path -> the spaces of its calls)."""
    walk = _Walk(traced, weight_types, channelwise)
    for node in walk.graph.nodes:
        walk.step(node)
    roots = sorted({walk.root(s) for s in walk.spaces})
    calls = {name: [walk.space(n) for n in nodes if n in walk.of]
             for name, nodes in walk.uses.items()}
    return [walk.spaces[r] for r in roots], calls
