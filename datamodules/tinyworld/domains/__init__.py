"""Built-in domains; importing this package registers them in ``DOMAINS``.

To add a domain, write a module here that builds a ``Domain`` and stores it in
``DOMAINS``, then import it below.
"""

from . import biomed, finance, general, law  # noqa: F401  (imported for their registration side effect)
