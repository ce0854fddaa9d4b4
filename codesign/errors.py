"""Exception types. Every user mistake raises a `CodesignError` subclass whose message says
what was wrong and how to fix it; the CLI prints the message without a traceback."""

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for a Ctrl-C: the CLI's and its workers'


class CodesignError(Exception):
    """Base class of all errors codesign reports to people."""


class BoardError(CodesignError):
    """Unknown board, or a malformed board file."""


class ConfigError(CodesignError):
    """A malformed flow file or an invalid option."""


class DatasetError(CodesignError):
    """A dataset that is missing, unreadable or malformed."""


class ModelError(CodesignError):
    """A model that cannot be built, loaded, exported or compiled (e.g. unsupported layer)."""


class FoldingError(CodesignError):
    """An illegal folding (e.g. PE not dividing MH) or a folding file that cannot be applied."""


class CompileError(CodesignError):
    """The FINN toolchain could not turn the model into a dataflow graph."""


class VerificationError(CodesignError):
    """Hardware graph outputs differ from the Brevitas model's."""


class ToolchainMissing(CodesignError):
    """An external tool a requested step needs (Vivado, Vitis HLS, docker) is not available."""


class PruneError(CodesignError):
    """A pruning request that cannot be carried out (bad ratio, a layer pruned to zero,
    an unsupported layer or topology, an unreachable budget)."""


class ClusterError(CodesignError):
    """A Dask scheduler that cannot be reached, or a cluster without workers."""
