"""Further ``facedash`` sub-commands, one module per job, each with ``register(subparsers)``."""
