"""Quiet, one-time TensorFlow set-up, done lazily by whoever first needs TensorFlow."""

from __future__ import annotations

import os
import threading

_done = False
_lock = threading.Lock()


def configure() -> None:
    """Silence TensorFlow's start-up chatter and let GPUs grow memory on demand. Idempotent."""
    global _done
    with _lock:
        if _done:
            return
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import logging

        import tensorflow as tf

        tf.get_logger().setLevel(logging.ERROR)
        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:  # already initialised
                pass
        _done = True
