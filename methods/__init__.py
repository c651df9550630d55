"""Super-resolution methods. Importing this package registers every built-in method."""

from .registry import Method, all_method_names, get_method, register  # noqa: F401

# Each module below registers its methods on import.
from . import classic  # noqa: F401,E402
from . import srgan_family  # noqa: F401,E402  SRResNet / SRGAN variants (Table 1)
from . import reference_models  # noqa: F401,E402  SRCNN, ESPCN (Table 2)
