"""Stack config -> typed component arguments, validated before any resource is registered.

`load_stack_config` is pure: the caller (`__main__.py`) reads `salad:*` and the `salad-sd:image` /
`salad-sd:deployment` objects through `pulumi.Config` and passes the plain values in. Every problem is
reported at once in one `ConfigError`, each message naming the full config key and, where there is one,
the allowed range (the ranges themselves come from the ContainerGroup core, never restated here).
"""

from components.program.stack_config.deployment import (
    DEFAULT_CPU,
    DEFAULT_GPU_CLASSES,
    DEFAULT_MEMORY_MB,
    DEFAULT_PORT,
    DEFAULT_REPLICAS,
    PROBE_DEFAULTS,
    PROTECTED_STACKS,
)
from components.program.stack_config.loader import load_stack_config
from components.program.stack_config.model import (
    ConfigError,
    ImageConfig,
    QueueConfig,
    RegistryConfig,
    StackConfig,
)

__all__ = [
    "DEFAULT_CPU",
    "DEFAULT_GPU_CLASSES",
    "DEFAULT_MEMORY_MB",
    "DEFAULT_PORT",
    "DEFAULT_REPLICAS",
    "PROBE_DEFAULTS",
    "PROTECTED_STACKS",
    "ConfigError",
    "ImageConfig",
    "QueueConfig",
    "RegistryConfig",
    "StackConfig",
    "load_stack_config",
]
