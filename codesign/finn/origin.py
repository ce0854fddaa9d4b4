"""Which PyTorch/Brevitas module a graph node came from, so that an error names the layer of
the user's model and not only a node FINN renamed.

PyTorch's TorchScript ONNX exporter (what codesign exports with) names every node by the module
scopes it was traced in ("/layer1.0/downsample/downsample.0/Conv"); the torch.export based one
(brevitas.export.export_qonnx's default) stores the scopes and their classes on the node
(`pkg.torch.onnx.name_scopes`, ['', 'layer1.0', 'layer1.0.conv1', 'conv2d_1']). `tag_modules`
condenses either to one `codesign.module` entry per node ("layer1.0.conv1", with the class when
the exporter gave it): the innermost scope that is a layer, not a Brevitas quantizer internal.
It must run before anything renames the nodes (codesign.export does it on export/cleanup).
Compile stages replace nodes (a Conv becomes Im2Col + MatMul); `carry_modules` gives a new
node the tag of the node whose output tensor it now writes, or else of the tagged node it
feeds, and `module_of` falls back to the nearest tagged producer."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

MODULE_KEY = "codesign.module"
_SCOPES, _CLASSES = "pkg.torch.onnx.name_scopes", "pkg.torch.onnx.class_hierarchy"
_INTERNAL = ("brevitas.proxy", "brevitas.core", "brevitas.export", "brevitas.inject")
# scope names inside a Brevitas layer: its quantizers and their export machinery
_QUANT_SCOPES = ("weight_quant", "act_quant", "input_quant", "output_quant", "bias_quant",
                 "export_handler", "activation_impl", "fused_activation_quant_proxy")
_SEARCH_LIMIT = 64
TOP = "<top>"  # an op written in the model's own forward (torch.cat, +, flatten)
# nodes a lowering creates in front of the node that takes over a layer's output
_LOWERING_OPS = ("Im2Col", "Transpose")  # producers looked at before giving up on naming a module


def _meta(node: Any) -> dict[str, str]:
    return {p.key: p.value for p in getattr(node, "metadata_props", ())}


def _set(node: Any, value: str) -> None:
    entry = node.metadata_props.add()
    entry.key, entry.value = MODULE_KEY, value


def _module_from_metadata(meta: dict[str, str]) -> str | None:
    try:
        scopes, classes = ast.literal_eval(meta[_SCOPES]), ast.literal_eval(meta[_CLASSES])
    except (KeyError, ValueError, SyntaxError):
        return None
    # scopes[0] is the model itself, the last entry the traced op
    layers = [(s, c) for s, c in zip(scopes[1:-1], classes[1:-1], strict=False)
              if s and not c.startswith(_INTERNAL)]
    if not layers:
        return TOP
    scope, cls = layers[-1]
    return f"{scope} ({cls.rsplit('.', 1)[-1]})"


def _module_from_name(name: str) -> str | None:
    """'/layer1.0/downsample/downsample.0/Conv' -> 'layer1.0.downsample.0'."""
    if not name.startswith("/"):
        return None
    parts: list[str] = []
    for scope in name.strip("/").split("/")[:-1]:  # the last part is the op
        if scope.split("_")[0] in _QUANT_SCOPES or scope in _QUANT_SCOPES:
            break
        if parts and scope.startswith(parts[-1].rsplit(".", 1)[-1] + "."):
            # a container's child is scoped as "<container>.<index>"
            parts[-1] = parts[-1] + scope[scope.index("."):]
        else:
            parts.append(scope)
    return ".".join(parts) or TOP


def tag_modules(model: ModelWrapper) -> None:
    """Record each exported node's module under MODULE_KEY (in place)."""
    for node in model.graph.node:
        meta = _meta(node)
        if MODULE_KEY not in meta:
            module = _module_from_metadata(meta) or _module_from_name(node.name)
            if module is not None:
                _set(node, module)


def output_modules(model: ModelWrapper) -> dict[str, str]:
    """tensor name -> module of the node writing it."""
    out = {}
    for node in model.graph.node:
        module = _meta(node).get(MODULE_KEY)
        if module is not None:
            out.update({name: module for name in node.output})
    return out


def carry_modules(before: dict[str, str], model: ModelWrapper) -> None:
    """Tag the nodes a stage created from `before` (output_modules of its input graph)."""
    untagged = [n for n in model.graph.node if MODULE_KEY not in _meta(n)]
    for node in untagged:
        module = next((before[t] for t in node.output if t in before), None)
        if module is not None:
            _set(node, module)
    for node in reversed(untagged):  # e.g. an Im2Col feeding the MatMul its Conv became
        if MODULE_KEY in _meta(node) or node.op_type not in _LOWERING_OPS:
            continue
        consumers = [c for t in node.output for c in (model.find_consumers(t) or [])]
        module = next((_meta(c)[MODULE_KEY] for c in consumers if MODULE_KEY in _meta(c)), None)
        if module is not None:
            _set(node, module)


def module_of(model: ModelWrapper, node: Any) -> tuple[str, bool] | None:
    """(module, True) for the module `node` came from, (module, False) for that of its nearest
    tagged producer, None when the graph does not say."""
    queue, seen = [node], 0
    while queue and seen < _SEARCH_LIMIT:
        current = queue.pop(0)
        seen += 1
        module = _meta(current).get(MODULE_KEY)
        if module is not None:
            return module, current is node
        queue += [p for t in current.input if t and (p := model.find_producer(t)) is not None]
    return None


def from_module(model: ModelWrapper, node: Any) -> str:
    """' (from module X)' / ' (after module X)' for an error message, or ''."""
    found = module_of(model, node)
    if found is None:
        return ""
    module, own = found
    if module == TOP:
        return " (in the model's own forward)" if own else ""
    return f" ({'from' if own else 'after'} module {module})"
